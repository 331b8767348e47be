"""/healthz (database and photo store) and the logs' request ids and JSON lines."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import time
from dataclasses import replace

import pytest

from server.logging_setup import JsonFormatter, RequestIdFilter, TextFormatter, log_config
from server.routes import health

pytestmark = pytest.mark.api


async def test_healthy_server_reports_both_parts(make_client):
    response = await make_client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "storage": "ok"}
    assert response.headers["cache-control"] == "no-store"


async def test_database_down_is_503_naming_the_database(make_client, monkeypatch, tmp_path):
    from piccolo.engine.postgres import PostgresEngine
    from piccolo.engine.sqlite import SQLiteEngine

    from server.tables.sites import Site

    if isinstance(Site._meta.db, PostgresEngine):
        # Nothing listens on port 1.
        broken = PostgresEngine(config={"dsn": "postgres://postgres@127.0.0.1:1/none"})
    else:
        # A directory is not a database file.
        broken = SQLiteEngine(path=str(tmp_path))
    monkeypatch.setattr(Site._meta, "db", broken)
    response = await make_client().get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unavailable", "storage": "ok"}


async def test_a_hung_database_fails_within_the_time_limit(make_client, monkeypatch):
    async def hangs():
        await asyncio.sleep(30)

    monkeypatch.setattr(health, "_database", hangs)
    monkeypatch.setattr(health, "CHECK_TIMEOUT_SECONDS", 0.3)
    started = time.monotonic()
    response = await make_client().get("/healthz")
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"


async def test_unwritable_photo_store_is_503_naming_the_storage(
    app, make_client, monkeypatch, tmp_path
):
    # The photos "directory" is a file: nothing can be stored under it.
    (tmp_path / "photos").write_bytes(b"not a directory")
    monkeypatch.setattr(app.state, "settings", replace(app.state.settings, data_dir=tmp_path))
    response = await make_client().get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "ok", "storage": "unavailable"}
    assert list((tmp_path).iterdir()) == [tmp_path / "photos"]


async def test_the_store_check_leaves_no_file_behind(settings):
    from server.storage import store_for

    store = store_for(settings)
    await store.check()
    assert not [p for p in store.root.iterdir() if p.name.startswith(".healthz")]


# --- request ids ---------------------------------------------------------------------------------


async def test_every_response_carries_a_request_id(make_client):
    client = make_client()
    ids = set()
    for path, status in (("/healthz", 200), ("/api/me", 401), ("/api/nothing-here", 404)):
        response = await client.get(path)
        assert response.status_code == status, path
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"]), path
        ids.add(response.headers["x-request-id"])
    assert len(ids) == 3


async def test_a_sensible_incoming_request_id_is_kept_and_a_bad_one_replaced(make_client):
    client = make_client()
    kept = await client.get("/healthz", headers={"X-Request-ID": "nginx-5f2c:1.a_b"})
    assert kept.headers["x-request-id"] == "nginx-5f2c:1.a_b"
    for bad in (b"has space", b"x" * 200, "引号".encode()):
        replaced = await client.get("/api/me", headers={"X-Request-ID": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["x-request-id"]), bad


@pytest.fixture
def captured_json():
    """The root logger's lines, formatted as ``XUNJIAN_LOG_FORMAT=json`` writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(old_level)


async def test_log_lines_written_during_a_request_carry_its_id(
    make_client, monkeypatch, tmp_path, captured_json
):
    from piccolo.engine.postgres import PostgresEngine
    from piccolo.engine.sqlite import SQLiteEngine

    from server.tables.sites import Site

    broken = (
        PostgresEngine(config={"dsn": "postgres://postgres@127.0.0.1:1/none"})
        if isinstance(Site._meta.db, PostgresEngine)
        else SQLiteEngine(path=str(tmp_path))
    )
    monkeypatch.setattr(Site._meta, "db", broken)
    response = await make_client().get("/healthz", headers={"X-Request-ID": "trace-42"})
    assert response.status_code == 503
    lines = [line for line in captured_json() if line["logger"] == "xunjian.health"]
    assert lines, captured_json()
    line = lines[0]
    assert line["request_id"] == "trace-42"
    assert line["level"] == "ERROR"
    assert "database" in line["message"] and "Traceback" in line["exc"]
    assert isinstance(line["pid"], int) and line["time"].endswith("+00:00")
    # Outside a request the id is null.
    logging.getLogger("xunjian.test").warning("no request here")
    assert captured_json()[-1]["request_id"] is None


def test_access_lines_are_split_into_fields():
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("10.0.0.5:5000", "GET", "/api/me", "1.1", 401),
        None,
    )
    record.request_id = "r-1"
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == '10.0.0.5:5000 - "GET /api/me HTTP/1.1" 401'
    assert (entry["client"], entry["method"], entry["path"], entry["status"]) == (
        "10.0.0.5:5000",
        "GET",
        "/api/me",
        401,
    )
    assert entry["request_id"] == "r-1"
    assert "r-1" in TextFormatter().format(record)


def test_log_config_sends_uvicorn_through_the_chosen_format():
    config = log_config("json", "warning")
    assert config["handlers"]["default"]["formatter"] == "json"
    assert config["root"]["level"] == "WARNING"
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        assert config["loggers"][name]["propagate"] is True
    assert log_config("text")["handlers"]["default"]["formatter"] == "text"
