"""Patrol compliance (巡检合规): which planned rounds were done, late, missed — as pure functions.

No database, no web: plain frozen dataclasses in, plain results out, so the rules can be tested
with hypothesis and the same rules can later be mirrored in SQL over pre-computed occurrence
tables (the coverage map, the API and the benchmark build on this module).

Plans and occurrences
---------------------
A :class:`Plan` asks for ``times`` rounds per ``per`` period ("day", "week" = ISO week starting
Monday, "month" = calendar month) over a set of checkpoints. Periods are cut in the plan's time
zone (``Asia/Shanghai`` by default). Each round of one checkpoint in one period is an
*occurrence* with a window ``[start, end)``; it is due at ``end`` and closes at ``end + grace``.

* **Daily plans with windows**: each window is one occurrence per day, so ``times`` must equal
  ``len(windows)``. A window whose end is not after its start runs across midnight (night round
  22:00–06:00) and belongs to the day it starts on; ``start == end`` is a 24-hour window.
  Windows of one plan must not overlap, and the grace period must be shorter than the gap between
  two consecutive window ends — so a scan lies in at most one window and in at most one grace
  period of a plan, which keeps every decision local (see "Recompute").
* **Without windows**, the N rounds split the period into N equal slots of wall-clock time:
  4 a day → 00:00–06:00, 06:00–12:00, 12:00–18:00, 18:00–24:00; twice a week → Monday 00:00 to
  Thursday 12:00, then to the next Monday. "N times a day" is thus read as "spread over the day";
  the grace period must be shorter than a slot. (Other splits — e.g. daily slots within working
  hours — can be added later as explicit windows; the rest of the engine does not care how the
  windows were made.)
* **Weekly and monthly plans with windows**: the windows restrict the time of day at which a scan
  counts at all (e.g. a weekly check between 09:00 and 17:00); the occurrences are the slots.
* A plan owes a period when the period's first day lies in ``[starts_on, ends_on]``: a weekly plan
  starting on a Wednesday owes its first round the following week (start it on a Monday to owe the
  current one); a plan's last weekly or monthly period may end after ``ends_on``.
* An occurrence *belongs to the local day it starts on* (``Occurrence.day``); day ranges select
  and group occurrences by that day, so every occurrence is counted in exactly one day.
* Wall-clock times are turned into instants in the plan's zone; a time skipped by a daylight-saving
  change moves to the moment the clocks changed, a repeated one takes its first occurrence.
  (China has no DST; this only keeps the engine correct elsewhere: windows stay disjoint, and a
  window wholly inside a skipped hour is empty that day.)

Scans and statuses
------------------
A :class:`Scan` counts for a plan when it is at one of the plan's checkpoints, by an assignee
(``assignee_ids=None`` means anyone; the caller expands a role into person ids), and not later than
``now``. Its ``at`` is the device time, already bounded by the server (never before the previous
sync, never after receipt). Per occurrence, in this order of precedence:

``done``
    a verified scan (``source="scan"``) inside ``[start, end)``.
``late``
    no such scan, but a verified scan in ``[end, end + grace)``.
``unverified``
    no verified scan; a manual entry (``source="manual"``, typed code, no QR proof) in
    ``[start, end + grace)``. Counted separately, never as done.
``missed``
    none of the above and ``now >= end + grace`` — an exception a manager must acknowledge.
``pending``
    none of the above and the occurrence has not closed yet.

Each scan satisfies at most one occurrence per plan. A scan on a boundary belongs to the window
it opens (``[start, end)`` is half-open). When a scan lies both in the grace period of occurrence X
and in the window of the next occurrence W, W's on-time claim comes first: X may take it as late
only if W has another on-time scan (W then keeps its earliest remaining one). So with 4 rounds a
day, scans at 06:10 and 09:00 make round 1 late and round 2 done (09:00); a lone 06:10 makes
round 2 done and round 1 missed. Manual entries are matched the same way, afterwards, only to
the occurrences that no verified scan satisfied.

Plans are matched independently: a scan at a checkpoint in two plans may count once for each.
Matching sorts scans by ``(at, id)`` and occurrences by start, so the result does not depend on
the order scans arrive in.

Results are the same whatever day range is evaluated: :func:`evaluate` also matches the
neighbouring occurrences just outside the range (up to two days for daily plans, eight for weekly,
32 for monthly), so the caller must pass every scan in :func:`scan_window` — more is harmless.

Recompute
---------
A scan can change only the occurrences whose ``[start, end + grace)`` contains it and their
neighbours (the one after, whose scan may be taken as late; the two before, whose late or manual
match depends on this one's). :func:`periods_to_recompute` returns those as
``(plan_id, checkpoint_id, day)``; re-evaluating just those days with all scans gives the same
results as evaluating everything again. Passing time alone turns ``pending`` into ``missed`` at
``closes``; the caller refreshes statuses whose ``closes`` has passed.

Aggregation
-----------
:func:`summarise` counts statuses by checkpoint, floor, building, site, person or plan, per day,
ISO week or calendar month of ``Occurrence.day``. For "person", done/late/unverified count for
the person who scanned; missed and pending count for every assignee of the plan (``None`` when
anyone may do it), so per-person rows can add up to more than the total.

Cost: O(S log S) to sort the scans, then per plan and checkpoint a bisect per occurrence and one
pass over that checkpoint's scans in range — O(S log S + O log S), no quadratic loops. Instants are
compared as integer microseconds. About 2 s in CPython for 100,000 scans against 105,000
occurrences; the month reports of the coverage map are meant to read pre-computed results in SQL.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Literal
from zoneinfo import ZoneInfo

Per = Literal["day", "week", "month"]
Source = Literal["scan", "manual"]
Status = Literal["done", "late", "unverified", "missed", "pending"]
GroupBy = Literal["checkpoint", "floor", "building", "site", "person", "plan"]
Grain = Literal["day", "week", "month"]

STATUSES: tuple[Status, ...] = ("done", "late", "unverified", "missed", "pending")
DEFAULT_GRACE = timedelta(minutes=30)
DEFAULT_TIMEZONE = "Asia/Shanghai"

_DAY = timedelta(days=1)
_SHORTEST_PERIOD = {
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=28),
}
# How far beyond a requested day range to look for neighbouring occurrences (see "Recompute").
_MARGIN = {"day": timedelta(days=2), "week": timedelta(days=8), "month": timedelta(days=32)}


@dataclass(frozen=True, kw_only=True)
class Plan:
    """A patrol plan (巡检计划). ``windows`` are ``(start, end)`` local wall-clock times."""

    id: int
    checkpoint_ids: frozenset[int]
    per: Per
    times: int
    starts_on: date
    ends_on: date | None = None
    windows: tuple[tuple[time, time], ...] = ()
    assignee_ids: frozenset[int] | None = None
    role: str | None = None
    timezone: str = DEFAULT_TIMEZONE
    grace: timedelta = DEFAULT_GRACE

    def __post_init__(self) -> None:
        object.__setattr__(self, "checkpoint_ids", frozenset(self.checkpoint_ids))
        object.__setattr__(self, "windows", tuple((s, e) for s, e in self.windows))
        if self.assignee_ids is not None:
            object.__setattr__(self, "assignee_ids", frozenset(self.assignee_ids))
        if self.per not in _SHORTEST_PERIOD:
            raise ValueError(f"per must be day, week or month, not {self.per!r}")
        if self.times < 1:
            raise ValueError("times must be at least 1")
        if self.ends_on is not None and self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        if self.grace < timedelta(0):
            raise ValueError("grace must not be negative")
        ZoneInfo(self.timezone)  # raises for an unknown zone
        for start, end in self.windows:
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError("windows are local wall-clock times, without a time zone")
        if self.per == "day" and self.windows:
            if self.times != len(self.windows):
                raise ValueError("a daily plan with windows has one round per window")
            if self.grace >= _min_gap_between_ends(self.windows):
                raise ValueError("grace must be shorter than the gap between two window ends")
        elif self.grace >= _SHORTEST_PERIOD[self.per] / self.times:
            raise ValueError("grace must be shorter than one slot of the period")

    def owes(self, period_first_day: date) -> bool:
        return self.starts_on <= period_first_day and (
            self.ends_on is None or period_first_day <= self.ends_on
        )

    def counts_person(self, person_id: int) -> bool:
        return self.assignee_ids is None or person_id in self.assignee_ids


@dataclass(frozen=True, slots=True, kw_only=True)
class Scan:
    """One check at a checkpoint: a QR scan (``source="scan"``) or a typed code (``"manual"``)."""

    id: int
    checkpoint_id: int
    person_id: int
    at: datetime
    source: Source = "scan"

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("scan times must carry a time zone")
        if self.source not in ("scan", "manual"):
            raise ValueError(f"source must be scan or manual, not {self.source!r}")


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One expected round at one checkpoint. Instants are UTC; ``day`` is the local start day."""

    plan: Plan
    checkpoint_id: int
    period: date  # first day of the period: the day, the ISO Monday or the 1st of the month
    index: int  # window or slot number within the period, from 0
    day: date
    start: datetime
    end: datetime

    @property
    def plan_id(self) -> int:
        return self.plan.id

    @property
    def due(self) -> datetime:
        return self.end

    @property
    def closes(self) -> datetime:
        return self.end + self.plan.grace

    @property
    def key(self) -> tuple[int, int, date]:
        """What :func:`periods_to_recompute` names: (plan, checkpoint, day)."""
        return (self.plan.id, self.checkpoint_id, self.day)


