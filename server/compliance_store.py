"""Patrol compliance in the database: the rules of ``server/compliance.py`` applied to stored plans
and stored checks, their results kept one row per expected round (``plan_occurrence``).

One source of rules
-------------------
Nothing here decides a status. Plans are turned into :class:`compliance.Plan`, stored checks into
:class:`compliance.Scan` (``at`` = the phone's time, never later than the server received it), and
:func:`compliance.evaluate` says what every round is. This module only chooses *which* rounds to
evaluate, fetches exactly the checks they need (:func:`compliance.scan_window`), and writes the
results in bulk (an upsert on the round's key: plan, checkpoint, period, slot — so a round keeps
its row id, and an acknowledgement of it, through every recompute).

When results are (re)computed
-----------------------------
* **Saving a plan** rebuilds its rounds from ``starts_on`` to today (rounds that no longer exist
  are deleted, with their acknowledgements).
* **Materialising**: rounds are stored up to today (local) — ``PatrolPlan.materialised_through``
  moves forward before every report and in the periodic task.
* **Checks arriving** (``after_sync``, called by sync after its transaction commits): the
  (plan, checkpoint, day) triples :func:`compliance.periods_to_recompute` names are re-evaluated
  with all stored checks — so offline checks that arrive days later correct the past. It never
  raises: on any failure the checks go to ``compliance_backlog`` (or, if even that fails, are
  logged) and are recomputed later by :func:`drain_backlog` (periodic task, and before reports).
* **A checkpoint joining or leaving plans** (a renovation permit issued or closed:
  ``plans.join_checkpoint`` / ``leave_checkpoint``): its rounds are stored from the day it joined
  (:func:`store_checkpoint_rounds`) or deleted after the day it left
  (:func:`drop_checkpoint_rounds`). Every evaluation keeps to each checkpoint's days
  (``plan_checkpoint.since`` / ``until``): no round is expected outside them.
* **Time passing**: a ``pending`` round whose window plus grace has closed becomes ``missed``
  (one UPDATE; done after the backlog is drained, so a check already stored is never overlooked).

Every recompute reads and writes in one write transaction (SQLite: IMMEDIATE; PostgreSQL: an
advisory lock per plan, taken in plan order), so two syncs recomputing the same round cannot
overwrite each other's results with stale ones.

Reports are GROUP BY queries over ``plan_occurrence`` (covering index on site, day, building,
floor, status).
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from piccolo.engine.sqlite import SQLiteEngine

from server import compliance
from server.db import write_transaction
from server.tables.plans import ComplianceBacklog, PatrolPlan

log = logging.getLogger("xunjian.compliance")

#: Checkpoints evaluated together (bounds the checks held in memory and the IN lists).
CHUNK = 400
#: Rows per executemany.
WRITE_CHUNK = 2000
_LOCK_CLASS = 74_206  # pg_advisory_xact_lock(class, plan id)

UPSERT_COLUMNS = (
    "plan",
    "checkpoint",
    "site",
    "building",
    "floor",
    "period",
    "slot",
    "day",
    "starts_at",
    "ends_at",
    "closes_at",
    "status",
    "inspection",
    "person",
    "checked_at",
)
_KEY = ("plan", "checkpoint", "period", "slot")


def _engine():
    return PatrolPlan._meta.db


def _sqlite(engine) -> bool:
    return isinstance(engine, SQLiteEngine)


def _marks(n: int) -> str:
    return ", ".join(["{}"] * n)


def _chunks(values: list, size: int):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value


def parse_hhmm(text: str) -> time:
    hour, minute = text.split(":")
    h, m = int(hour), int(minute)
    if h == 24 and m == 0:
        return time(0)
    return time(h, m)


def _json(value, default):
    import msgspec

    if value is None:
        return default
    if isinstance(value, (bytes, str)):
        return msgspec.json.decode(value or msgspec.json.encode(default))
    return value


# --- plans as the engine sees them -------------------------------------------------------------


@dataclass
class StoredPlan:
    """A plan row with its engine form and where its checkpoints are."""

    plan: compliance.Plan
    site: int
    materialised_through: date | None
    #: checkpoint id → (site, building, floor)
    locations: dict[int, tuple[int, int | None, int | None]]
    #: checkpoint id → (since, until): the days it is in the plan (None: the plan's own days;
    #: only checkpoints with a day of their own are listed)
    spans: dict[int, tuple[date | None, date | None]] = field(default_factory=dict)

    def expects(self, checkpoint_id: int, day: date) -> bool:
        """Whether a round of this checkpoint is expected on ``day`` (its join/leave days)."""
        span = self.spans.get(checkpoint_id)
        if span is None:
            return True
        since, until = span
        return (since is None or since <= day) and (until is None or day <= until)


PLAN_COLUMNS = (
    "id, site, per, times, windows, grace_minutes, role, department, starts_on, ends_on, "
    "timezone, materialised_through"
)


async def plan_people(plan_rows: list[dict]) -> dict[int, frozenset[int] | None]:
    """Who may do each plan's rounds: its named people, plus the site's members with its role
    and/or department. None when the plan names nobody (anyone on the site may)."""
    if not plan_rows:
        return {}
    ids = [row["id"] for row in plan_rows]
    people: dict[int, set[int]] = {row["id"]: set() for row in plan_rows}
    for chunk in _chunks(ids, 500):
        rows = await PatrolPlan.raw(
            f'SELECT "plan", "user" FROM plan_assignee WHERE "plan" IN ({_marks(len(chunk))})',
            *chunk,
        )
        for row in rows:
            people[row["plan"]].add(row["user"])
    grouped = [row for row in plan_rows if row["role"] or row["department"]]
    for row in grouped:
        sql = (
            'SELECT m."user" AS "user" FROM site_membership m JOIN xj_user u ON u.id = m."user" '
            "WHERE m.site = {} AND u.active = {}"
        )
        args: list = [row["site"], True]
        if row["role"]:
            sql += " AND u.role = {}"
            args.append(row["role"])
        if row["department"]:
            sql += " AND u.department = {}"
            args.append(row["department"])
        people[row["id"]].update(r["user"] for r in await PatrolPlan.raw(sql, *args))
    named = {row["id"]: bool(row["role"] or row["department"]) for row in plan_rows}
    return {
        plan_id: frozenset(users) if users or named[plan_id] else None
        for plan_id, users in people.items()
    }


def engine_plan(
    row: dict, checkpoint_ids: Iterable[int], assignees: frozenset[int] | None
) -> compliance.Plan:
    """A plan row (or a plan being validated) as the engine's :class:`compliance.Plan`. Raises
    ValueError with the engine's own message when the plan breaks a rule."""
    windows = tuple(
        (parse_hhmm(start), parse_hhmm(end)) for start, end in _json(row["windows"], [])
    )
    return compliance.Plan(
        id=row["id"],
        checkpoint_ids=frozenset(checkpoint_ids),
        per=row["per"],
        times=row["times"],
        starts_on=_date(row["starts_on"]),
        ends_on=_date(row["ends_on"]) if row["ends_on"] else None,
        windows=windows,
        assignee_ids=assignees,
        role=row["role"],
        timezone=row["timezone"],
        grace=timedelta(minutes=row["grace_minutes"]),
    )


