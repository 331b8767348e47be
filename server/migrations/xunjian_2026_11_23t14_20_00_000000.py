"""Patrol plans, their checkpoints and people, stored compliance results (one row per expected
round), acknowledgements of missed rounds, and the recompute backlog.

Written by hand, like 2026-11-23T10:50:00: Piccolo's auto-migration cannot follow the full-module
-path foreign keys, and foreign keys to ``xj_user`` and to ``inspection`` (UUID key) must name
their targets explicitly.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import (
    JSON,
    UUID,
    Date,
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


class InspectionReference(Table, tablename="inspection", schema=None):
    id = UUID(null=False, primary_key=True, unique=False, index=False, db_column_name="id")


ID = "2026-11-23T14:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Patrol plans, plan checkpoints and assignees, plan occurrences, acknowledgements"

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


def _varchar(length, default="", null=False):
    return {"length": length, "default": default, "null": null, **_COMMON}


def _int(default=0, null=False):
    return {"default": default, "null": null, **_COMMON}


def _date(null=False):
    return {"default": None if null else DateNow(), "null": null, **_COMMON}


def _time(null=False):
    return {"default": None if null else TimestamptzNow(), "null": null, **_COMMON}


PATROL_PLAN = (
    ("site", ForeignKey, _fk("Site", OnDelete.cascade, False)),
    ("name", Varchar, _varchar(100)),
    ("selection", JSON, {"default": "{}", "null": False, **_COMMON}),
    ("per", Varchar, _varchar(8)),
    ("times", Integer, _int(1)),
    ("windows", JSON, {"default": "[]", "null": False, **_COMMON}),
    ("grace_minutes", Integer, _int(30)),
    ("role", Varchar, _varchar(16, None, True)),
    ("department", ForeignKey, _fk("Department", OnDelete.set_null, True)),
    ("starts_on", Date, _date()),
    ("ends_on", Date, _date(True)),
    ("timezone", Varchar, _varchar(64, "Asia/Shanghai")),
    ("materialised_through", Date, _date(True)),
    ("created_by", ForeignKey, _fk(UserReference, OnDelete.set_null, True)),
    ("created_at", Timestamptz, _time()),
    ("updated_at", Timestamptz, _time()),
)

PLAN_CHECKPOINT = (
    ("plan", ForeignKey, _fk("PatrolPlan", OnDelete.cascade, False)),
    ("checkpoint", ForeignKey, _fk("Checkpoint", OnDelete.cascade, False)),
)

PLAN_ASSIGNEE = (
    ("plan", ForeignKey, _fk("PatrolPlan", OnDelete.cascade, False)),
    ("user", ForeignKey, _fk(UserReference, OnDelete.cascade, False)),
)

PLAN_OCCURRENCE = (
    ("plan", ForeignKey, _fk("PatrolPlan", OnDelete.cascade, False)),
    ("checkpoint", ForeignKey, _fk("Checkpoint", OnDelete.cascade, False)),
    ("site", Integer, _int()),
    ("building", Integer, _int(None, True)),
    ("floor", Integer, _int(None, True)),
    ("period", Date, _date()),
    ("slot", Integer, _int()),
    ("day", Date, _date()),
    ("starts_at", Timestamptz, _time()),
    ("ends_at", Timestamptz, _time()),
    ("closes_at", Timestamptz, _time()),
    ("status", Varchar, _varchar(10)),
    ("inspection", ForeignKey, _fk(InspectionReference, OnDelete.set_null, True)),
    ("person", ForeignKey, _fk(UserReference, OnDelete.set_null, True)),
    ("checked_at", Timestamptz, _time(True)),
)

MISSED_ACKNOWLEDGEMENT = (
    ("occurrence", ForeignKey, _fk("PlanOccurrence", OnDelete.cascade, False)),
    ("by", ForeignKey, _fk(UserReference, OnDelete.set_null, True)),
    ("at", Timestamptz, _time()),
    ("comment", Text, {"default": "", "null": False, **_COMMON}),
)

COMPLIANCE_BACKLOG = (
    ("inspection", UUID, {"default": None, "null": False, **_COMMON}),
    ("created_at", Timestamptz, _time()),
)

TABLES = (
    ("PatrolPlan", "patrol_plan", PATROL_PLAN),
    ("PlanCheckpoint", "plan_checkpoint", PLAN_CHECKPOINT),
    ("PlanAssignee", "plan_assignee", PLAN_ASSIGNEE),
    ("PlanOccurrence", "plan_occurrence", PLAN_OCCURRENCE),
    ("MissedAcknowledgement", "missed_acknowledgement", MISSED_ACKNOWLEDGEMENT),
    ("ComplianceBacklog", "compliance_backlog", COMPLIANCE_BACKLOG),
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
    return manager
