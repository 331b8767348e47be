"""Reading inspections back: one record with its items and photos, pages with totals, date filters,
a checkpoint's status, and other sites' records answered 404.

Inspections are stored straight through the tables (not through POST /api/sync), so these tests
read exactly what was written.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

pytestmark = pytest.mark.api

SHANGHAI = timezone(timedelta(hours=8))


async def template_items(checkpoint_id: int) -> tuple[int, str, list[dict]]:
    """The checkpoint's template id, code and items (in checklist order)."""
    from server.tables.checkpoints import Checkpoint, TemplateItem

    row = (
        await Checkpoint.select(
            Checkpoint.template.id.as_alias("id"), Checkpoint.template.code.as_alias("code")
        )
        .where(Checkpoint.id == checkpoint_id)
        .first()
    )
    items = (
        await TemplateItem.select()
        .where(TemplateItem.template == row["id"])
        .order_by(TemplateItem.position)
    )
    return row["id"], row["code"], items


async def add_photo(seed: str, uploader: int | None = None) -> str:
    from server.tables.inspections import Photo

    sha = hashlib.sha256(f"{seed}-{uuid.uuid4()}".encode()).hexdigest()
    await Photo.insert(
        Photo(
            sha256=sha,
            content_type="image/jpeg",
            byte_size=1234,
            width=1600,
            height=1200,
            path=f"{sha[:2]}/{sha[2:4]}/{sha}.jpg",
            thumb_path=f"{sha[:2]}/{sha[2:4]}/{sha}_t.jpg",
            uploaded_by=uploader,
            created_at=datetime.now(UTC),
        )
    )
    return sha


async def add_inspection(
    checkpoint_id: int,
    inspector_id: int,
    *,
    device_time: datetime | None = None,
    received_at: datetime | None = None,
    failed: tuple[str, ...] = (),
    item_photos: dict[str, list[str]] | None = None,
    photos: tuple[str, ...] = (),
    note: str = "",
    source: str = "scan",
) -> str:
    """Store a check of every template item (pass unless named in ``failed``)."""
    from server.tables.inspections import Inspection, InspectionPhoto, ItemResult

    template_id, _code, items = await template_items(checkpoint_id)
    received_at = received_at or datetime.now(UTC)
    device_time = device_time or received_at
    inspection_id = uuid.uuid4()
    await Inspection.insert(
        Inspection(
            id=inspection_id,
            checkpoint=checkpoint_id,
            template=template_id,
            inspector=inspector_id,
            device_time=device_time,
            received_at=received_at,
            source=source,
            label_version=1 if source == "scan" else None,
            note=note,
            clock_skew_seconds=round((device_time - received_at).total_seconds()),
            body_hash=uuid.uuid4().hex * 2,
        )
    )
    await ItemResult.insert(
        *[
            ItemResult(
                inspection=inspection_id,
                item_code=item["code"],
                result="fail" if item["code"] in failed else "pass",
                note="坏了" if item["code"] in failed else "",
            )
            for item in items
        ]
    )
    rows = [
        InspectionPhoto(inspection=inspection_id, item_code=code, photo=sha)
        for code, shas in (item_photos or {}).items()
        for sha in shas
    ] + [InspectionPhoto(inspection=inspection_id, item_code="", photo=sha) for sha in photos]
    if rows:
        await InspectionPhoto.insert(*rows)
    return str(inspection_id)


async def add_work_order(
    site_id: int,
    checkpoint_id: int,
    item_code: str,
    inspections: list[str],
    *,
    status: str = "raised",
    department: str = "engineering",
) -> int:
    from server.tables.accounts import Department
    from server.tables.work_orders import WorkOrder, WorkOrderReport

    now = datetime.now(UTC)
    department_id = (
        await Department.select(Department.id).where(Department.code == department).first()
    )["id"]
    order = WorkOrder(
        site=site_id,
        checkpoint=checkpoint_id,
        item_code=item_code,
        department=department_id,
        source="inspection",
        status=status,
        title=f"问题 {item_code}",
        raised_at=now - timedelta(hours=1),
        created_at=now,
        updated_at=now,
    )
    await order.save()
    for inspection_id in inspections:
        await WorkOrderReport.insert(
            WorkOrderReport(
                work_order=order.id,
                inspection=uuid.UUID(inspection_id),
                reported_at=now,
                created_at=now,
            )
        )
    return order.id