async def load_plans(
    *,
    plan_ids: Iterable[int] | None = None,
    site_id: int | None = None,
    only_checkpoints: Iterable[int] | None = None,
) -> list[StoredPlan]:
    """Plans with their checkpoints (narrowed to ``only_checkpoints`` when given) and people."""
    where, args = [], []
    if plan_ids is not None:
        plan_ids = sorted(set(plan_ids))
        if not plan_ids:
            return []
        where.append(f"id IN ({_marks(len(plan_ids))})")
        args.extend(plan_ids)
    if site_id is not None:
        where.append("site = {}")
        args.append(site_id)
    sql = f"SELECT {PLAN_COLUMNS} FROM patrol_plan"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = await PatrolPlan.raw(sql + " ORDER BY id", *args)
    if not rows:
        return []
    wanted = set(only_checkpoints) if only_checkpoints is not None else None
    locations: dict[int, dict[int, tuple]] = {row["id"]: {} for row in rows}
    spans: dict[int, dict[int, tuple]] = {row["id"]: {} for row in rows}
    for chunk in _chunks([row["id"] for row in rows], 500):
        sql = (
            'SELECT pc."plan" AS "plan", c.id AS id, c.site AS site, c.building AS building, '
            'c.floor AS floor, pc.since AS since, pc."until" AS "until" '
            "FROM plan_checkpoint pc JOIN checkpoint c ON c.id = pc.checkpoint "
            f'WHERE pc."plan" IN ({_marks(len(chunk))})'
        )
        for r in await PatrolPlan.raw(sql, *chunk):
            if wanted is None or r["id"] in wanted:
                locations[r["plan"]][r["id"]] = (r["site"], r["building"], r["floor"])
                if r["since"] is not None or r["until"] is not None:
                    spans[r["plan"]][r["id"]] = (
                        _date(r["since"]) if r["since"] is not None else None,
                        _date(r["until"]) if r["until"] is not None else None,
                    )
    people = await plan_people(rows)
    out = []
    for row in rows:
        if not locations[row["id"]]:
            continue
        out.append(
            StoredPlan(
                plan=engine_plan(row, locations[row["id"]], people[row["id"]]),
                site=row["site"],
                materialised_through=(
                    _date(row["materialised_through"]) if row["materialised_through"] else None
                ),
                locations=locations[row["id"]],
                spans=spans[row["id"]],
            )
        )
    return out


