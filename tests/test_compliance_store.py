"""Stored compliance (server/compliance_store.py) against the pure engine (server/compliance.py),
on the real database: random plans and checks give the same rounds, statuses and counts in SQL as
the engine computes in memory; checks that arrive days later change exactly what they should; a
failed recompute is caught up from the backlog; passed rounds close."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from server import compliance, compliance_store
from server.tables.checkpoints import Checkpoint
from server.tables.inspections import Inspection
from server.tables.plans import (
    ComplianceBacklog,
    MissedAcknowledgement,
    PatrolPlan,
    PlanAssignee,
    PlanCheckpoint,
    PlanOccurrence,
)
from server.tables.sites import Floor

pytestmark = pytest.mark.api

TZ = "Asia/Shanghai"
SHANGHAI = ZoneInfo(TZ)


@dataclass
class Place:
    site: int
    building: int
    floors: list[int]
    users: list[int]


@pytest.fixture
async def place(make_site, make_user) -> Place:
    site = await make_site(checkpoints=0)
    upper = Floor(building=site.building_id, level=2, name="2F")
    await upper.save()
    users = [(await make_user("patrol", sites=[site.id])).id for _ in range(3)]
    return Place(site.id, site.building_id, [site.floor_id, upper.id], users)


async def _checkpoints(place: Place, n: int) -> list[int]:
    """Fresh checkpoints (so every example has its own), alternating between the two floors."""
    now = datetime.now(UTC)
    rows = await Checkpoint.insert(
        *[
            Checkpoint(
                site=place.site,
                code=f"P-{uuid.uuid4().hex[:10]}",
                kind="facility",
                type_code="hydrant",
                name=f"点 {i}",
                building=place.building,
                floor=place.floors[i % 2],
                updated_at=now,
            )
            for i in range(n)
        ]
    )
    return [row["id"] for row in rows]


async def _plan(place: Place, checkpoint_ids, **fields) -> int:
    now = datetime.now(UTC)
    assignees = fields.pop("assignees", None)
    row = {
        "site": place.site,
        "name": "计划",
        "per": "day",
        "times": 1,
        "windows": [],
        "grace_minutes": 30,
        "timezone": TZ,
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    inserted = await PatrolPlan.insert(PatrolPlan(**row)).returning(PatrolPlan.id)
    plan_id = inserted[0]["id"]
    await PlanCheckpoint.insert(
        *[PlanCheckpoint(plan=plan_id, checkpoint=c) for c in checkpoint_ids]
    )
    if assignees:
        await PlanAssignee.insert(*[PlanAssignee(plan=plan_id, user=u) for u in assignees])
    return plan_id


async def _check(checkpoint_id, person_id, device_time, received_at, source="scan") -> uuid.UUID:
    inspection_id = uuid.uuid4()
    await Inspection.insert(
        Inspection(
            id=inspection_id,
            checkpoint=checkpoint_id,
            inspector=person_id,
            device_time=device_time,
            received_at=received_at,
            source=source,
            body_hash="0" * 64,
        )
    )
    return inspection_id


def _scan(inspection_id, checkpoint_id, person_id, device_time, received_at, source="scan"):
    return compliance.Scan(
        id=inspection_id.int,
        checkpoint_id=checkpoint_id,
        person_id=person_id,
        at=min(device_time, received_at),
        source=source,
    )


async def _stored(plan_ids) -> list[tuple]:
    rows = await PlanOccurrence.select(*PlanOccurrence.all_columns()).where(
        PlanOccurrence.plan.is_in(list(plan_ids))
    )
    return sorted(
        (
            r["plan"],
            r["checkpoint"],
            r["period"],
            r["slot"],
            r["day"],
            r["starts_at"],
            r["ends_at"],
            r["closes_at"],
            r["status"],
            r["inspection"].int if r["inspection"] else None,
            r["person"],
            r["checked_at"],
        )
        for r in rows
    )


def _expected(results: list[compliance.Result]) -> list[tuple]:
    return sorted(
        (
            r.occurrence.plan_id,
            r.occurrence.checkpoint_id,
            r.occurrence.period,
            r.occurrence.index,
            r.occurrence.day,
            r.occurrence.start,
            r.occurrence.end,
            r.occurrence.closes,
            r.status,
            r.scan_id,
            r.person_id,
            r.at,
        )
        for r in results
    )


# --- random plans and checks: SQL equals the engine ----------------------------------------------

WINDOW_SETS = {
    "day": [
        [],
        [("08:00", "12:00")],
        [("08:00", "12:00"), ("14:00", "18:00")],
        [("22:00", "06:00")],
    ],
    "week": [[], [("08:00", "20:00")]],
    "month": [[], [("08:00", "20:00")]],
}

PLAN_SPECS = st.fixed_dictionaries(
    {
        "per": st.sampled_from(["day", "day", "week", "month"]),
        "windows": st.integers(0, 3),
        "times": st.integers(1, 4),
        "grace": st.sampled_from([0, 30, 90]),
        "starts": st.integers(2, 12),
        "assignees": st.one_of(st.none(), st.sets(st.integers(0, 2), min_size=1)),
    }
)
# (checkpoint, person, minutes before now (on a 5-minute grid) or a boundary, source,
# arrives late, clock ahead)
CHECKS = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.integers(0, 2),
        st.integers(0, 14 * 288),
        st.sampled_from(["scan", "scan", "scan", "manual"]),
        st.booleans(),
        st.integers(-2, 200),
    ),
    max_size=30,
)

STORE_PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@STORE_PROPERTY
@given(specs=st.lists(PLAN_SPECS, min_size=1, max_size=2), checks=CHECKS)
async def test_stored_results_equal_the_engine(place, specs, checks):
    now = datetime.now(UTC).replace(microsecond=0)
    today = now.astimezone(SHANGHAI).date()
    checkpoints = await _checkpoints(place, 3)
    engine_plans, plan_ids = [], []
    for spec in specs:
        windows_options = WINDOW_SETS[spec["per"]]
        windows = windows_options[spec["windows"] % len(windows_options)]
        times = len(windows) if spec["per"] == "day" and windows else spec["times"]
        assignees = (
            None
            if spec["assignees"] is None
            else frozenset(place.users[i] for i in spec["assignees"])
        )
        fields = dict(
            per=spec["per"],
            times=times,
            windows=[list(w) for w in windows],
            grace_minutes=spec["grace"],
            starts_on=today - timedelta(days=spec["starts"]),
        )
        try:
            engine_plan = compliance.Plan(
                id=0,
                checkpoint_ids=frozenset(checkpoints[:2]),
                per=spec["per"],
                times=times,
                starts_on=fields["starts_on"],
                windows=tuple(
                    (compliance_store.parse_hhmm(a), compliance_store.parse_hhmm(b))
                    for a, b in windows
                ),
                assignee_ids=assignees,
                timezone=TZ,
                grace=timedelta(minutes=spec["grace"]),
            )
        except ValueError:
            assume(False)
        plan_id = await _plan(place, checkpoints[:2], assignees=sorted(assignees or []), **fields)
        plan_ids.append(plan_id)
        engine_plans.append(compliance.Plan(**{**engine_plan.__dict__, "id": plan_id}))

    # Half the checks are stored before the plans' rounds are computed, the rest arrive later
    # (an offline phone syncing days after) and go through the recompute.
    boundaries = sorted(
        {
            instant
            for p in engine_plans
            for o in compliance.expected_occurrences(
                p, checkpoints[0], today - timedelta(days=14), today
            )
            for instant in (o.start, o.end, o.closes)
            if instant < now
        }
    )
    early, late, scans = [], [], []
    for index, (cp, person, minutes, source, arrives_late, ahead) in enumerate(checks):
        if index % 2 == 0 and boundaries:
            device_time = boundaries[minutes % len(boundaries)] + timedelta(
                minutes=5 * (ahead % 3 - 1)
            )
        else:
            device_time = now - timedelta(minutes=5 * minutes)
        device_time = min(device_time, now)
        # A phone whose clock runs ahead: the server's receipt time bounds it.
        received_at = min(now, device_time + timedelta(minutes=max(ahead, 0)))
        if ahead < 0:
            received_at = device_time - timedelta(minutes=30)
        checkpoint_id = checkpoints[cp]
        person_id = place.users[person]
        inspection_id = await _check(checkpoint_id, person_id, device_time, received_at, source)
        (late if arrives_late else early).append(inspection_id)
        scans.append(
            _scan(inspection_id, checkpoint_id, person_id, device_time, received_at, source)
        )

    for plan_id in plan_ids:
        await compliance_store.rebuild_plan(plan_id, now)
    await compliance_store.recompute_for_inspections(late, now)

    expected = compliance.evaluate(engine_plans, scans, now, today - timedelta(days=20), today)
    assert await _stored(plan_ids) == _expected(expected)
    for status in sorted({r.status for r in expected}):
        event(f"a round {status}")

    # The SQL counts are the engine's summaries.
    locations = {
        c: (place.site, place.building, place.floors[i % 2]) for i, c in enumerate(checkpoints)
    }
    day_from = today - timedelta(days=20)
    for group_by in ("building", "floor", "checkpoint", "plan", "person"):
        for grain in (None, "week"):
            total, groups, _ = await compliance_store.aggregate(
                place.site, day_from, today, group_by, grain, plan_ids
            )
            want = compliance.summarise(expected, group_by, grain, locations)
            assert {k: v for k, v in groups.items()} == want, (group_by, grain)
            assert total == compliance.summarise(expected, "site", None, locations).get(
                (place.site, None), compliance.Counts()
            )


# --- late checks, acknowledgements, the backlog, time passing ------------------------------------


def _local(day, hour, minute=0):
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI).astimezone(UTC)


async def _statuses(plan_id) -> dict:
    rows = await PlanOccurrence.select(
        PlanOccurrence.id, PlanOccurrence.day, PlanOccurrence.status, PlanOccurrence.person
    ).where(PlanOccurrence.plan == plan_id)
    return {row["day"]: row for row in rows}


async def test_checks_arriving_days_later_change_the_stored_rounds(place):
    now = datetime.now(UTC)
    today = now.astimezone(SHANGHAI).date()
    [cp] = await _checkpoints(place, 1)
    me, other = place.users[0], place.users[1]
    plan_id = await _plan(
        place,
        [cp],
        windows=[["08:00", "12:00"]],
        starts_on=today - timedelta(days=5),
        assignees=[me],
    )
    await compliance_store.rebuild_plan(plan_id, now)
    before = await _statuses(plan_id)
    assert sorted(before) == [today - timedelta(days=d) for d in range(5, -1, -1)]
    three_days_ago, four_days_ago = today - timedelta(days=3), today - timedelta(days=4)
    assert before[three_days_ago]["status"] == "missed"
    # A manager acknowledges the round missed four days ago.
    await MissedAcknowledgement.insert(
        MissedAcknowledgement(
            occurrence=before[four_days_ago]["id"], by=me, at=now, comment="人手不足"
        )
    )

    # An offline phone syncs today: a check 3 days ago in the window, one 4 days ago just after
    # it (late), and one by someone who is not on the plan.
    on_time = await _check(cp, me, _local(three_days_ago, 9), now)
    late = await _check(cp, me, _local(four_days_ago, 12, 10), now)
    stranger = await _check(cp, other, _local(today - timedelta(days=2), 9), now)
    await compliance_store.after_sync([on_time, late, stranger])

    after = await _statuses(plan_id)
    assert after[three_days_ago]["status"] == "done" and after[three_days_ago]["person"] == me
    assert after[four_days_ago]["status"] == "late"
    assert after[today - timedelta(days=2)]["status"] == "missed"
    # Rounds keep their ids (and acknowledgements) through a recompute.
    assert {d: r["id"] for d, r in after.items()} == {d: r["id"] for d, r in before.items()}
    assert await MissedAcknowledgement.exists().where(
        MissedAcknowledgement.occurrence == before[four_days_ago]["id"]
    )
    # Only missed rounds are listed; the acknowledged one is no longer missed.
    total, rows = await compliance_store.missed_rounds(
        place.site, today - timedelta(days=5), today, plan_ids=[plan_id]
    )
    missed_days = {d for d, r in after.items() if r["status"] == "missed"}
    assert {today - timedelta(days=d) for d in (5, 2, 1)} <= missed_days  # today's: by the clock
    assert {r["day"] for r in rows} == missed_days and total == len(missed_days)


async def test_a_failed_recompute_is_caught_up_from_the_backlog(place, monkeypatch, caplog):
    now = datetime.now(UTC)
    today = now.astimezone(SHANGHAI).date()
    [cp] = await _checkpoints(place, 1)
    plan_id = await _plan(
        place, [cp], windows=[["08:00", "12:00"]], starts_on=today - timedelta(days=3)
    )
    await compliance_store.rebuild_plan(plan_id, now)
    yesterday = today - timedelta(days=1)
    check = await _check(cp, place.users[0], _local(yesterday, 10), now)

    real = compliance_store.recompute_for_inspections

    async def broken(ids, now=None):
        raise RuntimeError("database went away")

    monkeypatch.setattr(compliance_store, "recompute_for_inspections", broken)
    await compliance_store.after_sync([check])  # must not raise
    assert "compliance recompute after sync failed" in caplog.text
    assert (await _statuses(plan_id))[yesterday]["status"] == "missed"
    assert await ComplianceBacklog.exists().where(ComplianceBacklog.inspection == check)

    monkeypatch.setattr(compliance_store, "recompute_for_inspections", real)
    await compliance_store.bring_up_to_date(place.site)
    assert (await _statuses(plan_id))[yesterday]["status"] == "done"
    assert not await ComplianceBacklog.exists().where(ComplianceBacklog.inspection == check)


async def test_rounds_are_stored_up_to_today_and_close_when_their_time_passes(place):
    [cp] = await _checkpoints(place, 1)
    today = datetime.now(UTC).astimezone(SHANGHAI).date()
    plan_id = await _plan(
        place, [cp], times=2, grace_minutes=0, starts_on=today - timedelta(days=1)
    )
    # Computed as of yesterday 10:00: yesterday's first round is open, nothing of today exists.
    then = _local(today - timedelta(days=1), 10)
    await compliance_store.rebuild_plan(plan_id, then)
    rows = await PlanOccurrence.select(
        PlanOccurrence.day, PlanOccurrence.slot, PlanOccurrence.status
    ).where(PlanOccurrence.plan == plan_id)
    assert sorted((r["day"], r["slot"], r["status"]) for r in rows) == [
        (today - timedelta(days=1), 0, "pending"),
        (today - timedelta(days=1), 1, "pending"),
    ]
    # Later: yesterday's rounds closed, today's stored (the first one may still be open).
    later = _local(today, 12, 30)
    await compliance_store.materialise(site_id=place.site, now=later)
    assert await compliance_store.close_overdue(later, place.site) >= 2
    rows = await PlanOccurrence.select(
        PlanOccurrence.day, PlanOccurrence.slot, PlanOccurrence.status
    ).where(PlanOccurrence.plan == plan_id)
    assert sorted((r["day"], r["slot"], r["status"]) for r in rows) == [
        (today - timedelta(days=1), 0, "missed"),
        (today - timedelta(days=1), 1, "missed"),
        (today, 0, "missed"),
        (today, 1, "pending"),
    ]


async def test_saving_a_plan_again_drops_rounds_that_no_longer_exist(place):
    checkpoints = await _checkpoints(place, 2)
    today = datetime.now(UTC).astimezone(SHANGHAI).date()
    plan_id = await _plan(place, checkpoints, times=2, starts_on=today - timedelta(days=2))
    await compliance_store.rebuild_plan(plan_id)
    assert await PlanOccurrence.count().where(PlanOccurrence.plan == plan_id) == 2 * 2 * 3
    first = (
        await PlanOccurrence.select(PlanOccurrence.id)
        .where((PlanOccurrence.plan == plan_id) & (PlanOccurrence.checkpoint == checkpoints[0]))
        .order_by(PlanOccurrence.day)
        .first()
    )["id"]
    await PlanCheckpoint.delete().where(PlanCheckpoint.checkpoint == checkpoints[1])
    await PatrolPlan.update({PatrolPlan.times: 1}).where(PatrolPlan.id == plan_id)
    await compliance_store.rebuild_plan(plan_id)
    rows = await PlanOccurrence.select(PlanOccurrence.id, PlanOccurrence.checkpoint).where(
        PlanOccurrence.plan == plan_id
    )
    assert len(rows) == 3 and {r["checkpoint"] for r in rows} == {checkpoints[0]}
    assert first in {r["id"] for r in rows}  # the same round keeps its row