# --- one record ----------------------------------------------------------------------------------


async def test_read_one_inspection_with_items_photos_and_orders(make_site, make_user, login):
    site = await make_site()
    patrol = await make_user("patrol", sites=[site.id])
    manager = await make_user("manager", sites=[site.id])
    checkpoint = site.checkpoint_ids[0]
    _template_id, template_code, items = await template_items(checkpoint)
    failed = items[1]["code"]
    item_shots = [await add_photo("item-a"), await add_photo("item-b")]
    whole_shot = await add_photo("whole")
    received = datetime(2026, 11, 23, 2, 0, 0, tzinfo=UTC)
    device = received - timedelta(seconds=900)  # the phone's clock is 15 minutes slow
    inspection_id = await add_inspection(
        checkpoint,
        patrol.id,
        device_time=device,
        received_at=received,
        failed=(failed,),
        item_photos={failed: item_shots},
        photos=(whole_shot,),
        note="门口有杂物",
    )
    order = await add_work_order(site.id, checkpoint, failed, [inspection_id])

    client = await login(manager)
    response = await client.get(f"/api/inspections/{inspection_id}")
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["id"] == inspection_id
    assert record["checkpoint"] == {"id": checkpoint, "code": "A-1-T0", "name": "消火栓 0"}
    assert record["site_id"] == site.id
    assert record["source"] == "scan" and record["label_version"] == 1
    # In the site's time zone, with its offset.
    assert record["device_time"] == "2026-11-23T09:45:00+08:00"
    assert record["received_at"] == "2026-11-23T10:00:00+08:00"
    assert record["clock_skew_seconds"] == -900
    assert record["clock_flagged"] is True
    assert record["inspector"]["id"] == patrol.id
    assert record["inspector"]["display_name"] == "测试patrol"
    assert record["template"] == template_code
    assert record["note"] == "门口有杂物"
    assert [i["item"] for i in record["items"]] == [i["code"] for i in items]
    by_code = {i["item"]: i for i in record["items"]}
    assert by_code[failed]["result"] == "fail"
    assert by_code[failed]["note"] == "坏了"
    assert by_code[failed]["text_zh"] == items[1]["text_zh"]
    assert by_code[failed]["text_en"] == items[1]["text_en"]
    assert by_code[failed]["photos"] == [
        {"sha256": sha, "url": f"/api/photos/{sha}", "thumb_url": f"/api/photos/{sha}/thumb"}
        for sha in item_shots
    ]
    assert by_code[items[0]["code"]] | {"photos": None} == {
        "item": items[0]["code"],
        "text_zh": items[0]["text_zh"],
        "text_en": items[0]["text_en"],
        "result": "pass",
        "note": "",
        "defect_type": "",
        "photos": None,
    }
    assert by_code[items[0]["code"]]["photos"] == []
    assert [p["sha256"] for p in record["photos"]] == [whole_shot]
    assert record["work_orders"] == [order]


async def test_clock_within_ten_minutes_is_not_flagged(make_site, make_user, login):
    site = await make_site()
    patrol = await make_user("patrol", sites=[site.id])
    received = datetime.now(UTC)
    inspection_id = await add_inspection(
        site.checkpoint_ids[0],
        patrol.id,
        device_time=received + timedelta(seconds=600),
        received_at=received,
        source="manual",
    )
    record = (await (await login(patrol)).get(f"/api/inspections/{inspection_id}")).json()
    assert record["clock_skew_seconds"] == 600
    assert record["clock_flagged"] is False
    assert record["source"] == "manual" and record["label_version"] is None
    assert record["work_orders"] == [] and record["photos"] == []


