"""Index of the reports joining a check to its work orders (the daily patrol record looks up each
check's orders; without it that is a scan of every report)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T15:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Work-order reports by inspection"

STATEMENTS = (
    'CREATE INDEX IF NOT EXISTS work_order_report_inspection ON work_order_report ("inspection")',
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