def today_in(timezone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(timezone)).date()


# --- checks as the engine sees them ------------------------------------------------------------


async def fetch_scans(
    checkpoint_ids: list[int], lo: datetime, hi: datetime
) -> list[compliance.Scan]:
    """Stored checks at these checkpoints whose time (device time, at most the receipt time)
    lies in [lo, hi)."""
    out: list[compliance.Scan] = []
    for chunk in _chunks(sorted(checkpoint_ids), 500):
        sql = (
            "SELECT id, checkpoint, inspector, device_time, received_at, source FROM inspection "
            f"WHERE checkpoint IN ({_marks(len(chunk))}) AND device_time >= {{}} "
            "AND received_at >= {} AND (device_time < {} OR received_at < {})"
        )
        rows = await PatrolPlan.raw(sql, *chunk, lo, lo, hi, hi)
        for row in rows:
            at = min(_utc(row["device_time"]), _utc(row["received_at"]))
            if lo <= at < hi:
                out.append(
                    compliance.Scan(
                        id=_scan_key(row["id"]),
                        checkpoint_id=row["checkpoint"],
                        person_id=row["inspector"],
                        at=at,
                        source=row["source"] if row["source"] in ("scan", "manual") else "manual",
                    )
                )
    return out


# The engine wants integer scan ids (ties at one instant are broken by id); inspections are
# UUIDs. Their 128-bit integer keeps the order total and maps back exactly.
def _scan_key(value) -> int:
    return (value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))).int


def _inspection_of(scan_id: int | None) -> uuid.UUID | None:
    return None if scan_id is None else uuid.UUID(int=scan_id)


# --- evaluate and write ------------------------------------------------------------------------


async def _lock(tx, engine, plan_ids: Iterable[int]) -> None:
    """Serialise recomputes of the same plans (SQLite's IMMEDIATE transaction already does)."""
    if _sqlite(engine):
        return
    for plan_id in sorted(set(plan_ids)):
        await tx.connection.execute(
            "SELECT pg_advisory_xact_lock($1::int, $2::int)", _LOCK_CLASS, plan_id
        )


async def _executemany(tx, engine, sql: str, rows: list[tuple]) -> None:
    """``sql`` with ``?`` marks, on the transaction's own connection."""
    if not rows:
        return
    if not _sqlite(engine):
        parts = sql.split("?")
        sql = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], start=1))
    for chunk in _chunks(rows, WRITE_CHUNK):
        await tx.connection.executemany(sql, chunk)


def _upsert_sql() -> str:
    columns = ", ".join(f'"{c}"' for c in UPSERT_COLUMNS)
    marks = ", ".join("?" * len(UPSERT_COLUMNS))
    updates = ", ".join(f'"{c}" = excluded."{c}"' for c in UPSERT_COLUMNS if c not in _KEY)
    keys = ", ".join(f'"{c}"' for c in _KEY)
    return (
        f"INSERT INTO plan_occurrence ({columns}) VALUES ({marks}) "
        f"ON CONFLICT ({keys}) DO UPDATE SET {updates}"
    )


_UPSERT = _upsert_sql()


def _row(stored: StoredPlan, result: compliance.Result) -> tuple:
    o = result.occurrence
    site, building, floor = stored.locations[o.checkpoint_id]
    return (
        o.plan_id,
        o.checkpoint_id,
        site,
        building,
        floor,
        o.period,
        o.index,
        o.day,
        o.start,
        o.end,
        o.closes,
        result.status,
        _inspection_of(result.scan_id),
        result.person_id,
        result.at,
    )


