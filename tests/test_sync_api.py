"""POST /api/sync over the real app: every record stored exactly once, rejected ones not at all,
bad input answered 4xx with a code (never 500), failed items turned into work orders."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from conftest import unique

from qr.signing import sign
from server import labels
from server.tables.accounts import Department
from server.tables.checkpoints import ChecklistTemplate, Checkpoint, TemplateItem
from server.tables.inspections import Inspection, InspectionPhoto, ItemResult, Photo
from server.tables.work_orders import WorkOrder, WorkOrderReport

pytestmark = pytest.mark.api

DEVICE_TIME = "2026-11-23T09:15:00+08:00"


@dataclass
class World:
    site: object
    user: object
    client: object
    codes: list[str]  # checkpoint codes of the site, all on the test template
    template_code: str
    settings: object

    def record(self, code: str | None = None, **changes) -> dict:
        """A scanned, all-pass record of checkpoint ``code`` with a genuine label."""
        code = code or self.codes[0]
        version = changes.pop("version", 1)
        record = {
            "id": str(uuid.uuid4()),
            "checkpoint": code,
            "site": self.site.id,
            "version": version,
            "signature": (
                sign(labels.label_secret(self.settings), self.site.code, code, version)
                if isinstance(version, int)
                else None
            ),
            "source": "scan",
            "device_time": DEVICE_TIME,
            "template": None,
            "items": [
                {"item": "door", "result": "pass", "note": "", "photos": []},
                {"item": "hose", "result": "pass"},
                {"item": "closed", "result": "pass"},
            ],
            "note": "",
            "photos": [],
        }
        record.update(changes)
        return record

    async def post(self, *records, client=None):
        return await (client or self.client).post("/api/sync", json={"records": list(records)})


async def _make_template(code: str) -> int:
    """A checklist of our own: 'door' (engineering, major, photo on fail), 'hose' (cleaning, no
    photo needed) and the confirmation 'closed'."""
    departments = {
        row["code"]: row["id"] for row in await Department.select(Department.id, Department.code)
    }
    now = datetime.now(UTC)
    template = ChecklistTemplate(
        code=code, kind="facility", name_zh="测试表", name_en="Test list", updated_at=now
    )
    await template.save()
    await TemplateItem.insert(
        TemplateItem(
            template=template.id,
            position=1,
            code="door",
            text_zh="箱门完好",
            text_en="Door intact",
            department=departments["engineering"],
            photo_required_on_fail=True,
            severity="major",
        ),
        TemplateItem(
            template=template.id,
            position=2,
            code="hose",
            text_zh="水带干净",
            text_en="Hose clean",
            department=departments["cleaning"],
            photo_required_on_fail=False,
        ),
        TemplateItem(
            template=template.id,
            position=3,
            code="closed",
            text_zh="箱门已关闭",
            text_en="Door closed",
            photo_required_on_fail=False,
            is_confirmation=True,
        ),
    )
    return template.id


@pytest.fixture
async def world(make_site, make_user, login, settings) -> World:
    site = await make_site(checkpoints=3)
    template_code = unique("t-").lower()
    template_id = await _make_template(template_code)
    await Checkpoint.update({Checkpoint.template: template_id}).where(Checkpoint.site == site.id)
    user = await make_user("patrol", sites=[site.id])
    client = await login(user)
    codes = [f"A-1-T{i}" for i in range(3)]
    return World(site, user, client, codes, template_code, settings)


async def _stored(ids) -> int:
    return await Inspection.count().where(Inspection.id.is_in([uuid.UUID(i) for i in ids]))


async def _site_rows(site_id: int) -> dict[str, int]:
    """Everything sync could have written for the site."""
    inspections = await Inspection.select(Inspection.id).where(
        Inspection.checkpoint.site == site_id
    )
    ids = [row["id"] for row in inspections] or [uuid.uuid4()]
    return {
        "inspections": len(inspections),
        "items": await ItemResult.count().where(ItemResult.inspection.is_in(ids)),
        "photos": await InspectionPhoto.count().where(InspectionPhoto.inspection.is_in(ids)),
        "orders": await WorkOrder.count().where(WorkOrder.site == site_id),
        "reports": await WorkOrderReport.count().where(WorkOrderReport.inspection.is_in(ids)),
    }


_NOTHING = {"inspections": 0, "items": 0, "photos": 0, "orders": 0, "reports": 0}


async def _photo(sha: str | None = None) -> str:
    sha = sha or uuid.uuid4().hex + uuid.uuid4().hex
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


def _results(response) -> list[dict]:
    assert response.status_code == 200, response.text
    return response.json()["results"]


# --- accepted -----------------------------------------------------------------------------------


async def test_scanned_record_is_stored_with_its_items(world):
    record = world.record(note="一切正常")
    (result,) = _results(await world.post(record))
    assert result == {"id": record["id"], "status": "accepted", "work_orders": []}
    row = (
        await Inspection.select()
        .where(Inspection.id == uuid.UUID(record["id"]))
        .first()
        .output(load_json=True)
    )
    assert row["source"] == "scan" and row["label_version"] == 1
    assert row["inspector"] == world.user.id and row["note"] == "一切正常"
    assert row["device_time"] == datetime(2026, 11, 23, 1, 15, tzinfo=UTC)
    received = row["received_at"]
    assert abs(received - datetime.now(UTC)) < timedelta(minutes=1)
    assert row["clock_skew_seconds"] == round((row["device_time"] - received).total_seconds())
    items = await ItemResult.select(ItemResult.item_code, ItemResult.result).where(
        ItemResult.inspection == uuid.UUID(record["id"])
    )
    assert sorted((i["item_code"], i["result"]) for i in items) == [
        ("closed", "pass"),
        ("door", "pass"),
        ("hose", "pass"),
    ]


async def test_manual_entry_without_site_is_resolved_among_my_sites(world):
    record = world.record(
        checkpoint=world.codes[1].lower(), site=None, version=None, signature=None, source="manual"
    )
    record.pop("version", None)
    (result,) = _results(await world.post(record))
    assert result["status"] == "accepted", result
    row = await Inspection.select().where(Inspection.id == uuid.UUID(record["id"])).first()
    assert row["source"] == "manual" and row["label_version"] is None
    cp = await Checkpoint.select(Checkpoint.code).where(Checkpoint.id == row["checkpoint"]).first()
    assert cp["code"] == world.codes[1]


async def test_scan_with_null_site_tries_my_sites(world, make_site):
    # Another site of mine with the same codes: the signature picks the right one.
    other = await make_site(checkpoints=1)
    from server.tables.accounts import SiteMembership

    await SiteMembership.insert(SiteMembership(user=world.user.id, site=other.id))
    client = await _relogin(world)
    record = world.record(site=None)
    (result,) = _results(await world.post(record, client=client))
    assert result["status"] == "accepted", result
    row = await Inspection.select(Inspection.checkpoint.site.as_alias("site")).where(
        Inspection.id == uuid.UUID(record["id"])
    )
    assert row[0]["site"] == world.site.id


async def _relogin(world):
    from conftest import PASSWORD

    client = world.client
    response = await client.post(
        "/api/auth/login", json={"username": world.user.username, "password": PASSWORD}
    )
    assert response.status_code == 200
    return client


# --- whole-request errors: 4xx with a code, nothing stored ------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"records": [',
        b"not json at all",
        b"",
        b'{"records": "many"}',
        b'{"records": []}',
        b"[]",
    ],
)
async def test_malformed_json_is_400_and_nothing_stored(world, body):
    response = await world.client.post(
        "/api/sync", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_request"
    assert await _site_rows(world.site.id) == _NOTHING


@pytest.mark.parametrize(
    "change",
    [
        {"version": "1"},
        {"id": "not-a-uuid"},
        {"items": {"door": "pass"}},
        {"items": [{"item": "door", "result": "ok"}]},
        {"items": [{"item": "door", "result": "pass", "photos": ["abc"]}]},
        {"source": "guess"},
        {"site": 2**40},
        {"device_time": "yesterday"},
        {"note": "长" * 2001},
        {"unexpected": True},
        {"checkpoint": None},
    ],
)
async def test_wrong_types_are_400_and_nothing_stored(world, change):
    good = world.record()
    bad = world.record(**change)
    response = await world.post(good, bad)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_request"
    assert await _site_rows(world.site.id) == _NOTHING


async def test_batch_of_1000_is_413_and_nothing_stored(world):
    records = [world.record(world.codes[i % 3]) for i in range(1000)]
    response = await world.post(*records)
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "batch_too_large"
    assert await _site_rows(world.site.id) == _NOTHING


async def test_a_50_mb_body_is_413_and_nothing_stored(world):
    record = world.record()
    body = json.dumps({"records": [record]}).encode()
    body = body[:-2] + b", " + b'"' + b"x" * (50 * 1024 * 1024) + b'"]}'
    response = await world.client.post(
        "/api/sync", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "payload_too_large"
    assert await _site_rows(world.site.id) == _NOTHING


async def test_anonymous_sync_is_401(world, make_client):
    response = await make_client().post("/api/sync", json={"records": [world.record()]})
    assert response.status_code == 401
    assert await _site_rows(world.site.id) == _NOTHING


# --- per-record rejections: 200, the record not stored, the others are ------------------------


async def _rejected(world, record, code, *, language="zh-CN"):
    good = world.record(world.codes[2])
    client = world.client
    response = await client.post(
        "/api/sync", json={"records": [record, good]}, headers={"Accept-Language": language}
    )
    bad_result, good_result = _results(response)
    assert bad_result["status"] == "rejected", bad_result
    assert bad_result["code"] == code, bad_result
    assert bad_result["reason"]
    assert good_result["status"] == "accepted", good_result
    assert await _stored([record["id"]]) == 0
    assert await _stored([good["id"]]) == 1
    return bad_result


async def test_unknown_checkpoint(world, make_site):
    await _rejected(world, world.record("NO-SUCH-1"), "unknown_checkpoint")
    # A genuine label of a site I am not in reads the same: never a hint it exists elsewhere.
    theirs = await make_site(checkpoints=1)
    record = world.record(
        site=theirs.id,
        signature=sign(labels.label_secret(world.settings), theirs.code, "A-1-T0", 1),
        checkpoint="A-1-T0",
    )
    await _rejected(world, record, "unknown_checkpoint")
    await _rejected(
        world, world.record(source="manual", site=theirs.id, signature=None), "unknown_checkpoint"
    )


async def test_bad_signature(world):
    await _rejected(world, world.record(signature="AAAAAAAAAAA"), "bad_signature")
    # A real signature for another checkpoint does not carry over.
    other = sign(labels.label_secret(world.settings), world.site.code, world.codes[1], 1)
    await _rejected(world, world.record(signature=other), "bad_signature")
    await _rejected(world, world.record(signature=None, version=None), "bad_signature")


async def test_revoked_label_version(world):
    checkpoint_id = world.site.checkpoint_ids[0]
    await labels.reissue_label(world.settings, checkpoint_id)
    result = await _rejected(world, world.record(version=1), "label_revoked", language="en")
    assert result["reason"] == "This label was replaced by a new one; scan the new label"
    # The new label works.
    (fresh,) = _results(await world.post(world.record(version=2)))
    assert fresh["status"] == "accepted"


async def test_device_time_without_offset(world):
    result = await _rejected(
        world, world.record(device_time="2026-11-23T09:15:00"), "bad_device_time"
    )
    assert result["reason"] == "记录时间无效（需要带时区的时间）"
    await _rejected(world, world.record(device_time="0001-01-01T00:00:00+00:00"), "bad_device_time")
    await _rejected(world, world.record(device_time="9999-12-31T23:59:59-12:00"), "bad_device_time")


async def test_missing_photo_then_accepted_once_it_is_uploaded(world):
    sha = "a" * 63 + "b"
    record = world.record(photos=[sha])
    await _rejected(world, record, "missing_photo")
    await _photo(sha)
    (result,) = _results(await world.post(record))
    assert result["status"] == "accepted"
    photos = await InspectionPhoto.select(InspectionPhoto.item_code, InspectionPhoto.photo).where(
        InspectionPhoto.inspection == uuid.UUID(record["id"])
    )
    assert photos == [{"item_code": "", "photo": sha}]


async def test_checklist_rules(world):
    items = world.record()["items"]
    await _rejected(
        world, world.record(items=[*items, {"item": "smell", "result": "pass"}]), "unknown_item"
    )
    await _rejected(world, world.record(items=items[:2]), "incomplete_check")
    await _rejected(world, world.record(items=[*items, items[0]]), "incomplete_check")
    confirmation_not_ticked = [items[0], items[1], {"item": "closed", "result": "na"}]
    await _rejected(world, world.record(items=confirmation_not_ticked), "incomplete_check")
    no_photo = [{"item": "door", "result": "fail"}, items[1], items[2]]
    await _rejected(world, world.record(items=no_photo), "photo_required")
    await _rejected(world, world.record(template="no-such-template", items=[]), "incomplete_check")
    # This checklist has no defect types (signage ones do): any defect type is not one of its own.
    torn = [{"item": "door", "result": "fail", "defect_type": "torn", "photos": [await _photo()]}]
    await _rejected(world, world.record(items=[*torn, items[1], items[2]]), "unknown_defect_type")
    assert await WorkOrder.count().where(WorkOrder.site == world.site.id) == 0


async def test_no_template(world):
    await Checkpoint.update({Checkpoint.template: None}).where(
        Checkpoint.id == world.site.checkpoint_ids[0]
    )
    await _rejected(world, world.record(), "no_template")


# --- exactly once --------------------------------------------------------------------------------


async def test_duplicate_with_keys_in_another_order(world):
    record = world.record()
    (first,) = _results(await world.post(record))
    assert first["status"] == "accepted"
    reordered = dict(reversed(list(record.items())))
    reordered["items"] = [dict(reversed(list(i.items()))) for i in record["items"]]
    (again,) = _results(await world.post(reordered))
    assert again == {"id": record["id"], "status": "duplicate", "work_orders": []}
    assert await _stored([record["id"]]) == 1
    assert (await _site_rows(world.site.id))["items"] == 3


async def test_conflict_keeps_the_first_body(world):
    record = world.record(note="第一次")
    _results(await world.post(record))
    changed = {**record, "note": "改过了"}
    (result,) = _results(await world.post(changed))
    assert result["status"] == "rejected" and result["code"] == "conflict"
    row = await Inspection.select(Inspection.note).where(Inspection.id == uuid.UUID(record["id"]))
    assert row == [{"note": "第一次"}]


async def test_duplicates_within_one_batch(world):
    record = world.record()
    changed = {**record, "note": "另一个"}
    results = _results(
        await world.post(record, dict(record), changed, world.record(world.codes[1]))
    )
    assert [r["status"] for r in results] == ["accepted", "duplicate", "rejected", "accepted"]
    assert results[2]["code"] == "conflict"
    assert await _stored([record["id"]]) == 1
    assert (await _site_rows(world.site.id))["inspections"] == 2


async def test_rejected_then_repeated_in_batch_stays_rejected(world):
    record = world.record(signature="AAAAAAAAAAA")
    results = _results(await world.post(record, dict(record)))
    assert [(r["status"], r["code"]) for r in results] == [("rejected", "bad_signature")] * 2
    assert await _site_rows(world.site.id) == _NOTHING


async def test_a_re_sent_record_is_a_duplicate_after_its_label_was_replaced(world):
    record = world.record()
    _results(await world.post(record))
    await labels.reissue_label(world.settings, world.site.checkpoint_ids[0])
    (again,) = _results(await world.post(record))
    assert again["status"] == "duplicate"


async def test_same_batch_three_times_concurrently_is_stored_once(world, login):
    sha = await _photo()
    records = [world.record(world.codes[i % 3]) for i in range(30)]
    failing = world.record(
        world.codes[0],
        items=[
            {"item": "door", "result": "fail", "photos": [sha]},
            {"item": "hose", "result": "fail"},
            {"item": "closed", "result": "pass"},
        ],
    )
    records.append(failing)
    clients = [world.client, await login(world.user), await login(world.user)]
    responses = await asyncio.gather(*(world.post(*records, client=c) for c in clients))
    answers = [_results(r) for r in responses]
    for i, record in enumerate(records):
        statuses = sorted(a[i]["status"] for a in answers)
        assert statuses == ["accepted", "duplicate", "duplicate"], (i, statuses)
        assert all(a[i]["id"] == record["id"] for a in answers)
    assert await _stored([r["id"] for r in records]) == len(records)
    rows = await _site_rows(world.site.id)
    assert rows == {
        "inspections": 31,
        "items": 93,
        "photos": 1,
        "orders": 2,
        "reports": 2,
    }
    # Every answer names the same two orders for the failing record.
    orders = {tuple(sorted(a[-1]["work_orders"])) for a in answers}
    assert len(orders) == 1 and len(next(iter(orders))) == 2


async def test_overlapping_batches_in_opposite_orders_are_stored_once(world, login):
    records = [world.record(world.codes[i % 3]) for i in range(40)]
    other = await login(world.user)
    forward, backward = await asyncio.gather(
        world.post(*records), world.post(*reversed(records), client=other)
    )
    answers = {r["id"]: [r["status"]] for r in _results(forward)}
    for r in _results(backward):
        answers[r["id"]].append(r["status"])
    assert all(sorted(s) == ["accepted", "duplicate"] for s in answers.values()), answers
    assert await _stored([r["id"] for r in records]) == 40


# --- findings -----------------------------------------------------------------------------------


def _failing(world, code, item="door", *, sha, note="箱门损坏", device_time=DEVICE_TIME):
    items = {
        "door": {"item": "door", "result": "pass"},
        "hose": {"item": "hose", "result": "pass"},
        "closed": {"item": "closed", "result": "pass"},
    }
    items[item] = {"item": item, "result": "fail", "note": note, "photos": [sha]}
    return world.record(code, items=list(items.values()), device_time=device_time)


async def test_failed_items_raise_and_join_work_orders(world, make_user, login):
    sha = await _photo()
    first = _failing(world, world.codes[0], sha=sha)
    (r1,) = _results(await world.post(first))
    assert r1["status"] == "accepted" and len(r1["work_orders"]) == 1
    order_id = r1["work_orders"][0]
    order = await WorkOrder.select().where(WorkOrder.id == order_id).first()
    engineering = await Department.select(Department.id).where(Department.code == "engineering")
    assert order["department"] == engineering[0]["id"]
    assert order["source"] == "inspection" and order["status"] == "raised"
    assert order["severity"] == "major" and order["title"] == "箱门完好"
    assert order["checkpoint"] == world.site.checkpoint_ids[0] and order["item_code"] == "door"
    assert order["site"] == world.site.id and order["raised_by"] == world.user.id
    # The phone's time is more than 30 days ago: the order is raised 30 days before receipt.
    assert order["raised_at"] >= order["created_at"] - timedelta(days=30, seconds=1)
    assert order["raised_at"] <= order["created_at"]

    # A colleague fails the same item while the order is open: a report on the same order.
    colleague = await make_user("patrol", sites=[world.site.id])
    second = _failing(world, world.codes[0], sha=sha, note="还是坏的")
    (r2,) = _results(await world.post(second, client=await login(colleague)))
    assert r2["work_orders"] == [order_id]
    reports = await WorkOrderReport.select(
        WorkOrderReport.inspection, WorkOrderReport.reporter, WorkOrderReport.note
    ).where(WorkOrderReport.work_order == order_id)
    assert sorted((str(r["inspection"]), r["reporter"], r["note"]) for r in reports) == sorted(
        [(first["id"], world.user.id, "箱门损坏"), (second["id"], colleague.id, "还是坏的")]
    )

    # Another item of the same checkpoint: another order, for its own department.
    third = _failing(world, world.codes[0], "hose", sha=sha)
    (r3,) = _results(await world.post(third))
    assert len(r3["work_orders"]) == 1 and r3["work_orders"] != [order_id]
    # The same item at another checkpoint: another order too.
    fourth = _failing(world, world.codes[1], sha=sha)
    (r4,) = _results(await world.post(fourth))
    assert r4["work_orders"][0] not in (order_id, r3["work_orders"][0])
    assert await WorkOrder.count().where(WorkOrder.site == world.site.id) == 3

    # Once the order is closed, the next failure raises a new one.
    await WorkOrder.update({WorkOrder.status: "closed"}).where(WorkOrder.id == order_id)
    fifth = _failing(world, world.codes[0], sha=sha)
    (r5,) = _results(await world.post(fifth))
    assert r5["work_orders"] and r5["work_orders"][0] != order_id
    # A re-send answers with the same orders.
    (again,) = _results(await world.post(fifth))
    assert again == {"id": fifth["id"], "status": "duplicate", "work_orders": r5["work_orders"]}


async def test_two_failures_of_one_item_in_one_batch_share_an_order(world):
    sha = await _photo()
    now = datetime.now(UTC).astimezone(timedelta_tz(8)).isoformat()
    a = _failing(world, world.codes[2], sha=sha, device_time=now)
    b = _failing(world, world.codes[2], sha=sha, device_time=now)
    ra, rb = _results(await world.post(a, b))
    assert ra["work_orders"] == rb["work_orders"] and len(ra["work_orders"]) == 1
    order = await WorkOrder.select(WorkOrder.raised_at).where(WorkOrder.id == ra["work_orders"][0])
    assert abs(order[0]["raised_at"] - datetime.fromisoformat(now)) < timedelta(seconds=1)
    assert (await _site_rows(world.site.id))["reports"] == 2


def timedelta_tz(hours: int):
    from datetime import timezone

    return timezone(timedelta(hours=hours))


async def test_renovation_uses_my_departments_checklist(make_site, make_user, login, settings):
    site = await make_site(checkpoints=1)
    await Checkpoint.update({Checkpoint.kind: "renovation", Checkpoint.template: None}).where(
        Checkpoint.site == site.id
    )
    engineering_list = await ChecklistTemplate.select(ChecklistTemplate.id).where(
        ChecklistTemplate.code == "renovation.engineering"
    )
    items = await TemplateItem.select(TemplateItem.code).where(
        TemplateItem.template == engineering_list[0]["id"]
    )
    record = {
        "id": str(uuid.uuid4()),
        "checkpoint": "A-1-T0",
        "site": site.id,
        "version": 1,
        "signature": sign(labels.label_secret(settings), site.code, "A-1-T0", 1),
        "source": "scan",
        "device_time": DEVICE_TIME,
        "items": [{"item": i["code"], "result": "pass"} for i in items],
    }
    engineer = await login(await make_user("inspector", sites=[site.id], department="engineering"))
    (result,) = _results(await engineer.post("/api/sync", json={"records": [record]}))
    assert result["status"] == "accepted", result
    row = await Inspection.select(Inspection.template).where(
        Inspection.id == uuid.UUID(record["id"])
    )
    assert row[0]["template"] == engineering_list[0]["id"]
    # Someone of a department without a renovation list has none to fill in.
    cleaner = await login(await make_user("department", sites=[site.id], department="cleaning"))
    other = {**record, "id": str(uuid.uuid4())}
    (result,) = _results(await cleaner.post("/api/sync", json={"records": [other]}))
    assert result["code"] == "no_template"


async def test_a_record_stored_meanwhile_by_another_request_reads_as_duplicate(world, caplog):
    """Another request stores one of the batch's ids while this batch is being applied: the
    batch waits (SQLite) or loses the insert race and runs again (PostgreSQL) — never a 500."""
    import contextvars
    import logging

    import msgspec

    from server.db import write_transaction
    from server.sync import RecordIn, body_hash

    caplog.set_level(logging.INFO, logger="xunjian.sync")
    raced, other = world.record(), world.record(world.codes[1])
    decoded = msgspec.json.decode(json.dumps(raced), type=RecordIn)
    async with write_transaction(Inspection._meta.db):
        now = datetime.now(UTC)
        await Inspection.insert(
            Inspection(
                id=decoded.id,
                checkpoint=world.site.checkpoint_ids[0],
                inspector=world.user.id,
                device_time=decoded.device_time,
                received_at=now,
                source="scan",
                label_version=1,
                body_hash=body_hash(decoded),
            )
        )
        # The request runs outside this transaction (a fresh context), and has to wait for it.
        request = asyncio.create_task(world.post(raced, other), context=contextvars.Context())
        await asyncio.sleep(1.0)
        assert not request.done()
    results = _results(await request)
    assert [r["status"] for r in results] == ["duplicate", "accepted"]
    assert await _stored([raced["id"], other["id"]]) == 2
    if Inspection._meta.db.engine_type == "postgres":
        assert "lost an insert race" in caplog.text
