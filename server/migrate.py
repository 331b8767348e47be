"""Schema migrations and reference data, run by ``xunjian migrate`` (and by the test set-up)."""

from __future__ import annotations

import os


async def migrate(database_url: str) -> None:
    """Bring the database at ``database_url`` to the current schema. Safe to run again."""
    # Piccolo's migration runner finds its engine through piccolo_conf, which reads the URL
    # from the environment; point it at ours before it is first imported.
    os.environ["PICCOLO_CONF"] = "server.piccolo_conf"
    os.environ["XUNJIAN_DATABASE_URL"] = database_url
    import importlib

    import server.piccolo_conf

    importlib.reload(server.piccolo_conf)
    from piccolo.apps.migrations.commands.forwards import run_forwards
    from piccolo.apps.migrations.tables import Migration

    # Piccolo's own bookkeeping table keeps the first engine it found; give it this database's.
    Migration._meta.db = server.piccolo_conf.DB

    result = await run_forwards(app_name="all", migration_id="all", fake=False)
    if not result.success:
        raise RuntimeError(f"migration failed: {result.message}")
