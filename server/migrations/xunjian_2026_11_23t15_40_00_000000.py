"""Renovations: permits, workers' passes, hot-work permits, extensions and the permit's timeline.

Written by hand, like 2026-11-23T12:20:00: Piccolo's auto-migration cannot follow the full-module
-path foreign keys, and foreign keys to ``xj_user`` must name their target explicitly.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
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


ID = "2026-11-23T15:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Renovation permits, workers, hot-work permits, extensions, events"

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


def _varchar(length, null=False, secret=False):
    params = _p(None if null else "", null, length=length)
    params["secret"] = secret
    return Varchar, params


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


def _date():
    return Date, _p(DateNow())


def _text():
    return Text, _p("")


PERMIT = "RenovationPermit"
TABLES = (
    (
        PERMIT,
        "renovation_permit",
        (
            ("site", _fk("Site", OnDelete.cascade, False)),
            ("unit", _fk("Unit", OnDelete.cascade, False)),
            ("owner_name", _varchar(100)),
            ("owner_phone", _varchar(32)),
            ("contractor_company", _varchar(200)),
            ("contractor_licence", _varchar(64)),
            ("contractor_qualification", _varchar(100)),
            ("contractor_person", _varchar(100)),
            ("contractor_phone", _varchar(32)),
            ("area_m2", (Float, _p(0.0))),
            ("starts_on", _date()),
            ("ends_on", _date()),
            ("owner_deposit", _int()),
            ("contractor_deposit", _int()),
            ("status", (Varchar, _p("applied", length=24))),
            ("drawings_reviewer", _fk(UserReference)),
            ("drawings_reviewed_at", _time(null=True)),
            ("fire_approval", (Boolean, _p(False))),
            ("fire_approval_reference", _varchar(100)),
            ("cs_signed_by", _fk(UserReference)),
            ("cs_signed_at", _time(null=True)),
            ("engineering_signed_by", _fk(UserReference)),
            ("engineering_signed_at", _time(null=True)),
            ("security_signed_by", _fk(UserReference)),
            ("security_signed_at", _time(null=True)),
            ("unit_status_before", _varchar(12)),
            ("checkpoint", _fk("Checkpoint")),
            ("created_by", _fk(UserReference)),
            ("client_id", _varchar(36, null=True)),
            ("body_hash", _varchar(64)),
            ("created_at", _time()),
            ("updated_at", _time()),
        ),
    ),
    (
        "RenovationWorker",
        "renovation_worker",
        (
            ("permit", _fk(PERMIT, OnDelete.cascade, False)),
            ("name", _varchar(50)),
            ("id_number", _varchar(32, secret=True)),
            ("pass_number", _varchar(32)),
            ("valid_until", _date()),
            ("pass_deposit", _int(10000)),
            ("pass_fee", _int(500)),
            ("created_at", _time()),
        ),
    ),
    (
        "HotWorkPermit",
        "hot_work_permit",
        (
            ("permit", _fk(PERMIT, OnDelete.cascade, False)),
            ("starts_on", _date()),
            ("ends_on", _date()),
            ("location", _varchar(200)),
            ("approved_by", _fk(UserReference)),
            ("created_at", _time()),
        ),
    ),
    (
        "RenovationExtension",
        "renovation_extension",
        (
            ("permit", _fk(PERMIT, OnDelete.cascade, False)),
            ("requested_until", _date()),
            ("reason", _text()),
            ("fee", _int()),
            ("status", (Varchar, _p("requested", length=16))),
            ("requested_by", _fk(UserReference)),
            ("requested_at", _time()),
            ("reviewed_by", _fk(UserReference)),
            ("reviewed_at", _time(null=True)),
            ("approved_by", _fk(UserReference)),
            ("approved_at", _time(null=True)),
            ("note", _text()),
        ),
    ),
    (
        "RenovationEvent",
        "renovation_event",
        (
            ("permit", _fk(PERMIT, OnDelete.cascade, False)),
            ("action", _varchar(32)),
            ("from_status", _varchar(24)),
            ("to_status", _varchar(24)),
            ("actor", _fk(UserReference)),
            ("device_time", _time()),
            ("server_time", _time()),
            ("note", _text()),
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
