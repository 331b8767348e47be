"""The work-order clock (派工单时限), as plain functions over a site's working-day calendar.

The numbers come from the information-centre procedure (DOMAIN.md, "Work orders"; SOP 002):

* dispatch within 24 hours of the order being raised (§4.3.2);
* a named worker arranged within 2 hours of dispatch, the result reported within 4 hours (§4.3.7);
* an order that cannot be finished at once comes back within 2 *working* days with the reason;
  nothing back by then → re-issued to the department head, and 2 working days later to the
  manager (§4.3.11).

The hour limits run on the wall clock (departments keep staff on duty round the clock); the
"working days" limits skip weekends and public holidays and count make-up working days (调休),
per site, in the site's time zone.

Working time is measured in whole local calendar days: a deadline ``n`` working days after an
instant is the first instant by which ``n × 24`` hours of working-day time have passed. So Friday
15:00 + 2 working days is Tuesday 15:00, and anything started on a Saturday counts from Monday
00:00 (deadline Wednesday 00:00, i.e. the end of Tuesday).

Working-day time is read off the site's wall clock: each working day is worth 24 hours whatever
its length, so in a zone with daylight saving time a deadline keeps its time of day. Where the
clock jumps forward over the deadline's time of day, the deadline is the instant of the jump (the
first instant by which enough time has passed); where the clock goes back, the repeated hour
counts once (the clock is taken to stand still at the latest time it has shown), so a later start
never gets an earlier deadline. China keeps no daylight saving time; other zones are supported for
completeness.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DISPATCH_WITHIN = timedelta(hours=24)
ARRANGE_WITHIN = timedelta(hours=2)
REPORT_WITHIN = timedelta(hours=4)
DEFERRAL_WORKING_DAYS = 2
ESCALATION_LEVELS = ("department_head", "manager")

# Guards against a calendar that declares (almost) every day a holiday: deadlines stay finite.
_MAX_DAYS_SCANNED = 3660


@dataclass(frozen=True)
class WorkCalendar:
    """Which local days are working days at one site.

    ``holidays`` are days off that would otherwise be working days (e.g. 国庆节); ``workdays`` are
    weekend days that are working days (调休 make-up days). A date in both is a working day: the
    make-up list is the later, more specific announcement.
    """

    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    @classmethod
    def of(
        cls, timezone: str, holidays: Iterable[date] = (), workdays: Iterable[date] = ()
    ) -> WorkCalendar:
        return cls(ZoneInfo(timezone), frozenset(holidays), frozenset(workdays))

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def local(self, instant: datetime) -> datetime:
        return _aware(instant).astimezone(self.timezone)

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The instant ``days`` working days after ``start`` (see the module docstring)."""
        if days < 0:
            raise ValueError("days must not be negative")
        if days == 0:
            return _aware(start).astimezone(UTC)
        wall = self._wall(start)
        day = wall.date()
        # Time already used of the current day counts only if the day is a working day.
        if not self.is_working_day(day):
            day = self._next_working_day(day)
            offset = timedelta(0)
        else:
            offset = wall - datetime.combine(day, time(0))
        if offset == timedelta(0):
            # A whole working day is available from ``day`` itself: the deadline is the end of
            # the n-th working day counting ``day`` (not 00:00 of a later one, which a holiday in
            # between would push out).
            for _ in range(days - 1):
                day = self._next_working_day(day)
            return self._from_wall(datetime.combine(day + timedelta(days=1), time(0)))
        for _ in range(days):
            day = self._next_working_day(day)
        return self._from_wall(datetime.combine(day, time(0)) + offset)

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """How much working-day time lies in [start, end) (zero if end <= start)."""
        if _aware(end) <= _aware(start):
            return timedelta(0)
        start_wall, end_wall = self._wall(start), self._wall(end)
        total = timedelta(0)
        day = start_wall.date()
        while day <= end_wall.date():
            if self.is_working_day(day):
                lo = max(start_wall, datetime.combine(day, time(0)))
                hi = min(end_wall, datetime.combine(day + timedelta(days=1), time(0)))
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total

    def _wall(self, instant: datetime) -> datetime:
        """How far the site's wall clock has got at ``instant`` (naive local time): its reading,
        except in the hour repeated after the clock goes back, where it stands at the latest
        reading already shown, so that it never runs backwards."""
        local = self.local(instant)
        if local.fold == 1:
            first = local.replace(fold=0)
            before = first.utcoffset()
            if before != local.utcoffset():
                turned_back = self._transition(first.astimezone(UTC), local.astimezone(UTC))
                return (turned_back + before).replace(tzinfo=None)
        return local.replace(tzinfo=None)

    def _from_wall(self, wall: datetime) -> datetime:
        """The first instant (UTC) at which the wall clock has reached ``wall`` (naive)."""
        instant = wall.replace(tzinfo=self.timezone, fold=0).astimezone(UTC)
        if instant.astimezone(self.timezone).replace(tzinfo=None) == wall:
            return instant
        # ``wall`` was skipped when the clock jumped forward: it was reached at the jump.
        other = wall.replace(tzinfo=self.timezone, fold=1).astimezone(UTC)
        return self._transition(min(instant, other), max(instant, other))

    def _transition(self, lo: datetime, hi: datetime) -> datetime:
        """The instant in (lo, hi] at which the zone's UTC offset changes to the one it has at
        ``hi`` (offsets change on whole seconds)."""
        after = hi.astimezone(self.timezone).utcoffset()
        lo_s, hi_s = math.floor(lo.timestamp()), math.ceil(hi.timestamp())
        while hi_s - lo_s > 1:
            mid = (lo_s + hi_s) // 2
            if datetime.fromtimestamp(mid, UTC).astimezone(self.timezone).utcoffset() == after:
                hi_s = mid
            else:
                lo_s = mid
        return datetime.fromtimestamp(hi_s, UTC)

    def _next_working_day(self, day: date) -> date:
        for _ in range(_MAX_DAYS_SCANNED):
            day += timedelta(days=1)
            if self.is_working_day(day):
                return day
        raise ValueError("the calendar has no working day in the next ten years")


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("times must carry a time zone")
    return instant


