"""Indexes of the work-order lifecycle (a separate step: Piccolo runs raw SQL before it creates a
migration's tables)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T12:20:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "Work-order events by order; deferred orders for escalation"

STATEMENTS = (
    # An order's timeline.
    'CREATE INDEX IF NOT EXISTS work_order_event_order ON work_order_event ("work_order", "id")',
    # The escalation sweep reads only deferred orders.
    'CREATE INDEX IF NOT EXISTS work_order_deferred ON work_order ("deferred_at") '
    "WHERE \"status\" = 'deferred'",
    # A department's queue.
    'CREATE INDEX IF NOT EXISTS work_order_department_status ON work_order ("department", "status")',
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="xunjian", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    async def run_backwards():
        engine = engine_finder()
        for statement in STATEMENTS:
            name = statement.split(" ON ")[0].split()[-1]
            await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
