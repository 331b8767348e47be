"""Violations (违章) and their events (rectification notices, re-inspections, cancellations).

Written by hand, like 2026-11-23T15:40:00: Piccolo's auto-migration cannot follow the full-module
-path foreign keys, foreign keys to ``xj_user`` must name their target explicitly, and foreign keys
to inspections are UUIDs.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import (
    JSON,
    UUID,
    Boolean,
    Date,
    ForeignKey,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.date import DateNow
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table


class UserReference(Table, tablename="xj_user", schema=None):
    id = Serial(null=False, primary_key=True, unique=False, index=False, db_column_name="id")


class InspectionReference(Table, tablename="inspection", schema=None):
    """Inspections are keyed by the phone's UUID, so foreign keys to them are UUIDs."""

    id = UUID(null=False, primary_key=True, unique=False, index=False, db_column_name="id")


ID = "2026-11-23T17:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Violations and their events"

_COMMON = {
    "primary_key": False,
    "unique": False,
    "index": False,
    "index_method": IndexMethod.btree,
    "choices": None,
    "db_column_name": None,
}


def _p(default, null=False, **extra):
    return {"default": default, "null": null, "secret": False, **_COMMON, **extra}


def _varchar(length, default="", null=False):
    return Varchar, _p(None if null else default, null, length=length)


def _fk(references, on_delete=OnDelete.set_null, null=True):
    return ForeignKey, _p(
        None,
        null,
        references=references,
        on_delete=on_delete,
        on_update=OnUpdate.cascade,
        target_column=None,
    )


def _time(null=False):
    return Timestamptz, _p(None if null else TimestamptzNow(), null)


VIOLATION = "Violation"
TABLES = (
    (
        VIOLATION,
        "violation",
        (
            ("site", _fk("Site", OnDelete.cascade, False)),
            ("checkpoint", _fk("Checkpoint", OnDelete.cascade, False)),
            ("permit", _fk("RenovationPermit")),
            ("inspection", _fk(InspectionReference)),
            ("item_code", _varchar(48)),
            ("title", _varchar(200)),
            ("severity", _varchar(10, "minor")),
            ("grade", _varchar(8, "general")),
            ("category", _varchar(16, "renovation")),
            ("found_by", _fk(UserReference)),
            ("found_department", _fk("Department")),
            ("found_at", _time()),
            ("deadline", _time()),
            ("work_order", _fk("WorkOrder")),
            ("status", _varchar(12, "open")),
            ("reinspection", _fk(InspectionReference)),
            ("rectified_at", _time(null=True)),
            ("closed_by", _fk(UserReference)),
            ("note", (Text, _p(""))),
            ("keep_until", (Date, _p(DateNow()))),
            ("created_at", _time()),
            ("updated_at", _time()),
        ),
    ),
    (
        "ViolationEvent",
        "violation_event",
        (
            ("violation", _fk(VIOLATION, OnDelete.cascade, False)),
            ("action", _varchar(16)),
            ("passed", (Boolean, _p(None, True))),
            ("inspection", _fk(InspectionReference)),
            ("actor", _fk(UserReference)),
            ("at", _time()),
            ("note", (Text, _p(""))),
            ("photos", (JSON, _p("[]"))),
            ("client_id", _varchar(36, null=True)),
            ("body_hash", _varchar(64)),
        ),
    ),
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="xunjian", description=DESCRIPTION)
    for class_name, tablename, columns in TABLES:
        manager.add_table(class_name=class_name, tablename=tablename, schema=None, columns=None)
        manager.add_column(
            table_class_name=class_name,
            tablename=tablename,
            column_name="id",
            db_column_name="id",
            column_class_name="Serial",
            column_class=Serial,
            params={**_p(None), "primary_key": True},
            schema=None,
        )
        for name, (column_class, params) in columns:
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
    return manager
