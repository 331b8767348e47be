"""The demo's renovation permits, against a database of their own: the three renovating units hold
permits taken through the real steps (in progress with two workers and hot work today, issued, past
the joint hidden-works acceptance), an application under drawings review sits on a vacant unit,
and loading the demo again adds nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from test_demo import demo, demo_settings, fresh_db  # noqa: F401  (the module's own database)

pytestmark = pytest.mark.api


async def _site_id() -> int:
    from server.tables.sites import Site

    return (await Site.select(Site.id).where(Site.code == "DEMO").first())["id"]


def _today(settings) -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(settings.timezone)).date()


async def _permits() -> dict[str, dict]:
    from server.tables.renovations import RenovationPermit

    rows = await RenovationPermit.select(
        RenovationPermit.all_columns(), RenovationPermit.unit.status.as_alias("unit_status")
    ).where(RenovationPermit.site == await _site_id())
    by_status = {row["status"]: row for row in rows}
    assert len(by_status) == len(rows), "one demo permit per state"
    return by_status


async def _reader(site_id: int):
    from server.auth import CurrentUser
    from server.tables.accounts import User

    row = await User.select().where(User.username == "manager").first()
    return CurrentUser(
        id=row["id"],
        username="manager",
        display_name=row["display_name"],
        role="manager",
        department_id=row["department"],
        site_ids=frozenset({site_id}),
        session_id=0,
    )


async def test_every_renovating_unit_has_a_permit_on_its_own_checkpoint(demo):  # noqa: F811
    from server.tables.checkpoints import Checkpoint
    from server.tables.sites import Unit

    site_id = await _site_id()
    permits = await _permits()
    assert set(permits) == {
        "in_progress",
        "permit_issued",
        "hidden_works_accepted",
        "drawings_review",
    }
    renovating = {
        row["id"]
        for row in await Unit.select(Unit.id).where(
            (Unit.floor.building.site == site_id) & (Unit.status == "renovating")
        )
    }
    issued = [permits[s] for s in ("in_progress", "permit_issued", "hidden_works_accepted")]
    assert {p["unit"] for p in issued} == renovating and len(renovating) == 3
    checkpoints = {
        row["unit"]: row
        for row in await Checkpoint.select(
            Checkpoint.id, Checkpoint.unit, Checkpoint.active, Checkpoint.code
        ).where((Checkpoint.site == site_id) & (Checkpoint.kind == "renovation"))
    }
    # Issuing re-used the demo's own renovation checkpoints: no second one per unit.
    assert set(checkpoints) == renovating
    for permit in issued:
        checkpoint = checkpoints[permit["unit"]]
        assert permit["checkpoint"] == checkpoint["id"] and checkpoint["active"]
        assert checkpoint["code"].endswith("-ZX")
        assert permit["unit_status_before"] == "occupied"
        assert permit["drawings_reviewed_at"] is not None
        assert all(
            permit[c] for c in ("cs_signed_by", "engineering_signed_by", "security_signed_by")
        )
    application = permits["drawings_review"]
    assert application["unit_status"] == "vacant" and application["checkpoint"] is None
    assert application["drawings_reviewed_at"] is None


async def test_the_permit_in_progress_has_workers_and_hot_work_today(demo, demo_settings):  # noqa: F811
    from server import renovations

    today = _today(demo_settings)
    permit = (await _permits())["in_progress"]
    view = await renovations.get_permit(await _reader(permit["site"]), permit["id"])
    assert view["starts_on"] == (today - timedelta(days=20)).isoformat()
    assert view["days_left"] == (permit["ends_on"] - today).days > 0
    # The site's default months (3) when the desk gives no end.
    assert view["ends_on"] == renovations.add_months(permit["starts_on"], 3).isoformat()
    workers = {w["name"]: w for w in view["workers"]}
    assert len(workers) == 2
    expiring = [
        w for w in workers.values() if w["valid_until"] == (today + timedelta(1)).isoformat()
    ]
    assert len(expiring) == 1
    assert {w["valid_until"] for w in workers.values()} - {expiring[0]["valid_until"]} == {
        view["ends_on"]
    }
    for worker in workers.values():
        # The site's pass rules (100 元 / 5 元), ID numbers shown by their last 4 only.
        assert (worker["pass_deposit"], worker["pass_fee"]) == (10000, 500)
        assert worker["id_number"].startswith("*") and len(worker["id_number"].strip("*")) == 4
    [hot] = view["hot_work"]
    assert hot["starts_on"] <= today.isoformat() <= hot["ends_on"]
    assert hot["approved_by"] is not None
    assert [e["action"] for e in view["timeline"]] == [
        "apply",
        "submit_drawings",
        "approve_drawings",
        "sign",
        "sign",
        "sign",
        "issue",
        "start",
        "add_worker",
        "add_worker",
        "hot_work",
    ]
    assert view["owner_deposit"] == 200_000 and view["contractor_deposit"] == 500_000
    assert view["contractor"]["company"] and view["contractor"]["phone"]


async def test_the_issued_permit_starts_tomorrow(demo, demo_settings):  # noqa: F811
    permit = (await _permits())["permit_issued"]
    assert permit["starts_on"] == _today(demo_settings) + timedelta(days=1)


async def test_hidden_works_were_accepted_by_a_passed_joint_round(demo):  # noqa: F811
    from server.tables.renovations import (
        AcceptanceSignoff,
        RenovationAcceptance,
        RenovationEvent,
    )

    permit = (await _permits())["hidden_works_accepted"]
    [round_] = await RenovationAcceptance.select().where(
        RenovationAcceptance.permit == permit["id"]
    )
    assert (round_["kind"], round_["round"], round_["status"]) == ("hidden_works", 1, "passed")
    signoffs = await AcceptanceSignoff.select(
        AcceptanceSignoff.party, AcceptanceSignoff.passed
    ).where(AcceptanceSignoff.acceptance == round_["id"])
    assert sorted((s["party"], s["passed"]) for s in signoffs) == [
        ("customer_service", True),
        ("engineering", True),
        ("security", True),
    ]
    steps = await RenovationEvent.select(RenovationEvent.action).where(
        RenovationEvent.permit == permit["id"]
    )
    assert "accept_hidden_works" in [s["action"] for s in steps]


async def test_loading_the_demo_again_adds_no_permits(demo, demo_settings):  # noqa: F811
    from server.demo import load_demo
    from server.tables.renovations import RenovationEvent, RenovationPermit, RenovationWorker

    async def counts():
        return (
            await RenovationPermit.count(),
            await RenovationEvent.count(),
            await RenovationWorker.count(),
        )

    before = await counts()
    assert before[0] == 4
    await load_demo(demo_settings)
    assert await counts() == before
