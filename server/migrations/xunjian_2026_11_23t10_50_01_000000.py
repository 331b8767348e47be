"""Keys and indexes of the work-order tables (a separate step: Piccolo runs raw SQL before it
creates a migration's tables)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T10:50:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "One open work order per checkpoint item; lookup indexes"

# The open-order key: one open order per checkpoint item raised from checks, so two patrols
# failing the same item at once cannot raise two orders (both engines support partial indexes).
STATEMENTS = (
    'CREATE UNIQUE INDEX IF NOT EXISTS work_order_open_item ON work_order ("checkpoint", "item_code") '
    "WHERE \"source\" = 'inspection' AND \"status\" <> 'closed'",
    'CREATE INDEX IF NOT EXISTS work_order_site_status ON work_order ("site", "status")',
    'CREATE INDEX IF NOT EXISTS work_order_report_order ON work_order_report ("work_order")',
    'CREATE INDEX IF NOT EXISTS inspection_received_at ON inspection ("received_at")',
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