async def _evaluate_into(
    tx,
    engine,
    stored: StoredPlan,
    checkpoint_ids: list[int],
    day_from: date,
    day_to: date,
    now: datetime,
    keep=None,
) -> list[tuple]:
    """Evaluate one plan at some of its checkpoints over [day_from, day_to] and upsert the
    results (only those ``keep(result)`` accepts, when given, and only on the days each
    checkpoint is in the plan: no round is expected before it joined or after it left).
    Returns the keys written."""
    written: list[tuple] = []
    for chunk in _chunks(sorted(checkpoint_ids), CHUNK):
        plan = replace(stored.plan, checkpoint_ids=frozenset(chunk))
        window = compliance.scan_window([plan], day_from, day_to)
        if window is None:
            continue
        scans = await fetch_scans(chunk, *window)
        results = compliance.evaluate([plan], scans, now, day_from, day_to)
        rows = [
            _row(stored, r)
            for r in results
            if (keep is None or keep(r))
            and stored.expects(r.occurrence.checkpoint_id, r.occurrence.day)
        ]
        await _executemany(tx, engine, _UPSERT, rows)
        written.extend((*row[:2], row[5], row[6]) for row in rows)
    return written


async def materialise(
    *,
    site_id: int | None = None,
    plan_ids: Iterable[int] | None = None,
    now: datetime | None = None,
) -> int:
    """Store every round up to today (each plan's local day) that is not stored yet; returns the
    number of rounds written."""
    now = now or datetime.now(UTC)
    # Only the plans that are behind (one light query; most reads find none).
    where, args = [], []
    if site_id is not None:
        where.append("site = {}")
        args.append(site_id)
    if plan_ids is not None:
        plan_ids = sorted(set(plan_ids))
        if not plan_ids:
            return 0
        where.append(f"id IN ({_marks(len(plan_ids))})")
        args.extend(plan_ids)
    sql = "SELECT id, timezone, starts_on, ends_on, materialised_through FROM patrol_plan"
    if where:
        sql += " WHERE " + " AND ".join(where)
    behind = []
    for row in await PatrolPlan.raw(sql, *args):
        target = today_in(row["timezone"], now)
        if row["ends_on"] is not None:
            target = min(target, _date(row["ends_on"]) + timedelta(days=31))
        through = row["materialised_through"]
        first = _date(through) + timedelta(days=1) if through else _date(row["starts_on"])
        if first <= target:
            behind.append(row["id"])
    if not behind:
        return 0
    plans = await load_plans(plan_ids=behind)
    written = 0
    for stored in plans:
        p = stored.plan
        target = today_in(p.timezone, now)
        if p.ends_on is not None:
            # A weekly or monthly period that starts on ends_on may still hold rounds after it.
            target = min(target, p.ends_on + timedelta(days=31))
        start = p.starts_on
        if stored.materialised_through is not None:
            start = max(start, stored.materialised_through + timedelta(days=1))
        if start > target:
            continue
        async with write_transaction(_engine()) as tx:
            await _lock(tx, _engine(), [p.id])
            through = await PatrolPlan.raw(
                "SELECT materialised_through FROM patrol_plan WHERE id = {}", p.id
            )
            if not through:
                continue  # deleted meanwhile
            if through[0]["materialised_through"] is not None:
                start = max(start, _date(through[0]["materialised_through"]) + timedelta(days=1))
            if start > target:
                continue
            keys = await _evaluate_into(
                tx, _engine(), stored, sorted(p.checkpoint_ids), start, target, now
            )
            await PatrolPlan.update({PatrolPlan.materialised_through: target}).where(
                PatrolPlan.id == p.id
            )
            written += len(keys)
    return written


