"""Work orders, round two: exactly-once raises and steps (the phone's client_id and the hash of
what it sent), owner orders (owner, unit, phone, signature or "not at home", satisfaction on the
follow-up call), the stored soonest deadline the board sorts by, and every photo of an order.

Written by hand, like 2026-11-23T12:20:00 (Piccolo's auto-migration cannot follow our foreign
keys).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import Boolean, ForeignKey, Serial, Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-23T14:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Work-order client ids, owner details, sign-off, satisfaction, due_at; order photos"

_COMMON = {
    "primary_key": False,
    "unique": False,
    "index": False,
    "index_method": IndexMethod.btree,
    "choices": None,
    "db_column_name": None,
    "secret": False,
}


def _varchar(length: int, null: bool = False):
    return {"length": length, "default": None if null else "", "null": null, **_COMMON}


WORK_ORDER_COLUMNS = (
    ("client_id", Varchar, _varchar(36, null=True)),
    ("body_hash", Varchar, _varchar(64)),
    ("owner_name", Varchar, _varchar(100)),
    ("owner_unit", Varchar, _varchar(100)),
    ("owner_phone", Varchar, _varchar(32)),
    ("signature", Varchar, _varchar(64, null=True)),
    ("owner_absent", Boolean, {"default": False, "null": False, **_COMMON}),
    ("satisfaction", Varchar, _varchar(16, null=True)),
    ("due_at", Timestamptz, {"default": None, "null": True, **_COMMON}),
)

WORK_ORDER_EVENT_COLUMNS = (
    ("client_id", Varchar, _varchar(36, null=True)),
    ("body_hash", Varchar, _varchar(64)),
)

WORK_ORDER_PHOTO_COLUMNS = (
    (
        "work_order",
        ForeignKey,
        {
            "references": "WorkOrder",
            "on_delete": OnDelete.cascade,
            "on_update": OnUpdate.cascade,
            "target_column": None,
            "null": False,
            **_COMMON,
        },
    ),
    ("photo", Varchar, _varchar(64)),
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
    _add(manager, "WorkOrderEvent", "work_order_event", WORK_ORDER_EVENT_COLUMNS)
    manager.add_table(
        class_name="WorkOrderPhoto", tablename="work_order_photo", schema=None, columns=None
    )
    manager.add_column(
        table_class_name="WorkOrderPhoto",
        tablename="work_order_photo",
        column_name="id",
        db_column_name="id",
        column_class_name="Serial",
        column_class=Serial,
        params={**_COMMON, "null": False, "primary_key": True},
        schema=None,
    )
    _add(manager, "WorkOrderPhoto", "work_order_photo", WORK_ORDER_PHOTO_COLUMNS)
    return manager