@dataclass(frozen=True, slots=True)
class Result:
    occurrence: Occurrence
    status: Status
    scan_id: int | None = None
    person_id: int | None = None
    at: datetime | None = None


@dataclass(slots=True)
class Counts:
    expected: int = 0
    done: int = 0
    late: int = 0
    unverified: int = 0
    missed: int = 0
    pending: int = 0

    @property
    def decided(self) -> int:
        """Occurrences whose outcome is known (all but pending)."""
        return self.expected - self.pending

    @property
    def on_time_rate(self) -> float | None:
        """done / decided; None while nothing is decided."""
        return self.done / self.decided if self.decided else None


# --- occurrences ------------------------------------------------------------------------------


def expected_occurrences(
    plan: Plan, checkpoint_id: int, day_from: date, day_to: date
) -> list[Occurrence]:
    """The plan's occurrences at one checkpoint that start on a local day in [day_from, day_to]."""
    if checkpoint_id not in plan.checkpoint_ids:
        raise ValueError(f"checkpoint {checkpoint_id} is not in plan {plan.id}")
    return [
        Occurrence(plan, checkpoint_id, *template)
        for template in _templates(plan, day_from, day_to)
    ]


_Template = tuple[date, int, date, datetime, datetime]  # period, index, day, start, end


def _templates(plan: Plan, day_from: date, day_to: date) -> list[_Template]:
    """Occurrence times shared by all the plan's checkpoints, sorted by start."""
    tz = ZoneInfo(plan.timezone)
    out: list[_Template] = []
    for first, after in _periods(plan.per, day_from, day_to):
        if not plan.owes(first):
            continue
        if plan.per == "day" and plan.windows:
            for index, (start, end) in enumerate(plan.windows):
                end_day = first + _DAY if end <= start else first
                out.append(
                    (
                        first,
                        index,
                        first,
                        _instant(datetime.combine(first, start), tz),
                        _instant(datetime.combine(end_day, end), tz),
                    )
                )
        else:
            lo = datetime.combine(first, time())
            length = datetime.combine(after, time()) - lo
            bounds = [_instant(lo + length * k / plan.times, tz) for k in range(plan.times + 1)]
            for index in range(plan.times):
                start_day = (lo + length * index / plan.times).date()
                out.append((first, index, start_day, bounds[index], bounds[index + 1]))
    out = [t for t in out if day_from <= t[2] <= day_to]
    out.sort(key=lambda t: (t[3], t[4], t[1]))
    return out