async def rebuild_plan(plan_id: int, now: datetime | None = None) -> int:
    """After a plan is saved: its rounds recomputed from its first day to today, rounds that no
    longer exist (other checkpoints, times, windows) deleted. Returns the rounds kept."""
    now = now or datetime.now(UTC)
    engine = _engine()
    async with write_transaction(engine) as tx:
        await _lock(tx, engine, [plan_id])
        plans = await load_plans(plan_ids=[plan_id])
        if not plans:
            await PatrolPlan.raw("DELETE FROM plan_occurrence WHERE plan = {}", plan_id)
            await PatrolPlan.update({PatrolPlan.materialised_through: None}).where(
                PatrolPlan.id == plan_id
            )
            return 0
        stored = plans[0]
        p = stored.plan
        target = today_in(p.timezone, now)
        if p.ends_on is not None:
            target = min(target, p.ends_on + timedelta(days=31))
        keys: set[tuple] = set()
        if p.starts_on <= target:
            written = await _evaluate_into(
                tx, engine, stored, sorted(p.checkpoint_ids), p.starts_on, target, now
            )
            keys = {(k[0], k[1], _date(k[2]), k[3]) for k in written}
        existing = await PatrolPlan.raw(
            'SELECT id, "plan", checkpoint, period, slot FROM plan_occurrence WHERE "plan" = {}',
            plan_id,
        )
        stale = [
            (row["id"],)
            for row in existing
            if (row["plan"], row["checkpoint"], _date(row["period"]), row["slot"]) not in keys
        ]
        await _executemany(tx, engine, "DELETE FROM plan_occurrence WHERE id = ?", stale)
        await PatrolPlan.update(
            {PatrolPlan.materialised_through: target if p.starts_on <= target else None}
        ).where(PatrolPlan.id == plan_id)
        return len(keys)


async def store_checkpoint_rounds(
    plan_ids: Iterable[int], checkpoint_id: int, day_from: date, now: datetime | None = None
) -> int:
    """After a checkpoint joined plans on ``day_from`` (``plans.join_checkpoint``): its rounds of
    those plans stored from that day to each plan's stored day, the plans brought up to today.
    Runs in the caller's transaction when there is one. Returns the rounds written."""
    now = now or datetime.now(UTC)
    plan_ids = sorted(set(plan_ids))
    if not plan_ids:
        return 0
    engine = _engine()
    written = 0
    async with write_transaction(engine) as tx:
        await _lock(tx, engine, plan_ids)
        for stored in await load_plans(plan_ids=plan_ids, only_checkpoints=[checkpoint_id]):
            through = stored.materialised_through
            start = max(day_from, stored.plan.starts_on)
            if through is None or start > through:
                continue  # materialise stores them with the plan's other rounds
            written += len(
                await _evaluate_into(tx, engine, stored, [checkpoint_id], start, through, now)
            )
        written += await materialise(plan_ids=plan_ids, now=now)
    return written


async def drop_checkpoint_rounds(plan_ids: Iterable[int], checkpoint_id: int, until: date) -> int:
    """After a checkpoint left plans (``plans.leave_checkpoint``): its rounds after ``until``
    deleted (with their acknowledgements). Runs in the caller's transaction when there is one.
    Returns how many rounds were deleted."""
    plan_ids = sorted(set(plan_ids))
    if not plan_ids:
        return 0
    engine = _engine()
    async with write_transaction(engine) as tx:
        await _lock(tx, engine, plan_ids)
        where = f'"plan" IN ({_marks(len(plan_ids))}) AND checkpoint = {{}} AND day > {{}}'
        rows = await PatrolPlan.raw(
            f"SELECT id FROM plan_occurrence WHERE {where}", *plan_ids, checkpoint_id, until
        )
        ids = [(row["id"],) for row in rows]
        await _executemany(
            tx, engine, "DELETE FROM missed_acknowledgement WHERE occurrence = ?", ids
        )
        await _executemany(tx, engine, "DELETE FROM plan_occurrence WHERE id = ?", ids)
    return len(ids)


