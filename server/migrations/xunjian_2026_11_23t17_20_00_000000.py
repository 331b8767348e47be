"""Renovations: joint acceptance rounds and their sign-offs, deductions and the deposit settlement.

Written by hand, like 2026-11-23T15:40:00: Piccolo's auto-migration cannot follow the full-module
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


ID = "2026-11-23T17:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Renovation acceptance rounds, sign-offs, deductions, settlements"

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


def _varchar(length, null=False, default=""):
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


def _int(default=0):
    return Integer, _p(default)


def _time(null=False):
    return Timestamptz, _p(None if null else TimestamptzNow(), null)


def _json():
    return JSON, _p("[]")


PERMIT = "RenovationPermit"
TABLES = (
    (
        "RenovationAcceptance",
        "renovation_acceptance",
        (
            ("permit", _fk(PERMIT, OnDelete.cascade, False)),
            ("kind", _varchar(16)),
            ("round", _int(1)),
            ("status", _varchar(8, default="open")),
            ("opened_by", _fk(UserReference)),
            ("opened_at", _time()),
            ("closed_at", _time(null=True)),
        ),
    ),
    (
        "AcceptanceSignoff",
        "acceptance_signoff",
        (
            ("acceptance", _fk("RenovationAcceptance", OnDelete.cascade, False)),
            ("party", _varchar(20)),
            ("passed", (Boolean, _p(False))),
            ("items", _json()),
            ("note", (Text, _p(""))),
            ("signer_name", _varchar(100)),
            ("signature", _varchar(64, null=True)),
            ("photos", _json()),
            ("signed_by", _fk(UserReference)),
            ("signed_at", _time()),
            ("client_id", _varchar(36, null=True)),
        ),
    ),
    (
        "RenovationDeduction",
        "renovation_deduction",
        (
            ("permit", _fk(PERMIT, OnDelete.cascade, False)),
            ("amount", _int()),
            ("reason", (Text, _p(""))),
            ("photos", _json()),
            ("created_by", _fk(UserReference)),
            ("created_at", _time()),
            ("deleted_by", _fk(UserReference)),
            ("deleted_at", _time(null=True)),
        ),
    ),
    (
        "RenovationSettlement",
        "renovation_settlement",
        (
            ("permit", _fk(PERMIT, OnDelete.cascade, False)),
            ("contractor_deposit", _int()),
            ("owner_deposit", _int()),
            ("total", _int()),
            ("from_contractor", _int()),
            ("from_owner", _int()),
            ("uncovered", _int()),
            ("refund_contractor", _int()),
            ("refund_owner", _int()),
            ("pass_deposits_refund", _int()),
            ("deductions", _json()),
            ("approved_by", _fk(UserReference)),
            ("approved_at", _time()),
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
