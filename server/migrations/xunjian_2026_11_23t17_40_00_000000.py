"""Renovation rules of a site (pass deposit and fee, noisy hours, a permit's months) and the log of
their changes.

Written by hand, like 2026-11-23T14:10:00: Piccolo's auto-migration cannot follow the full-module
-path foreign keys, and foreign keys to ``xj_user`` must name their target explicitly.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import (
    JSON,
    ForeignKey,
    Integer,
    Serial,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table


class UserReference(Table, tablename="xj_user", schema=None):
    id = Serial(null=False, primary_key=True, unique=False, index=False, db_column_name="id")


ID = "2026-11-23T17:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Site renovation rules (pass deposit / fee, noisy hours, months); their change log"

_COMMON = {
    "primary_key": False,
    "unique": False,
    "index": False,
    "index_method": IndexMethod.btree,
    "choices": None,
    "db_column_name": None,
    "secret": False,
}

#: New columns of ``site``, each with the default every existing site gets.
SITE_COLUMNS = (
    ("pass_deposit", Integer, {"default": 10000, "null": False, **_COMMON}),
    ("pass_fee", Integer, {"default": 500, "null": False, **_COMMON}),
    (
        "noisy_hours",
        JSON,
        {"default": '[["08:00", "12:00"], ["14:00", "18:00"]]', "null": False, **_COMMON},
    ),
    ("renovation_months", Integer, {"default": 3, "null": False, **_COMMON}),
)


def _fk(references, on_delete, null):
    return {
        "references": references,
        "on_delete": on_delete,
        "on_update": OnUpdate.cascade,
        "target_column": None,
        "null": null,
        **_COMMON,
    }


SITE_RULES_CHANGE = (
    ("site", ForeignKey, _fk("Site", OnDelete.cascade, False)),
    ("changed_by", ForeignKey, _fk(UserReference, OnDelete.set_null, True)),
    ("changed_at", Timestamptz, {"default": TimestamptzNow(), "null": False, **_COMMON}),
    ("rules", JSON, {"default": "{}", "null": False, **_COMMON}),
    ("client_id", Varchar, {"length": 36, "default": None, "null": True, **_COMMON}),
    ("body_hash", Varchar, {"length": 64, "default": "", "null": False, **_COMMON}),
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="xunjian", description=DESCRIPTION)
    for name, column_class, params in SITE_COLUMNS:
        manager.add_column(
            table_class_name="Site",
            tablename="site",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
            schema=None,
        )
    manager.add_table(
        class_name="SiteRulesChange", tablename="site_rules_change", schema=None, columns=None
    )
    manager.add_column(
        table_class_name="SiteRulesChange",
        tablename="site_rules_change",
        column_name="id",
        db_column_name="id",
        column_class_name="Serial",
        column_class=Serial,
        params={**_COMMON, "null": False, "primary_key": True},
        schema=None,
    )
    for name, column_class, params in SITE_RULES_CHANGE:
        manager.add_column(
            table_class_name="SiteRulesChange",
            tablename="site_rules_change",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
            schema=None,
        )
    return manager
