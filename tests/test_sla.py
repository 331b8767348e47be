"""The work-order clock: deadlines on a site's working-day calendar (server/sla.py)."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
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


days_2026 = st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31))


@st.composite
def calendars(draw):
    holidays = draw(st.frozensets(days_2026, max_size=40))
    workdays = draw(st.frozensets(days_2026, max_size=10))
    zone = draw(st.sampled_from(["Asia/Shanghai", "Asia/Urumqi", "UTC"]))
    return WorkCalendar.of(zone, holidays, workdays)


instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 6, 30), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(calendar=calendars(), start=instants, days=st.integers(min_value=0, max_value=6))
def test_deadline_is_the_first_instant_with_enough_working_time(calendar, start, days):
    due = calendar.add_working_days(start, days)
    assert due >= start
    assert calendar.working_time_between(start, due) == timedelta(days=days)
    if days and due - timedelta(seconds=1) > start:
        assert calendar.working_time_between(start, due - timedelta(seconds=1)) < timedelta(
            days=days
        )
    # A deadline always falls inside (or at the end of) a working day.
    at = calendar.local(due - timedelta(microseconds=1)) if days else calendar.local(due)
    assert calendar.is_working_day(at.date()) or days == 0


@settings(max_examples=200, deadline=None)
@given(
    calendar=calendars(),
    start=instants,
    later=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)),
)
def test_escalation_only_grows_with_time(calendar, start, later):
    now = start + later
    level = escalation_level(calendar, start, now)
    assert 0 <= level <= 2
    assert escalation_level(calendar, start, now + timedelta(hours=1)) >= level
    first_due = calendar.add_working_days(start, 2)
    assert (level >= 1) == (now >= first_due)


@given(
    device=instants,
    created=instants,
    received=instants,
)
def test_an_offline_action_counts_inside_the_orders_life(device, created, received):
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
