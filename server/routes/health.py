"""/healthz: does the server have its database and its photo store? For load balancers, proxies and
monitoring. 200 when both answer, 503 naming the part that failed (the reason goes to the log, not
to the unauthenticated caller)."""

from __future__ import annotations

import asyncio
import logging

from litestar import Request, Response, get

from server.storage import store_for
from server.tables.sites import Site

log = logging.getLogger("xunjian.health")

#: Each part must answer within this many seconds; a hung database is as bad as a dead one.
CHECK_TIMEOUT_SECONDS = 2.0


async def _database() -> None:
    await Site.raw("SELECT 1")


async def _check(part: str, probe) -> str:
    try:
        await asyncio.wait_for(probe(), CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        log.error("health check: %s did not answer in %s s", part, CHECK_TIMEOUT_SECONDS)
        return "unavailable"
    except Exception:  # any driver or file-system error means "not healthy"
        log.exception("health check: %s unavailable", part)
        return "unavailable"
    return "ok"


@get("/healthz", exclude_from_auth=True, tags=["health"])
async def healthz(request: Request) -> Response[dict]:
    store = store_for(request.app.state.settings)
    database, storage = await asyncio.gather(
        _check("database", _database), _check("storage", store.check)
    )
    healthy = database == "ok" and storage == "ok"
    return Response(
        {"status": "ok" if healthy else "error", "database": database, "storage": storage},
        status_code=200 if healthy else 503,
        headers={"Cache-Control": "no-store"},
    )