def _periods(per: Per, day_from: date, day_to: date) -> list[tuple[date, date]]:
    """(first day, first day after) of each period that can hold a day in [day_from, day_to]."""
    out = []
    if per == "day":
        day = day_from
        while day <= day_to:
            out.append((day, day + _DAY))
            day += _DAY
    elif per == "week":
        day = day_from - timedelta(days=day_from.weekday())
        while day <= day_to:
            out.append((day, day + timedelta(days=7)))
            day += timedelta(days=7)
    else:
        day = day_from.replace(day=1)
        while day <= day_to:
            after = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
            out.append((day, after))
            day = after
    return out


def _instant(naive: datetime, tz: ZoneInfo) -> datetime:
    """A local wall-clock time as a UTC instant (see the module docstring for DST)."""
    utc = naive.replace(tzinfo=tz).astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) == naive:
        return utc
    # Skipped by a spring-forward change: find the moment the clocks changed.
    other = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    lo, hi = min(utc, other), max(utc, other)
    before = lo.astimezone(tz).utcoffset()
    lo_s, hi_s = int(lo.timestamp()), int(hi.timestamp())
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if datetime.fromtimestamp(mid, tz).utcoffset() == before:
            lo_s = mid
        else:
            hi_s = mid
    return datetime.fromtimestamp(hi_s, UTC)


