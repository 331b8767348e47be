"""Renovations: the photos of a permit's sign-offs and deductions, for visible_photo.

Written by hand, like 2026-11-23T17:20:00.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import ForeignKey, Serial, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-23T17:20:02:000000"
VERSION = "1.38.0"
DESCRIPTION = "Renovation photos (sign-offs, signatures, deductions) by permit"

_COMMON = {
    "primary_key": False,
    "unique": False,
    "index": False,
    "index_method": IndexMethod.btree,
    "choices": None,
    "db_column_name": None,
    "secret": False,
}
COLUMNS = (
    (
        "permit",
        ForeignKey,
        {
            **_COMMON,
            "default": None,
            "null": False,
            "references": "RenovationPermit",
            "on_delete": OnDelete.cascade,
            "on_update": OnUpdate.cascade,
            "target_column": None,
        },
    ),
    ("photo", Varchar, {**_COMMON, "default": "", "null": False, "length": 64}),
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="xunjian", description=DESCRIPTION)
    manager.add_table(
        class_name="RenovationPhoto", tablename="renovation_photo", schema=None, columns=None
    )
    manager.add_column(
        table_class_name="RenovationPhoto",
        tablename="renovation_photo",
        column_name="id",
        db_column_name="id",
        column_class_name="Serial",
        column_class=Serial,
        params={**_COMMON, "default": None, "null": False, "primary_key": True},
        schema=None,
    )
    for name, column_class, params in COLUMNS:
        manager.add_column(
            table_class_name="RenovationPhoto",
            tablename="renovation_photo",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
            schema=None,
        )
    return manager