def effective_time(device_time: datetime, not_before: datetime, received_at: datetime) -> datetime:
    """When an action done on a phone counts: its device time, but never before the order existed
    (a wrong phone clock cannot make a step look early) and never after the server received it
    (nor can it make a step look late)."""
    device_time, not_before, received_at = map(_aware, (device_time, not_before, received_at))
    if received_at < not_before:
        not_before = received_at
    return min(max(device_time, not_before), received_at)


@dataclass(frozen=True)
class Deadline:
    step: str
    due: datetime
    done_at: datetime | None

    def breach(self, now: datetime) -> timedelta | None:
        """By how much the step is late (done late, or still open past due); None if on time."""
        reference = self.done_at if self.done_at is not None else _aware(now)
        late = reference - self.due
        return late if late > timedelta(0) else None

    def state(self, now: datetime) -> str:
        """on_time | late (done after due) | overdue (open past due) | pending (open, not due)."""
        if self.done_at is not None:
            return "late" if self.done_at > self.due else "on_time"
        return "overdue" if _aware(now) > self.due else "pending"


def step_deadlines(
    calendar: WorkCalendar,
    *,
    raised_at: datetime,
    dispatched_at: datetime | None = None,
    arranged_at: datetime | None = None,
    reported_at: datetime | None = None,
    deferred_at: datetime | None = None,
    returned_at: datetime | None = None,
) -> list[Deadline]:
    """Every deadline that applies to an order in its current state, in step order."""
    deadlines = [Deadline("dispatch", _aware(raised_at) + DISPATCH_WITHIN, dispatched_at)]
    if dispatched_at is not None:
        deadlines.append(Deadline("arrange", dispatched_at + ARRANGE_WITHIN, arranged_at))
        deadlines.append(Deadline("report", dispatched_at + REPORT_WITHIN, reported_at))
    if deferred_at is not None:
        deadlines.append(
            Deadline(
                "return",
                calendar.add_working_days(deferred_at, DEFERRAL_WORKING_DAYS),
                returned_at,
            )
        )
    return deadlines


def escalation_level(calendar: WorkCalendar, deferred_at: datetime, now: datetime) -> int:
    """How far an order deferred at ``deferred_at`` and not back by ``now`` has escalated:
    0 = not yet, 1 = department head, 2 = manager. Pure, so running escalation twice can only
    repeat the same answer: the caller records a level once and acts only when it grows."""
    level = 0
    due = calendar.add_working_days(deferred_at, DEFERRAL_WORKING_DAYS)
    while level < len(ESCALATION_LEVELS) and _aware(now) >= due:
        level += 1
        due = calendar.add_working_days(due, DEFERRAL_WORKING_DAYS)
    return level
