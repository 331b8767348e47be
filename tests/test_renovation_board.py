"""The renovation board (装修动态表) and the glance API: active permits only, each department's last
check and round of the day through the compliance engine, days left, violations, totals of units
not inspected today, building / floor filters, other sites 404; the glance keyed by checkpoint with
masked workers, passes and hot work valid today, door postings and noisy hours."""

from __future__ import annotations

from datetime import timedelta

import pytest
import test_renovation_compliance as compliance_tests
from test_renovation_compliance import DEPARTMENTS, _application, _check, _site_today

pytestmark = pytest.mark.api

#: The site with the three renovation plans and an issued permit (a fixture).
renovating = compliance_tests.renovating


async def test_board_shows_each_departments_day(renovating, settings, make_user, login):
    site, _users, c, _plan_ids, permit = await renovating()
    checkpoint_id = permit["checkpoint_id"]
    today = _site_today()

    board = await c["kefu"].get("/api/renovations/board", params={"site": site.id})
    assert board.status_code == 200, board.text
    data = board.json()
    assert data["day"] == today.isoformat()
    [row] = data["rows"]
    assert row["permit_id"] == permit["id"] and row["checkpoint_id"] == checkpoint_id
    assert row["status"] == "permit_issued"
    assert row["unit"]["number"] == "101" and row["unit"]["building_id"] == site.building_id
    assert row["days_left"] == 70
    assert row["violations"] == {"open": 0, "overdue": 0}
    for department in DEPARTMENTS:
        cell = row["departments"][department]
        assert cell["last_at"] is None and cell["last_by"] is None
        assert cell["today"] in ("pending", "missed")
    assert data["totals"] == {
        "active": 1,
        "not_inspected_today": dict.fromkeys(DEPARTMENTS, 1),
    }

    await _check(settings, site, c, "engineer", checkpoint_id, "engineering")
    data = (await c["guard"].get("/api/renovations/board", params={"site": site.id})).json()
    [row] = data["rows"]
    engineering = row["departments"]["engineering"]
    assert engineering["today"] == "done"
    assert engineering["last_at"] is not None
    assert engineering["last_by"]["display_name"] == "测试department"
    assert row["departments"]["security"]["last_at"] is None
    assert data["totals"]["not_inspected_today"] == {
        "customer_service": 1,
        "engineering": 0,
        "security": 1,
    }
    # Yesterday the permit owed nothing: no round, and the check is not yet made.
    yesterday = (
        await c["guard"].get(
            "/api/renovations/board",
            params={"site": site.id, "day": (today - timedelta(days=1)).isoformat()},
        )
    ).json()
    [row] = yesterday["rows"]
    assert {d: row["departments"][d]["today"] for d in DEPARTMENTS} == dict.fromkeys(
        DEPARTMENTS, "none"
    )
    assert row["departments"]["engineering"]["last_at"] is None
    assert row["days_left"] == 71

    # Filters: the building and floor it is on, and another floor.
    on_floor = await c["guard"].get(
        "/api/renovations/board",
        params={"site": site.id, "building": site.building_id, "floor": site.floor_id},
    )
    assert len(on_floor.json()["rows"]) == 1
    other_floor = await c["guard"].get(
        "/api/renovations/board", params={"site": site.id, "floor": site.floor_id + 100000}
    )
    assert other_floor.json()["rows"] == []
    assert other_floor.json()["totals"]["active"] == 0

    # Another site's people cannot read it; the site is required.
    outsider = await login(await make_user("manager", []))
    assert (
        await outsider.get("/api/renovations/board", params={"site": site.id})
    ).status_code == 404
    assert (await c["guard"].get("/api/renovations/board")).status_code == 400


async def test_only_active_permits_are_on_the_board(renovating):
    site, _users, c, _plan_ids, permit = await renovating(issue=False)
    board = (await c["kefu"].get("/api/renovations/board", params={"site": site.id})).json()
    assert board["rows"] == [] and board["totals"]["active"] == 0
    glance = (await c["kefu"].get("/api/renovations/glance", params={"site": site.id})).json()
    assert glance == {}
    assert permit["status"] == "applied"


async def test_the_board_counts_open_violations(renovating):
    from datetime import UTC, datetime

    site, users, c, _plan_ids, permit = await renovating()
    try:
        from server.tables.violations import Violation
    except ImportError:
        pytest.skip("violations are not in this build")
    now = datetime.now(UTC)
    common = {
        "site": site.id,
        "checkpoint": permit["checkpoint_id"],
        "permit": permit["id"],
        "item_code": "load_bearing",
        "title": "拆改承重结构",
        "severity": "critical",
        "grade": "major",
        "category": "renovation",
        "found_by": users["engineer"].id,
        "found_at": now,
        "status": "open",
        "keep_until": now.date() + timedelta(days=365 * 5),
    }
    await Violation.insert(
        Violation(**common, deadline=now - timedelta(hours=1)),
        Violation(**{**common, "item_code": "x"}, deadline=now + timedelta(days=3)),
        Violation(**{**common, "item_code": "y", "status": "rectified"}, deadline=now),
    )
    [row] = (await c["kefu"].get("/api/renovations/board", params={"site": site.id})).json()["rows"]
    assert row["violations"] == {"open": 2, "overdue": 1}


