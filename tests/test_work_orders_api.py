"""Work orders through the API: the whole lifecycle, every illegal step answered 409 with its code,
who sees what, the overdue filter, and escalation on the working-day clock (idempotent)."""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from server.work_order_flow import ACTIONS, STATUSES

pytestmark = pytest.mark.api


def _jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), tuple(os.urandom(3))).save(buffer, "JPEG")
    return buffer.getvalue()


async def _upload(client) -> str:
    body = _jpeg()
    sha = hashlib.sha256(body).hexdigest()
    response = await client.put(
        f"/api/photos/{sha}", content=body, headers={"Content-Type": "image/jpeg"}
    )
    assert response.status_code < 300, response.text
    return sha


async def _failed_check_order(site, inspector_id: int, photo: str, item: str = "I1") -> int:
    """What a sync of a failed check leaves behind: the inspection, its item photo, the order
    raised from it and the report joining them."""
    from server.findings import due_when_raised
    from server.tables.accounts import Department
    from server.tables.inspections import Inspection, InspectionPhoto
    from server.tables.work_orders import WorkOrder, WorkOrderReport

    now = datetime.now(UTC)
    inspection_id = uuid.uuid4()
    await Inspection.insert(
        Inspection(
            id=inspection_id,
            checkpoint=site.checkpoint_ids[0],
            inspector=inspector_id,
            device_time=now,
            received_at=now,
            source="manual",
            body_hash="0" * 64,
        )
    )
    await InspectionPhoto.insert(
        InspectionPhoto(inspection=inspection_id, item_code=item, photo=photo),
        InspectionPhoto(inspection=inspection_id, item_code="other", photo=photo),
    )
    engineering = (
        await Department.select(Department.id).where(Department.code == "engineering").first()
    )["id"]
    order = await WorkOrder.insert(
        WorkOrder(
            site=site.id,
            checkpoint=site.checkpoint_ids[0],
            item_code=item,
            department=engineering,
            source="inspection",
            status="raised",
            title="消火栓箱门损坏",
            raised_by=inspector_id,
            raised_at=now,
            created_at=now,
            updated_at=now,
            due_at=due_when_raised(now),
        )
    ).returning(WorkOrder.id)
    order_id = order[0]["id"]
    await WorkOrderReport.insert(
        WorkOrderReport(
            work_order=order_id,
            inspection=inspection_id,
            reporter=inspector_id,
            note="门锁坏了",
            reported_at=now,
            created_at=now,
        )
    )
    return order_id


@pytest.fixture
async def crew(make_site, make_user, login):
    """A site with a dispatcher, an engineering worker, a security worker and a patrol, logged in."""
    site = await make_site()
    users = {
        "dispatcher": await make_user("dispatcher", sites=[site.id]),
        "engineer": await make_user("department", sites=[site.id], department="engineering"),
        "guard": await make_user("department", sites=[site.id], department="security"),
        "patrol": await make_user("patrol", sites=[site.id]),
        "manager": await make_user("manager", sites=[site.id]),
    }
    clients = {name: await login(user) for name, user in users.items()}
    return site, users, clients


async def _step(client, order_id: int, action: str, expect: int = 200, **body):
    response = await client.post(f"/api/work-orders/{order_id}/{action}", json=body)
    assert response.status_code == expect, (action, response.text)
    return response.json()


