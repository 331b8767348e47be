"""Database engines and transactions for SQLite and PostgreSQL behind one interface."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.table import Table


def make_engine(database_url: str) -> Engine:
    if database_url.startswith(("postgres://", "postgresql://")):
        return PostgresEngine(config={"dsn": database_url})
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        # A generous busy timeout: writers queue instead of failing with "database is locked".
        return SQLiteEngine(path=str(path), timeout=30)
    raise ValueError(f"unsupported database URL: {database_url}")


def all_tables() -> list[type[Table]]:
    from server.piccolo_app import APP_CONFIG

    return list(APP_CONFIG.table_classes)


def bind_engine(engine: Engine) -> None:
    """Point every table at ``engine`` (the app's own, not whatever piccolo_conf found)."""
    for table in all_tables():
        table._meta.db = engine


@asynccontextmanager
async def write_transaction(engine: Engine):
    """A write transaction. On SQLite it is IMMEDIATE: the write lock is taken up front, so two
    writers queue on the busy timeout instead of one failing halfway through."""
    if isinstance(engine, SQLiteEngine):
        async with engine.transaction(transaction_type=TransactionType.immediate) as tx:
            yield tx
    else:
        async with engine.transaction() as tx:
            yield tx


async def enable_sqlite_wal(engine: Engine) -> None:
    if isinstance(engine, SQLiteEngine):
        await engine.run_ddl("PRAGMA journal_mode=WAL")