async def test_glance_keyed_by_checkpoint(renovating, settings):
    site, _users, c, _plan_ids, permit = await renovating()
    url = f"/api/renovations/{permit['id']}"
    today = _site_today()
    added = await c["manager"].post(
        f"{url}/workers", json={"name": "王五", "id_number": "310101199001011234"}
    )
    assert added.status_code == 201, added.text
    expired = await c["manager"].post(
        f"{url}/workers",
        json={
            "name": "赵六",
            "id_number": "31010119900101567X",
            "pass_number": "P-2",
            "valid_until": (today - timedelta(days=1)).isoformat(),
        },
    )
    assert expired.status_code == 201, expired.text

    data = (await c["engineer"].get("/api/renovations/glance", params={"site": site.id})).json()
    entry = data[str(permit["checkpoint_id"])]
    assert entry["permit_id"] == permit["id"] and entry["checkpoint_id"] == permit["checkpoint_id"]
    assert entry["owner_name"] == "张三"
    assert entry["contractor"] == {
        "company": "好家装饰有限公司",
        "person": "李四",
        "phone": "13900001111",
    }
    assert entry["ends_on"] == (today + timedelta(days=70)).isoformat()
    assert entry["days_left"] == 70
    assert entry["door_postings"] == ["施工许可证", "二装问答", "违章处罚规定"]
    assert entry["hot_work"] == []
    assert entry["noisy_hours"] == [["08:00", "12:00"], ["14:00", "18:00"]]
    assert set(entry["today"]) == set(DEPARTMENTS)
    workers = {w["name"]: w for w in entry["workers"]}
    assert workers["王五"]["id_number"] == "**************1234"
    assert workers["王五"]["valid"] is True
    assert workers["赵六"]["valid"] is False and workers["赵六"]["pass_number"] == "P-2"
    assert "310101" not in str(entry)

    # A hot-work permit valid today is posted on the door too; one for later is listed only.
    for start, end in ((today, today + timedelta(days=1)), (today + timedelta(days=5),) * 2):
        response = await c["guard"].post(
            f"{url}/hot-work",
            json={"starts_on": start.isoformat(), "ends_on": end.isoformat(), "location": "厨房"},
        )
        assert response.status_code == 201, response.text
    entry = (await c["engineer"].get("/api/renovations/glance", params={"site": site.id})).json()[
        str(permit["checkpoint_id"])
    ]
    assert entry["door_postings"][-1] == "动火证"
    assert [h["valid_today"] for h in entry["hot_work"]] == [True, False]

    await _check(settings, site, c, "guard", permit["checkpoint_id"], "security")
    entry = (await c["guard"].get("/api/renovations/glance", params={"site": site.id})).json()[
        str(permit["checkpoint_id"])
    ]
    assert entry["today"]["security"] == "done"


async def test_board_and_glance_do_not_swallow_the_permit_route(renovating):
    site, _users, c, _plan_ids, permit = await renovating(issue=False)
    one = await c["kefu"].get(f"/api/renovations/{permit['id']}")
    assert one.status_code == 200 and one.json()["id"] == permit["id"]
    assert _application(site)["unit"] == site.unit_id


async def test_an_earlier_permits_checks_are_not_the_new_ones(renovating, settings):
    from server.tables.renovations import RenovationPermit

    site, _users, c, _plan_ids, permit = await renovating()
    await _check(settings, site, c, "engineer", permit["checkpoint_id"], "engineering")
    # The first permit at its last step, then closed; the unit is registered and issued again.
    await RenovationPermit.update({RenovationPermit.status: "deposit_settled"}).where(
        RenovationPermit.id == permit["id"]
    )
    assert (await c["kefu"].post(f"/api/renovations/{permit['id']}/close")).status_code == 200
    again = (await c["kefu"].post("/api/renovations", json=_application(site))).json()
    url = f"/api/renovations/{again['id']}"
    await c["kefu"].post(f"{url}/submit-drawings")
    await c["engineer"].post(f"{url}/approve-drawings")
    for department in DEPARTMENTS:
        await c["manager"].post(f"{url}/sign", json={"department": department})
    issued = await c["kefu"].post(f"{url}/issue")
    assert issued.status_code == 200, issued.text
    assert issued.json()["checkpoint_id"] == permit["checkpoint_id"]  # the same checkpoint
    [row] = (await c["kefu"].get("/api/renovations/board", params={"site": site.id})).json()["rows"]
    assert row["permit_id"] == again["id"]
    assert row["departments"]["engineering"]["last_at"] is None
    # Its rounds are back from today (the close had taken the unit out of the plans); the unit's
    # check earlier today still counts for today's engineering round.
    assert row["departments"]["engineering"]["today"] == "done"
    for department in ("customer_service", "security"):
        assert row["departments"][department]["today"] in ("pending", "missed")
