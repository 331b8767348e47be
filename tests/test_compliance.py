"""The patrol compliance engine (server/compliance.py): occurrences, matching, aggregation and
recompute, with examples for the rules and hypothesis for the invariants."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.compliance import (
    STATUSES,
    Plan,
    Result,
    Scan,
    evaluate,
    expected_occurrences,
    periods_to_recompute,
    scan_window,
    summarise,
)

pytestmark = pytest.mark.unit

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 11, 2)
PERSONS = (1, 2, 3)
CHECKPOINTS = (1, 2)


def local(*args, tz=SHANGHAI) -> datetime:
    return datetime(*args, tzinfo=tz)


def plan(**kwargs) -> Plan:
    defaults = dict(id=1, checkpoint_ids=frozenset({1}), per="day", times=1, starts_on=MONDAY)
    return Plan(**{**defaults, **kwargs})


def scan(id, at, checkpoint_id=1, person_id=1, source="scan") -> Scan:
    return Scan(id=id, checkpoint_id=checkpoint_id, person_id=person_id, at=at, source=source)


def statuses(results: list[Result]) -> list[tuple[int, str, int | None]]:
    return [(r.occurrence.index, r.status, r.scan_id) for r in results]


# --- examples ---------------------------------------------------------------------------------


def test_four_a_day_splits_the_day_into_equal_slots():
    occurrences = expected_occurrences(plan(times=4), 1, MONDAY, MONDAY)
    assert [(o.start, o.end) for o in occurrences] == [
        (local(2026, 11, 2, 0), local(2026, 11, 2, 6)),
        (local(2026, 11, 2, 6), local(2026, 11, 2, 12)),
        (local(2026, 11, 2, 12), local(2026, 11, 2, 18)),
        (local(2026, 11, 2, 18), local(2026, 11, 3, 0)),
    ]
    assert all(o.due == o.end and o.closes == o.end + timedelta(minutes=30) for o in occurrences)


def test_a_spare_scan_in_the_next_slot_makes_the_previous_round_late():
    p = plan(times=4)
    now = local(2026, 11, 3, 12)
    early, later = scan(1, local(2026, 11, 2, 6, 10)), scan(2, local(2026, 11, 2, 9, 0))
    both = evaluate([p], [early, later], now, MONDAY, MONDAY)
    assert statuses(both) == [
        (0, "late", 1),
        (1, "done", 2),
        (2, "missed", None),
        (3, "missed", None),
    ]
    # A lone scan in the next slot stays on time there; the earlier round is missed.
    alone = evaluate([p], [early], now, MONDAY, MONDAY)
    assert statuses(alone)[:2] == [(0, "missed", None), (1, "done", 1)]


def test_a_scan_on_the_boundary_belongs_to_the_window_it_opens():
    p = plan(times=2)  # 00:00–12:00, 12:00–24:00
    results = evaluate([p], [scan(1, local(2026, 11, 2, 12))], local(2026, 11, 4), MONDAY, MONDAY)
    assert statuses(results) == [(0, "missed", None), (1, "done", 1)]


def test_late_within_grace_and_nothing_after():
    p = plan(windows=((time(8), time(12)),), grace=timedelta(minutes=30))
    now = local(2026, 11, 3)
    for at, expected in [
        (local(2026, 11, 2, 11, 59), "done"),
        (local(2026, 11, 2, 12, 0), "late"),
        (local(2026, 11, 2, 12, 29), "late"),
        (local(2026, 11, 2, 12, 30), "missed"),
        (local(2026, 11, 2, 7, 59), "missed"),
    ]:
        [result] = evaluate([p], [scan(1, at)], now, MONDAY, MONDAY)
        assert result.status == expected, at


def test_pending_until_the_window_closes_then_missed():
    p = plan(windows=((time(8), time(12)),))
    for now, expected in [
        (local(2026, 11, 2, 7), "pending"),
        (local(2026, 11, 2, 12, 29), "pending"),
        (local(2026, 11, 2, 12, 30), "missed"),
    ]:
        [result] = evaluate([p], [], now, MONDAY, MONDAY)
        assert result.status == expected


def test_scans_after_now_do_not_count():
    p = plan(windows=((time(8), time(12)),))
    [result] = evaluate(
        [p], [scan(1, local(2026, 11, 2, 10))], local(2026, 11, 2, 9), MONDAY, MONDAY
    )
    assert result.status == "pending"


def test_night_round_across_midnight_belongs_to_the_day_it_starts():
    p = plan(windows=((time(22), time(6)),))
    night = scan(1, local(2026, 11, 3, 2))  # 02:00 on Tuesday
    results = evaluate([p], [night], local(2026, 11, 4, 12), MONDAY, MONDAY + timedelta(days=1))
    assert [(r.occurrence.day, r.status) for r in results] == [
        (MONDAY, "done"),
        (MONDAY + timedelta(days=1), "missed"),
    ]
    [monday] = expected_occurrences(p, 1, MONDAY, MONDAY)
    assert (monday.start, monday.end) == (local(2026, 11, 2, 22), local(2026, 11, 3, 6))


def test_day_boundaries_follow_the_plan_time_zone():
    # 2026-11-02 17:00 UTC is 01:00 on 3 November in Shanghai.
    at = datetime(2026, 11, 2, 17, tzinfo=UTC)
    now = datetime(2026, 11, 5, tzinfo=UTC)
    days = (MONDAY, MONDAY + timedelta(days=1))
    for tz, day in [("Asia/Shanghai", MONDAY + timedelta(days=1)), ("UTC", MONDAY)]:
        p = plan(timezone=tz)
        results = evaluate([p], [scan(1, at)], now, *days)
        assert [r.occurrence.day for r in results if r.status == "done"] == [day], tz


def test_weekly_periods_are_iso_weeks_and_monthly_periods_calendar_months():
    weekly = plan(per="week", starts_on=date(2026, 10, 1))
    occurrences = expected_occurrences(weekly, 1, date(2026, 11, 1), date(2026, 11, 30))
    assert [o.start for o in occurrences] == [
        local(2026, 11, d) for d in (2, 9, 16, 23, 30)
    ]  # Sunday 1 November belongs to the week starting 26 October
    assert occurrences[-1].end == local(2026, 12, 7)
    twice = expected_occurrences(plan(per="week", times=2), 1, MONDAY, MONDAY + timedelta(days=6))
    assert [o.start for o in twice] == [local(2026, 11, 2), local(2026, 11, 5, 12)]
    monthly = plan(per="month", starts_on=date(2026, 1, 1))
    occurrences = expected_occurrences(monthly, 1, date(2026, 1, 1), date(2026, 12, 31))
    assert [(o.day.month, (o.end - o.start).days) for o in occurrences][:3] == [
        (1, 31),
        (2, 28),
        (3, 31),
    ]
    assert len(occurrences) == 12


def test_weekly_plan_with_windows_only_counts_scans_in_those_hours():
    p = plan(per="week", windows=((time(9), time(17)),))
    now = local(2026, 11, 10)
    week = (MONDAY, MONDAY + timedelta(days=6))
    [evening] = evaluate([p], [scan(1, local(2026, 11, 4, 20))], now, *week)
    assert evening.status == "missed"
    [daytime] = evaluate([p], [scan(1, local(2026, 11, 4, 10))], now, *week)
    assert daytime.status == "done"


def test_plan_dates_are_respected():
    p = plan(starts_on=date(2026, 11, 3), ends_on=date(2026, 11, 5))
    days = [o.day for o in expected_occurrences(p, 1, date(2026, 11, 1), date(2026, 11, 10))]
    assert days == [date(2026, 11, 3), date(2026, 11, 4), date(2026, 11, 5)]
    # A weekly plan starting mid-week owes its first round the following Monday.
    weekly = plan(per="week", starts_on=date(2026, 11, 4))
    first = expected_occurrences(weekly, 1, date(2026, 11, 1), date(2026, 11, 30))[0]
    assert first.day == date(2026, 11, 9)


def test_manual_entries_are_unverified_never_done():
    p = plan(windows=((time(8), time(12)),))
    manual = scan(1, local(2026, 11, 2, 9), source="manual")
    [result] = evaluate([p], [manual], local(2026, 11, 3), MONDAY, MONDAY)
    assert (result.status, result.scan_id) == ("unverified", 1)
    # A verified scan, even late, wins over a manual entry.
    late = scan(2, local(2026, 11, 2, 12, 10))
    [result] = evaluate([p], [manual, late], local(2026, 11, 3), MONDAY, MONDAY)
    assert (result.status, result.scan_id) == ("late", 2)


def test_scans_by_non_assignees_or_at_other_checkpoints_do_not_count():
    p = plan(assignee_ids=frozenset({7}), windows=((time(8), time(12)),))
    others = [
        scan(1, local(2026, 11, 2, 9), person_id=8),
        scan(2, local(2026, 11, 2, 9), checkpoint_id=2, person_id=7),
    ]
    [result] = evaluate([p], others, local(2026, 11, 3), MONDAY, MONDAY)
    assert result.status == "missed"
    [result] = evaluate(
        [p], [scan(3, local(2026, 11, 2, 9), person_id=7)], local(2026, 11, 3), MONDAY, MONDAY
    )
    assert result.status == "done"


def test_one_scan_counts_once_per_plan_but_for_each_plan():
    a = plan(id=1, windows=((time(8), time(12)), (time(14), time(18))), times=2)
    b = plan(id=2, windows=((time(8), time(12)),))
    one = scan(1, local(2026, 11, 2, 11, 50))
    results = evaluate([a, b], [one], local(2026, 11, 3), MONDAY, MONDAY)
    assert [(r.occurrence.plan_id, r.status) for r in results] == [
        (1, "done"),
        (1, "missed"),
        (2, "done"),
    ]


def test_summaries_by_building_floor_person_and_month():
    p = plan(
        checkpoint_ids=frozenset({1, 2, 3}),
        assignee_ids=frozenset({5, 6}),
        windows=((time(8), time(12)),),
    )
    locations = {1: (10, 100, 1000), 2: (10, 100, 1001), 3: (10, 101, 1010)}
    scans = [
        scan(1, local(2026, 11, 2, 9), checkpoint_id=1, person_id=5),
        scan(2, local(2026, 11, 2, 12, 5), checkpoint_id=2, person_id=6),
    ]
    results = evaluate([p], scans, local(2026, 11, 3), MONDAY, MONDAY)
    by_building = summarise(results, "building", "month", locations)
    first = by_building[(100, date(2026, 11, 1))]
    assert (first.expected, first.done, first.late, first.missed) == (2, 1, 1, 0)
    assert first.on_time_rate == 0.5
    assert by_building[(101, date(2026, 11, 1))].missed == 1
    by_floor = summarise(results, "floor", "day", locations)
    assert {key: c.done + c.late for key, c in by_floor.items()} == {
        (1000, MONDAY): 1,
        (1001, MONDAY): 1,
        (1010, MONDAY): 0,
    }
    by_person = summarise(results, "person", None)
    assert (by_person[(5, None)].done, by_person[(5, None)].missed) == (1, 1)
    assert (by_person[(6, None)].late, by_person[(6, None)].missed) == (1, 1)
    site = summarise(results, "site", "week", locations)[(10, MONDAY)]
    assert (site.expected, site.done, site.late, site.missed, site.pending) == (3, 1, 1, 1, 0)
    with pytest.raises(ValueError):
        summarise(results, "floor")


def test_invalid_plans_and_scans_are_refused():
    with pytest.raises(ValueError):
        plan(windows=((time(8), time(12)), (time(11), time(14))), times=2)  # overlap
    with pytest.raises(ValueError):
        plan(windows=((time(8), time(12)),), times=2)  # times != windows
    with pytest.raises(ValueError):
        plan(times=4, grace=timedelta(hours=6))  # grace as long as a slot
    with pytest.raises(ValueError):
        plan(windows=((time(8), time(9)), (time(9), time(10))), times=2, grace=timedelta(hours=1))
    with pytest.raises(ValueError):
        scan(1, datetime(2026, 11, 2, 9))  # naive
    with pytest.raises(ValueError):
        evaluate([plan()], [], datetime(2026, 11, 2), MONDAY, MONDAY)


def test_a_late_scan_can_change_the_day_before():
    # Monday's last round (18:00–24:00) has nothing of its own; Tuesday's first round has a scan
    # at 00:10, inside Monday's grace. A second Tuesday scan at 03:00, synced late, frees the
    # 00:10 scan for Monday: Monday turns from missed to late though the new scan is on Tuesday.
    p = plan(times=4)
    now = local(2026, 11, 5)
    tuesday = MONDAY + timedelta(days=1)
    old = [scan(1, local(2026, 11, 3, 0, 10))]
    new = [scan(2, local(2026, 11, 3, 3, 0))]
    assert evaluate([p], old, now, MONDAY, MONDAY)[3].status == "missed"
    assert evaluate([p], old + new, now, MONDAY, MONDAY)[3].status == "late"
    assert {(1, 1, MONDAY), (1, 1, tuesday)} <= periods_to_recompute([p], new)


def test_a_late_scan_can_change_a_manual_match_two_rounds_back():
    # Tuesday 00:10 is a manual entry (in Monday 18–24's grace), 06:10 a scan (in Tuesday 00–06's
    # grace). A late scan at 09:00 lets 00–06 take the 06:10 scan as late; its manual entry is then
    # free for Monday's last round, which turns from missed to unverified.
    p = plan(times=4)
    now = local(2026, 11, 5)
    tuesday = MONDAY + timedelta(days=1)
    old = [scan(1, local(2026, 11, 3, 0, 10), source="manual"), scan(2, local(2026, 11, 3, 6, 10))]
    new = [scan(3, local(2026, 11, 3, 9, 0))]
    assert evaluate([p], old, now, MONDAY, MONDAY)[3].status == "missed"
    assert [r.status for r in evaluate([p], old, now, tuesday, tuesday)][:2] == [
        "unverified",
        "done",
    ]
    after = evaluate([p], old + new, now, MONDAY, tuesday)
    assert [(r.status, r.scan_id) for r in after[3:6]] == [
        ("unverified", 1),
        ("late", 2),
        ("done", 3),
    ]
    assert (1, 1, MONDAY) in periods_to_recompute([p], new)


def test_a_late_offline_scan_is_picked_up_by_recompute():
    p = plan(windows=((time(8), time(12)),))
    now = local(2026, 11, 6)
    offline = scan(9, local(2026, 11, 3, 10))
    touched = periods_to_recompute([p], [offline])
    assert (1, 1, date(2026, 11, 3)) in touched
    assert all(day <= date(2026, 11, 4) for _, _, day in touched)
    week = (MONDAY, MONDAY + timedelta(days=4))
    assert [r.status for r in evaluate([p], [offline], now, *week)][1] == "done"


# --- properties -------------------------------------------------------------------------------

ZONES = ("Asia/Shanghai", "UTC", "Europe/Berlin")
# Anchors near month ends, ISO week ends and Berlin's daylight-saving changes.
ANCHORS = (
    date(2026, 11, 2),
    date(2026, 3, 27),
    date(2026, 10, 23),
    date(2026, 12, 28),
    date(2026, 2, 26),
)


def _clock(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


def _daily_windows(cuts: list[int], rotation: int, whole_day: bool, grace: int):
    """Non-overlapping windows (some across midnight, or one 24-hour window) from sorted cut
    points on a 15-minute grid, and a grace shorter than the gap between two window ends."""
    minutes = [cuts[0], cuts[0]] if whole_day else cuts
    minutes = [(m * 15 + rotation * 15) % 1440 for m in minutes]
    windows = tuple(
        (_clock(minutes[2 * k]), _clock(minutes[2 * k + 1])) for k in range(len(minutes) // 2)
    )
    ends = sorted(minutes[1::2])
    gaps = [b - a for a, b in pairwise(ends)] + [ends[0] + 1440 - ends[-1]]
    return windows, timedelta(minutes=min(grace, min(gaps) - 1))


# Strategies are built once: hypothesis spends most of its time validating fresh ones.
CUTS = st.integers(1, 3).flatmap(
    lambda n: st.lists(st.integers(0, 95), min_size=2 * n, max_size=2 * n, unique=True).map(sorted)
)
PLAN_SPECS = st.fixed_dictionaries(
    {
        "per": st.sampled_from(["day", "day", "week", "month"]),
        "use_windows": st.booleans(),
        "cuts": CUTS,
        "rotation": st.integers(0, 95),
        "whole_day": st.booleans(),
        "times": st.integers(1, 6),
        "grace": st.integers(0, 120),
        "start": st.integers(-40, 3),
        "length": st.sampled_from([None, None, 0, 1, 3, 10, 30, 60]),
        "assignees": st.none() | st.frozensets(st.sampled_from(PERSONS), min_size=1),
        "checkpoints": st.frozensets(st.sampled_from(CHECKPOINTS), min_size=1),
        "timezone": st.sampled_from(ZONES),
    }
)
# Per scan: checkpoint, person, source and where (3 × 4 × 2 × 3 = 72 combinations, decoded
# below), which instant, offset. Few draws per scan keep generation fast.
SCAN_SPECS = st.lists(
    st.tuples(st.integers(0, 71), st.integers(0, 9999), st.integers(-6, 6)),
    min_size=10,
    max_size=40,
)
NOW_SPEC = st.tuples(st.integers(0, 2), st.integers(0, 9999), st.integers(-6, 6))
TWINS = st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(PERSONS)), max_size=4)


def _plan(plan_id: int, anchor: date, spec: dict) -> Plan:
    per, windows = spec["per"], ()
    grace = timedelta(minutes=spec["grace"])
    times = min(spec["times"], {"day": 6, "week": 3, "month": 2}[per])
    if per == "day" and spec["use_windows"]:
        windows, grace = _daily_windows(
            spec["cuts"], spec["rotation"], spec["whole_day"], spec["grace"]
        )
        times = len(windows)
    elif per != "day" and spec["use_windows"]:
        windows = ((time(8), time(20)),)
    starts_on = anchor + timedelta(days=spec["start"])
    return Plan(
        id=plan_id,
        checkpoint_ids=spec["checkpoints"],
        per=per,
        times=times,
        windows=windows,
        grace=grace,
        starts_on=starts_on,
        ends_on=None if spec["length"] is None else starts_on + timedelta(days=spec["length"]),
        assignee_ids=spec["assignees"],
        timezone=spec["timezone"],
    )


@st.composite
def scenarios(draw, dense: bool = False):
    """Plans, scans, now and a day range. ``dense``: one daily plan at one checkpoint that anyone
    may do, and every scan near one of its boundaries — where neighbouring rounds interact."""
    anchor = draw(st.sampled_from(ANCHORS))
    span = draw(st.integers(0, 3 if dense else 8))
    day_from, day_to = anchor, anchor + timedelta(days=span)
    specs = draw(st.lists(PLAN_SPECS, min_size=1, max_size=1 if dense else 3))
    if dense:
        specs = [{**specs[0], "per": "day", "checkpoints": frozenset({1}), "assignees": None}]
        specs[0].update(start=-5, length=None)
    plan_list = [_plan(i, anchor, spec) for i, spec in enumerate(specs, start=1)]
    # Scan times on a 5-minute grid, most of them close to the plans' own window starts, ends and
    # closing times, so that many fall on a boundary, in a grace period or on the same instant.
    origin = datetime.combine(day_from, time(), tzinfo=UTC) - timedelta(days=3)
    step = timedelta(minutes=5)
    steps = (span + 7) * 288
    margin = timedelta(days=2)
    boundaries = sorted(
        {
            instant
            for p in plan_list
            for o in expected_occurrences(
                p, min(p.checkpoint_ids), day_from - margin, day_to + margin
            )
            for instant in (o.start, o.end, o.closes)
        }
    )

    def instant(where: int, which: int, offset: int) -> datetime:
        # where 0–1: within ±30 minutes of a boundary; 2: anywhere in the horizon.
        if (dense or where < 2) and boundaries:
            return boundaries[which % len(boundaries)] + offset * step
        return origin + (which % steps) * step

    raw = []
    for code, which, offset in draw(SCAN_SPECS):
        checkpoint_id, code = (1 if dense else CHECKPOINTS[code % 2]), code // 2
        person_id, code = PERSONS[code % 3], code // 3
        source, where = ("scan", "scan", "scan", "manual")[code % 4], code // 4
        raw.append((checkpoint_id, person_id, instant(where, which, offset), source))
    # Twins: a second check at the same checkpoint and instant, so ties must be broken by id.
    for which, person in draw(TWINS):
        cp, _, at, source = raw[which % len(raw)]
        raw.append((cp, person, at, source))
    scans = [
        Scan(id=i, checkpoint_id=cp, person_id=person, at=at, source=source)
        for i, (cp, person, at, source) in enumerate(raw)
    ]
    now = origin + steps * step if draw(st.booleans()) else instant(*draw(NOW_SPEC))
    return plan_list, scans, now, day_from, day_to


# Each example evaluates a few plans over up to two weeks; 60 examples per property keep the file
# well under 20 seconds.
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(scenarios())
def test_every_expected_occurrence_gets_exactly_one_status(scenario):
    plan_list, scans, now, day_from, day_to = scenario
    results = evaluate(plan_list, scans, now, day_from, day_to)
    for p in plan_list:
        expected = [
            o
            for cp in sorted(p.checkpoint_ids)
            for o in expected_occurrences(p, cp, day_from, day_to)
        ]
        mine = [r for r in results if r.occurrence.plan_id == p.id]
        assert [r.occurrence for r in mine] == expected
        counts = summarise(mine, "plan", None)
        if expected:
            c = counts[(p.id, None)]
            assert c.expected == len(expected)
            assert c.done + c.late + c.missed + c.pending + c.unverified == c.expected
        for o in expected:
            assert p.starts_on <= o.period and (p.ends_on is None or o.period <= p.ends_on)
            assert day_from <= o.day <= day_to
            assert o.start <= o.end  # never inverted, even across DST
    assert all(r.status in STATUSES for r in results)


@PROPERTY
@given(scenarios() | scenarios(dense=True))
def test_matches_obey_the_rules(scenario):
    plan_list, scans, now, day_from, day_to = scenario
    by_id = {s.id: s for s in scans}
    results = evaluate(plan_list, scans, now, day_from, day_to)
    used = Counter((r.occurrence.plan_id, r.scan_id) for r in results if r.scan_id is not None)
    assert all(n == 1 for n in used.values()), "a scan satisfied two occurrences of one plan"
    # Which scans any occurrence uses, neighbours outside the range included.
    wide = evaluate(
        plan_list, scans, now, day_from - timedelta(days=70), day_to + timedelta(days=70)
    )
    used_anywhere = {(r.occurrence.plan_id, r.scan_id) for r in wide if r.scan_id is not None}
    for r in results:
        o, p = r.occurrence, r.occurrence.plan
        qualifying = [
            s
            for s in scans
            if s.checkpoint_id == o.checkpoint_id and p.counts_person(s.person_id) and s.at <= now
        ]
        if p.per != "day" and p.windows:
            qualifying = [
                s
                for s in qualifying
                if time(8) <= s.at.astimezone(ZoneInfo(p.timezone)).time() < time(20)
            ]
        on_time = [s for s in qualifying if s.source == "scan" and o.start <= s.at < o.end]
        # done exactly when a verified scan lies inside the window
        assert (r.status == "done") == bool(on_time)
        # Not late, or nothing at all: no verified scan of the grace period was left unused.
        left = [
            s for s in qualifying if o.end <= s.at < o.closes and (p.id, s.id) not in used_anywhere
        ]
        if r.status in ("unverified", "missed", "pending"):
            assert not [s for s in left if s.source == "scan"]
        if r.status in ("missed", "pending"):
            assert not [s for s in left if s.source == "manual"]
            assert not [
                s
                for s in qualifying
                if s.source == "manual"
                and o.start <= s.at < o.end
                and (p.id, s.id) not in used_anywhere
            ]
        if r.scan_id is None:
            assert r.status in ("missed", "pending")
            assert (r.status == "missed") == (now >= o.closes)
            continue
        s = by_id[r.scan_id]
        assert s in qualifying and (s.person_id, s.at) == (r.person_id, r.at)
        if r.status == "done":
            assert s.source == "scan" and o.start <= s.at < o.end
            # the earliest on-time scan that an earlier round did not take as late
            assert all(
                (p.id, x.id) in used_anywhere for x in on_time if (x.at, x.id) < (s.at, s.id)
            )
        elif r.status == "late":
            # a late scan is never on time, and never after the grace period
            assert s.source == "scan" and o.end <= s.at < o.closes
        else:
            assert r.status == "unverified"
            assert s.source == "manual" and o.start <= s.at < o.closes


@PROPERTY
@given(scenarios(), st.randoms(use_true_random=False))
def test_results_do_not_depend_on_the_order_scans_arrive_in(scenario, rnd: random.Random):
    plan_list, scans, now, day_from, day_to = scenario
    shuffled = list(scans)
    rnd.shuffle(shuffled)
    plans_shuffled = list(plan_list)
    rnd.shuffle(plans_shuffled)
    assert evaluate(plans_shuffled, shuffled, now, day_from, day_to) == evaluate(
        plan_list, scans, now, day_from, day_to
    )


@PROPERTY
@given(scenarios() | scenarios(dense=True), st.data())
def test_results_do_not_depend_on_the_range_evaluated(scenario, data):
    plan_list, scans, now, day_from, day_to = scenario
    whole = evaluate(plan_list, scans, now, day_from, day_to)
    span = (day_to - day_from).days
    a = data.draw(st.integers(0, span))
    b = data.draw(st.integers(a, span))
    sub_from, sub_to = day_from + timedelta(days=a), day_from + timedelta(days=b)
    part = evaluate(plan_list, scans, now, sub_from, sub_to)
    assert part == [r for r in whole if sub_from <= r.occurrence.day <= sub_to]


@PROPERTY
@given(scenarios())
def test_scans_outside_the_scan_window_change_nothing(scenario):
    plan_list, scans, now, day_from, day_to = scenario
    window = scan_window(plan_list, day_from, day_to)
    inside = [] if window is None else [s for s in scans if window[0] <= s.at < window[1]]
    assert evaluate(plan_list, inside, now, day_from, day_to) == evaluate(
        plan_list, scans, now, day_from, day_to
    )


@PROPERTY
@given(scenarios() | scenarios(dense=True), st.data())
def test_recomputing_the_touched_periods_equals_evaluating_everything(scenario, data):
    plan_list, scans, now, day_from, day_to = scenario
    late = data.draw(st.sets(st.sampled_from([s.id for s in scans]))) if scans else set()
    old = [s for s in scans if s.id not in late]
    new = [s for s in scans if s.id in late]
    before = evaluate(plan_list, old, now, day_from, day_to)
    after = evaluate(plan_list, scans, now, day_from, day_to)
    touched = periods_to_recompute(plan_list, new)
    plans_by_id = {p.id: p for p in plan_list}
    recomputed = {}
    for plan_id, checkpoint_id, day in touched:
        if day_from <= day <= day_to and checkpoint_id in plans_by_id[plan_id].checkpoint_ids:
            for r in evaluate([plans_by_id[plan_id]], scans, now, day, day):
                if r.occurrence.checkpoint_id == checkpoint_id:
                    recomputed[r.occurrence] = r
    patched = [recomputed.get(r.occurrence, r) for r in before]
    assert patched == after
    # Nothing outside the touched periods changed.
    for b, a in zip(before, after, strict=True):
        if b != a:
            assert b.occurrence.key in touched


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(ZONES), st.sampled_from(ANCHORS), st.integers(1, 6), st.integers(0, 60))
def test_slots_tile_the_day_without_gaps_or_overlaps(zone, anchor, times, days):
    p = plan(times=times, timezone=zone, starts_on=anchor)
    day = anchor + timedelta(days=days)
    occurrences = expected_occurrences(p, 1, day, day + timedelta(days=1))
    tz = ZoneInfo(zone)
    assert occurrences[0].start == datetime.combine(day, time(), tzinfo=tz)
    for a, b in pairwise(occurrences):
        assert a.end == b.start
    assert len(occurrences) == 2 * times
