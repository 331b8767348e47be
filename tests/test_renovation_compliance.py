"""The daily three-department renovation rule through the compliance engine: a unit joins the site's
three renovation plans (客服 / 工程 / 保安, department-scoped) the day its permit is issued and
leaves them when the permit is closed; no round is expected before it joined or after it left, and a
check by one department does that department's round only. Also: a plan's save keeps the join and
leave days, and the selection rule used when a checkpoint joins."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

pytestmark = pytest.mark.api

DEPARTMENTS = ("customer_service", "engineering", "security")


def _application(site) -> dict:
    return {
        "site": site.id,
        "unit": site.unit_id,
        "owner_name": "张三",
        "contractor_company": "好家装饰有限公司",
        "contractor_person": "李四",
        "contractor_phone": "13900001111",
        "area_m2": 95.5,
        "starts_on": (_site_today() - timedelta(days=20)).isoformat(),
        "ends_on": (_site_today() + timedelta(days=70)).isoformat(),
    }


def _site_today() -> date:
    # make_site leaves the site's zone at its default (Asia/Shanghai).
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


@pytest.fixture
def renovating(make_site, make_user, login):
    """A site with the three renovation plans (started a week ago: a permit issued today must not
    owe rounds before today) and a permit taken to permit_issued."""

    async def make(issue: bool = True):
        site = await make_site(checkpoints=1)
        users = {
            "manager": await make_user("manager", [site.id]),
            "kefu": await make_user("department", [site.id], "customer_service"),
            "engineer": await make_user("department", [site.id], "engineering"),
            "guard": await make_user("inspector", [site.id], "security"),
        }
        c = {name: await login(user) for name, user in users.items()}
        plan_ids = {}
        for department in DEPARTMENTS:
            response = await c["manager"].post(
                "/api/plans",
                json={
                    "site": site.id,
                    "name": f"装修巡查({department})",
                    "per": "day",
                    "times": 1,
                    "selection": {"kinds": ["renovation"]},
                    "department": department,
                    "starts_on": (_site_today() - timedelta(days=7)).isoformat(),
                },
            )
            assert response.status_code == 201, response.text
            plan_ids[department] = response.json()["id"]
        permit = (await c["kefu"].post("/api/renovations", json=_application(site))).json()
        url = f"/api/renovations/{permit['id']}"
        if issue:
            assert (await c["kefu"].post(f"{url}/submit-drawings")).status_code == 200
            assert (await c["engineer"].post(f"{url}/approve-drawings")).status_code == 200
            for department in DEPARTMENTS:
                signed = await c["manager"].post(f"{url}/sign", json={"department": department})
                assert signed.status_code == 200, signed.text
            issued = await c["kefu"].post(f"{url}/issue")
            assert issued.status_code == 200, issued.text
            permit = issued.json()
        return site, users, c, plan_ids, permit

    return make


async def _rounds(checkpoint_id: int) -> list[dict]:
    from server.tables.plans import PlanOccurrence

    return await PlanOccurrence.select(
        PlanOccurrence.plan, PlanOccurrence.day, PlanOccurrence.status
    ).where(PlanOccurrence.checkpoint == checkpoint_id)


async def _check(settings, site, c, who: str, checkpoint_id: int, department: str):
    """A scanned all-pass check of the unit by ``who`` with the department's own list, through
    the real sync."""
    from qr.signing import sign
    from server import labels
    from server.tables.checkpoints import ChecklistTemplate, Checkpoint, TemplateItem

    checkpoint = (
        await Checkpoint.select(Checkpoint.code, Checkpoint.label_version)
        .where(Checkpoint.id == checkpoint_id)
        .first()
    )
    template = f"renovation.{department}"
    template_id = (
        await ChecklistTemplate.select(ChecklistTemplate.id)
        .where(ChecklistTemplate.code == template)
        .first()
    )["id"]
    items = await TemplateItem.select(TemplateItem.code).where(TemplateItem.template == template_id)
    version = checkpoint["label_version"]
    record = {
        "id": str(uuid.uuid4()),
        "checkpoint": checkpoint["code"],
        "site": site.id,
        "version": version,
        "signature": sign(labels.label_secret(settings), site.code, checkpoint["code"], version),
        "source": "scan",
        "device_time": datetime.now(UTC).isoformat(),
        "template": template,
        "items": [{"item": i["code"], "result": "pass"} for i in items],
        "note": "",
        "photos": [],
    }
    response = await c[who].post("/api/sync", json={"records": [record]})
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["status"] == "accepted", response.text


async def test_issue_joins_the_three_plans_from_today_and_a_check_does_its_department(
    renovating, settings
):
    site, _users, c, plan_ids, permit = await renovating()
    checkpoint_id = permit["checkpoint_id"]
    today = _site_today()
    rounds = await _rounds(checkpoint_id)
    # Today's three rounds exist, one per department's plan; none before the permit.
    assert sorted(r["plan"] for r in rounds) == sorted(plan_ids.values())
    assert {r["day"] for r in rounds} == {today}
    assert {r["status"] for r in rounds} <= {"pending", "missed"}
    # The plans' own checkpoints (the site's hydrant) are not in them.
    from server.tables.plans import PlanCheckpoint

    links = await PlanCheckpoint.select(
        PlanCheckpoint.plan, PlanCheckpoint.checkpoint, PlanCheckpoint.since, PlanCheckpoint.until
    ).where(PlanCheckpoint.plan.is_in(list(plan_ids.values())))
    assert {(row["checkpoint"], row["since"], row["until"]) for row in links} == {
        (checkpoint_id, today, None)
    }

    await _check(settings, site, c, "engineer", checkpoint_id, "engineering")
    by_plan = {r["plan"]: r["status"] for r in await _rounds(checkpoint_id)}
    assert by_plan[plan_ids["engineering"]] == "done"
    assert by_plan[plan_ids["customer_service"]] in ("pending", "missed")
    assert by_plan[plan_ids["security"]] in ("pending", "missed")

    # Saving a plan again keeps the unit's join day: still no round before today.
    plan = (await c["manager"].get(f"/api/plans/{plan_ids['security']}")).json()
    body = {k: plan[k] for k in ("name", "per", "times", "selection", "department", "starts_on")}
    body["site"] = site.id
    saved = await c["manager"].put(f"/api/plans/{plan_ids['security']}", json=body)
    assert saved.status_code == 200, saved.text
    rounds = [r for r in await _rounds(checkpoint_id) if r["plan"] == plan_ids["security"]]
    assert [r["day"] for r in rounds] == [today]


async def test_closing_leaves_the_plans_and_keeps_the_past(renovating):
    from server.tables.plans import PlanCheckpoint

    _site, _users, _c, plan_ids, permit = await renovating()
    checkpoint_id = permit["checkpoint_id"]
    # Pretend the unit joined three days ago, so it has past rounds to keep.
    today = _site_today()
    from server import compliance_store, plans

    await PlanCheckpoint.update({PlanCheckpoint.since: today - timedelta(days=3)}).where(
        PlanCheckpoint.checkpoint == checkpoint_id
    )
    for plan_id in plan_ids.values():
        await compliance_store.rebuild_plan(plan_id)
    assert len(await _rounds(checkpoint_id)) == 3 * 4
    # Straight to closed (the steps' own rules are tested elsewhere): the close step's effect.
    left = await plans.leave_checkpoint(checkpoint_id, today - timedelta(days=1))
    assert sorted(left) == sorted(plan_ids.values())
    rounds = await _rounds(checkpoint_id)
    assert {r["day"] for r in rounds} == {today - timedelta(days=d) for d in (1, 2, 3)}
    assert {r["status"] for r in rounds} == {"missed"}
    # A plan saved later keeps the left checkpoint and its history, and adds no round after.
    for plan_id in plan_ids.values():
        await compliance_store.rebuild_plan(plan_id)
    assert len(await _rounds(checkpoint_id)) == 3 * 3
    # Leaving again is nothing to do; joining again (a new permit) starts from its day.
    assert await plans.leave_checkpoint(checkpoint_id, today - timedelta(days=1)) == []
    joined = await plans.join_checkpoint(checkpoint_id, today)
    assert sorted(joined) == sorted(plan_ids.values())
    days = sorted({r["day"] for r in await _rounds(checkpoint_id)})
    assert days[-1] == today


async def test_the_close_step_takes_the_unit_out_of_the_plans(renovating):
    _site, _users, c, _plan_ids, permit = await renovating()
    checkpoint_id = permit["checkpoint_id"]
    from server.tables.renovations import RenovationPermit

    # The permit at the last step (acceptances and settlement are their own tests).
    await RenovationPermit.update({RenovationPermit.status: "deposit_settled"}).where(
        RenovationPermit.id == permit["id"]
    )
    closed = await c["kefu"].post(f"/api/renovations/{permit['id']}/close")
    assert closed.status_code == 200, closed.text
    # Issued and closed the same day: it owed no round at all.
    assert await _rounds(checkpoint_id) == []
    from server.tables.plans import PlanCheckpoint

    links = await PlanCheckpoint.select(PlanCheckpoint.until).where(
        PlanCheckpoint.checkpoint == checkpoint_id
    )
    assert [row["until"] for row in links] == [_site_today() - timedelta(days=1)] * 3


async def test_a_renovation_plan_may_be_saved_before_any_unit_renovates(
    make_site, make_user, login
):
    site = await make_site(checkpoints=1)
    manager = await login(await make_user("manager", [site.id]))
    body = {
        "site": site.id,
        "name": "装修巡查(工程)",
        "per": "day",
        "times": 1,
        "selection": {"kinds": ["renovation"]},
        "department": "engineering",
    }
    created = await manager.post("/api/plans", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["checkpoint_count"] == 0
    # Any other empty selection is still refused.
    empty = await manager.post(
        "/api/plans", json={**body, "name": "空", "selection": {"kinds": ["vacant_unit"]}}
    )
    assert empty.status_code == 400
    assert empty.json()["error"]["code"] == "plan_no_checkpoints"


def test_selection_matches():
    from server.plans import selection_matches

    cp = {"id": 7, "building": 1, "floor": 10, "kind": "renovation", "type_code": ""}
    assert selection_matches({"kinds": ["renovation"]}, cp)
    assert not selection_matches({"kinds": ["facility"]}, cp)
    assert selection_matches({"buildings": [1], "kinds": ["renovation"]}, cp)
    assert not selection_matches({"buildings": [2], "kinds": ["renovation"]}, cp)
    assert selection_matches({"buildings": [2], "floors": [10]}, cp)
    assert not selection_matches({"kinds": ["renovation"], "types": ["hydrant"]}, cp)
    assert selection_matches({"checkpoints": [7]}, cp)
    assert not selection_matches({}, cp)
    assert not selection_matches({"checkpoints": [8]}, cp)


async def test_a_unit_joining_after_the_days_window_is_due_from_the_next_day(
    make_site, make_user, login
):
    """Issued at 19:00 with a 08:00–18:00 round: the day's round could never be done, so it is
    not owed (never "missed"); issued at 07:00 the same day's round is owed."""
    from server import plans
    from server.tables.checkpoints import Checkpoint
    from server.tables.plans import PlanCheckpoint

    site = await make_site(checkpoints=0)
    manager = await login(await make_user("manager", [site.id]))
    today = _site_today()
    response = await manager.post(
        "/api/plans",
        json={
            "site": site.id,
            "name": "装修巡查(工程)",
            "per": "day",
            "times": 1,
            "windows": [["08:00", "18:00"]],
            "selection": {"kinds": ["renovation"]},
            "department": "engineering",
            "starts_on": (today - timedelta(days=3)).isoformat(),
        },
    )
    assert response.status_code == 201, response.text
    plan_id = response.json()["id"]
    zone = ZoneInfo("Asia/Shanghai")
    now = datetime.now(UTC)
    cps = await Checkpoint.insert(
        *[
            Checkpoint(
                site=site.id,
                code=f"A-10{i}-ZX",
                kind="renovation",
                type_code="",
                name=f"1栋10{i} 装修单元",
                building=site.building_id,
                floor=site.floor_id,
                updated_at=now,
            )
            for i in (1, 2)
        ]
    )
    evening, morning = cps[0]["id"], cps[1]["id"]
    at_19 = datetime(today.year, today.month, today.day, 19, 0, tzinfo=zone)
    at_7 = datetime(today.year, today.month, today.day, 7, 0, tzinfo=zone)
    assert await plans.join_checkpoint(evening, today, at_19) == [plan_id]
    assert await plans.join_checkpoint(morning, today, at_7) == [plan_id]
    since = {
        row["checkpoint"]: row["since"]
        for row in await PlanCheckpoint.select(
            PlanCheckpoint.checkpoint, PlanCheckpoint.since
        ).where(PlanCheckpoint.plan == plan_id)
    }
    assert since == {evening: today + timedelta(days=1), morning: today}
    assert await _rounds(evening) == []
    assert [(r["day"], r["plan"]) for r in await _rounds(morning)] == [(today, plan_id)]
