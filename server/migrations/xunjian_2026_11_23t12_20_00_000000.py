"""The work-order lifecycle: each step's time, the worker who accepted, the escalation level, the
owner's sign-off and follow-up on the order; and its events (who did what, when, with what).

Written by hand, like 2026-11-23T10:50:00: Piccolo's auto-migration cannot follow the full-module
-path foreign keys, and foreign keys to ``xj_user`` must name their target explicitly.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table


class UserReference(Table, tablename="xj_user", schema=None):
    id = Serial(null=False, primary_key=True, unique=False, index=False, db_column_name="id")


ID = "2026-11-23T12:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Work-order step times, assignee, escalation, owner sign-off; work-order events"

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


def _optional_time():
    return {"default": None, "null": True, **_COMMON}


WORK_ORDER_COLUMNS = (
    ("dispatched_at", Timestamptz, _optional_time()),
    ("arranged_at", Timestamptz, _optional_time()),
    ("reported_at", Timestamptz, _optional_time()),
    ("deferred_at", Timestamptz, _optional_time()),
    ("verified_at", Timestamptz, _optional_time()),
    ("closed_at", Timestamptz, _optional_time()),
    ("assignee", ForeignKey, _fk(UserReference, OnDelete.set_null, True)),
    ("escalation_level", Integer, {"default": 0, "null": False, **_COMMON}),
    ("owner_signed", Boolean, {"default": False, "null": False, **_COMMON}),
    ("followed_up", Boolean, {"default": False, "null": False, **_COMMON}),
)

WORK_ORDER_EVENT = (
    ("work_order", ForeignKey, _fk("WorkOrder", OnDelete.cascade, False)),
    ("action", Varchar, {"length": 16, "default": "", "null": False, **_COMMON}),
    ("from_status", Varchar, {"length": 16, "default": "", "null": False, **_COMMON}),
    ("to_status", Varchar, {"length": 16, "default": "", "null": False, **_COMMON}),
    ("actor", ForeignKey, _fk(UserReference, OnDelete.set_null, True)),
    ("device_time", Timestamptz, {"default": TimestamptzNow(), "null": False, **_COMMON}),
    ("server_time", Timestamptz, {"default": TimestamptzNow(), "null": False, **_COMMON}),
    ("note", Text, {"default": "", "null": False, **_COMMON}),
    ("department", ForeignKey, _fk("Department", OnDelete.restrict, True)),
    ("photos", JSON, {"default": "[]", "null": False, **_COMMON}),
)


def _add(manager, class_name, tablename, columns):
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


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="xunjian", description=DESCRIPTION)
    _add(manager, "WorkOrder", "work_order", WORK_ORDER_COLUMNS)
    manager.add_table(
        class_name="WorkOrderEvent", tablename="work_order_event", schema=None, columns=None
    )
    manager.add_column(
        table_class_name="WorkOrderEvent",
        tablename="work_order_event",
        column_name="id",
        db_column_name="id",
        column_class_name="Serial",
        column_class=Serial,
        params={**_COMMON, "null": False, "primary_key": True},
        schema=None,
    )
    _add(manager, "WorkOrderEvent", "work_order_event", WORK_ORDER_EVENT)
    return manager