def _min_gap_between_ends(windows: tuple[tuple[time, time], ...]) -> timedelta:
    """Check windows do not overlap (around the clock) and return the shortest gap between two
    consecutive window ends, across midnight included."""
    arcs = []
    for start, end in windows:
        s, e = _since_midnight(start), _since_midnight(end)
        arcs.append((s, (e - s) % _DAY or _DAY))
    arcs.sort()
    for (s1, len1), (s2, _) in zip(arcs, [*arcs[1:], (arcs[0][0] + _DAY, None)], strict=True):
        if s1 + len1 > s2:
            raise ValueError("the windows of a plan must not overlap")
    ends = sorted((s + length) % _DAY for s, length in arcs)
    gaps = [b - a for a, b in pairwise(ends)] + [ends[0] + _DAY - ends[-1]]
    return min(gaps)


def _since_midnight(t: time) -> timedelta:
    return timedelta(hours=t.hour, minutes=t.minute, seconds=t.second, microseconds=t.microsecond)


def _in_windows(local: time, windows: tuple[tuple[time, time], ...]) -> bool:
    for start, end in windows:
        if start < end:
            if start <= local < end:
                return True
        elif local >= start or local < end:
            return True
    return False


# --- matching ---------------------------------------------------------------------------------

_ON_TIME, _LATE = 0, 1
# Column of each status in a tally row: expected first, then the fields of Counts in order.
_COLUMN = {status: 1 + i for i, status in enumerate(STATUSES)}


def _micros(instant: datetime) -> int:
    """An aware instant as integer microseconds since the epoch: exact, and far cheaper to compare
    than aware datetimes in different zones."""
    return (instant - _EPOCH) // _MICROSECOND


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _match(
    bounds: list[tuple[int, int, int]], times: list[int], need: list[bool]
) -> list[tuple[int, int] | None]:
    """Match entries (sorted ``times``) to occurrences (``bounds`` = start, end, closes, sorted by
    start, windows disjoint) that ``need`` one. Returns per occurrence (entry index, on time or
    late) or None. See the module docstring for the rule."""
    n = len(bounds)
    out: list[tuple[int, int] | None] = [None] * n
    if not times:
        return out
    lo = [bisect_left(times, b[0]) for b in bounds]
    hi = [bisect_left(times, b[1], lo[i]) for i, b in enumerate(bounds)]
    remaining = [hi[i] - lo[i] if need[i] else 0 for i in range(n)]
    owner = [-1] * len(times)
    for i in range(n):
        if remaining[i]:
            for j in range(lo[i], hi[i]):
                owner[j] = i
    taken = bytearray(len(times))
    for i in range(n):  # by end: windows are disjoint, so start order is end order
        if not need[i] or remaining[i]:
            continue
        grace_hi = bisect_left(times, bounds[i][2], hi[i])
        for j in range(hi[i], grace_hi):
            w = owner[j]
            if taken[j] or (w != -1 and remaining[w] < 2):
                continue
            taken[j] = 1
            if w != -1:
                remaining[w] -= 1
            out[i] = (j, _LATE)
            break
    for i in range(n):
        if remaining[i]:
            for j in range(lo[i], hi[i]):
                if not taken[j]:
                    out[i] = (j, _ON_TIME)
                    break
    return out


