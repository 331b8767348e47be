"""Work orders, round two: exactly-once steps and raises (client_id), owner orders with sign-off and
follow-up, the owner's phone masked, photos visible to whoever sees the order, and the stored
soonest deadline (due_at) the board and the department queue sort by."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

pytestmark = pytest.mark.api


def _image(fmt: str = "JPEG") -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (48, 32), tuple(os.urandom(3))).save(buffer, fmt)
    return buffer.getvalue()


async def _upload(client, fmt: str = "JPEG") -> str:
    body = _image(fmt)
    sha = hashlib.sha256(body).hexdigest()
    response = await client.put(
        f"/api/photos/{sha}",
        content=body,
        headers={"Content-Type": "image/png" if fmt == "PNG" else "image/jpeg"},
    )
    assert response.status_code < 300, response.text
    return sha


@pytest.fixture
async def crew(make_site, make_user, login):
    site = await make_site()
    users = {
        "dispatcher": await make_user("dispatcher", sites=[site.id]),
        "engineer": await make_user("department", sites=[site.id], department="engineering"),
        "guard": await make_user("department", sites=[site.id], department="security"),
        "patrol": await make_user("patrol", sites=[site.id]),
        "inspector": await make_user("inspector", sites=[site.id]),
        "manager": await make_user("manager", sites=[site.id]),
    }
    clients = {name: await login(user) for name, user in users.items()}
    return site, users, clients


async def _raise(client, site_id: int, expect: int = 201, **body):
    response = await client.post(
        "/api/work-orders", json={"site": site_id, "description": "楼道灯不亮", **body}
    )
    assert response.status_code == expect, response.text
    return response


async def _post(client, order_id: int, step: str, expect: int = 200, **body):
    response = await client.post(f"/api/work-orders/{order_id}/{step}", json=body)
    assert response.status_code == expect, (step, response.text)
    return response


async def _events(order_id: int) -> list[dict]:
    from server.tables.work_orders import WorkOrderEvent

    return (
        await WorkOrderEvent.select(WorkOrderEvent.action, WorkOrderEvent.client_id)
        .where(WorkOrderEvent.work_order == order_id)
        .order_by(WorkOrderEvent.id)
    )


async def _dispatched(c, site_id: int) -> int:
    order = (await _raise(c["patrol"], site_id)).json()
    await _post(c["dispatcher"], order["id"], "dispatch", department="engineering")
    return order["id"]


# ---------------------------------------------------------------------------------------------
# Exactly-once steps


async def test_a_replayed_step_answers_the_order_and_stores_nothing(crew):
    site, _, c = crew
    order_id = await _dispatched(c, site.id)
    client_id = str(uuid.uuid4())
    device_time = datetime.now(UTC) - timedelta(minutes=3)
    body = {"client_id": client_id, "device_time": device_time.isoformat(), "note": "马上到"}

    first = await _post(c["engineer"], order_id, "accept", **body)
    assert "x-replayed" not in first.headers
    assert first.json()["status"] == "arranged"
    # The same request again, keys in another order and the time in another offset.
    again = await c["engineer"].post(
        f"/api/work-orders/{order_id}/accept",
        json={
            "note": "马上到",
            "device_time": device_time.astimezone(ZoneInfo("Asia/Shanghai")).isoformat(),
            "client_id": client_id.upper(),
        },
    )
    assert again.status_code == 200, again.text
    assert again.headers["x-replayed"] == "1"
    assert again.json()["id"] == order_id and again.json()["status"] == "arranged"
    assert [e["action"] for e in await _events(order_id)] == ["raise", "dispatch", "accept"]

    # The order moved on while the phone was offline: the replay still answers the order as it
    # is now, and still stores nothing.
    await _post(c["engineer"], order_id, "report", note="已修好")
    late = await _post(c["engineer"], order_id, "accept", **body)
    assert late.headers["x-replayed"] == "1" and late.json()["status"] == "reported"
    assert [e["action"] for e in await _events(order_id)] == [
        "raise",
        "dispatch",
        "accept",
        "report",
    ]
    # A step that is no longer possible (no client_id seen before): 409 with the state code.
    stale = await _post(c["engineer"], order_id, "accept", expect=409, client_id=str(uuid.uuid4()))
    assert stale.json()["error"]["code"] == "illegal_transition"


async def test_the_same_client_id_with_another_request_is_a_conflict(crew):
    site, _, c = crew
    order_id = await _dispatched(c, site.id)
    other_order = await _dispatched(c, site.id)
    client_id = str(uuid.uuid4())
    await _post(c["engineer"], order_id, "comment", client_id=client_id, note="看过了")
    for step, order, body in (
        ("comment", order_id, {"note": "另一句话"}),  # another body
        ("comment", other_order, {"note": "看过了"}),  # another order
        ("accept", order_id, {"note": "看过了"}),  # another step
    ):
        response = await _post(c["engineer"], order, step, expect=409, client_id=client_id, **body)
        assert response.json()["error"]["code"] == "client_id_conflict"
    # Another user reusing the id is another request too.
    response = await _post(
        c["dispatcher"], order_id, "comment", expect=409, client_id=client_id, note="看过了"
    )
    assert response.json()["error"]["code"] == "client_id_conflict"
    english = await c["engineer"].post(
        f"/api/work-orders/{order_id}/comment",
        json={"client_id": client_id, "note": "x"},
        headers={"Accept-Language": "en"},
    )
    assert english.json()["error"]["message"].startswith("This request id")
    assert [e["action"] for e in await _events(order_id)] == ["raise", "dispatch", "comment"]
    # Not a UUID: refused before anything is looked at.
    await _post(c["engineer"], order_id, "comment", expect=400, client_id="not-a-uuid", note="x")


@pytest.mark.parametrize("step", ["accept", "comment"])
async def test_concurrent_replays_store_one_event(crew, step):
    site, _, c = crew
    order_id = await _dispatched(c, site.id)
    body = {"client_id": str(uuid.uuid4()), "note": "同时发了五次"}
    responses = await asyncio.gather(
        *[c["engineer"].post(f"/api/work-orders/{order_id}/{step}", json=body) for _ in range(5)]
    )
    assert [r.status_code for r in responses] == [200] * 5, [r.text for r in responses]
    assert sorted(r.headers.get("x-replayed", "0") for r in responses) == ["0"] + ["1"] * 4
    events = [e for e in await _events(order_id) if e["action"] == step]
    assert len(events) == 1 and events[0]["client_id"] == body["client_id"]


async def test_a_replayed_raise_answers_the_same_order(crew):
    from server.tables.work_orders import WorkOrder

    site, _, c = crew
    photo = await _upload(c["patrol"])
    body = {
        "client_id": str(uuid.uuid4()),
        "checkpoint": site.checkpoint_ids[2],
        "photos": [photo],
        "device_time": datetime.now(UTC).isoformat(),
    }
    first = await _raise(c["patrol"], site.id, **body)
    again = await _raise(c["patrol"], site.id, expect=200, **body)
    assert again.headers["x-replayed"] == "1"
    assert again.json()["id"] == first.json()["id"]
    assert await WorkOrder.count().where(WorkOrder.client_id == body["client_id"]) == 1
    conflict = await _raise(c["patrol"], site.id, expect=409, **{**body, "description": "别的"})
    assert conflict.json()["error"]["code"] == "client_id_conflict"

    # Five at once: one order.
    body = {**body, "client_id": str(uuid.uuid4())}
    responses = await asyncio.gather(
        *[
            c["inspector"].post(
                "/api/work-orders", json={"site": site.id, "description": "楼道灯不亮", **body}
            )
            for _ in range(5)
        ]
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 200, 201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await WorkOrder.count().where(WorkOrder.client_id == body["client_id"]) == 1


# ---------------------------------------------------------------------------------------------
# Owner orders


async def test_owner_orders_are_raised_at_the_desk_only(crew):
    site, _, c = crew
    owner = {"source": "owner", "owner_name": "张先生", "owner_unit": "1栋101"}
    for who in ("patrol", "inspector", "engineer"):
        response = await _raise(c[who], site.id, expect=403, **owner)
        assert response.json()["error"]["code"] == "forbidden"
    missing = await _raise(c["dispatcher"], site.id, expect=400, **{**owner, "owner_unit": " "})
    assert missing.json()["error"]["code"] == "owner_details_required"
    # Owner details on a manual order are refused rather than silently dropped.
    await _raise(c["patrol"], site.id, expect=400, owner_name="张先生")
    for who in ("dispatcher", "manager"):
        order = (await _raise(c[who], site.id, **owner, owner_phone="13812345678")).json()
        assert order["source"] == "owner"
        assert order["owner"] == {"name": "张先生", "unit": "1栋101", "phone": "13812345678"}
    # Patrols, inspectors and departments raise manual orders: description only is enough.
    for who in ("patrol", "inspector", "engineer"):
        order = (await _raise(c[who], site.id)).json()
        assert order["source"] == "manual" and order["owner"] is None


async def test_owner_phone_is_masked_outside_the_desk_and_the_department(crew):
    site, _, c = crew
    order = (
        await _raise(
            c["dispatcher"],
            site.id,
            source="owner",
            owner_name="李女士",
            owner_unit="1栋101",
            owner_phone="13812345678",
        )
    ).json()
    await _post(c["dispatcher"], order["id"], "dispatch", department="engineering")
    seen = {}
    for who in ("dispatcher", "manager", "engineer", "patrol", "inspector"):
        response = await c[who].get(f"/api/work-orders/{order['id']}")
        assert response.status_code == 200, (who, response.text)
        seen[who] = response.json()["owner"]["phone"]
    assert seen == {
        "dispatcher": "13812345678",
        "manager": "13812345678",
        "engineer": "13812345678",
        "patrol": "138****5678",
        "inspector": "138****5678",
    }
    # Another department does not see the order at all.
    assert (await c["guard"].get(f"/api/work-orders/{order['id']}")).status_code == 404


def test_mask_phone():
    from server.work_orders import mask_phone

    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("021-5555-1234") == "021******1234"
    assert mask_phone("1234567") == "*****67"
    assert mask_phone("") == ""


async def test_sign_off_and_follow_up_of_an_owner_order(crew):
    site, _, c = crew
    order_id = (
        await _raise(c["dispatcher"], site.id, source="owner", owner_name="王", owner_unit="2-301")
    ).json()["id"]
    await _post(c["dispatcher"], order_id, "dispatch", department="engineering")
    await _post(c["engineer"], order_id, "accept")

    for body in ({}, {"owner_absent": False}):
        response = await _post(c["engineer"], order_id, "sign-off", expect=400, **body)
        assert response.json()["error"]["code"] == "signature_or_absent_required"
    signature = await _upload(c["engineer"], "PNG")
    both = await _post(
        c["engineer"], order_id, "sign-off", expect=400, signature=signature, owner_absent=True
    )
    assert both.json()["error"]["code"] == "signature_or_absent_required"
    unknown = await _post(c["engineer"], order_id, "sign-off", expect=409, signature="ab" * 32)
    assert unknown.json()["error"]["code"] == "missing_photo"
    # A signature on another step is a mistake, not something to drop silently.
    await _post(c["engineer"], order_id, "comment", expect=400, signature=signature)

    order = (await _post(c["engineer"], order_id, "sign-off", signature=signature)).json()
    assert order["owner_signed"] is True and order["owner_absent"] is False
    assert order["signature"]["sha256"] == signature
    assert order["status"] == "arranged"
    # Whoever sees the order sees the signature.
    for who in ("dispatcher", "patrol", "manager"):
        response = await c[who].get(order["signature"]["url"])
        assert response.status_code == 200, who
    assert (await c["guard"].get(order["signature"]["url"])).status_code == 404

    await _post(c["engineer"], order_id, "report", note="修好了")
    await _post(c["dispatcher"], order_id, "verify")
    closing = await _post(c["dispatcher"], order_id, "close", expect=409)
    assert closing.json()["error"]["code"] == "follow_up_missing"
    missing = await _post(c["dispatcher"], order_id, "follow-up", expect=400, note="打过电话")
    assert missing.json()["error"]["code"] == "satisfaction_required"
    await _post(c["dispatcher"], order_id, "follow-up", expect=400, satisfaction="happy")
    order = (await _post(c["dispatcher"], order_id, "follow-up", satisfaction="acceptable")).json()
    assert order["satisfaction"] == "acceptable" and order["followed_up"] is True
    order = (await _post(c["dispatcher"], order_id, "close")).json()
    assert order["status"] == "closed"


async def test_owner_not_at_home(crew):
    site, _, c = crew
    order_id = (
        await _raise(c["dispatcher"], site.id, source="owner", owner_name="赵", owner_unit="3-2")
    ).json()["id"]
    await _post(c["dispatcher"], order_id, "dispatch", department="engineering")
    await _post(c["engineer"], order_id, "accept")
    order = (await _post(c["engineer"], order_id, "sign-off", owner_absent=True)).json()
    assert order["owner_signed"] is True and order["owner_absent"] is True
    assert order["signature"] is None


# ---------------------------------------------------------------------------------------------
# Photos of an order


async def test_photos_of_an_order_are_visible_to_whoever_sees_the_order(
    crew, make_site, make_user, login
):
    site, _, c = crew
    raised_photo = await _upload(c["patrol"])
    order = (await _raise(c["patrol"], site.id, photos=[raised_photo])).json()
    # Dispatched to engineering: the guard (security) does not see the order nor its photos.
    assert (await c["engineer"].get(f"/api/photos/{raised_photo}")).status_code == 404
    await _post(c["dispatcher"], order["id"], "dispatch", department="engineering")
    await _post(c["engineer"], order["id"], "accept")
    fixed = await _upload(c["engineer"])
    await _post(c["engineer"], order["id"], "report", photos=[fixed])
    for who in ("dispatcher", "manager", "patrol", "inspector", "engineer"):
        for photo in (raised_photo, fixed):
            response = await c[who].get(f"/api/photos/{photo}/thumb")
            assert response.status_code == 200, (who, photo)
    for photo in (raised_photo, fixed):
        assert (await c["guard"].get(f"/api/photos/{photo}")).status_code == 404
    # Someone of another site sees nothing.
    elsewhere = await make_site()
    stranger = await login(await make_user("dispatcher", sites=[elsewhere.id]))
    assert (await stranger.get(f"/api/photos/{fixed}")).status_code == 404


# ---------------------------------------------------------------------------------------------
# The stored deadline


async def _stored_due(order_id: int):
    from server.tables.work_orders import WorkOrder

    row = await WorkOrder.select(WorkOrder.due_at).where(WorkOrder.id == order_id).first()
    value = row["due_at"]
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


async def test_due_at_follows_every_step(crew):
    site, _, c = crew
    order = (await _raise(c["patrol"], site.id)).json()
    order_id = order["id"]
    raised_at = datetime.fromisoformat(order["raised_at"])
    assert await _stored_due(order_id) == raised_at + timedelta(hours=24)
    assert datetime.fromisoformat(order["due_at"]) == raised_at + timedelta(hours=24)

    order = (await _post(c["dispatcher"], order_id, "dispatch", department="engineering")).json()
    dispatched = datetime.fromisoformat(order["events"][-1]["device_time"])
    assert await _stored_due(order_id) == dispatched + timedelta(hours=2)  # arrange
    order = (await _post(c["engineer"], order_id, "accept")).json()
    assert await _stored_due(order_id) == dispatched + timedelta(hours=4)  # report
    assert datetime.fromisoformat(order["due_at"]) == await _stored_due(order_id)
    order = (await _post(c["engineer"], order_id, "defer", note="缺配件")).json()
    returned = next(d for d in order["deadlines"] if d["step"] == "return")
    assert await _stored_due(order_id) == datetime.fromisoformat(returned["due"])
    await _post(c["engineer"], order_id, "report", note="修好了")
    assert await _stored_due(order_id) is None
    order = (await _post(c["dispatcher"], order_id, "reject", note="还是坏的")).json()
    rejected = datetime.fromisoformat(order["events"][-1]["device_time"])
    assert await _stored_due(order_id) == rejected + timedelta(hours=2)


async def test_board_sorts_by_deadline_in_sql(crew):
    from server.tables.work_orders import WorkOrder
    from server.work_orders import refresh_due

    site, _users, c = crew
    now = datetime.now(UTC)
    fresh = (await _raise(c["patrol"], site.id, description="新报")).json()["id"]
    late = (await _raise(c["patrol"], site.id, description="超时未派")).json()["id"]
    very_late = (await _raise(c["patrol"], site.id, description="超时很久")).json()["id"]
    dispatched = (await _raise(c["patrol"], site.id, description="已派")).json()["id"]
    closed = (await _raise(c["patrol"], site.id, description="已关")).json()["id"]
    owner = (
        await _raise(c["dispatcher"], site.id, source="owner", owner_name="钱", owner_unit="5-5")
    ).json()["id"]
    await WorkOrder.update({WorkOrder.raised_at: now - timedelta(hours=30)}).where(
        WorkOrder.id == late
    )
    await WorkOrder.update({WorkOrder.raised_at: now - timedelta(hours=50)}).where(
        WorkOrder.id == very_late
    )
    await WorkOrder.update({WorkOrder.status: "closed"}).where(WorkOrder.id == closed)
    await refresh_due(site.id)
    await _post(c["dispatcher"], dispatched, "dispatch", department="engineering")
    await _post(c["engineer"], dispatched, "accept")

    async def ids(**params):
        response = await c["dispatcher"].get("/api/work-orders", params={"site": site.id, **params})
        assert response.status_code == 200, response.text
        return [o["id"] for o in response.json()["items"]]

    # Most overdue first, then the soonest due (accepted: report in 4 h, then the fresh raises'
    # 24 h dispatch, the earlier raised first), nothing due (closed) last.
    expected = [very_late, late, dispatched, fresh, owner, closed]
    assert await ids(sort="overdue") == expected
    assert await ids(sort="deadline") == expected
    assert await ids(sort="overdue", page_size=2, page=2) == [dispatched, fresh]
    newest = [owner, closed, dispatched, fresh, late, very_late]
    assert await ids() == newest
    assert await ids(sort="newest") == newest
    assert await ids(overdue="true", sort="deadline") == [very_late, late]
    assert await ids(open="true", sort="deadline") == expected[:-1]
    assert await ids(open="false") == [closed]
    assert await ids(source="owner") == [owner]
    assert set(await ids(source="manual")) == set(expected) - {owner}
    mine = await c["engineer"].get("/api/work-orders", params={"assignee": "me"})
    assert [o["id"] for o in mine.json()["items"]] == [dispatched]
    assert (await c["dispatcher"].get("/api/work-orders", params={"sort": "x"})).status_code == 400
    # The summary carries the same instant the board sorted by.
    board = (
        await c["dispatcher"].get("/api/work-orders", params={"site": site.id, "sort": "overdue"})
    ).json()["items"]
    assert board[0]["overdue"] is True and board[0]["source"] == "manual"
    assert datetime.fromisoformat(board[0]["due_at"]) == now - timedelta(hours=26)
    assert board[-1]["due_at"] is None and board[-1]["next_due"] is None


async def test_calendar_change_moves_the_return_deadline(crew):
    from server import sla
    from server.tables.calendars import SiteCalendarDay
    from server.tables.sites import Site
    from server.tables.work_orders import WorkOrder
    from server.work_orders import refresh_due

    site, _, c = crew
    await Site.update({Site.timezone: "Asia/Shanghai"}).where(Site.id == site.id)
    order_id = await _dispatched(c, site.id)
    await _post(c["engineer"], order_id, "defer", note="等物业审批")
    # Deferred on Thursday 2026-10-01 10:00 in Shanghai (set directly: the step's own time is now).
    deferred_at = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)
    await WorkOrder.update({WorkOrder.deferred_at: deferred_at}).where(WorkOrder.id == order_id)
    assert await refresh_due(site.id) >= 1
    plain = sla.WorkCalendar.of("Asia/Shanghai")
    assert await _stored_due(order_id) == plain.add_working_days(deferred_at, 2)  # Mon 10:00

    # The site declares Thursday to the next Wednesday a holiday (国庆节), Sunday 10-11 a make-up
    # working day: the deadline moves out, on the site's own calendar.
    holidays = [date(2026, 10, d) for d in range(1, 8)]
    await SiteCalendarDay.insert(
        *[SiteCalendarDay(site=site.id, day=d, kind="holiday", name="国庆节") for d in holidays],
        SiteCalendarDay(site=site.id, day=date(2026, 10, 11), kind="workday", name="调休"),
    )
    assert await refresh_due(site.id) >= 1
    national = sla.WorkCalendar.of("Asia/Shanghai", holidays, [date(2026, 10, 11)])
    expected = national.add_working_days(deferred_at, 2)
    assert expected != plain.add_working_days(deferred_at, 2)
    assert await _stored_due(order_id) == expected
    detail = (await c["dispatcher"].get(f"/api/work-orders/{order_id}")).json()
    returned = next(d for d in detail["deadlines"] if d["step"] == "return")
    assert datetime.fromisoformat(returned["due"]) == expected
    assert await refresh_due(site.id) == 0  # nothing left to change


async def test_orders_raised_from_failed_checks_store_their_dispatch_deadline(crew):
    from server.db import write_transaction
    from server.findings import Failure, raise_findings
    from server.tables.inspections import Inspection
    from server.tables.work_orders import WorkOrder, WorkOrderReport

    site, users, _ = crew
    received = datetime.now(UTC)
    found = received - timedelta(hours=3)  # checked offline three hours ago
    inspections = [uuid.uuid4(), uuid.uuid4()]
    await Inspection.insert(
        *[
            Inspection(
                id=i,
                checkpoint=site.checkpoint_ids[3],
                inspector=users["patrol"].id,
                device_time=found,
                received_at=received,
                source="manual",
                body_hash="0" * 64,
            )
            for i in inspections
        ]
    )
    failures = [
        Failure(
            key=n,
            inspection_id=i,
            site_id=site.id,
            checkpoint_id=site.checkpoint_ids[3],
            item_code="DOOR",
            department_id=None,
            severity="minor",
            title="门损坏",
            note="",
            device_time=found,
        )
        for n, i in enumerate(inspections)
    ]
    async with write_transaction(WorkOrder._meta.db):
        raised = await raise_findings(
            failures, reporter_id=users["patrol"].id, received_at=received
        )
    (order_id,) = set(raised[0]) | set(raised[1])  # the second failure joined the first's order
    assert await WorkOrderReport.count().where(WorkOrderReport.work_order == order_id) == 2
    assert await _stored_due(order_id) == found + timedelta(hours=24)
