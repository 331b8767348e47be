"""Logs: plain text for people or JSON lines for a log store (XUNJIAN_LOG_FORMAT), with a request id.

Every HTTP request gets an id: the caller's ``X-Request-ID`` when it sends a sensible one (a proxy
such as nginx's ``$request_id``), else a new one. The id is returned in the response's
``X-Request-ID`` header and, through a context variable, is in every log line written while the
request runs — the app's own lines and uvicorn's access line alike (uvicorn writes the access line
from the ``send`` the request's task calls, so it sees the same context).

JSON lines carry: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, ``pid`` (which
worker), ``request_id`` (or null outside a request), ``exc`` (a traceback, when there is one), and
for access lines ``client``, ``method``, ``path``, ``status``, ``http_version``.
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

request_id: ContextVar[str | None] = ContextVar("xunjian_request_id", default=None)

HEADER = "x-request-id"
_ACCEPTED_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record (``None`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process or os.getpid(),
            "request_id": getattr(record, "request_id", None) or request_id.get(),
        }
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            client, method, path, http_version, status = args
            entry.update(
                client=client, method=method, path=path, http_version=http_version, status=status
            )
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(process)d %(rid)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.rid = getattr(record, "request_id", None) or request_id.get() or "-"
        return super().format(record)


def log_config(log_format: str = "text", level: str = "info") -> dict:
    """A ``logging.config.dictConfig`` for the app and uvicorn (passed as uvicorn's
    ``log_config``, so every worker process sets it up the same way)."""
    formatter = "json" if log_format == "json" else "text"
    level = level.upper()
    handler = {
        "class": "logging.StreamHandler",
        "formatter": formatter,
        "filters": ["request_id"],
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {
            "json": {"()": JsonFormatter},
            "text": {"()": TextFormatter},
        },
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            # uvicorn's own handlers are replaced: its lines go through the root's handler.
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": level, "propagate": True},
        },
    }


def litestar_logging_config():
    """Litestar's own logging, left to the set-up above: it must not install its root handler
    (which would replace uvicorn's format in every worker that builds its app after uvicorn has
    set logging up); its "litestar" logger propagates to the root's handler instead. Exceptions
    are logged by the app's own handlers (server/errors.py: 500s with their traceback), not again
    here (Litestar would log every 401 and 404 with a traceback)."""
    from litestar.logging.config import LoggingConfig

    return LoggingConfig(
        configure_root_logger=False,
        log_exceptions="never",
        loggers={"litestar": {"level": "INFO", "handlers": [], "propagate": True}},
    )


def configure(log_format: str = "text", level: str = "info") -> None:
    logging.config.dictConfig(log_config(log_format, level))


def _incoming_id(scope) -> str | None:
    for name, value in scope.get("headers") or ():
        if name == b"x-request-id":
            text = value.decode("latin-1").strip()
            return text if _ACCEPTED_ID.match(text) else None
    return None


def request_id_middleware(app):
    """ASGI middleware: a request id per HTTP request, in the logs' context and the response."""

    async def middleware(scope, receive, send):
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        rid = _incoming_id(scope) or uuid.uuid4().hex
        token = request_id.set(rid)

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers") or () if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", rid.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)

    return middleware


__all__ = [
    "JsonFormatter",
    "RequestIdFilter",
    "TextFormatter",
    "configure",
    "litestar_logging_config",
    "log_config",
    "request_id",
    "request_id_middleware",
]
