"""The work-order clock: deadlines on a site's working-day calendar (server/sla.py)."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from server.sla import (
    ARRANGE_WITHIN,
    REPORT_WITHIN,
    WorkCalendar,
    effective_time,
    escalation_level,
    step_deadlines,
)

pytestmark = pytest.mark.unit

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 2026 National Day: 1–7 October off, with Sunday 27 September and Saturday 10 October worked (调休).
NATIONAL_DAY = WorkCalendar.of(
    "Asia/Shanghai",
    holidays=[date(2026, 10, d) for d in range(1, 8)],
    workdays=[date(2026, 9, 27), date(2026, 10, 10)],
)
PLAIN = WorkCalendar.of("Asia/Shanghai")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def test_friday_afternoon_plus_two_working_days_is_tuesday_afternoon():
    assert PLAIN.add_working_days(local(2026, 11, 20, 15, 0), 2) == local(2026, 11, 24, 15, 0)


def test_a_weekend_start_counts_from_monday_morning():
    assert PLAIN.add_working_days(local(2026, 11, 21, 10, 0), 2) == local(2026, 11, 25, 0, 0)


def test_holidays_are_skipped_and_make_up_days_count():
    # Wednesday 30 September 10:00 + 2 working days: the rest of 30 Sep, 1–7 Oct off, all of
    # 8 Oct, then 9 Oct until 10:00.
    assert NATIONAL_DAY.add_working_days(local(2026, 9, 30, 10, 0), 2) == local(2026, 10, 9, 10, 0)
    # Saturday 26 September is a weekend; Sunday 27 September is a make-up working day.
    assert NATIONAL_DAY.add_working_days(local(2026, 9, 26, 9, 0), 1) == local(2026, 9, 28, 0, 0)
    assert NATIONAL_DAY.is_working_day(date(2026, 10, 10))
    assert not NATIONAL_DAY.is_working_day(date(2026, 10, 5))


def test_end_of_a_working_day_is_not_pushed_past_a_holiday():
    # Friday 25 September 00:00 + 2 working days = end of Sunday 27 (a make-up day), not later.
    assert NATIONAL_DAY.add_working_days(local(2026, 9, 25, 0, 0), 2) == local(2026, 9, 28, 0, 0)


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        PLAIN.add_working_days(datetime(2026, 11, 20, 15, 0), 2)


# ---------------------------------------------------------------------------------------------
# Properties, for any start instant, any set of holidays and make-up days, in Shanghai (no
# daylight saving), UTC, and zones whose clocks jump forward and back: Berlin and New York (on a
# Sunday at 02:00/01:00), Santiago (at midnight: a day without its 00:00, and a repeated 23:00
# hour across midnight) and Lord Howe (by half an hour).

FIXED_ZONES = ("Asia/Shanghai", "Asia/Urumqi", "UTC")
DST_ZONES = ("Europe/Berlin", "America/New_York", "America/Santiago", "Australia/Lord_Howe")
# When those clocks change in 2026 and 2027 (UTC).
TRANSITIONS = {
    "Europe/Berlin": [
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
        datetime(2027, 3, 28, 1, 0, tzinfo=UTC),
    ],
    "America/New_York": [
        datetime(2026, 3, 8, 7, 0, tzinfo=UTC),
        datetime(2026, 11, 1, 6, 0, tzinfo=UTC),
    ],
    "America/Santiago": [
        datetime(2026, 4, 5, 3, 0, tzinfo=UTC),
        datetime(2026, 9, 6, 4, 0, tzinfo=UTC),
        datetime(2027, 4, 4, 3, 0, tzinfo=UTC),
    ],
    "Australia/Lord_Howe": [
        datetime(2026, 4, 4, 15, 0, tzinfo=UTC),
        datetime(2026, 10, 3, 15, 30, tzinfo=UTC),
    ],
}

days_2026 = st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31))


@st.composite
def calendars(draw, zones=FIXED_ZONES + DST_ZONES):
    fixed, changing = [z for z in zones if z in FIXED_ZONES], [z for z in zones if z in DST_ZONES]
    zone = draw(
        st.sampled_from(changing) if changing and draw(st.booleans()) else st.sampled_from(fixed)
    )
    holidays = draw(st.frozensets(days_2026, max_size=40))
    workdays = draw(st.frozensets(days_2026, max_size=10))
    # The local days around the zone's clock changes: often worked (a weekend change on a
    # make-up day is where deadlines meet a missing or repeated hour).
    around = sorted(
        {
            (t + timedelta(hours=h)).astimezone(ZoneInfo(zone)).date()
            for t in TRANSITIONS.get(zone, [])
            for h in (-2, 0, 2)
        }
    )
    workdays |= {day for day in around if draw(st.booleans())}
    return WorkCalendar.of(zone, holidays, workdays)


@st.composite
def instants(draw, calendar: WorkCalendar):
    """Any instant, or one near a local midnight, or near a clock change of the calendar's zone
    (or at that time of day a few days before it, so that deadlines land on the change)."""
    changes = TRANSITIONS.get(str(calendar.timezone))
    kind = (
        "change" if changes and draw(st.booleans()) else draw(st.sampled_from(["any", "midnight"]))
    )
    if kind == "any":
        return draw(
            st.datetimes(
                min_value=datetime(2026, 1, 1),
                max_value=datetime(2027, 6, 30),
                timezones=st.just(UTC),
            )
        )
    if kind == "midnight":
        day = draw(days_2026)
        midnight = datetime.combine(day, time(0), tzinfo=calendar.timezone).astimezone(UTC)
        return midnight + timedelta(seconds=draw(st.integers(-5400, 5400)))
    change = draw(st.sampled_from(changes))
    days_before = draw(st.integers(min_value=0, max_value=3))
    return change - timedelta(days=days_before, seconds=draw(st.integers(-5400, 5400)))


@st.composite
def cases(draw, points: int = 1, zones=FIXED_ZONES + DST_ZONES):
    calendar = draw(calendars(zones))
    return calendar, *[draw(instants(calendar)) for _ in range(points)]


def fixed_offset(calendar: WorkCalendar) -> bool:
    return str(calendar.timezone) in FIXED_ZONES


@settings(max_examples=600, deadline=None)
@given(case=cases(), days=st.integers(min_value=0, max_value=6))
# Santiago skips 00:00–01:00 on Sunday 6 September 2026 (here a make-up working day): Friday
# 00:00:01 + 1 working day is reached when the clock jumps, at 04:00 UTC.
@example(
    case=(
        WorkCalendar.of("America/Santiago", workdays=[date(2026, 9, 6)]),
        datetime(2026, 9, 4, 4, 0, 1, tzinfo=UTC),
    ),
    days=1,
)
def test_deadline_is_the_first_instant_with_enough_working_time(case, days):
    calendar, start = case
    due = calendar.add_working_days(start, days)
    assert due.tzinfo is not None and due.utcoffset() == timedelta(0)
    assert due >= start
    if days == 0:
        assert due == start
        return
    worked = calendar.working_time_between(start, due)
    if fixed_offset(calendar):
        assert worked == timedelta(days=days)
    else:
        # Exactly n days, unless the clock jumped over the deadline's time of day: then the
        # deadline is the jump, and a little more than n days have passed by then.
        assert worked >= timedelta(days=days)
        if worked > timedelta(days=days):
            assert (
                calendar.local(due - timedelta(seconds=1)).utcoffset()
                != calendar.local(due).utcoffset()
            )
    # ... and not one microsecond earlier.
    just_before = due - timedelta(microseconds=1)
    if just_before >= start:
        assert calendar.working_time_between(start, just_before) < timedelta(days=days)


@settings(max_examples=500, deadline=None)
@given(case=cases(), days=st.integers(min_value=1, max_value=6))
def test_a_deadline_falls_on_a_working_day_or_at_the_midnight_ending_one(case, days):
    calendar, start = case
    due = calendar.add_working_days(start, days)
    at = calendar.local(due)
    if not calendar.is_working_day(at.date()):
        # Only at the boundary that ends a working day: 00:00 (or the first instant of a day
        # whose midnight the clock skipped) right after a working day.
        assert calendar.working_time_between(due - timedelta(hours=1), due) > timedelta(0)
        assert calendar.working_time_between(due, due + timedelta(hours=1)) == timedelta(0)
        previous = calendar.local(due - timedelta(microseconds=1)).date()
        assert calendar.is_working_day(previous)
        assert at.date() == previous + timedelta(days=1)
        assert at.time() <= time(1, 0)


@settings(max_examples=400, deadline=None)
@given(case=cases(points=2), days=st.integers(min_value=0, max_value=5))
def test_a_later_start_never_gets_an_earlier_deadline(case, days):
    calendar, first, second = case
    first, second = sorted((first, second))
    assert calendar.add_working_days(first, days) <= calendar.add_working_days(second, days)
    # and one more working day is always later.
    assert calendar.add_working_days(first, days) < calendar.add_working_days(first, days + 1)


@settings(max_examples=300, deadline=None)
@given(
    case=cases(), a=st.integers(min_value=1, max_value=3), b=st.integers(min_value=1, max_value=3)
)
def test_deadlines_compose(case, a, b):
    calendar, start = case
    # Escalation counts its second 2-working-day step from the first deadline.
    chained = calendar.add_working_days(calendar.add_working_days(start, a), b)
    direct = calendar.add_working_days(start, a + b)
    if fixed_offset(calendar):
        assert chained == direct
    else:
        # A deadline moved to a forward jump of the clock carries the jump into the next one.
        assert chained >= direct
        assert chained - direct <= timedelta(hours=1)


@settings(max_examples=300, deadline=None)
@given(case=cases(points=3))
def test_working_time_adds_up_and_never_exceeds_the_clock(case):
    calendar, *points = case
    a, b, c = sorted(points)
    ab, bc, ac = (
        calendar.working_time_between(a, b),
        calendar.working_time_between(b, c),
        calendar.working_time_between(a, c),
    )
    assert ab + bc == ac
    assert calendar.working_time_between(c, a) == timedelta(0)
    assert ab >= timedelta(0) and bc >= timedelta(0)
    if fixed_offset(calendar):
        assert ac <= c - a
    else:
        # A working day is worth 24 hours however long it is (23 or 25 hours on a change).
        assert ac <= c - a + timedelta(hours=2)


@settings(max_examples=300, deadline=None)
@given(case=cases(points=2, zones=FIXED_ZONES))
def test_working_time_matches_a_day_by_day_count(case):
    calendar, start, end = case
    # Without clock changes: the overlap of [start, end) with each working day, in real time.
    expected = timedelta(0)
    if end > start:
        day = calendar.local(start).date() - timedelta(days=1)
        while day <= calendar.local(end).date():
            if calendar.is_working_day(day):
                lo = datetime.combine(day, time(0), tzinfo=calendar.timezone)
                hi = lo + timedelta(days=1)
                overlap = min(end, hi) - max(start, lo)
                expected += max(overlap, timedelta(0))
            day += timedelta(days=1)
    assert calendar.working_time_between(start, end) == expected


@given(
    day=days_2026,
    holiday=st.booleans(),
    workday=st.booleans(),
)
def test_which_days_are_worked(day, holiday, workday):
    calendar = WorkCalendar.of(
        "Asia/Shanghai", holidays=[day] if holiday else [], workdays=[day] if workday else []
    )
    # A make-up day is worked even if also listed as a holiday; else holidays are off; else the
    # plain Monday–Friday week.
    expected = workday or (not holiday and day.weekday() < 5)
    assert calendar.is_working_day(day) == expected


BERLIN = ZoneInfo("Europe/Berlin")
# Sunday 29 March 2026 (clocks jump 02:00 → 03:00) and Sunday 25 October 2026 (03:00 → 02:00),
# declared working days.
BERLIN_WORKED_SUNDAYS = WorkCalendar.of(
    "Europe/Berlin", workdays=[date(2026, 3, 29), date(2026, 10, 25)]
)


def test_a_deadline_on_a_skipped_time_of_day_is_the_jump():
    # Friday 02:30 + 1 working day = Sunday 02:30 (Saturday is off), a time that does not exist
    # that day: the clock reaches it when it jumps to 03:00 (01:00 UTC).
    start = datetime(2026, 3, 27, 2, 30, tzinfo=BERLIN)
    assert BERLIN_WORKED_SUNDAYS.add_working_days(start, 1) == datetime(
        2026, 3, 29, 1, 0, tzinfo=UTC
    )
    # A plain weekend in between does not care: Friday 15:00 + 2 = Tuesday 15:00 summer time.
    assert WorkCalendar.of("Europe/Berlin").add_working_days(
        datetime(2026, 3, 27, 15, 0, tzinfo=BERLIN), 2
    ) == datetime(2026, 3, 31, 15, 0, tzinfo=BERLIN)


def test_the_repeated_hour_counts_once():
    first_0230 = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 summer time
    second_0215 = datetime(2026, 10, 25, 1, 15, tzinfo=UTC)  # 02:15 winter time, 45 min later
    due_first = BERLIN_WORKED_SUNDAYS.add_working_days(first_0230, 1)
    due_second = BERLIN_WORKED_SUNDAYS.add_working_days(second_0215, 1)
    assert due_first == datetime(2026, 10, 26, 2, 30, tzinfo=BERLIN)
    # The clock has shown up to 03:00 already: the later start is not given an earlier deadline.
    assert due_second == datetime(2026, 10, 26, 3, 0, tzinfo=BERLIN)
    # The 25-hour Sunday is worth 24 hours of working time.
    assert BERLIN_WORKED_SUNDAYS.working_time_between(
        datetime(2026, 10, 25, 0, 0, tzinfo=BERLIN), datetime(2026, 10, 26, 0, 0, tzinfo=BERLIN)
    ) == timedelta(days=1)


@settings(max_examples=200, deadline=None)
@given(case=cases(), later=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)))
def test_escalation_only_grows_with_time(case, later):
    calendar, start = case
    now = start + later
    level = escalation_level(calendar, start, now)
    assert 0 <= level <= 2
    assert escalation_level(calendar, start, now + timedelta(hours=1)) >= level
    first_due = calendar.add_working_days(start, 2)
    assert (level >= 1) == (now >= first_due)


@given(case=cases(points=3))
def test_an_offline_action_counts_inside_the_orders_life(case):
    _, device, created, received = case
    counted = effective_time(device, created, received)
    assert counted <= received
    assert counted >= min(created, received)
    if min(created, received) <= device <= received:
        assert counted == device


def test_step_deadlines_and_their_states():
    raised = local(2026, 11, 23, 9, 0)
    dispatched = local(2026, 11, 23, 10, 0)
    steps = {
        d.step: d
        for d in step_deadlines(
            PLAIN,
            raised_at=raised,
            dispatched_at=dispatched,
            arranged_at=dispatched + timedelta(hours=3),
            deferred_at=local(2026, 11, 27, 16, 0),
        )
    }
    assert steps["dispatch"].state(dispatched) == "on_time"
    assert steps["arrange"].due == dispatched + ARRANGE_WITHIN
    assert steps["arrange"].state(dispatched) == "late"
    assert steps["arrange"].breach(dispatched) == timedelta(hours=1)
    assert steps["report"].due == dispatched + REPORT_WITHIN
    assert steps["report"].state(dispatched + timedelta(hours=5)) == "overdue"
    assert steps["report"].state(dispatched + timedelta(hours=1)) == "pending"
    # Deferred Friday 16:00 → back by Tuesday 16:00.
    assert steps["return"].due == local(2026, 12, 1, 16, 0)
    assert escalation_level(PLAIN, local(2026, 11, 27, 16, 0), local(2026, 12, 1, 15, 59)) == 0
    assert escalation_level(PLAIN, local(2026, 11, 27, 16, 0), local(2026, 12, 1, 16, 0)) == 1
    assert escalation_level(PLAIN, local(2026, 11, 27, 16, 0), local(2026, 12, 3, 16, 0)) == 2