def evaluate(
    plans: Iterable[Plan], scans: Iterable[Scan], now: datetime, day_from: date, day_to: date
) -> list[Result]:
    """Status of every occurrence of ``plans`` starting on a local day in [day_from, day_to], as
    known at ``now``. Sorted by plan id, checkpoint id, start."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    now_us = _micros(now)
    keyed = sorted(((_micros(scan.at), scan.id, scan) for scan in scans), key=lambda k: k[:2])
    by_checkpoint: dict[int, list[Scan]] = defaultdict(list)
    by_checkpoint_times: dict[int, list[int]] = defaultdict(list)
    for at_us, _, scan in keyed:
        if at_us <= now_us:
            by_checkpoint[scan.checkpoint_id].append(scan)
            by_checkpoint_times[scan.checkpoint_id].append(at_us)

    results: list[Result] = []
    for plan in sorted(plans, key=lambda p: p.id):
        margin = _MARGIN[plan.per]
        templates = _templates(plan, day_from - margin, day_to + margin)
        if not templates:
            continue
        bounds = [(_micros(t[3]), _micros(t[4]), _micros(t[4] + plan.grace)) for t in templates]
        first_start = bounds[0][0]
        last_close = max(b[2] for b in bounds)
        inside = [i for i, t in enumerate(templates) if day_from <= t[2] <= day_to]
        filter_windows = plan.windows if plan.per != "day" else ()
        tz = ZoneInfo(plan.timezone)
        assignees = plan.assignee_ids
        for checkpoint_id in sorted(plan.checkpoint_ids):
            cp_scans = by_checkpoint.get(checkpoint_id, [])
            cp_times = by_checkpoint_times.get(checkpoint_id, [])
            a = bisect_left(cp_times, first_start)
            b = bisect_left(cp_times, last_close, a)
            verified: list[Scan] = []
            verified_times: list[int] = []
            manual: list[Scan] = []
            manual_times: list[int] = []
            for k in range(a, b):
                scan = cp_scans[k]
                if assignees is not None and scan.person_id not in assignees:
                    continue
                if filter_windows and not _in_windows(
                    scan.at.astimezone(tz).time(), filter_windows
                ):
                    continue
                if scan.source == "scan":
                    verified.append(scan)
                    verified_times.append(cp_times[k])
                else:
                    manual.append(scan)
                    manual_times.append(cp_times[k])
            first = _match(bounds, verified_times, [True] * len(bounds))
            second = _match(bounds, manual_times, [m is None for m in first])
            for i in inside:
                occurrence = Occurrence(plan, checkpoint_id, *templates[i])
                if first[i] is not None:
                    j, kind = first[i]
                    scan = verified[j]
                    status: Status = "done" if kind == _ON_TIME else "late"
                elif second[i] is not None:
                    scan = manual[second[i][0]]
                    status = "unverified"
                else:
                    status = "missed" if now_us >= bounds[i][2] else "pending"
                    results.append(Result(occurrence, status))
                    continue
                results.append(Result(occurrence, status, scan.id, scan.person_id, scan.at))
    return results


def scan_window(
    plans: Iterable[Plan], day_from: date, day_to: date
) -> tuple[datetime, datetime] | None:
    """The instants [from, to) whose scans :func:`evaluate` needs for this day range (None when
    the plans owe nothing around it). Scans outside it cannot change the results."""
    lo: datetime | None = None
    hi: datetime | None = None
    for plan in plans:
        margin = _MARGIN[plan.per]
        templates = _templates(plan, day_from - margin, day_to + margin)
        if templates:
            first = templates[0][3]
            last = max(t[4] for t in templates) + plan.grace
            lo = first if lo is None else min(lo, first)
            hi = last if hi is None else max(hi, last)
    return None if lo is None or hi is None else (lo, hi)


# --- recompute --------------------------------------------------------------------------------


def periods_to_recompute(
    plans: Iterable[Plan], new_scans: Iterable[Scan]
) -> set[tuple[int, int, date]]:
    """The (plan id, checkpoint id, local day) whose results may change when ``new_scans`` are
    added (e.g. offline scans synced days later). Re-evaluate exactly these with all scans."""
    by_checkpoint: dict[int, list[Scan]] = defaultdict(list)
    for scan in new_scans:
        by_checkpoint[scan.checkpoint_id].append(scan)
    touched: set[tuple[int, int, date]] = set()
    for plan in plans:
        tz = ZoneInfo(plan.timezone)
        margin = _MARGIN[plan.per]
        filter_windows = plan.windows if plan.per != "day" else ()
        cache: dict[date, list[_Template]] = {}
        for checkpoint_id in plan.checkpoint_ids & by_checkpoint.keys():
            for scan in by_checkpoint[checkpoint_id]:
                if not plan.counts_person(scan.person_id):
                    continue
                if filter_windows and not _in_windows(
                    scan.at.astimezone(tz).time(), filter_windows
                ):
                    continue
                local_day = scan.at.astimezone(tz).date()
                templates = cache.get(local_day)
                if templates is None:
                    templates = _templates(plan, local_day - 4 * margin, local_day + 2 * margin)
                    cache[local_day] = templates
                hits = [i for i, t in enumerate(templates) if t[3] <= scan.at < t[4] + plan.grace]
                for i in hits:
                    for k in range(max(0, i - 2), min(len(templates), i + 2)):
                        touched.add((plan.id, checkpoint_id, templates[k][2]))
    return touched


# --- aggregation ------------------------------------------------------------------------------


def summarise(
    results: Iterable[Result],
    group_by: GroupBy,
    grain: Grain | None = "day",
    locations: Mapping[int, tuple[int, int, int]] | None = None,
) -> dict[tuple[object, date | None], Counts]:
    """Counts per (group key, first day of the day/week/month bucket; None when ``grain`` is None).

    ``locations`` maps checkpoint id → (site id, building id, floor id); needed for site, building
    and floor.
    """
    if group_by in ("floor", "building", "site") and locations is None:
        raise ValueError(f"grouping by {group_by} needs the checkpoint locations")
    position = {"site": 0, "building": 1, "floor": 2}.get(group_by)
    tallies: dict[tuple[object, date | None], list[int]] = defaultdict(lambda: [0] * 6)
    for result in results:
        occurrence = result.occurrence
        bucket = _bucket(occurrence.day, grain)
        if group_by == "person":
            if result.person_id is not None:
                keys: Iterable[object] = (result.person_id,)
            elif occurrence.plan.assignee_ids is None:
                keys = (None,)
            else:
                keys = occurrence.plan.assignee_ids
        elif group_by == "checkpoint":
            keys = (occurrence.checkpoint_id,)
        elif group_by == "plan":
            keys = (occurrence.plan.id,)
        elif position is not None:
            assert locations is not None
            try:
                keys = (locations[occurrence.checkpoint_id][position],)
            except KeyError:
                raise ValueError(f"no location for checkpoint {occurrence.checkpoint_id}") from None
        else:
            raise ValueError(f"cannot group by {group_by!r}")
        column = _COLUMN[result.status]
        for key in keys:
            row = tallies[(key, bucket)]
            row[0] += 1
            row[column] += 1
    ordered = sorted(tallies.items(), key=lambda kv: (_sort_key(kv[0][0]), kv[0][1] or date.min))
    return {key: Counts(*row) for key, row in ordered}


def _bucket(day: date, grain: Grain | None) -> date | None:
    if grain is None:
        return None
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    raise ValueError(f"grain must be day, week or month, not {grain!r}")


def _sort_key(key: object) -> tuple[bool, str, object]:
    return (key is None, type(key).__name__, key if key is not None else 0)
