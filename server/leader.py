"""Periodic background jobs that run once across workers, not once per worker.

``xunjian serve --workers N`` (PostgreSQL only) starts N processes, each with the app's lifespan and
so each with the same periodic jobs. Every job loop here asks :class:`Leadership` before each tick
whether this process leads that job:

- On PostgreSQL the leader of a job is the process holding a *session-level* advisory lock
  (``pg_try_advisory_lock(<job key>)``) on a connection of its own, opened outside the pool. The
  lock stays with the leader for as long as its connection lives, so one worker runs the job tick
  after tick and the others skip theirs (a per-tick transaction lock would let every worker run
  each tick in turn, a moment apart, and would wrap the whole job in one long transaction).
  Before each tick the leader checks its connection with ``SELECT 1``; if the connection is gone
  (server restart, network), PostgreSQL has already released the lock, the worker drops the
  connection and tries again at its next tick, and another worker may take over meanwhile.
  A worker that stops (or is killed) closes its connection and so hands leadership on.
- On SQLite there is only ever one worker (``xunjian serve`` refuses more), so the job just runs.

The jobs themselves stay idempotent (escalation raises a level with a conditional UPDATE, the
compliance store writes by key), so a hand-over in the middle of a tick can repeat work but never
record it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

from piccolo.engine.postgres import PostgresEngine

log = logging.getLogger("xunjian.leader")

#: How often expired sessions and old login attempts are deleted.
PURGE_INTERVAL_SECONDS = 3600.0
_CHECK_TIMEOUT = 5.0


def job_key(job: str) -> int:
    """The advisory-lock key of a job: stable across processes and releases."""
    return zlib.crc32(f"xunjian:{job}".encode())


def _engine():
    from server.tables.sites import Site

    return Site._meta.db


class Leadership:
    """Whether this process leads one job; owns the job's dedicated lock connection."""

    def __init__(self, job: str) -> None:
        self.job = job
        self.key = job_key(job)
        self._conn = None
        self._held = False

    async def acquire(self) -> bool:
        """True when this process leads the job now (taking the lead if it is free)."""
        engine = _engine()
        if not isinstance(engine, PostgresEngine):
            return True
        import asyncpg

        try:
            if self._conn is None or self._conn.is_closed():
                self._held = False
                self._conn = await asyncpg.connect(engine.config["dsn"], timeout=_CHECK_TIMEOUT)
            if self._held:
                await self._conn.fetchval("SELECT 1", timeout=_CHECK_TIMEOUT)
                return True
            self._held = bool(
                await self._conn.fetchval(
                    "SELECT pg_try_advisory_lock($1)", self.key, timeout=_CHECK_TIMEOUT
                )
            )
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            if self._held:
                log.warning("job %s: lost its database connection; no longer leading", self.job)
            else:
                log.warning("job %s: cannot reach the database to take the lead", self.job)
            await self.release()
            return False
        if self._held:
            log.info("job %s: led by this worker (pid %s)", self.job, os.getpid())
        return self._held

    async def release(self) -> None:
        """Give up the lead: closing the connection releases the lock on the server."""
        conn, self._conn, self._held = self._conn, None, False
        if conn is None:
            return
        try:
            await asyncio.wait_for(conn.close(), _CHECK_TIMEOUT)
        except BaseException:
            conn.terminate()
            raise


async def run_periodically(
    job: str, interval_seconds: float, tick: Callable[[], Awaitable[object]]
) -> None:
    """Run ``tick`` now and then every ``interval_seconds`` in the one worker leading ``job``,
    until cancelled. A failed tick is logged and the next one tries again."""
    leadership = Leadership(job)
    try:
        while True:
            try:
                if await leadership.acquire():
                    log.debug("job %s: tick in pid %s", job, os.getpid())
                    await tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job %s failed; retrying in %s s", job, interval_seconds)
            await asyncio.sleep(interval_seconds)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(leadership.release())


async def purge_expired(login_window_seconds: int, now: datetime | None = None) -> tuple[int, int]:
    """Delete sessions past their expiry and failed logins older than the throttle window (they
    no longer count towards it). Returns (sessions, login attempts) deleted."""
    from server.tables.accounts import AuthSession, LoginAttempt

    now = now or datetime.now(UTC)
    sessions = (
        await AuthSession.delete().where(AuthSession.expires_at < now).returning(AuthSession.id)
    )
    attempts = (
        await LoginAttempt.delete()
        .where(LoginAttempt.attempted_at < now - timedelta(seconds=login_window_seconds))
        .returning(LoginAttempt.id)
    )
    if sessions or attempts:
        log.info(
            "purged %s expired sessions and %s old login attempts", len(sessions), len(attempts)
        )
    return len(sessions), len(attempts)


@contextlib.asynccontextmanager
async def background_jobs(settings) -> AsyncIterator[None]:
    """The app's periodic jobs, each led by one worker: escalation of deferred work orders,
    compliance upkeep (rounds stored, passed ones closed, failed recomputes retried), the
    retention purge and the violations' retention purge. Cancelled and awaited on the way out."""
    from server import compliance_store, escalation, violations

    interval = settings.escalation_interval_seconds
    tasks = [
        asyncio.create_task(escalation.run_periodically(settings, interval)),
        asyncio.create_task(compliance_store.run_periodically(interval)),
        asyncio.create_task(
            run_periodically(
                "retention-purge",
                max(interval, PURGE_INTERVAL_SECONDS),
                lambda: purge_expired(settings.login_window_seconds),
            )
        ),
        asyncio.create_task(
            run_periodically(
                "violation-purge",
                max(interval, PURGE_INTERVAL_SECONDS),
                violations.purge_expired,
            )
        ),
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


__all__ = ["Leadership", "background_jobs", "job_key", "purge_expired", "run_periodically"]
