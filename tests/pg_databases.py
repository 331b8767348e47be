"""Creating and dropping throwaway PostgreSQL databases for tests (on the cluster of the URL)."""

from __future__ import annotations


async def _on_maintenance_db(url: str, *statements: str) -> None:
    import asyncpg

    base, _, _ = url.rpartition("/")
    admin = await asyncpg.connect(f"{base}/postgres")
    try:
        for statement in statements:
            await admin.execute(statement)
    finally:
        await admin.close()


async def recreate_database(url: str) -> None:
    """Drop the URL's database if it exists and create it empty."""
    name = url.rpartition("/")[2]
    await _on_maintenance_db(
        url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
    )


async def drop_database(url: str) -> None:
    name = url.rpartition("/")[2]
    await _on_maintenance_db(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
