"""Keys and indexes of renovations (a separate step: Piccolo runs raw SQL before it creates a
migration's tables)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T15:40:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "Renovation client ids; permits by site and status; one open permit per unit; children"

STATEMENTS = (
    # Exactly once: a phone's request id is stored once (NULLs, i.e. no id, never collide).
    'CREATE UNIQUE INDEX IF NOT EXISTS renovation_permit_client_id ON renovation_permit ("client_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS renovation_event_client_id ON renovation_event ("client_id")',
    # The list: a site's permits by status, newest first.
    "CREATE INDEX IF NOT EXISTS renovation_permit_site_status ON renovation_permit "
    '("site", "status", "id")',
    # One open permit per unit, held by the database: two desks registering the same unit at the
    # same moment on PostgreSQL both pass the check before either commits.
    "CREATE UNIQUE INDEX IF NOT EXISTS renovation_permit_open_unit ON renovation_permit "
    "(\"unit\") WHERE \"status\" <> 'closed'",
    'CREATE INDEX IF NOT EXISTS renovation_worker_permit ON renovation_worker ("permit")',
    'CREATE INDEX IF NOT EXISTS hot_work_permit_permit ON hot_work_permit ("permit")',
    'CREATE INDEX IF NOT EXISTS renovation_extension_permit ON renovation_extension ("permit")',
    'CREATE INDEX IF NOT EXISTS renovation_event_permit ON renovation_event ("permit", "id")',
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
