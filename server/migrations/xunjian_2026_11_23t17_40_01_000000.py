"""Keys and indexes of the site rules' change log (a separate step: Piccolo runs raw SQL before it
creates a migration's tables)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T17:40:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "Site rules changes: the phone's client id once; a site's changes newest first"

STATEMENTS = (
    # Exactly once: a phone's request id is stored once (NULLs, i.e. no id, never collide).
    "CREATE UNIQUE INDEX IF NOT EXISTS site_rules_change_client_id ON site_rules_change "
    '("client_id")',
    'CREATE INDEX IF NOT EXISTS site_rules_change_site ON site_rules_change ("site", "id")',
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