async def test_failed_check_order_lifecycle_end_to_end(crew):
    site, users, c = crew
    photo = await _upload(c["patrol"])
    order_id = await _failed_check_order(site, users["patrol"].id, photo)

    order = (await c["dispatcher"].get(f"/api/work-orders/{order_id}")).json()
    assert order["status"] == "raised" and order["source"] == "inspection"
    assert [d["step"] for d in order["deadlines"]] == ["dispatch"]
    assert order["deadlines"][0]["state"] == "pending"
    # The report shows the check's photo of this item only.
    assert [p["sha256"] for p in order["reports"][0]["photos"]] == [photo]

    order = await _step(c["dispatcher"], order_id, "dispatch", department="engineering")
    assert order["status"] == "dispatched" and order["department"] == "engineering"
    assert [d["step"] for d in order["deadlines"]] == ["dispatch", "arrange", "report"]
    assert order["deadlines"][0]["state"] == "on_time"

    order = await _step(c["engineer"], order_id, "accept")
    assert order["status"] == "arranged"
    assert order["assignee"]["id"] == users["engineer"].id

    fixed = await _upload(c["engineer"])
    device_time = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    order = await _step(
        c["engineer"],
        order_id,
        "report",
        note="已更换门锁",
        photos=[fixed],
        device_time=device_time,
    )
    assert order["status"] == "reported"
    report_event = order["events"][-1]
    assert report_event["action"] == "report" and report_event["note"] == "已更换门锁"
    assert [p["sha256"] for p in report_event["photos"]] == [fixed]
    assert report_event["actor"]["id"] == users["engineer"].id
    # Done offline five minutes ago: it counts then, not when it arrived.
    assert datetime.fromisoformat(report_event["device_time"]) < datetime.fromisoformat(
        report_event["server_time"]
    )

    order = await _step(c["dispatcher"], order_id, "verify", note="已核实")
    assert order["status"] == "verified"
    order = await _step(c["dispatcher"], order_id, "close")
    assert order["status"] == "closed"
    assert order["overdue"] is False
    assert [e["action"] for e in order["events"]] == [
        "dispatch",
        "accept",
        "report",
        "verify",
        "close",
    ]
    assert [(e["from_status"], e["to_status"]) for e in order["events"]][-1] == (
        "verified",
        "closed",
    )
    assert {d["state"] for d in order["deadlines"]} == {"on_time"}


async def test_raised_by_hand_and_rejected_back_to_the_department(crew):
    site, _, c = crew
    photo = await _upload(c["patrol"])
    response = await c["patrol"].post(
        "/api/work-orders",
        json={
            "site": site.id,
            "checkpoint": site.checkpoint_ids[1],
            "description": "地下车库B2照明灯不亮\n靠近电梯口",
            "photos": [photo],
        },
    )
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["source"] == "manual" and order["status"] == "raised"
    assert order["title"] == "地下车库B2照明灯不亮"
    assert order["events"][0]["action"] == "raise"
    assert [p["sha256"] for p in order["events"][0]["photos"]] == [photo]

    order_id = order["id"]
    await _step(c["dispatcher"], order_id, "dispatch", department="engineering")
    await _step(c["engineer"], order_id, "accept")
    await _step(c["engineer"], order_id, "report", note="换了灯管")
    await _step(c["dispatcher"], order_id, "reject", expect=400, note=" ")
    order = await _step(c["dispatcher"], order_id, "reject", note="仍然不亮")
    assert order["status"] == "dispatched" and order["assignee"] is None
    # Patrols raise and comment, nothing else.
    await _step(c["patrol"], order_id, "comment", note="今晚又看了一次")
    await _step(c["patrol"], order_id, "accept", expect=403)

    # A photo never uploaded: nothing happens.
    missing = await c["patrol"].post(
        "/api/work-orders",
        json={"site": site.id, "description": "x", "photos": ["a" * 64]},
    )
    assert missing.status_code == 409 and missing.json()["error"]["code"] == "missing_photo"


async def test_every_illegal_transition_is_409(crew):
    """From every status, each action the state machine does not allow from it answers 409
    illegal_transition (the dispatcher may take every non-system step, so permission never
    answers first)."""
    site, users, c = crew
    photo = await _upload(c["patrol"])
    # One order walked to each status.
    paths = {
        "raised": [],
        "dispatched": [("dispatch", {"department": "engineering"})],
        "arranged": [("dispatch", {"department": "engineering"}), ("accept", {})],
        "deferred": [
            ("dispatch", {"department": "engineering"}),
            ("defer", {"note": "缺配件"}),
        ],
        "reported": [
            ("dispatch", {"department": "engineering"}),
            ("accept", {}),
            ("report", {}),
        ],
        "verified": [
            ("dispatch", {"department": "engineering"}),
            ("accept", {}),
            ("report", {}),
            ("verify", {}),
        ],
        "closed": [
            ("dispatch", {"department": "engineering"}),
            ("accept", {}),
            ("report", {}),
            ("verify", {}),
            ("close", {}),
        ],
    }
    assert set(paths) == set(STATUSES)
    body = {"note": "原因", "department": "security"}
    checked = 0
    for n, (status, steps) in enumerate(paths.items()):
        order_id = await _failed_check_order(site, users["patrol"].id, photo, item=f"I{n}")
        for action, step_body in steps:
            await _step(c["dispatcher"], order_id, action, **step_body)
        for api_name, action in (
            ("dispatch", "dispatch"),
            ("redirect", "redirect"),
            ("accept", "accept"),
            ("report", "report"),
            ("defer", "defer"),
            ("resume", "resume"),
            ("verify", "verify"),
            ("reject", "reject"),
            ("close", "close"),
            ("sign-off", "sign_off"),
            ("follow-up", "follow_up"),
            ("comment", "comment"),
        ):
            if status in ACTIONS[action].from_statuses:
                continue
            answer = await _step(c["dispatcher"], order_id, api_name, expect=409, **body)
            assert answer["error"]["code"] == "illegal_transition", (status, api_name)
            checked += 1
        still = (await c["dispatcher"].get(f"/api/work-orders/{order_id}")).json()
        assert still["status"] == status
    assert checked >= 40
    # The server's own step is no endpoint.
    response = await c["dispatcher"].post(f"/api/work-orders/{order_id}/escalate", json={})
    assert response.status_code in (404, 405)