@pytest.mark.parametrize("role", ["patrol", "manager"])
async def test_other_sites_inspections_are_404(role, make_site, make_user, login):
    mine, theirs = await make_site(), await make_site()
    stranger = await make_user("patrol", sites=[theirs.id])
    theirs_id = await add_inspection(theirs.checkpoint_ids[0], stranger.id)
    client = await login(await make_user(role, sites=[mine.id]), language="en")
    for path in (
        f"/api/inspections/{theirs_id}",
        f"/api/inspections/{uuid.uuid4()}",
        "/api/inspections/not-a-uuid",
        f"/api/inspections?checkpoint={theirs.checkpoint_ids[0]}",
        f"/api/checkpoints/{theirs.checkpoint_ids[0]}/status",
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.json() == {"error": {"code": "not_found", "message": "Not found"}}
    listing = (await client.get("/api/inspections")).json()
    assert listing["total"] == 0 and listing["items"] == []
    # An administrator sees every site.
    admin = await login(await make_user("admin"))
    assert (await admin.get(f"/api/inspections/{theirs_id}")).status_code == 200


async def test_not_found_in_chinese_by_default(make_site, make_user, login):
    site = await make_site()
    client = await login(await make_user("manager", sites=[site.id]))
    response = await client.get(f"/api/inspections/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json()["error"] == {"code": "not_found", "message": "找不到该内容"}


# --- lists -------------------------------------------------------------------------------------


async def test_pages_newest_first_with_totals(make_site, make_user, login):
    site = await make_site()
    other = await make_site()
    patrol = await make_user("patrol", sites=[site.id])
    outsider = await make_user("patrol", sites=[other.id])
    base = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    made = []
    for n in range(7):
        checkpoint = site.checkpoint_ids[n % 2]
        made.append(
            await add_inspection(checkpoint, patrol.id, device_time=base + timedelta(hours=n))
        )
    await add_inspection(other.checkpoint_ids[0], outsider.id, device_time=base)
    newest_first = list(reversed(made))

    client = await login(await make_user("dispatcher", sites=[site.id]))
    seen = []
    for page, size in ((1, 3), (2, 3), (3, 1)):
        response = await client.get("/api/inspections", params={"page": page, "page_size": 3})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == 7 and body["page"] == page and body["page_size"] == 3
        assert len(body["items"]) == size
        seen += [item["id"] for item in body["items"]]
    assert seen == newest_first
    beyond = (await client.get("/api/inspections", params={"page": 4, "page_size": 3})).json()
    assert beyond["total"] == 7 and beyond["items"] == []

    default = (await client.get("/api/inspections")).json()
    assert default["page"] == 1 and default["page_size"] == 50 and len(default["items"]) == 7
    # A page holds whole records.
    assert {len(item["items"]) for item in default["items"]} != {0}

    by_checkpoint = (
        await client.get("/api/inspections", params={"checkpoint": site.checkpoint_ids[1]})
    ).json()
    assert by_checkpoint["total"] == 3
    assert [i["id"] for i in by_checkpoint["items"]] == [made[5], made[3], made[1]]
    assert {i["checkpoint"]["id"] for i in by_checkpoint["items"]} == {site.checkpoint_ids[1]}


async def test_page_size_limits(make_site, make_user, login):
    site = await make_site()
    client = await login(await make_user("manager", sites=[site.id]), language="en")
    for params in ({"page_size": 0}, {"page_size": 201}, {"page": 0}, {"checkpoint": "x"}):
        response = await client.get("/api/inspections", params=params)
        assert response.status_code == 400, params
        assert response.json()["error"]["code"] == "invalid_request"
        assert response.json()["error"]["message"] == "The request is not valid"
    assert (await client.get("/api/inspections", params={"page_size": 200})).status_code == 200


async def test_date_filters(make_site, make_user, login):
    site = await make_site()
    patrol = await make_user("patrol", sites=[site.id])
    checkpoint = site.checkpoint_ids[0]
    # Shanghai local times: 21 Nov 23:30, 22 Nov 00:30, 22 Nov 12:00, 22 Nov 23:59, 23 Nov 08:00.
    local = [
        datetime(2026, 11, 21, 23, 30, tzinfo=SHANGHAI),
        datetime(2026, 11, 22, 0, 30, tzinfo=SHANGHAI),
        datetime(2026, 11, 22, 12, 0, tzinfo=SHANGHAI),
        datetime(2026, 11, 22, 23, 59, tzinfo=SHANGHAI),
        datetime(2026, 11, 23, 8, 0, tzinfo=SHANGHAI),
    ]
    ids = [
        await add_inspection(checkpoint, patrol.id, device_time=t.astimezone(UTC)) for t in local
    ]
    client = await login(await make_user("manager", sites=[site.id]), language="en")

    async def found(**params) -> list[str]:
        response = await client.get("/api/inspections", params={"checkpoint": checkpoint, **params})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == len(body["items"])
        return [item["id"] for item in body["items"]]

    # Dates are whole days in the site's time zone; "to" includes its day.
    assert await found(**{"from": "2026-11-22", "to": "2026-11-22"}) == [ids[3], ids[2], ids[1]]
    assert await found(**{"from": "2026-11-22"}) == [ids[4], ids[3], ids[2], ids[1]]
    assert await found(to="2026-11-21") == [ids[0]]
    # Date-times with an offset are exact instants, both ends included.
    both_ends = {"from": "2026-11-22T12:00:00+08:00", "to": "2026-11-23T00:00:00Z"}
    assert await found(**both_ends) == [ids[4], ids[3], ids[2]]
    assert await found(**{"from": "2026-11-22T04:00:00Z", "to": "2026-11-22T15:59:00Z"}) == [
        ids[3],
        ids[2],
    ]
    # The plus sign of an offset lost in a hand-typed query string is still read as one.
    response = await client.get(
        f"/api/inspections?checkpoint={checkpoint}&from=2026-11-22T12:00:00+08:00"
    )
    assert [i["id"] for i in response.json()["items"]] == [ids[4], ids[3], ids[2]]
    assert await found(**{"from": "2026-11-24"}) == []

    for bad in ("2026-11-22T12:00:00", "yesterday", "2026-13-40", "2026-11-22T25:00+08:00"):
        response = await client.get("/api/inspections", params={"from": bad})
        assert response.status_code == 400, bad
        error = response.json()["error"]
        assert error["code"] == "invalid_request"
        assert error["message"] == "The request is not valid"
        assert error["detail"][0]["field"] == "from"


# --- a checkpoint's status ---------------------------------------------------------------------


async def test_checkpoint_status(make_site, make_user, login):
    site = await make_site()
    patrol = await make_user("patrol", sites=[site.id])
    checkpoint = site.checkpoint_ids[0]
    _tid, _code, items = await template_items(checkpoint)
    first, second = items[0]["code"], items[1]["code"]
    base = datetime.now(UTC) - timedelta(days=2)
    made = []
    for n in range(6):
        failed = (first, second) if n == 4 else ((first,) if n == 2 else ())
        made.append(
            await add_inspection(
                checkpoint, patrol.id, device_time=base + timedelta(hours=n), failed=failed
            )
        )
    # Another checkpoint's check and orders stay out.
    await add_inspection(site.checkpoint_ids[1], patrol.id, failed=(first,))
    elsewhere = await add_work_order(site.id, site.checkpoint_ids[1], first, [])
    open_order = await add_work_order(site.id, checkpoint, first, [made[2], made[4]])
    second_order = await add_work_order(
        site.id, checkpoint, second, [made[4]], status="assigned", department="security"
    )
    await add_work_order(site.id, checkpoint, "closed_item", [made[0]], status="closed")

    client = await login(patrol)
    response = await client.get(f"/api/checkpoints/{checkpoint}/status")
    assert response.status_code == 200, response.text
    status = response.json()
    checks = status["last_checks"]
    assert [c["id"] for c in checks] == [made[5], made[4], made[3], made[2], made[1]]
    assert [c["result"] for c in checks] == ["pass", "fail", "pass", "fail", "pass"]
    assert checks[1]["failed_items"] == [first, second]
    assert checks[3]["failed_items"] == [first] and checks[0]["failed_items"] == []
    assert checks[0]["inspector"] == "测试patrol"
    assert checks[0]["device_time"].endswith("+08:00")
    orders = {o["id"]: o for o in status["open_work_orders"]}
    assert set(orders) == {open_order, second_order}
    assert elsewhere not in orders
    assert orders[open_order]["reports"] == 2 and orders[second_order]["reports"] == 1
    assert orders[open_order]["item_code"] == first
    assert orders[open_order]["department"] == "engineering"
    assert orders[second_order]["department"] == "security"
    assert orders[second_order]["status"] == "assigned"
    assert orders[open_order]["title"] == f"问题 {first}"

    fresh = await client.get(f"/api/checkpoints/{site.checkpoint_ids[2]}/status")
    assert fresh.json() == {"last_checks": [], "open_work_orders": []}


async def test_openapi_describes_the_read_routes(make_client):
    schema = (await make_client().get("/schema/openapi.json")).json()
    paths = schema["paths"]
    for path in (
        "/api/inspections",
        "/api/inspections/{inspection_id}",
        "/api/checkpoints/{checkpoint_id}/status",
        "/api/catalogue",
    ):
        assert "get" in paths[path], path
    components = set(schema["components"]["schemas"])
    assert {"InspectionRead", "InspectionPage", "CheckpointStatus", "Catalogue"} <= components
