"""Work orders raised from failed checks, and the template an inspection was filled in on.

Written by hand: Piccolo's auto-migration cannot follow the full-module-path foreign keys, and
foreign keys to ``xj_user`` and to ``inspection`` (UUID key) must name their targets explicitly.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import UUID, ForeignKey, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table


class UserReference(Table, tablename="xj_user", schema=None):
    id = Serial(null=False, primary_key=True, unique=False, index=False, db_column_name="id")


class InspectionReference(Table, tablename="inspection", schema=None):
    id = UUID(null=False, primary_key=True, unique=False, index=False, db_column_name="id")


ID = "2026-11-23T10:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Work orders raised from failed checks; the template an inspection used"

_COMMON = {
    "primary_key": False,
    "unique": False,
    "index": False,
    "index_method": IndexMethod.btree,
    "choices": None,
    "db_column_name": None,
    "secret": False,
}

def _fk(references, on_delete, null):
    return {
        "references": references,
        "on_delete": on_delete,
        "on_update": OnUpdate.cascade,
        "target_column": None,
        "null": null,
        **_COMMON,
    }


def _varchar(length, default=""):
    return {"length": length, "default": default, "null": False, **_COMMON}


def _text():
    return {"default": "", "null": False, **_COMMON}


def _time():
    return {"default": TimestamptzNow(), "null": False, **_COMMON}


WORK_ORDER = (
    ("site", ForeignKey, _fk("Site", OnDelete.cascade, False)),
    ("checkpoint", ForeignKey, _fk("Checkpoint", OnDelete.set_null, True)),
    ("item_code", Varchar, _varchar(48)),
    ("department", ForeignKey, _fk("Department", OnDelete.restrict, True)),
    ("source", Varchar, _varchar(12)),
    ("status", Varchar, _varchar(16, "raised")),
    ("severity", Varchar, _varchar(10, "minor")),
    ("title", Varchar, _varchar(200)),
    ("description", Text, _text()),
    ("raised_by", ForeignKey, _fk(UserReference, OnDelete.set_null, True)),
    ("raised_at", Timestamptz, _time()),
    ("created_at", Timestamptz, _time()),
    ("updated_at", Timestamptz, _time()),
)

WORK_ORDER_REPORT = (
    ("work_order", ForeignKey, _fk("WorkOrder", OnDelete.cascade, False)),
    ("inspection", ForeignKey, _fk(InspectionReference, OnDelete.cascade, True)),
    ("reporter", ForeignKey, _fk(UserReference, OnDelete.set_null, True)),
    ("note", Text, _text()),
    ("reported_at", Timestamptz, _time()),
    ("created_at", Timestamptz, _time()),
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="xunjian", description=DESCRIPTION)

    for class_name, tablename, columns in (
        ("WorkOrder", "work_order", WORK_ORDER),
        ("WorkOrderReport", "work_order_report", WORK_ORDER_REPORT),
    ):
        manager.add_table(class_name=class_name, tablename=tablename, schema=None, columns=None)
        manager.add_column(
            table_class_name=class_name,
            tablename=tablename,
            column_name="id",
            db_column_name="id",
            column_class_name="Serial",
            column_class=Serial,
            params={**_COMMON, "null": False, "primary_key": True},
            schema=None,
        )
        for name, column_class, params in columns:
            manager.add_column(
                table_class_name=class_name,
                tablename=tablename,
                column_name=name,
                db_column_name=name,
                column_class_name=column_class.__name__,
                column_class=column_class,
                params=params,
                schema=None,
            )

    manager.add_column(
        table_class_name="Inspection",
        tablename="inspection",
        column_name="template",
        db_column_name="template",
        column_class_name="ForeignKey",
        column_class=ForeignKey,
        params=_fk("ChecklistTemplate", OnDelete.restrict, True),
        schema=None,
    )
    return manager
