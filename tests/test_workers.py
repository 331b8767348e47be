"""Several workers on PostgreSQL: requests are shared out, periodic jobs run in one worker only.

The server runs as people run it (``xunjian serve --workers 3``, JSON logs) on a database of its
own, so the test session's in-process app (which runs the same jobs) cannot take the lead.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from conftest import ROOT, free_port
from pg_databases import drop_database, recreate_database

from server.leader import Leadership, job_key, purge_expired

pytestmark = pytest.mark.api


def _log_lines(path) -> list[dict]:
    lines = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def _leaders(lines: list[dict], job: str) -> list[int]:
    return [
        line["pid"]
        for line in lines
        if line["message"].startswith(f"job {job}: led by this worker")
    ]


@pytest.fixture
async def workers_database(database_url):
    url = database_url.rpartition("/")[0] + "/xunjian_workers_test"
    await recreate_database(url)
    yield url
    await drop_database(url)


async def _deferred_order(url: str, deferred_at: datetime) -> int:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        now = datetime.now(UTC)
        site_id = await conn.fetchval(
            "INSERT INTO site (code, name, timezone, address, created_at)"
            " VALUES ($1, '多进程小区', 'Asia/Shanghai', '', $2) RETURNING id",
            f"W{int(time.time() * 1000) % 10**9}",
            now,
        )
        department = await conn.fetchval("SELECT id FROM department WHERE code = 'engineering'")
        return await conn.fetchval(
            "INSERT INTO work_order (site, department, source, status, severity, title,"
            " raised_at, created_at, updated_at, dispatched_at, deferred_at, escalation_level)"
            " VALUES ($1, $2, 'manual', 'deferred', 'minor', '水泵漏水', $3, $3, $3, $3, $4, 0)"
            " RETURNING id",
            site_id,
            department,
            deferred_at - timedelta(hours=1),
            deferred_at,
        )
    finally:
        await conn.close()


async def _escalations(url: str, order_id: int) -> list[str]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT note FROM work_order_event WHERE work_order = $1 AND action = 'escalate'"
            " ORDER BY id",
            order_id,
        )
        level = await conn.fetchval(
            "SELECT escalation_level FROM work_order WHERE id = $1", order_id
        )
    finally:
        await conn.close()
    return [r["note"] for r in rows] + [f"level {level}"]


@pytest.mark.pg
async def test_three_workers_share_requests_and_escalate_once(workers_database, tmp_path):
    url = workers_database
    port = free_port()
    env = {
        **os.environ,
        "XUNJIAN_DATABASE_URL": url,
        "XUNJIAN_DATA_DIR": str(tmp_path / "data"),
        "XUNJIAN_SECRET_KEY": "workers-test-key",
        "XUNJIAN_LOG_FORMAT": "json",
        "XUNJIAN_BACKGROUND_INTERVAL_SECONDS": "1",
    }
    cli = [sys.executable, "-m", "server.cli"]
    subprocess.run([*cli, "migrate"], env=env, cwd=ROOT, check=True, capture_output=True)
    # A month ago: both levels (department head, manager) are long due.
    order_id = await _deferred_order(url, datetime.now(UTC) - timedelta(days=30))

    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log_file:
        server = subprocess.Popen(
            [*cli, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "3"],
            env=env,
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(timeout=5) as probe:
            deadline = time.monotonic() + 60
            while True:
                assert server.poll() is None, log_path.read_text()
                try:
                    if (await probe.get(f"{base}/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "server did not start"
                await asyncio.sleep(0.2)

        # Requests on fresh connections, until three workers answered (or 300 tries).
        sent: set[str] = set()
        for n in range(300):
            async with httpx.AsyncClient(timeout=5) as client:
                response = await client.get(f"{base}/healthz", headers={"X-Request-ID": f"w-{n}"})
            assert response.status_code == 200
            assert response.headers["x-request-id"] == f"w-{n}"
            sent.add(f"w-{n}")
            if n % 20 == 19:
                answered = {
                    line["pid"]
                    for line in _log_lines(log_path)
                    if line["logger"] == "uvicorn.access" and line["request_id"] in sent
                }
                if len(answered) == 3:
                    break

        # Each job's interval is 1 s: give every worker several ticks.
        for _ in range(100):
            if await _escalations(url, order_id) == ["department_head", "manager", "level 2"]:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(4)
        assert await _escalations(url, order_id) == ["department_head", "manager", "level 2"]
        before_kill = _log_lines(log_path)

        # The escalation leader dies without a word: its connection closes, PostgreSQL drops
        # its lock, and a surviving worker takes the job over at its next tick.
        [leader_pid] = _leaders(before_kill, "escalation")
        os.kill(leader_pid, signal.SIGKILL)
        second_order = await _deferred_order(url, datetime.now(UTC) - timedelta(days=30))
        for _ in range(300):
            if await _escalations(url, second_order) == ["department_head", "manager", "level 2"]:
                break
            await asyncio.sleep(0.1)
        assert await _escalations(url, second_order) == ["department_head", "manager", "level 2"]
        after_kill = _log_lines(log_path)[len(before_kill) :]
        new_leaders = _leaders(after_kill, "escalation")
        assert len(new_leaders) == 1 and new_leaders[0] != leader_pid, new_leaders
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    lines = before_kill
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    answered = {line["pid"] for line in access if line["request_id"] in sent}
    # The kernel shares connections out; on a busy machine one worker may get none in 300.
    assert len(answered) >= 2, (answered, access[:3])
    worker_pids = {line["pid"] for line in access}
    started = {line["pid"] for line in lines if line["message"].startswith("Application startup")}
    assert len(started) == 3, started
    assert worker_pids <= started
    # Until the kill, every job was led by exactly one worker, never taken twice.
    for job in ("escalation", "compliance-upkeep", "retention-purge", "violation-purge"):
        assert len(_leaders(lines, job)) == 1, (job, _leaders(lines, job))
        assert _leaders(lines, job)[0] in started
    assert not [line for line in lines if line["level"] == "ERROR"], lines


@pytest.mark.pg
async def test_one_leader_at_a_time_and_the_lead_passes_on(app):
    first, second = Leadership("test-job"), Leadership("test-job")
    try:
        assert await first.acquire()
        assert not await second.acquire()
        assert await first.acquire()  # still the leader on the next tick
        await first.release()
        assert await second.acquire()
        assert not await first.acquire()
    finally:
        await first.release()
        await second.release()


@pytest.mark.pg
async def test_a_leader_whose_connection_dies_gives_way(app):
    first, second = Leadership("test-job-2"), Leadership("test-job-2")
    try:
        assert await first.acquire()
        first._conn.terminate()  # the connection is gone: the server released the lock
        assert await second.acquire()
        assert not await first.acquire()  # reconnects, finds the lead taken
    finally:
        await first.release()
        await second.release()


def test_job_keys_are_stable_and_distinct():
    keys = {
        job: job_key(job)
        for job in ("escalation", "compliance-upkeep", "retention-purge", "violation-purge")
    }
    assert len(set(keys.values())) == 4
    assert keys["escalation"] == job_key("escalation")
    assert all(0 <= key < 2**63 for key in keys.values())


async def test_on_sqlite_or_postgres_a_single_process_leads(app):
    leadership = Leadership("single-job")
    try:
        assert await leadership.acquire()
    finally:
        await leadership.release()


async def test_purge_deletes_expired_sessions_and_old_attempts_only(app, make_user):
    from server.tables.accounts import AuthSession, LoginAttempt

    user = await make_user()
    now = datetime.now(UTC)
    await AuthSession.insert(
        *[
            AuthSession(
                token_hash=f"{user.username}-{name}".ljust(64, "0")[:64],
                user=user.id,
                created_at=now - timedelta(days=40),
                expires_at=expires,
                last_seen_at=now - timedelta(days=1),
            )
            for name, expires in (
                ("old", now - timedelta(days=1)),
                ("live", now + timedelta(days=1)),
            )
        ]
    )
    await LoginAttempt.insert(
        LoginAttempt(
            username=user.username, address="10.0.0.1", attempted_at=now - timedelta(hours=1)
        ),
        LoginAttempt(
            username=user.username, address="10.0.0.1", attempted_at=now - timedelta(minutes=1)
        ),
    )
    sessions, attempts = await purge_expired(15 * 60, now)
    assert sessions >= 1 and attempts >= 1
    left = await AuthSession.select(AuthSession.token_hash).where(AuthSession.user == user.id)
    assert [r["token_hash"][: len(user.username) + 5] for r in left] == [f"{user.username}-live"]
    kept = await LoginAttempt.select(LoginAttempt.attempted_at).where(
        LoginAttempt.username == user.username
    )
    assert len(kept) == 1 and kept[0]["attempted_at"] > now - timedelta(minutes=15)


def test_sqlite_refuses_several_workers(tmp_path):
    env = {
        **os.environ,
        "XUNJIAN_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
        "XUNJIAN_DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "serve", "--workers", "2", "--port", str(free_port())],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "SQLite 只能用一个工作进程" in result.stderr
    assert "SQLite runs with one worker only" in result.stderr
    env["XUNJIAN_WORKERS"] = "3"
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(free_port())],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "--workers 3" in result.stderr
