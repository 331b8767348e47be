"""Keys of renovation photos (a separate step: Piccolo runs raw SQL before it creates a
migration's tables)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T17:20:03:000000"
VERSION = "1.38.0"
DESCRIPTION = "A photo once per permit; permits by photo"

STATEMENTS = (
    "CREATE UNIQUE INDEX IF NOT EXISTS renovation_photo_permit_photo ON renovation_photo "
    '("permit", "photo")',
    # visible_photo: which permits carry this photo.
    'CREATE INDEX IF NOT EXISTS renovation_photo_photo ON renovation_photo ("photo")',
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
