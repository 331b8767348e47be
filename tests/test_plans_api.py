"""Patrol plans and compliance over the API: managing plans and their validation, who sees which
plans and rounds, the report in every grouping, missed rounds and their acknowledgement, and a
check synced days later turning a missed round into a done one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import unique

from qr.signing import sign
from server import labels
from server.tables.checkpoints import ChecklistTemplate, Checkpoint, TemplateItem
from server.tables.plans import PlanOccurrence
from server.tables.sites import Floor

pytestmark = pytest.mark.api

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _today():
    return datetime.now(UTC).astimezone(SHANGHAI).date()


def _body(site, **changes):
    body = {
        "site": site.id,
        "name": "1栋每日巡视",
        "per": "day",
        "times": 1,
        "windows": [["08:00", "12:00"]],
        "grace_minutes": 30,
        "selection": {"buildings": [site.building_id], "kinds": ["facility"]},
    }
    body.update(changes)
    return body


@pytest.fixture
async def desk(make_site, make_user, login):
    site = await make_site(checkpoints=4)
    manager = await make_user("manager", sites=[site.id])
    return site, manager, await login(manager)


async def test_a_manager_creates_reads_changes_and_deletes_a_plan(desk, make_user):
    site, _, client = desk
    patrol = await make_user("patrol", sites=[site.id])
    starts = (_today() - timedelta(days=2)).isoformat()
    response = await client.post(
        "/api/plans",
        json=_body(
            site,
            assignees=[patrol.id],
            starts_on=starts,
            windows=[["08:00", "12:00"], ["22:00", "06:00"]],
            times=2,
        ),
    )
    assert response.status_code == 201, response.text
    plan = response.json()
    assert plan["checkpoint_count"] == 4 and plan["checkpoint_ids"] == sorted(site.checkpoint_ids)
    assert plan["windows"] == [["08:00", "12:00"], ["22:00", "06:00"]]
    assert plan["assignees"] == [{"id": patrol.id, "display_name": "测试patrol"}]
    assert plan["starts_on"] == starts and plan["ends_on"] is None
    assert plan["timezone"] == "Asia/Shanghai" and plan["selection"]["kinds"] == ["facility"]
    # Its rounds are stored at once: 2 a day at 4 checkpoints, 3 days.
    assert await PlanOccurrence.count().where(PlanOccurrence.plan == plan["id"]) == 2 * 4 * 3

    listed = (await client.get("/api/plans", params={"site": site.id})).json()
    assert [p["id"] for p in listed] == [plan["id"]] and "checkpoint_ids" not in listed[0]

    changed = await client.put(
        f"/api/plans/{plan['id']}",
        json=_body(site, name="改为两点", selection={"checkpoints": site.checkpoint_ids[:2]}),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "改为两点" and changed.json()["checkpoint_count"] == 2
    assert changed.json()["assignees"] == []
    assert changed.json()["starts_on"] == starts  # kept when not given
    assert await PlanOccurrence.count().where(PlanOccurrence.plan == plan["id"]) == 1 * 2 * 3

    assert (await client.delete(f"/api/plans/{plan['id']}")).status_code == 204
    assert (await client.get(f"/api/plans/{plan['id']}")).status_code == 404
    assert await PlanOccurrence.count().where(PlanOccurrence.plan == plan["id"]) == 0


@pytest.mark.parametrize(
    "changes, code",
    [
        ({"windows": [["08:00", "12:00"], ["11:00", "13:00"]], "times": 2}, "invalid_plan"),
        ({"windows": [["08:00", "12:00"]], "times": 3}, "invalid_plan"),
        ({"grace_minutes": 600, "windows": [], "times": 4}, "invalid_plan"),
        ({"ends_on": "2020-01-01", "starts_on": "2020-02-01"}, "invalid_plan"),
        ({"selection": {}}, "plan_no_checkpoints"),
        ({"selection": {"kinds": ["vacant_unit"]}}, "plan_no_checkpoints"),
        ({"department": "nonsense"}, "unknown_department"),
        ({"windows": [["8:00", "12:00"]]}, "invalid_request"),
        ({"per": "year"}, "invalid_request"),
    ],
)
async def test_plans_that_break_a_rule_are_refused(desk, changes, code):
    site, _, client = desk
    response = await client.post("/api/plans", json=_body(site, **changes))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code


async def test_a_plan_names_only_its_own_sites_things(desk, make_site, make_user):
    site, _, client = desk
    other = await make_site()
    stranger = await make_user("patrol", sites=[other.id])
    for selection in (
        {"buildings": [other.building_id]},
        {"floors": [other.floor_id]},
        {"checkpoints": [other.checkpoint_ids[0]]},
    ):
        response = await client.post("/api/plans", json=_body(site, selection=selection))
        assert response.json()["error"]["code"] == "invalid_plan", selection
    response = await client.post("/api/plans", json=_body(site, assignees=[stranger.id]))
    assert response.json()["error"]["code"] == "invalid_plan"
    # A plan of a site the manager is not on does not exist for them.
    response = await client.post("/api/plans", json=_body(other))
    assert response.status_code == 404


async def test_a_floor_selection_takes_that_floors_checkpoints(desk):
    site, _, client = desk
    upper = Floor(building=site.building_id, level=2, name="2F")
    await upper.save()
    now = datetime.now(UTC)
    row = await Checkpoint.insert(
        Checkpoint(
            site=site.id,
            code=unique("F2-"),
            kind="signage",
            type_code="floor_sign",
            name="2F 楼层标识",
            building=site.building_id,
            floor=upper.id,
            updated_at=now,
        )
    ).returning(Checkpoint.id)
    response = await client.post(
        "/api/plans", json=_body(site, per="month", windows=[], selection={"floors": [upper.id]})
    )
    assert response.json()["checkpoint_ids"] == [row[0]["id"]]
    response = await client.post(
        "/api/plans",
        json=_body(site, selection={"buildings": [site.building_id], "types": ["floor_sign"]}),
    )
    assert response.json()["checkpoint_ids"] == [row[0]["id"]]


async def test_people_see_their_own_plans_and_rounds_the_desk_sees_all(desk, make_user, login):
    site, _, manager = desk
    me = await make_user("patrol", sites=[site.id])
    colleague = await make_user("patrol", sites=[site.id])
    inspector = await make_user("inspector", sites=[site.id], department="security")
    dispatcher = await make_user("dispatcher", sites=[site.id])
    starts = (_today() - timedelta(days=3)).isoformat()
    mine = (
        await manager.post(
            "/api/plans", json=_body(site, name="我的", assignees=[me.id], starts_on=starts)
        )
    ).json()
    theirs = (
        await manager.post(
            "/api/plans",
            json=_body(site, name="同事的", assignees=[colleague.id], starts_on=starts),
        )
    ).json()
    security = (
        await manager.post(
            "/api/plans",
            json=_body(site, name="秩序部", department="security", starts_on=starts),
        )
    ).json()
    as_me, as_inspector = await login(me), await login(inspector)
    as_dispatcher = await login(dispatcher)

    def ids(response):
        return [p["id"] for p in response.json()]

    assert ids(await as_me.get("/api/plans", params={"site": site.id})) == [mine["id"]]
    assert ids(await as_inspector.get("/api/plans")) == [security["id"]]
    assert ids(await as_dispatcher.get("/api/plans", params={"site": site.id})) == [
        mine["id"],
        theirs["id"],
        security["id"],
    ]
    assert (await as_me.get(f"/api/plans/{theirs['id']}")).status_code == 404
    assert (await as_me.get(f"/api/plans/{mine['id']}")).status_code == 200
    assert (await as_dispatcher.post("/api/plans", json=_body(site))).status_code == 403
    assert (await as_me.delete(f"/api/plans/{mine['id']}")).status_code == 403

    day_from = (_today() - timedelta(days=3)).isoformat()
    report = await as_me.get(
        "/api/compliance",
        params={"site": site.id, "from": day_from, "to": day_from, "group_by": "plan"},
    )
    assert [r["key"] for r in report.json()["rows"]] == [mine["id"]]
    everything = await as_dispatcher.get(
        "/api/compliance",
        params={"site": site.id, "from": day_from, "to": day_from, "group_by": "plan"},
    )
    assert [r["key"] for r in everything.json()["rows"]] == [
        mine["id"],
        theirs["id"],
        security["id"],
    ]
    missed = (
        await as_me.get(
            "/api/compliance/missed", params={"site": site.id, "from": day_from, "to": day_from}
        )
    ).json()
    assert missed["total"] == 4 and {m["plan"]["id"] for m in missed["items"]} == {mine["id"]}
    assert missed["items"][0]["assignees"] == [{"id": me.id, "name": "测试patrol"}]
    # The department's plan: the inspector (security) is its person.
    by_person = (
        await as_dispatcher.get(
            "/api/compliance",
            params={"site": site.id, "from": day_from, "to": day_from, "group_by": "person"},
        )
    ).json()
    assert {r["key"]: r["missed"] for r in by_person["rows"]} == {
        me.id: 4,
        colleague.id: 4,
        inspector.id: 4,
    }
    assert by_person["total"]["missed"] == 12


async def test_the_report_in_every_grouping(desk, make_user):
    site, _, client = desk
    today = _today()
    starts = today - timedelta(days=9)
    plan = (
        await client.post("/api/plans", json=_body(site, starts_on=starts.isoformat(), times=1))
    ).json()
    params = {
        "site": site.id,
        "from": starts.isoformat(),
        "to": (today - timedelta(days=1)).isoformat(),
    }
    for group_by, key in (
        ("building", site.building_id),
        ("floor", site.floor_id),
        ("plan", plan["id"]),
        ("person", None),
    ):
        body = (await client.get("/api/compliance", params={**params, "group_by": group_by})).json()
        assert body["group_by"] == group_by and body["from"] == params["from"]
        assert body["total"] == {
            "expected": 36,
            "done": 0,
            "late": 0,
            "unverified": 0,
            "missed": 36,
            "pending": 0,
            "on_time_rate": 0.0,
        }
        [row] = body["rows"]
        assert row["key"] == key and row["missed"] == 36, group_by
    floor = (await client.get("/api/compliance", params={**params, "group_by": "floor"})).json()
    assert floor["rows"][0]["label"] == "1F" and floor["rows"][0]["level"] == 1
    assert floor["rows"][0]["building"] == site.building_id
    by_checkpoint = (
        await client.get("/api/compliance", params={**params, "group_by": "checkpoint"})
    ).json()
    assert [r["key"] for r in by_checkpoint["rows"]] == sorted(site.checkpoint_ids)
    assert by_checkpoint["rows"][0]["code"] == "A-1-T0"
    assert by_checkpoint["rows"][0]["last_checked_at"] is None
    by_week = (
        await client.get(
            "/api/compliance", params={**params, "group_by": "building", "grain": "day"}
        )
    ).json()
    assert len(by_week["rows"]) == 9 and all(r["expected"] == 4 for r in by_week["rows"])
    assert by_week["rows"][0]["bucket"] == starts.isoformat()
    # Nothing is planned before the plan starts.
    before = (
        await client.get(
            "/api/compliance",
            params={"site": site.id, "from": "2020-01-01", "to": "2020-01-31"},
        )
    ).json()
    assert before["rows"] == [] and before["total"]["expected"] == 0
    bad = await client.get(
        "/api/compliance", params={**params, "from": params["to"], "to": params["from"]}
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_range"


async def test_acknowledging_missed_rounds(desk, make_site, make_user, login):
    site, _, client = desk
    day = _today() - timedelta(days=2)
    await client.post("/api/plans", json=_body(site, starts_on=day.isoformat()))
    params = {"site": site.id, "from": day.isoformat(), "to": day.isoformat()}
    missed = (await client.get("/api/compliance/missed", params=params)).json()
    assert missed["total"] == 4 and all(m["acknowledgement"] is None for m in missed["items"])
    first = missed["items"][0]
    assert first["day"] == day.isoformat() and first["assignees"] is None
    window = datetime.fromisoformat(first["starts_at"]).astimezone(SHANGHAI)
    assert window.time() == time(8) and window.date() == day
    assert datetime.fromisoformat(first["closes_at"]) - datetime.fromisoformat(
        first["ends_at"]
    ) == timedelta(minutes=30)

    response = await client.post(
        f"/api/compliance/missed/{first['id']}/acknowledge", json={"comment": "当日停电，已补巡"}
    )
    assert response.status_code == 200, response.text
    ack = response.json()["acknowledgement"]
    assert ack["comment"] == "当日停电，已补巡" and ack["by"]["name"] == "测试manager"
    again = await client.post(
        f"/api/compliance/missed/{first['id']}/acknowledge", json={"comment": "再次"}
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_acknowledged"
    open_ = (
        await client.get("/api/compliance/missed", params={**params, "acknowledged": "false"})
    ).json()
    assert open_["total"] == 3 and first["id"] not in [m["id"] for m in open_["items"]]
    done = (
        await client.get("/api/compliance/missed", params={**params, "acknowledged": "true"})
    ).json()
    assert [m["id"] for m in done["items"]] == [first["id"]]
    empty = await client.post(
        f"/api/compliance/missed/{missed['items'][1]['id']}/acknowledge", json={"comment": ""}
    )
    assert empty.status_code == 400

    # Not the patrol's to acknowledge; not visible from another site.
    patrol = await login(await make_user("patrol", sites=[site.id]))
    response = await patrol.post(
        f"/api/compliance/missed/{missed['items'][1]['id']}/acknowledge", json={"comment": "x"}
    )
    assert response.status_code == 403
    other = await make_site()
    outsider = await login(await make_user("manager", sites=[other.id]))
    response = await outsider.post(
        f"/api/compliance/missed/{missed['items'][1]['id']}/acknowledge", json={"comment": "x"}
    )
    assert response.status_code == 404


# --- a check synced days later -------------------------------------------------------------------


async def _template() -> str:
    code = unique("plan-t-").lower()
    now = datetime.now(UTC)
    template = ChecklistTemplate(
        code=code, kind="facility", name_zh="测试表", name_en="Test", updated_at=now
    )
    await template.save()
    await TemplateItem.insert(
        TemplateItem(
            template=template.id,
            position=1,
            code="ok",
            text_zh="完好",
            text_en="Intact",
            photo_required_on_fail=False,
        )
    )
    return template.id


async def test_a_check_synced_days_later_turns_a_missed_round_done(
    desk, make_user, login, settings
):
    site, _, client = desk
    await Checkpoint.update({Checkpoint.template: await _template()}).where(
        Checkpoint.site == site.id
    )
    patrol = await make_user("patrol", sites=[site.id])
    day = _today() - timedelta(days=3)
    created = await client.post(
        "/api/plans",
        json=_body(
            site,
            starts_on=day.isoformat(),
            selection={"checkpoints": site.checkpoint_ids[:1]},
            assignees=[patrol.id],
        ),
    )
    assert created.status_code == 201, created.text
    params = {"site": site.id, "from": day.isoformat(), "to": day.isoformat(), "group_by": "person"}
    before = (await client.get("/api/compliance", params=params)).json()
    assert before["rows"][0]["key"] == patrol.id and before["rows"][0]["missed"] == 1

    device_time = datetime.combine(day, time(9, 30), tzinfo=SHANGHAI)
    record = {
        "id": str(uuid.uuid4()),
        "checkpoint": "A-1-T0",
        "site": site.id,
        "version": 1,
        "signature": sign(labels.label_secret(settings), site.code, "A-1-T0", 1),
        "source": "scan",
        "device_time": device_time.isoformat(),
        "items": [{"item": "ok", "result": "pass"}],
    }
    phone = await login(patrol)
    response = await phone.post("/api/sync", json={"records": [record]})
    assert response.json()["results"][0]["status"] == "accepted", response.text

    after = (await client.get("/api/compliance", params=params)).json()
    assert after["rows"][0]["key"] == patrol.id
    assert (after["rows"][0]["done"], after["rows"][0]["missed"]) == (1, 0)
    assert after["total"]["on_time_rate"] == 1.0
    by_checkpoint = (
        await client.get("/api/compliance", params={**params, "group_by": "checkpoint"})
    ).json()
    assert datetime.fromisoformat(by_checkpoint["rows"][0]["last_checked_at"]) == device_time
    missed = (await client.get("/api/compliance/missed", params=params)).json()
    assert missed["total"] == 0


async def test_the_demo_site_gets_the_patrol_plans_of_the_domain_once(app, settings):
    from server.demo import DEMO_PLANS, load_demo
    from server.tables.plans import PatrolPlan, PlanCheckpoint
    from server.tables.sites import Site

    await load_demo(settings)
    await load_demo(settings)  # idempotent
    site = (await Site.select(Site.id).where(Site.code == "DEMO").first())["id"]
    rows = await PatrolPlan.select(
        PatrolPlan.id, PatrolPlan.name, PatrolPlan.per, PatrolPlan.times
    ).where(PatrolPlan.site == site)
    assert sorted(r["name"] for r in rows) == sorted(p[0] for p in DEMO_PLANS)
    by_name = {r["name"]: r for r in rows}
    assert by_name["秩序部领班巡查(每日4次)"]["times"] >= 4
    assert by_name["空置房每周巡查"]["per"] == "week"
    assert by_name["标识每月检查"]["per"] == "month"
    for row in rows:
        assert await PlanCheckpoint.count().where(PlanCheckpoint.plan == row["id"]) > 0, row
        # Each plan's rounds exist from its first day (daily ones: yesterday and today).
        if row["per"] == "day":
            assert await PlanOccurrence.count().where(PlanOccurrence.plan == row["id"]) > 0


async def test_sync_succeeds_when_the_compliance_recompute_fails(
    desk, make_user, login, settings, monkeypatch
):
    from server import compliance_store
    from server.tables.plans import ComplianceBacklog

    site, _, client = desk
    await Checkpoint.update({Checkpoint.template: await _template()}).where(
        Checkpoint.site == site.id
    )
    patrol = await make_user("patrol", sites=[site.id])
    day = _today() - timedelta(days=1)
    created = await client.post(
        "/api/plans",
        json=_body(
            site, starts_on=day.isoformat(), selection={"checkpoints": site.checkpoint_ids[:1]}
        ),
    )
    assert created.status_code == 201

    async def broken(ids, now=None):
        raise RuntimeError("disk full")

    monkeypatch.setattr(compliance_store, "recompute_for_inspections", broken)
    record = {
        "id": str(uuid.uuid4()),
        "checkpoint": "A-1-T0",
        "site": site.id,
        "version": 1,
        "signature": sign(labels.label_secret(settings), site.code, "A-1-T0", 1),
        "source": "scan",
        "device_time": datetime.combine(day, time(10), tzinfo=SHANGHAI).isoformat(),
        "items": [{"item": "ok", "result": "pass"}],
    }
    response = await (await login(patrol)).post("/api/sync", json={"records": [record]})
    assert response.status_code == 200
    assert response.json()["results"][0]["status"] == "accepted"
    assert await ComplianceBacklog.exists().where(
        ComplianceBacklog.inspection == uuid.UUID(record["id"])
    )
    monkeypatch.undo()
    # The next read catches up.
    params = {"site": site.id, "from": day.isoformat(), "to": day.isoformat()}
    total = (await client.get("/api/compliance", params=params)).json()["total"]
    assert (total["done"], total["missed"]) == (1, 0)
