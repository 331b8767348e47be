"""Violations (违章) and rectification notices (整改通知) over the real app: a failed item of a
renovation check opens one violation (grade, deadline, work order, permit) in the sync transaction,
a second sighting joins it, a later passing check rectifies it; re-inspection by hand and
cancellation exactly once; the list, the notice, the counts for the board, the retention purge."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from qr.signing import sign
from server import labels, violations
from server.tables.accounts import Department
from server.tables.checkpoints import ChecklistTemplate, Checkpoint, TemplateItem
from server.tables.inspections import Inspection, Photo
from server.tables.violations import Violation, ViolationEvent
from server.tables.work_orders import WorkOrder

pytestmark = pytest.mark.api

ENGINEERING = "renovation.engineering"
CUSTOMER_SERVICE = "renovation.customer_service"


async def _photo() -> str:
    sha = uuid.uuid4().hex + uuid.uuid4().hex
    await Photo.insert(
        Photo(
            sha256=sha,
            content_type="image/jpeg",
            byte_size=1000,
            width=10,
            height=10,
            path=f"{sha}.jpg",
            thumb_path=f"{sha}_t.jpg",
            created_at=datetime.now(UTC),
        )
    )
    return sha


async def _items(template: str) -> list[str]:
    row = await ChecklistTemplate.select(ChecklistTemplate.id).where(
        ChecklistTemplate.code == template
    )
    items = await TemplateItem.select(TemplateItem.code).where(
        TemplateItem.template == row[0]["id"]
    )
    return [i["code"] for i in items]


async def _department_id(code: str) -> int:
    return (await Department.select(Department.id).where(Department.code == code).first())["id"]


@dataclass
class Unit:
    site: object
    permit_id: int
    checkpoint_id: int
    code: str
    clients: dict
    users: dict
    settings: object

    async def check(
        self,
        who: str,
        template: str,
        fails: dict[str, str] | None = None,
        *,
        device_time: datetime | None = None,
        record_id: str | None = None,
    ) -> dict:
        """A scanned check of the unit's renovation label by ``who`` on their department's list,
        failing the items in ``fails`` ({item: note}), each with a photo."""
        fails = fails or {}
        items = []
        for code in await _items(template):
            if code in fails:
                items.append(
                    {
                        "item": code,
                        "result": "fail",
                        "note": fails[code],
                        "photos": [await _photo()],
                    }
                )
            else:
                items.append({"item": code, "result": "pass"})
        record = {
            "id": record_id or str(uuid.uuid4()),
            "checkpoint": self.code,
            "site": self.site.id,
            "version": 1,
            "signature": sign(labels.label_secret(self.settings), self.site.code, self.code, 1),
            "source": "scan",
            "device_time": (device_time or datetime.now(UTC)).isoformat(),
            "template": template,
            "items": items,
        }
        response = await self.clients[who].post("/api/sync", json={"records": [record]})
        assert response.status_code == 200, (response.status_code, response.text)
        (result,) = response.json()["results"]
        assert result["status"] in ("accepted", "duplicate"), result
        return {**result, "record": record}


@pytest.fixture
def renovating(make_site, make_user, login, settings):
    """A site whose unit has an issued permit (so an active renovation checkpoint), and people:
    a manager, 客服 desk staff, an engineering inspector, a security inspector, a patroller."""

    async def make() -> Unit:
        site = await make_site(checkpoints=1)
        clients, users = {}, {}
        for name, role, department in (
            ("manager", "manager", None),
            ("kefu", "department", "customer_service"),
            ("engineer", "inspector", "engineering"),
            ("guard", "inspector", "security"),
            ("patrol", "patrol", "customer_service"),
        ):
            users[name] = await make_user(role, [site.id], department)
            clients[name] = await login(users[name])
        body = {
            "site": site.id,
            "unit": site.unit_id,
            "owner_name": "张三",
            "contractor_company": "好家装饰有限公司",
            "contractor_person": "李四",
            "contractor_phone": "13900001111",
            "area_m2": 90,
            "starts_on": date.today().isoformat(),
        }
        permit = (await clients["manager"].post("/api/renovations", json=body)).json()
        url = f"/api/renovations/{permit['id']}"
        for step, extra in (
            ("submit-drawings", {}),
            ("approve-drawings", {}),
            ("sign", {"department": "customer_service"}),
            ("sign", {"department": "engineering"}),
            ("sign", {"department": "security"}),
            ("issue", {}),
        ):
            response = await clients["manager"].post(f"{url}/{step}", json=extra)
            assert response.status_code == 200, (step, response.text)
        issued = response.json()
        checkpoint = (
            await Checkpoint.select(Checkpoint.code)
            .where(Checkpoint.id == issued["checkpoint_id"])
            .first()
        )
        return Unit(
            site,
            permit["id"],
            issued["checkpoint_id"],
            checkpoint["code"],
            clients,
            users,
            settings,
        )

    return make


async def _violations(checkpoint_id: int) -> list[dict]:
    return (
        await Violation.select().where(Violation.checkpoint == checkpoint_id).order_by(Violation.id)
    )


async def test_a_failed_item_opens_one_violation_with_its_notice(renovating):
    unit = await renovating()
    found_at = datetime.now(UTC) - timedelta(minutes=5)
    result = await unit.check(
        "engineer", ENGINEERING, {"load_bearing": "拆除承重墙"}, device_time=found_at
    )
    (row,) = await _violations(unit.checkpoint_id)
    assert row["status"] == "open" and row["item_code"] == "load_bearing"
    assert row["severity"] == "critical" and row["grade"] == "major"
    assert row["title"] == "未凿、拆承重墙、柱、梁、板"
    assert row["permit"] == unit.permit_id
    assert str(row["inspection"]) == result["record"]["id"]
    assert row["found_by"] == unit.users["engineer"].id
    assert row["found_department"] == await _department_id("engineering")
    assert abs((row["deadline"] - row["found_at"]) - timedelta(days=1)) < timedelta(seconds=1)
    assert abs(row["found_at"] - found_at) < timedelta(seconds=1)
    # The work order the sync raised for the item is the notice's, for engineering to act on.
    assert result["work_orders"] == [row["work_order"]]
    order = await WorkOrder.select().where(WorkOrder.id == row["work_order"]).first()
    assert order["item_code"] == "load_bearing"
    assert order["department"] == await _department_id("engineering")
    found_day = found_at.astimezone(ZoneInfo("Asia/Shanghai")).date()
    assert row["keep_until"] == found_day.replace(year=found_day.year + 5)

    # The notice, for printing.
    notice = (await unit.clients["kefu"].get(f"/api/violations/{row['id']}")).json()
    assert notice["grade"] == "major" and notice["overdue"] is False
    assert notice["work_order"] == {"id": row["work_order"], "status": "raised"}
    assert notice["notice"]["owner_name"] == "张三"
    assert notice["notice"]["contractor"]["company"] == "好家装饰有限公司"
    assert notice["notice"]["item"] == "未凿、拆承重墙、柱、梁、板"
    assert notice["notice"]["unit"] == "1栋101"
    sha = result["record"]["items"][
        [i["item"] for i in result["record"]["items"]].index("load_bearing")
    ]["photos"][0]
    assert [p["sha256"] for p in notice["photos"]] == [sha]
    assert [e["action"] for e in notice["events"]] == ["found"]

    # Seen again while open: the same violation and order, noted on it.
    again = await unit.check("engineer", ENGINEERING, {"load_bearing": "仍未恢复"})
    assert again["work_orders"] == [row["work_order"]]
    assert len(await _violations(unit.checkpoint_id)) == 1
    notice = (await unit.clients["kefu"].get(f"/api/violations/{row['id']}")).json()
    assert [e["action"] for e in notice["events"]] == ["found", "seen"]


async def test_seen_again_after_its_order_was_closed_takes_the_new_order(renovating):
    unit = await renovating()
    await unit.check("engineer", ENGINEERING, {"shared_services": "燃气管被改"})
    (row,) = await _violations(unit.checkpoint_id)
    await WorkOrder.update({WorkOrder.status: "closed"}).where(WorkOrder.id == row["work_order"])
    again = await unit.check("engineer", ENGINEERING, {"shared_services": "仍未恢复"})
    (new_order,) = again["work_orders"]
    assert new_order != row["work_order"]
    (row,) = await _violations(unit.checkpoint_id)
    assert row["work_order"] == new_order and row["status"] == "open"


async def test_two_phones_at_once_open_one_violation(renovating, make_user, login):
    """Two inspectors sync a failure of the same item at the same moment: one violation, one
    order, both sightings on it (PostgreSQL: the loser's batch runs again and joins it)."""
    unit = await renovating()
    second = await login(await make_user("inspector", [unit.site.id], "engineering"))
    unit.clients["engineer2"] = second
    results = await asyncio.gather(
        unit.check("engineer", ENGINEERING, {"load_bearing": "甲看到"}),
        unit.check("engineer2", ENGINEERING, {"load_bearing": "乙看到"}),
    )
    (row,) = await _violations(unit.checkpoint_id)
    assert {r["work_orders"][0] for r in results} == {row["work_order"]}
    actions = await ViolationEvent.select(ViolationEvent.action).where(
        ViolationEvent.violation == row["id"]
    )
    assert sorted(a["action"] for a in actions) == ["found", "seen"]


async def test_grade_and_deadline_follow_the_severity(renovating):
    unit = await renovating()
    await unit.check(
        "kefu", CUSTOMER_SERVICE, {"permit_posted": "未张贴", "protection": "电梯未保护"}
    )
    rows = {r["item_code"]: r for r in await _violations(unit.checkpoint_id)}
    assert rows["permit_posted"]["grade"] == "general"
    assert rows["permit_posted"]["deadline"] - rows["permit_posted"]["found_at"] == timedelta(
        days=7
    )
    assert rows["protection"]["grade"] == "major"
    assert rows["protection"]["deadline"] - rows["protection"]["found_at"] == timedelta(days=3)
    day = rows["permit_posted"]["found_at"].astimezone(ZoneInfo("Asia/Shanghai")).date()
    assert rows["permit_posted"]["keep_until"] == day.replace(year=day.year + 1)
    assert violations.DEADLINE_DAYS == {"critical": 1, "major": 3, "minor": 7}


async def test_failures_elsewhere_open_no_violation(renovating, make_site):
    """A failed item of a check on a facility checkpoint raises a work order, not a violation."""
    unit = await renovating()
    facility = unit.site.checkpoint_ids[0]
    template = await Checkpoint.select(Checkpoint.template).where(Checkpoint.id == facility)
    spec = await TemplateItem.select(TemplateItem.code, TemplateItem.is_confirmation).where(
        TemplateItem.template == template[0]["template"]
    )
    spec.sort(key=lambda s: s["is_confirmation"])
    code = (await Checkpoint.select(Checkpoint.code).where(Checkpoint.id == facility))[0]["code"]
    items = [
        {"item": s["code"], "result": "fail" if n == 0 else "pass", "photos": [await _photo()]}
        for n, s in enumerate(spec)
    ]
    record = {
        "id": str(uuid.uuid4()),
        "checkpoint": code,
        "site": unit.site.id,
        "version": 1,
        "signature": sign(labels.label_secret(unit.settings), unit.site.code, code, 1),
        "source": "scan",
        "device_time": datetime.now(UTC).isoformat(),
        "items": items,
    }
    response = await unit.clients["engineer"].post("/api/sync", json={"records": [record]})
    (result,) = response.json()["results"]
    assert result["status"] == "accepted", result
    assert result["work_orders"]
    assert await Violation.count().where(Violation.checkpoint == facility) == 0


async def test_a_later_passing_check_rectifies_it(renovating):
    unit = await renovating()
    found = datetime.now(UTC) - timedelta(hours=2)
    await unit.check("engineer", ENGINEERING, {"floor_drains": "地漏盖被拆"}, device_time=found)
    (row,) = await _violations(unit.checkpoint_id)
    # A pass made before the finding (a phone syncing late) does not rectify it.
    await unit.check("engineer", ENGINEERING, device_time=found - timedelta(hours=1))
    assert (await _violations(unit.checkpoint_id))[0]["status"] == "open"
    # Another department's list does not have the item: still open.
    await unit.check("guard", "renovation.security")
    assert (await _violations(unit.checkpoint_id))[0]["status"] == "open"
    later = await unit.check("engineer", ENGINEERING)
    (row,) = await _violations(unit.checkpoint_id)
    assert row["status"] == "rectified"
    assert str(row["reinspection"]) == later["record"]["id"]
    assert row["closed_by"] == unit.users["engineer"].id
    # Kept 5 years (major) from the day it was rectified.
    assert row["keep_until"] == violations.keep_until(
        violations.local_day(row["rectified_at"], "Asia/Shanghai"), "major"
    )
    rectified_day = violations.local_day(row["rectified_at"], "Asia/Shanghai")
    assert row["keep_until"].year == rectified_day.year + 5
    notice = (await unit.clients["patrol"].get(f"/api/violations/{row['id']}")).json()
    assert notice["reinspection"]["inspection_id"] == later["record"]["id"]
    assert notice["reinspection"]["by_hand"] is False
    assert [e["action"] for e in notice["events"]] == ["found", "rectified"]
    # Failing again later opens a new one.
    await unit.check("engineer", ENGINEERING, {"floor_drains": "又拆了"})
    rows = await _violations(unit.checkpoint_id)
    assert [r["status"] for r in rows] == ["rectified", "open"]


async def test_fail_then_pass_in_one_batch(renovating):
    unit = await renovating()
    now = datetime.now(UTC)
    first_items = []
    for code in await _items(ENGINEERING):
        if code == "per_drawings":
            first_items.append({"item": code, "result": "fail", "photos": [await _photo()]})
        else:
            first_items.append({"item": code, "result": "pass"})

    def record(items, at):
        return {
            "id": str(uuid.uuid4()),
            "checkpoint": unit.code,
            "site": unit.site.id,
            "version": 1,
            "signature": sign(labels.label_secret(unit.settings), unit.site.code, unit.code, 1),
            "source": "scan",
            "device_time": at.isoformat(),
            "template": ENGINEERING,
            "items": items,
        }

    passing = [{"item": code, "result": "pass"} for code in await _items(ENGINEERING)]
    # Sent in the other order: the server goes by when the checks were made.
    response = await unit.clients["engineer"].post(
        "/api/sync",
        json={"records": [record(passing, now), record(first_items, now - timedelta(hours=1))]},
    )
    assert [r["status"] for r in response.json()["results"]] == ["accepted", "accepted"]
    (row,) = await _violations(unit.checkpoint_id)
    assert row["status"] == "rectified"


async def test_a_check_and_its_notices_are_stored_together_or_not_at_all(renovating, monkeypatch):
    unit = await renovating()

    async def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(violations, "from_checks", broken)
    record_id = str(uuid.uuid4())
    with pytest.raises(AssertionError, match="500"):
        await unit.check(
            "engineer", ENGINEERING, {"load_bearing": "拆除承重墙"}, record_id=record_id
        )
    assert await Inspection.count().where(Inspection.id == uuid.UUID(record_id)) == 0
    assert await WorkOrder.count().where(WorkOrder.checkpoint == unit.checkpoint_id) == 0
    monkeypatch.undo()
    await unit.check("engineer", ENGINEERING, {"load_bearing": "拆除承重墙"}, record_id=record_id)
    assert await Inspection.count().where(Inspection.id == uuid.UUID(record_id)) == 1
    assert len(await _violations(unit.checkpoint_id)) == 1


async def test_reinspection_by_hand_exactly_once(renovating):
    unit = await renovating()
    await unit.check("engineer", ENGINEERING, {"facade_fittings": "外窗装防盗网"})
    (row,) = await _violations(unit.checkpoint_id)
    url = f"/api/violations/{row['id']}/reinspect"
    # Not the finder's department, nor the desk: refused.
    for who in ("guard", "patrol"):
        response = await unit.clients[who].post(url, json={"passed": True})
        assert response.status_code == 403, who
        assert response.json()["error"]["code"] == "forbidden"
    missing = await unit.clients["engineer"].post(url, json={"passed": True, "photos": ["a" * 64]})
    assert missing.status_code == 409 and missing.json()["error"]["code"] == "missing_photo"

    # Not yet: stays open, noted.
    failed = await unit.clients["engineer"].post(url, json={"passed": False, "note": "未拆除"})
    assert failed.status_code == 200, failed.text
    assert failed.json()["status"] == "open"

    photo = await _photo()
    body = {"passed": True, "note": "已拆除", "photos": [photo], "client_id": str(uuid.uuid4())}
    done = await unit.clients["kefu"].post(url, json=body)
    assert done.status_code == 200, done.text
    view = done.json()
    assert view["status"] == "rectified" and "X-Replayed" not in done.headers
    assert view["reinspection"]["by_hand"] is True
    assert view["reinspection"]["by"]["id"] == unit.users["kefu"].id
    assert [p["sha256"] for p in view["reinspection"]["photos"]] == [photo]
    assert [(e["action"], e["passed"]) for e in view["events"]] == [
        ("found", None),
        ("reinspect", False),
        ("reinspect", True),
    ]
    again = await unit.clients["kefu"].post(url, json=body)
    assert again.status_code == 200 and again.headers["X-Replayed"] == "1"
    assert await ViolationEvent.count().where(ViolationEvent.violation == row["id"]) == 3
    other = await unit.clients["kefu"].post(url, json={**body, "note": "另一次"})
    assert other.status_code == 409 and other.json()["error"]["code"] == "client_id_conflict"
    closed = await unit.clients["engineer"].post(url, json={"passed": True})
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "violation_not_open"
    # Whoever sees the work order sees the re-inspection's photo.
    seen = await unit.clients["patrol"].get(f"/api/photos/{photo}/thumb")
    assert seen.status_code != 404


async def test_the_same_reinspection_twice_at_once_is_stored_once(renovating):
    unit = await renovating()
    await unit.check("engineer", ENGINEERING, {"per_drawings": "未按图施工"})
    (row,) = await _violations(unit.checkpoint_id)
    body = {"passed": True, "note": "已恢复", "client_id": str(uuid.uuid4())}
    url = f"/api/violations/{row['id']}/reinspect"
    responses = await asyncio.gather(
        unit.clients["engineer"].post(url, json=body),
        unit.clients["engineer"].post(url, json=body),
    )
    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    assert sorted(r.headers.get("X-Replayed", "") for r in responses) == ["", "1"]
    assert await ViolationEvent.count().where(ViolationEvent.violation == row["id"]) == 2


async def test_cancel_is_a_managers_with_a_reason(renovating):
    unit = await renovating()
    await unit.check("guard", "renovation.security", {"passes": "一名工人无出入证"})
    (row,) = await _violations(unit.checkpoint_id)
    assert row["grade"] == "general"
    url = f"/api/violations/{row['id']}/cancel"
    response = await unit.clients["kefu"].post(url, json={"note": "误报"})
    assert response.status_code == 403
    response = await unit.clients["manager"].post(url, json={})
    assert response.status_code == 400 and response.json()["error"]["code"] == "reason_required"
    response = await unit.clients["manager"].post(url, json={"note": "工人出入证已补办，误报"})
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    (row,) = await _violations(unit.checkpoint_id)
    assert row["closed_by"] == unit.users["manager"].id


async def test_list_filters_and_site_scope(renovating, make_site, make_user, login):
    unit = await renovating()
    await unit.check("engineer", ENGINEERING, {"load_bearing": "a", "per_drawings": "b"})
    rows = await _violations(unit.checkpoint_id)
    await unit.clients["manager"].post(
        f"/api/violations/{rows[0]['id']}/cancel", json={"note": "重复"}
    )
    client = unit.clients["patrol"]
    everything = (await client.get("/api/violations", params={"site": unit.site.id})).json()
    assert [v["id"] for v in everything] == [rows[1]["id"], rows[0]["id"]]  # newest first
    open_ = (
        await client.get("/api/violations", params={"site": unit.site.id, "status": "open"})
    ).json()
    assert [v["id"] for v in open_] == [rows[1]["id"]]
    assert open_[0]["unit"]["number"] == "101" and open_[0]["permit_id"] == unit.permit_id
    by_permit = (await client.get("/api/violations", params={"permit": unit.permit_id})).json()
    assert len(by_permit) == 2
    by_checkpoint = (
        await client.get("/api/violations", params={"checkpoint": unit.checkpoint_id})
    ).json()
    assert len(by_checkpoint) == 2
    bad = await client.get("/api/violations", params={"status": "closed"})
    assert bad.status_code == 400
    # Another site's people see nothing of it.
    other = await make_site()
    stranger = await login(await make_user("manager", [other.id]))
    assert (await stranger.get(f"/api/violations/{rows[0]['id']}")).status_code == 404
    assert (await stranger.get("/api/violations", params={"site": unit.site.id})).status_code == 404
    assert (await stranger.get("/api/violations", params={"permit": unit.permit_id})).json() == []
    response = await stranger.post(f"/api/violations/{rows[1]['id']}/cancel", json={"note": "x"})
    assert response.status_code == 404


async def test_open_counts_for_the_board(renovating):
    unit = await renovating()
    await unit.check(
        "engineer", ENGINEERING, {"load_bearing": "a", "per_drawings": "b", "floor_drains": "c"}
    )
    rows = await _violations(unit.checkpoint_id)
    past = datetime.now(UTC) - timedelta(hours=1)
    await Violation.update({Violation.deadline: past}).where(Violation.id == rows[0]["id"])
    await Violation.update({Violation.status: "rectified"}).where(Violation.id == rows[2]["id"])
    counts = await violations.open_counts([unit.permit_id, 2_000_000_000])
    assert counts == {
        unit.permit_id: {"open": 2, "overdue": 1},
        2_000_000_000: {"open": 0, "overdue": 0},
    }
    listed = (await unit.clients["patrol"].get("/api/violations", params={"status": "open"})).json()
    assert {v["id"]: v["overdue"] for v in listed if v["permit_id"] == unit.permit_id} == {
        rows[0]["id"]: True,
        rows[1]["id"]: False,
    }


async def test_purge_deletes_closed_violations_past_their_keeping_day(renovating):
    unit = await renovating()
    await unit.check(
        "engineer", ENGINEERING, {"load_bearing": "a", "per_drawings": "b", "floor_drains": "c"}
    )
    expired, still_open, kept = await _violations(unit.checkpoint_id)
    now = datetime(2032, 6, 1, 6, tzinfo=UTC)  # still 31 May in UTC−12
    await Violation.update(
        {Violation.status: "rectified", Violation.keep_until: date(2032, 5, 30)}
    ).where(Violation.id == expired["id"])
    await Violation.update({Violation.keep_until: date(2032, 5, 1)}).where(
        Violation.id == still_open["id"]
    )
    # Its last day has not ended everywhere yet: kept.
    await Violation.update(
        {Violation.status: "cancelled", Violation.keep_until: date(2032, 5, 31)}
    ).where(Violation.id == kept["id"])
    deleted = await violations.purge_expired(now)
    assert deleted >= 1
    left = {r["id"]: r["status"] for r in await _violations(unit.checkpoint_id)}
    assert left == {still_open["id"]: "open", kept["id"]: "cancelled"}
    assert await ViolationEvent.count().where(ViolationEvent.violation == expired["id"]) == 0
    assert await violations.purge_expired(now) == 0
    assert await violations.purge_expired(now + timedelta(days=1)) >= 1
    assert [r["id"] for r in await _violations(unit.checkpoint_id)] == [still_open["id"]]


async def test_keeping_day_restarts_when_closed(renovating):
    unit = await renovating()
    await unit.check("kefu", CUSTOMER_SERVICE, {"waste_cleared": "垃圾堆放楼道"})
    (row,) = await _violations(unit.checkpoint_id)
    long_ago = date(2020, 1, 1)
    await Violation.update({Violation.keep_until: long_ago}).where(Violation.id == row["id"])
    await unit.clients["kefu"].post(f"/api/violations/{row['id']}/reinspect", json={"passed": True})
    (row,) = await _violations(unit.checkpoint_id)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    assert row["keep_until"] == today.replace(year=today.year + 1)
    assert violations.keep_until(date(2028, 2, 29), "general") == date(2029, 2, 28)


async def test_the_purge_runs_as_a_background_job(monkeypatch, settings):
    from server import compliance_store, escalation, leader

    started: list[tuple[str, float, object]] = []

    async def record(job, interval, tick):
        started.append((job, interval, tick))

    async def idle(*args, **kwargs):
        return None

    monkeypatch.setattr(leader, "run_periodically", record)
    monkeypatch.setattr(escalation, "run_periodically", idle)
    monkeypatch.setattr(compliance_store, "run_periodically", idle)
    async with leader.background_jobs(settings):
        await asyncio.sleep(0.05)
    jobs = {job: (interval, tick) for job, interval, tick in started}
    assert jobs["violation-purge"][1] is violations.purge_expired
    assert jobs["violation-purge"][0] >= leader.PURGE_INTERVAL_SECONDS
    # Its own advisory lock: led by one worker, independently of the other jobs.
    keys = {leader.job_key(job) for job in (*jobs, "escalation", "compliance-upkeep")}
    assert len(keys) == len(jobs) + 2