async def test_department_isolation_and_desk_only_steps(crew, make_user, login):
    site, users, c = crew
    photo = await _upload(c["patrol"])
    order_id = await _failed_check_order(site, users["patrol"].id, photo)
    # Raised from a check for engineering: only engineering (and the desk) sees it, and only the
    # desk dispatches it.
    assert (await c["guard"].get(f"/api/work-orders/{order_id}")).status_code == 404
    await _step(c["guard"], order_id, "dispatch", expect=404, department="engineering")
    await _step(c["engineer"], order_id, "dispatch", expect=403, department="engineering")
    await _step(c["patrol"], order_id, "dispatch", expect=403, department="engineering")
    await _step(c["dispatcher"], order_id, "dispatch", department="engineering")

    listed = (await c["engineer"].get("/api/work-orders", params={"site": site.id})).json()
    assert [o["id"] for o in listed["items"]] == [order_id]
    assert (await c["guard"].get("/api/work-orders", params={"site": site.id})).json()[
        "items"
    ] == []
    assert (await c["guard"].get(f"/api/work-orders/{order_id}")).status_code == 404
    await _step(c["guard"], order_id, "accept", expect=404)
    # Desk-only steps are 403 to the department that may see the order.
    await _step(c["engineer"], order_id, "redirect", expect=403, department="security")
    await _step(c["engineer"], order_id, "accept")
    await _step(c["engineer"], order_id, "report")
    answer = await _step(c["engineer"], order_id, "verify", expect=403)
    assert answer["error"]["code"] == "forbidden"
    await _step(c["patrol"], order_id, "verify", expect=403)
    await _step(c["manager"], order_id, "verify")
    # Missing input: 400 with its code.
    other = await _failed_check_order(site, users["patrol"].id, photo, item="I9")
    answer = await _step(c["dispatcher"], other, "dispatch", expect=400)
    assert answer["error"]["code"] == "department_required"
    answer = await _step(c["dispatcher"], other, "dispatch", expect=400, department="nope")
    assert answer["error"]["code"] == "unknown_department"


async def test_another_sites_orders_are_404(crew, make_site, make_user, login):
    site, users, c = crew
    photo = await _upload(c["patrol"])
    order_id = await _failed_check_order(site, users["patrol"].id, photo)
    theirs = await make_site()
    stranger = await login(await make_user("manager", sites=[theirs.id]))
    assert (await stranger.get(f"/api/work-orders/{order_id}")).status_code == 404
    response = await stranger.post(
        f"/api/work-orders/{order_id}/dispatch", json={"department": "engineering"}
    )
    assert response.status_code == 404
    assert (await stranger.get("/api/work-orders", params={"site": site.id})).status_code == 404
    mine = (await stranger.get("/api/work-orders")).json()
    assert order_id not in [o["id"] for o in mine["items"]]
    response = await stranger.post(
        "/api/work-orders", json={"site": site.id, "description": "不是我的小区"}
    )
    assert response.status_code == 404


