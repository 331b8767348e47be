"""A plan's checkpoints get the days they joined and left the plan (``plan_checkpoint.since`` /
``until``): a renovation unit is patrolled from its permit's issue to its close, not from the
plan's first day. Written by hand like 2026-11-23T15:40:00."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Date
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-23T17:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Plan checkpoints: since / until"

_PARAMS = {
    "default": None,
    "null": True,
    "primary_key": False,
    "unique": False,
    "index": False,
    "index_method": IndexMethod.btree,
    "choices": None,
    "db_column_name": None,
    "secret": False,
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="xunjian", description=DESCRIPTION)
    for name in ("since", "until"):
        manager.add_column(
            table_class_name="PlanCheckpoint",
            tablename="plan_checkpoint",
            column_name=name,
            db_column_name=name,
            column_class_name="Date",
            column_class=Date,
            params=dict(_PARAMS),
            schema=None,
        )
    return manager
