"""The shape shared by the migrations that only create indexes with raw SQL (Piccolo runs a
migration's raw SQL before it creates its tables, so indexes go in a migration of their own)."""

from collections.abc import Awaitable, Callable, Sequence

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder


def index_name(statement: str) -> str:
    """``CREATE [UNIQUE] INDEX IF NOT EXISTS name ON …`` → ``name``."""
    return statement.split(" ON ")[0].split()[-1]


def index_migration(
    migration_id: str, description: str, statements: Sequence[str]
) -> Callable[[], Awaitable[MigrationManager]]:
    """A migration's ``forwards``: run ``statements`` (each a CREATE INDEX … IF NOT EXISTS);
    backwards drops the indexes they name."""

    async def forwards() -> MigrationManager:
        manager = MigrationManager(
            migration_id=migration_id, app_name="xunjian", description=description
        )

        async def run():
            engine = engine_finder()
            for statement in statements:
                await engine.run_ddl(statement)

        async def run_backwards():
            engine = engine_finder()
            for statement in statements:
                await engine.run_ddl(f"DROP INDEX IF EXISTS {index_name(statement)}")

        manager.add_raw(run)
        manager.add_raw_backwards(run_backwards)
        return manager

    return forwards