async def recompute_for_inspections(inspection_ids: list, now: datetime | None = None) -> int:
    """Re-evaluate the rounds these stored checks can change (see the module docstring).
    Returns the number of rounds rewritten."""
    now = now or datetime.now(UTC)
    ids = [uuid.UUID(str(i)) for i in inspection_ids]
    if not ids:
        return 0
    scans: list[compliance.Scan] = []
    for chunk in _chunks(ids, 500):
        rows = await PatrolPlan.raw(
            "SELECT id, checkpoint, inspector, device_time, received_at, source FROM inspection "
            f"WHERE id IN ({_marks(len(chunk))})",
            *chunk,
        )
        for row in rows:
            scans.append(
                compliance.Scan(
                    id=_scan_key(row["id"]),
                    checkpoint_id=row["checkpoint"],
                    person_id=row["inspector"],
                    at=min(_utc(row["device_time"]), _utc(row["received_at"])),
                    source=row["source"] if row["source"] in ("scan", "manual") else "manual",
                )
            )
    checkpoints = sorted({s.checkpoint_id for s in scans})
    if not checkpoints:
        return 0
    plan_ids: set[int] = set()
    for chunk in _chunks(checkpoints, 500):
        rows = await PatrolPlan.raw(
            'SELECT DISTINCT "plan" FROM plan_checkpoint '
            f"WHERE checkpoint IN ({_marks(len(chunk))})",
            *chunk,
        )
        plan_ids.update(row["plan"] for row in rows)
    if not plan_ids:
        return 0
    engine = _engine()
    rewritten = 0
    async with write_transaction(engine) as tx:
        await _lock(tx, engine, plan_ids)
        plans = await load_plans(plan_ids=plan_ids, only_checkpoints=checkpoints)
        for stored in plans:
            if stored.materialised_through is None:
                continue
            touched = compliance.periods_to_recompute([stored.plan], scans)
            days_by_checkpoint: dict[int, set[date]] = defaultdict(set)
            for _, checkpoint_id, day in touched:
                if day <= stored.materialised_through:
                    days_by_checkpoint[checkpoint_id].add(day)
            # Checkpoints touched on nearby days are evaluated together (one fetch, one
            # evaluation per group); only the touched rounds are written.
            for day_from, day_to, checkpoint_ids in _groups(days_by_checkpoint):

                def keep(result, days_by_checkpoint=days_by_checkpoint):
                    o = result.occurrence
                    return o.day in days_by_checkpoint[o.checkpoint_id]

                keys = await _evaluate_into(
                    tx, engine, stored, checkpoint_ids, day_from, day_to, now, keep
                )
                rewritten += len(keys)
    return rewritten


#: The longest day range one recompute group spans (fewer queries vs. more rounds evaluated).
GROUP_SPAN = timedelta(days=7)


def _groups(days_by_checkpoint: dict[int, set[date]]) -> list[tuple[date, date, list[int]]]:
    """Checkpoints grouped so that each group's day range spans at most GROUP_SPAN (a
    checkpoint's own range may be longer: it then forms a group of its own)."""
    spans = sorted((min(days), max(days), cp) for cp, days in days_by_checkpoint.items() if days)
    groups: list[tuple[date, date, list[int]]] = []
    for lo, hi, cp in spans:
        if groups:
            g_lo, g_hi, members = groups[-1]
            if max(g_hi, hi) - g_lo <= GROUP_SPAN:
                groups[-1] = (g_lo, max(g_hi, hi), [*members, cp])
                continue
        groups.append((lo, hi, [cp]))
    return groups


async def after_sync(inspection_ids: list) -> None:
    """Called by sync after a batch's records are committed. Never raises: a failure leaves the
    checks in the backlog for :func:`drain_backlog`."""
    if not inspection_ids:
        return
    try:
        await recompute_for_inspections(inspection_ids)
    except Exception:
        log.exception(
            "compliance recompute after sync failed; %s checks queued", len(inspection_ids)
        )
        try:
            now = datetime.now(UTC)
            await ComplianceBacklog.insert(
                *[
                    ComplianceBacklog(inspection=uuid.UUID(str(i)), created_at=now)
                    for i in inspection_ids
                ]
            )
        except Exception:
            log.exception(
                "could not queue checks for a compliance recompute: %s",
                ", ".join(str(i) for i in inspection_ids),
            )


async def drain_backlog(limit: int = 5000) -> int:
    """Recompute for the checks left in the backlog; returns how many were processed."""
    rows = await ComplianceBacklog.select(ComplianceBacklog.id, ComplianceBacklog.inspection).limit(
        limit
    )
    if not rows:
        return 0
    await recompute_for_inspections([row["inspection"] for row in rows])
    ids = [row["id"] for row in rows]
    for chunk in _chunks(ids, 500):
        await ComplianceBacklog.delete().where(ComplianceBacklog.id.is_in(chunk))
    return len(rows)


async def close_overdue(now: datetime | None = None, site_id: int | None = None) -> int:
    """Pending rounds whose window and grace have passed become missed. Returns how many."""
    now = now or datetime.now(UTC)
    engine = _engine()
    sql = "UPDATE plan_occurrence SET status = 'missed' WHERE status = 'pending' AND closes_at <= ?"
    args: list = [now]
    if site_id is not None:
        sql += " AND site = ?"
        args.append(site_id)
    # Most reads find nothing to close: look first (partial index), so a read takes no write lock.
    due = await PatrolPlan.raw(
        sql.replace(
            "UPDATE plan_occurrence SET status = 'missed'", "SELECT id FROM plan_occurrence"
        ).replace("?", "{}")
        + " LIMIT 1",
        *args,
    )
    if not due:
        return 0
    async with write_transaction(engine) as tx:
        if _sqlite(engine):
            cursor = await tx.connection.execute(sql, args)
            count = cursor.rowcount
            await cursor.close()
        else:
            status = await tx.connection.execute(
                sql.replace("?", "$1", 1).replace("?", "$2"), *args
            )
            count = int(status.split()[-1])
    return count