async def test_overdue_filter(crew):
    from server.tables.work_orders import WorkOrder

    site, users, c = crew
    photo = await _upload(c["patrol"])
    late = await _failed_check_order(site, users["patrol"].id, photo, item="LATE")
    fresh = await _failed_check_order(site, users["patrol"].id, photo, item="FRESH")
    done = await _failed_check_order(site, users["patrol"].id, photo, item="DONE")
    long_ago = datetime.now(UTC) - timedelta(hours=30)
    # Raised 30 hours ago and never dispatched: past the 24-hour dispatch deadline.
    await WorkOrder.update({WorkOrder.raised_at: long_ago}).where(WorkOrder.id.is_in([late, done]))
    await WorkOrder.update({WorkOrder.status: "closed"}).where(WorkOrder.id == done)
    # Changed behind the service's back: recompute the stored deadlines as a calendar change would.
    from server.work_orders import refresh_due

    assert await refresh_due(site.id) == 2

    params = {"site": site.id}
    overdue = await c["dispatcher"].get("/api/work-orders", params={**params, "overdue": True})
    assert overdue.status_code == 200, overdue.text
    assert [o["id"] for o in overdue.json()["items"]] == [late]
    assert overdue.json()["total"] == 1
    on_time = (
        await c["dispatcher"].get("/api/work-orders", params={**params, "overdue": False})
    ).json()
    assert sorted(o["id"] for o in on_time["items"]) == sorted([fresh, done])
    detail = (await c["dispatcher"].get(f"/api/work-orders/{late}")).json()
    assert detail["overdue"] is True
    assert detail["deadlines"][0]["state"] == "overdue"
    assert detail["deadlines"][0]["breach_seconds"] >= 6 * 3600 - 60
    by_status = (
        await c["dispatcher"].get("/api/work-orders", params={**params, "status": "closed"})
    ).json()
    assert [o["id"] for o in by_status["items"]] == [done]
    by_checkpoint = (
        await c["dispatcher"].get("/api/work-orders", params={"checkpoint": site.checkpoint_ids[0]})
    ).json()
    assert by_checkpoint["total"] == 3


