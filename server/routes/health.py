"""Health check that really asks the database."""

from litestar import Request, Response, get

from server.tables.sites import Site


@get("/healthz", exclude_from_auth=True, tags=["health"])
async def healthz(request: Request) -> Response[dict]:
    try:
        await Site.raw("SELECT 1")
    except Exception:  # any driver error means "not healthy"; the reason goes to the log
        request.logger.exception("health check: database unavailable")
        return Response({"status": "error", "database": "unavailable"}, status_code=503)
    return Response({"status": "ok", "database": "ok"})