async def bring_up_to_date(site_id: int | None = None, now: datetime | None = None) -> None:
    """What a report needs first: the backlog drained, rounds stored up to today, passed rounds
    closed."""
    now = now or datetime.now(UTC)
    while await drain_backlog():
        pass
    await materialise(site_id=site_id, now=now)
    await close_overdue(now, site_id)


async def run_periodically(interval_seconds: float) -> None:
    """The app's background task: keep every site's results current, in the one worker leading
    the job (server/leader.py)."""
    from server import leader

    await leader.run_periodically("compliance-upkeep", interval_seconds, bring_up_to_date)


# --- reports -----------------------------------------------------------------------------------

GROUPS = ("building", "floor", "checkpoint", "person", "plan")
GRAINS = ("day", "week", "month")
#: The longest range one report may cover.
MAX_DAYS = 400


def _bucket(day: date, grain: str | None) -> date | None:
    if grain is None:
        return None
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


def counts_view(counts: compliance.Counts) -> dict:
    rate = counts.on_time_rate
    return {
        "expected": counts.expected,
        "done": counts.done,
        "late": counts.late,
        "unverified": counts.unverified,
        "missed": counts.missed,
        "pending": counts.pending,
        "on_time_rate": None if rate is None else round(rate, 4),
    }


def _add(counts: compliance.Counts, status: str, n: int) -> None:
    counts.expected += n
    setattr(counts, status, getattr(counts, status) + n)


def _scope_sql(site_id: int, day_from: date, day_to: date, plan_ids: list[int] | None):
    sql = "site = {} AND day >= {} AND day <= {}"
    args: list = [site_id, day_from, day_to]
    if plan_ids is not None:
        sql += f' AND "plan" IN ({_marks(len(plan_ids))})'
        args.extend(plan_ids)
    return sql, args


async def aggregate(
    site_id: int,
    day_from: date,
    day_to: date,
    group_by: str,
    grain: str | None = None,
    plan_ids: list[int] | None = None,
) -> tuple[compliance.Counts, dict[tuple, compliance.Counts], dict[object, datetime | None]]:
    """Counts of the stored rounds of ``site`` whose day is in [day_from, day_to], per (group
    key, bucket) — the same numbers :func:`compliance.summarise` gives for the engine's results.
    Also the total, and for checkpoints the last check time in the range."""
    if group_by not in GROUPS:
        raise ValueError(f"cannot group by {group_by!r}")
    if plan_ids is not None and not plan_ids:
        return compliance.Counts(), {}, {}
    where, args = _scope_sql(site_id, day_from, day_to, plan_ids)
    total = compliance.Counts()
    for row in await PatrolPlan.raw(
        f"SELECT status, COUNT(*) AS n FROM plan_occurrence WHERE {where} GROUP BY status", *args
    ):
        _add(total, row["status"], row["n"])
    day_col = ", day" if grain else ""
    groups: dict[tuple, compliance.Counts] = defaultdict(compliance.Counts)
    last: dict[object, datetime | None] = {}
    if group_by == "person":
        sql = (
            f'SELECT "plan", person AS key{day_col}, status, COUNT(*) AS n FROM plan_occurrence '
            f'WHERE {where} GROUP BY "plan", person{day_col}, status'
        )
        rows = await PatrolPlan.raw(sql, *args)
        plan_rows = await PatrolPlan.raw(
            "SELECT id, site, role, department FROM patrol_plan WHERE site = {}", site_id
        )
        people = await plan_people(plan_rows)
        for row in rows:
            bucket = _bucket(_date(row["day"]), grain) if grain else None
            if row["key"] is not None:
                keys: Iterable = (row["key"],)
            else:
                assigned = people.get(row["plan"])
                keys = (None,) if assigned is None else assigned
            for key in keys:
                _add(groups[(key, bucket)], row["status"], row["n"])
        return total, dict(groups), last
    column = {
        "building": "building",
        "floor": "floor",
        "checkpoint": "checkpoint",
        "plan": '"plan"',
    }
    extra = ", MAX(checked_at) AS last" if group_by == "checkpoint" else ""
    sql = (
        f"SELECT {column[group_by]} AS key{day_col}, status, COUNT(*) AS n{extra} "
        f"FROM plan_occurrence WHERE {where} GROUP BY {column[group_by]}{day_col}, status"
    )
    for row in await PatrolPlan.raw(sql, *args):
        bucket = _bucket(_date(row["day"]), grain) if grain else None
        _add(groups[(row["key"], bucket)], row["status"], row["n"])
        if extra and row["last"] is not None:
            at = row["last"]
            if isinstance(at, str):  # SQLite: an aggregate has no declared type
                at = datetime.fromisoformat(at)
            at = _utc(at)
            previous = last.get(row["key"])
            last[row["key"]] = at if previous is None or at > previous else previous
    return total, dict(groups), last