async def test_board_counts_match_what_each_filter_lists(crew):
    """Each count says how many orders that chip's filter lists (one request for the board)."""
    from server.tables.work_orders import WorkOrder
    from server.work_orders import refresh_due

    site, users, c = crew
    photo = await _upload(c["patrol"])
    late = await _failed_check_order(site, users["patrol"].id, photo, item="C-LATE")
    dispatched = await _failed_check_order(site, users["patrol"].id, photo, item="C-DISP")
    closed = await _failed_check_order(site, users["patrol"].id, photo, item="C-DONE")
    owner = await c["dispatcher"].post(
        "/api/work-orders",
        json={
            "site": site.id,
            "description": "卫生间漏水",
            "source": "owner",
            "owner_name": "王女士",
            "owner_unit": "2-1203",
            "owner_phone": "13800001234",
        },
    )
    assert owner.status_code == 201, owner.text
    await WorkOrder.update({WorkOrder.raised_at: datetime.now(UTC) - timedelta(hours=30)}).where(
        WorkOrder.id == late
    )
    await WorkOrder.update({WorkOrder.status: "closed"}).where(WorkOrder.id == closed)
    await refresh_due(site.id)
    await _step(c["dispatcher"], dispatched, "dispatch", department="engineering")

    async def listed(**params) -> int:
        page = await c["dispatcher"].get("/api/work-orders", params={"site": site.id, **params})
        assert page.status_code == 200, page.text
        return page.json()["total"]

    async def counts(**params) -> dict:
        answer = await c["dispatcher"].get(
            "/api/work-orders/counts", params={"site": site.id, **params}
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    everything = await counts(open=True)
    assert everything["total"] == await listed(open=True) == 3
    assert everything["overdue"] == await listed(open=True, overdue=True) == 1
    for status in ("raised", "dispatched", "closed"):
        assert everything["by_status"].get(status, 0) == await listed(status=status)
    assert everything["by_status"]["closed"] == 1  # status chips ignore the open filter
    # Open engineering orders (the closed one is not open; the owner's order is undispatched).
    assert everything["by_department"] == {"engineering": 2}
    narrowed = await counts(open=True, department="engineering", overdue=True)
    assert narrowed["total"] == 1
    assert narrowed["by_status"] == {"raised": 1}
    assert narrowed["by_department"] == {"engineering": 1}
    assert (await counts(source="owner"))["total"] == 1
    # The owner's unit is where an owner's order is on the board.
    board = (await c["dispatcher"].get("/api/work-orders", params={"source": "owner"})).json()
    assert board["items"][0]["owner_unit"] == "2-1203"
    assert board["items"][0]["checkpoint"] is None
    # Another site's counts are not disclosed.
    assert (
        await c["dispatcher"].get("/api/work-orders/counts", params={"site": site.id + 10_000})
    ).status_code == 404


async def test_escalation_on_the_working_day_clock_is_idempotent(crew, settings):
    from server.escalation import escalate_due
    from server.tables.sites import Site
    from server.tables.work_orders import WorkOrder

    site, users, c = crew
    await Site.update({Site.timezone: "Asia/Shanghai"}).where(Site.id == site.id)
    photo = await _upload(c["patrol"])
    order_id = await _failed_check_order(site, users["patrol"].id, photo)
    await _step(c["dispatcher"], order_id, "dispatch", department="engineering")
    await _step(c["engineer"], order_id, "defer", expect=400)  # the reason is required
    await _step(c["engineer"], order_id, "defer", note="等配件")
    # Pin the deferral to Friday 2026-11-20 15:00 Shanghai: back due Tuesday 15:00 (the weekend
    # does not count), the manager's turn two working days later, Thursday 15:00.
    friday = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
    await WorkOrder.update({WorkOrder.deferred_at: friday}).where(WorkOrder.id == order_id)

    def events():
        return c["dispatcher"].get(f"/api/work-orders/{order_id}")

    monday = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    await escalate_due(monday, settings)
    assert (await events()).json()["escalation_level"] == 0

    tuesday = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    assert await escalate_due(tuesday, settings) >= 1
    await escalate_due(tuesday, settings)  # again: nothing more for this order
    order = (await events()).json()
    assert order["escalation_level"] == 1
    escalations = [e for e in order["events"] if e["action"] == "escalate"]
    assert [e["note"] for e in escalations] == ["department_head"]
    assert escalations[0]["actor"] is None
    assert order["status"] == "deferred"

    thursday = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
    for _ in range(3):
        await escalate_due(thursday, settings)
    order = (await events()).json()
    assert order["escalation_level"] == 2
    assert [e["note"] for e in order["events"] if e["action"] == "escalate"] == [
        "department_head",
        "manager",
    ]
    # Past the last level nothing more happens.
    await escalate_due(thursday + timedelta(days=30), settings)
    order = (await events()).json()
    assert len([e for e in order["events"] if e["action"] == "escalate"]) == 2

    # Back on it: the order resumes and escalation leaves it alone.
    await _step(c["engineer"], order_id, "resume")
    await escalate_due(thursday + timedelta(days=60), settings)
    order = (await events()).json()
    assert order["status"] == "arranged"
    assert len([e for e in order["events"] if e["action"] == "escalate"]) == 2
    returned = next(d for d in order["deadlines"] if d["step"] == "return")
    # The return deadline is met by the resume (on time or late depends on today's date).
    assert returned["done_at"] is not None and returned["state"] in ("on_time", "late")


async def test_escalation_follows_the_sites_own_holidays(crew, settings):
    """A deferral before a site's holiday escalates only after the holiday (per-site calendar),
    and the stored deadline is the one escalation went by."""
    from datetime import date

    from server.escalation import escalate_due
    from server.tables.calendars import SiteCalendarDay
    from server.tables.sites import Site
    from server.tables.work_orders import WorkOrder
    from server.work_orders import refresh_due

    site, users, c = crew
    await Site.update({Site.timezone: "Asia/Shanghai"}).where(Site.id == site.id)
    photo = await _upload(c["patrol"])
    order_id = await _failed_check_order(site, users["patrol"].id, photo)
    await _step(c["dispatcher"], order_id, "dispatch", department="engineering")
    await _step(c["engineer"], order_id, "defer", note="等配件")
    # Deferred Friday 2026-11-20 15:00 Shanghai; Monday 23 and Tuesday 24 are this site's
    # holidays: back due Thursday 15:00, not Tuesday.
    friday = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
    await WorkOrder.update({WorkOrder.deferred_at: friday}).where(WorkOrder.id == order_id)
    await SiteCalendarDay.insert(
        SiteCalendarDay(site=site.id, day=date(2026, 11, 23), kind="holiday", name="停水检修"),
        SiteCalendarDay(site=site.id, day=date(2026, 11, 24), kind="holiday", name="停水检修"),
    )
    await refresh_due(site.id)
    thursday = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
    stored = (await WorkOrder.select(WorkOrder.due_at).where(WorkOrder.id == order_id).first())[
        "due_at"
    ]
    assert (stored if stored.tzinfo else stored.replace(tzinfo=UTC)) == thursday

    # Wednesday: on the plain week it would be a day late already; here it is not yet due.
    await escalate_due(datetime(2026, 11, 25, 7, 0, tzinfo=UTC), settings)
    order = (await c["dispatcher"].get(f"/api/work-orders/{order_id}")).json()
    assert order["escalation_level"] == 0
    await escalate_due(thursday, settings)
    order = (await c["dispatcher"].get(f"/api/work-orders/{order_id}")).json()
    assert order["escalation_level"] == 1
    returned = next(d for d in order["deadlines"] if d["step"] == "return")
    assert datetime.fromisoformat(returned["due"]) == thursday


async def test_escalating_twice_at_once_records_each_level_once(crew, settings):
    import asyncio

    from server.escalation import escalate_due
    from server.tables.work_orders import WorkOrder, WorkOrderEvent

    site, users, c = crew
    photo = await _upload(c["patrol"])
    order_id = await _failed_check_order(site, users["patrol"].id, photo)
    await _step(c["dispatcher"], order_id, "dispatch", department="engineering")
    await _step(c["engineer"], order_id, "defer", note="等配件")
    await WorkOrder.update({WorkOrder.deferred_at: datetime(2026, 11, 2, 1, 0, tzinfo=UTC)}).where(
        WorkOrder.id == order_id
    )
    later = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
    await asyncio.gather(*(escalate_due(later, settings) for _ in range(4)))
    rows = await WorkOrderEvent.select(WorkOrderEvent.note).where(
        (WorkOrderEvent.work_order == order_id) & (WorkOrderEvent.action == "escalate")
    )
    assert sorted(r["note"] for r in rows) == ["department_head", "manager"]


async def test_the_periodic_task_escalates_by_itself(crew, settings):
    """What the app's lifespan starts: the loop escalates without anyone asking."""
    import asyncio
    import contextlib

    from server.escalation import run_periodically
    from server.tables.work_orders import WorkOrder

    site, users, c = crew
    photo = await _upload(c["patrol"])
    order_id = await _failed_check_order(site, users["patrol"].id, photo)
    await _step(c["dispatcher"], order_id, "dispatch", department="engineering")
    await _step(c["engineer"], order_id, "defer", note="等配件")
    a_month_ago = datetime.now(UTC) - timedelta(days=30)
    await WorkOrder.update({WorkOrder.deferred_at: a_month_ago}).where(WorkOrder.id == order_id)

    # Its own leadership lock: on PostgreSQL the app's own loop leads "escalation" (every 60 s).
    task = asyncio.create_task(run_periodically(settings, 0.02, job="escalation:test"))
    try:
        for _ in range(250):
            level = (
                await WorkOrder.select(WorkOrder.escalation_level)
                .where(WorkOrder.id == order_id)
                .first()
            )["escalation_level"]
            if level == 2:
                break
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert level == 2
    assert settings.escalation_interval_seconds == 60


async def test_two_people_taking_one_step_at_once_move_the_order_once(crew):
    import asyncio

    from server.tables.work_orders import WorkOrderEvent

    site, users, c = crew
    photo = await _upload(c["patrol"])
    order_id = await _failed_check_order(site, users["patrol"].id, photo)
    await _step(c["dispatcher"], order_id, "dispatch", department="engineering")
    responses = await asyncio.gather(
        *(
            client.post(f"/api/work-orders/{order_id}/accept", json={})
            for client in (c["engineer"], c["dispatcher"], c["manager"])
        )
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 409, 409], [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert response.json()["error"]["code"] in ("illegal_transition", "order_changed")
    accepted = await WorkOrderEvent.count().where(
        (WorkOrderEvent.work_order == order_id) & (WorkOrderEvent.action == "accept")
    )
    assert accepted == 1
