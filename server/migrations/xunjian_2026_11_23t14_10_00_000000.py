"""Per-site working-day calendar: holidays and make-up working days (调休).

Written by hand, like 2026-11-23T10:50:00: Piccolo's auto-migration cannot follow the full-module
-path foreign keys.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import Date, ForeignKey, Serial, Varchar
from piccolo.columns.defaults.date import DateNow
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-23T14:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Per-site calendar days: holidays and make-up working days"

_COMMON = {
    "primary_key": False,
    "unique": False,
    "index": False,
    "index_method": IndexMethod.btree,
    "choices": None,
    "db_column_name": None,
    "secret": False,
}

SITE_CALENDAR_DAY = (
    (
        "site",
        ForeignKey,
        {
            "references": "Site",
            "on_delete": OnDelete.cascade,
            "on_update": OnUpdate.cascade,
            "target_column": None,
            "null": False,
            **_COMMON,
        },
    ),
    ("day", Date, {"default": DateNow(), "null": False, **_COMMON}),
    ("kind", Varchar, {"length": 8, "default": "", "null": False, **_COMMON}),
    ("name", Varchar, {"length": 50, "default": "", "null": False, **_COMMON}),
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="xunjian", description=DESCRIPTION)
    manager.add_table(
        class_name="SiteCalendarDay", tablename="site_calendar_day", schema=None, columns=None
    )
    manager.add_column(
        table_class_name="SiteCalendarDay",
        tablename="site_calendar_day",
        column_name="id",
        db_column_name="id",
        column_class_name="Serial",
        column_class=Serial,
        params={**_COMMON, "null": False, "primary_key": True},
        schema=None,
    )
    for name, column_class, params in SITE_CALENDAR_DAY:
        manager.add_column(
            table_class_name="SiteCalendarDay",
            tablename="site_calendar_day",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
            schema=None,
        )
    return manager