async def missed_rounds(
    site_id: int,
    day_from: date | None,
    day_to: date | None,
    *,
    plan_ids: list[int] | None = None,
    acknowledged: bool | None = None,
    building: int | None = None,
    floor: int | None = None,
    checkpoint: int | None = None,
    occurrence: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[dict]]:
    """Missed rounds (the latest closed first) with their acknowledgement, and how many."""
    if plan_ids is not None and not plan_ids:
        return 0, []
    where, args = "o.site = {} AND o.status = 'missed'", [site_id]
    if plan_ids is not None:
        where += f' AND o."plan" IN ({_marks(len(plan_ids))})'
        args.extend(plan_ids)
    for name, op, value in (
        ("day", ">=", day_from),
        ("day", "<=", day_to),
        ("building", "=", building),
        ("floor", "=", floor),
        ("checkpoint", "=", checkpoint),
        ("id", "=", occurrence),
    ):
        if value is not None:
            where += f" AND o.{name} {op} {{}}"
            args.append(value)
    if acknowledged is True:
        where += " AND a.id IS NOT NULL"
    elif acknowledged is False:
        where += " AND a.id IS NULL"
    base = (
        "FROM plan_occurrence o LEFT JOIN missed_acknowledgement a ON a.occurrence = o.id "
        f"WHERE {where}"
    )
    count = await PatrolPlan.raw(f"SELECT COUNT(*) AS n {base}", *args)
    rows = await PatrolPlan.raw(
        'SELECT o.id AS id, o."plan" AS "plan", o.checkpoint AS checkpoint, o.building AS '
        "building, o.floor AS floor, o.day AS day, o.starts_at AS starts_at, o.ends_at AS "
        "ends_at, o.closes_at AS closes_at, a.by AS ack_by, a.at AS ack_at, a.comment AS "
        f"ack_comment, a.id AS ack_id {base} ORDER BY o.closes_at DESC, o.id DESC "
        "LIMIT {} OFFSET {}",
        *args,
        limit,
        offset,
    )
    return count[0]["n"], rows


async def person_day(
    site_id: int, day: date, timezone: str, person: int, only: int | None = None
) -> tuple[dict[int, int], list[dict]]:
    """A person's checks of one local day at the site, in the order they were made (device
    time), with where each checkpoint is; and how many checks each person made that day
    (only ``only``'s count when given: people who may not see the others)."""
    zone = ZoneInfo(timezone)
    lo = datetime.combine(day, time(0), zone).astimezone(UTC)
    hi = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    base = (
        "FROM inspection i JOIN checkpoint c ON c.id = i.checkpoint "
        "WHERE c.site = {} AND i.device_time >= {} AND i.device_time < {}"
    )
    counts = await PatrolPlan.raw(
        f"SELECT i.inspector AS inspector, COUNT(*) AS n {base} GROUP BY i.inspector",
        site_id,
        lo,
        hi,
    )
    people = {
        row["inspector"]: row["n"] for row in counts if only is None or row["inspector"] == only
    }
    checks = await PatrolPlan.raw(
        "SELECT i.id AS id, i.device_time AS device_time, i.received_at AS received_at, "
        "i.source AS source, c.id AS checkpoint, c.code AS code, c.name AS name, "
        f"c.building AS building, c.floor AS floor {base} AND i.inspector = {{}} "
        "ORDER BY i.device_time, i.received_at, i.id",
        site_id,
        lo,
        hi,
        person,
    )
    return people, checks
