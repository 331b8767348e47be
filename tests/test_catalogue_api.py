"""The phone's offline catalogue: full and incremental fetches, site isolation, invalid cursors, open
work orders, each checkpoint's last check, and the time a full catalogue of the demo site takes.
"""

from __future__ import annotations

import base64
import gzip
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from test_inspections_api import add_inspection, add_work_order, template_items

pytestmark = pytest.mark.api


async def backdate(site_id: int, hours: int = 1) -> None:
    """Make every checkpoint of the site (and its checks) look old, so that a cursor taken now
    sees nothing new until the test changes something."""
    from server.tables.checkpoints import Checkpoint
    from server.tables.inspections import Inspection

    then = datetime.now(UTC) - timedelta(hours=hours)
    await Checkpoint.update({Checkpoint.updated_at: then}).where(Checkpoint.site == site_id)
    checkpoint_ids = await Checkpoint.select(Checkpoint.id).where(Checkpoint.site == site_id)
    ids = [r["id"] for r in checkpoint_ids]
    if ids:
        await Inspection.update({Inspection.received_at: then}).where(
            Inspection.checkpoint.is_in(ids)
        )


async def touch(checkpoint_id: int, **values) -> None:
    from server.tables.checkpoints import Checkpoint

    changes = {Checkpoint.updated_at: datetime.now(UTC)}
    changes |= {getattr(Checkpoint, name): value for name, value in values.items()}
    await Checkpoint.update(changes).where(Checkpoint.id == checkpoint_id)


async def fetch(client, cursor: str | None = None) -> dict:
    params = {"cursor": cursor} if cursor is not None else {}
    response = await client.get("/api/catalogue", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_full_catalogue_of_my_sites(make_site, make_user, login):
    from server.tables.checkpoints import ChecklistTemplate, Checkpoint, TemplateItem

    site, other = await make_site(), await make_site()
    await Checkpoint.update({Checkpoint.unit: site.unit_id, Checkpoint.kind: "vacant_unit"}).where(
        Checkpoint.id == site.checkpoint_ids[3]
    )
    patrol = await make_user("patrol", sites=[site.id])
    catalogue = await fetch(await login(patrol))

    assert catalogue["full"] is True
    assert isinstance(catalogue["cursor"], str) and catalogue["cursor"]
    assert catalogue["sites"] == [
        {"id": site.id, "code": site.code, "name": "测试小区", "timezone": "Asia/Shanghai"}
    ]
    assert catalogue["buildings"] == [
        {"id": site.building_id, "site_id": site.id, "code": "A", "name": "1栋"}
    ]
    assert catalogue["floors"] == [
        {"id": site.floor_id, "building_id": site.building_id, "level": 1, "name": "1F"}
    ]
    checkpoints = {c["id"]: c for c in catalogue["checkpoints"]}
    assert sorted(checkpoints) == sorted(site.checkpoint_ids)
    assert not set(checkpoints) & set(other.checkpoint_ids)
    first = checkpoints[site.checkpoint_ids[0]]
    template_id, _code, _items = await template_items(site.checkpoint_ids[0])
    assert first == {
        "id": site.checkpoint_ids[0],
        "site_id": site.id,
        "code": "A-1-T0",
        "name": "消火栓 0",
        "kind": "facility",
        "type_code": "hydrant",
        "building_id": site.building_id,
        "floor_id": site.floor_id,
        "unit": None,
        "template_id": template_id,
        "label_version": 1,
        "active": True,
        "last_check": None,
    }
    assert checkpoints[site.checkpoint_ids[3]]["unit"] == "101"
    assert checkpoints[site.checkpoint_ids[3]]["kind"] == "vacant_unit"

    # Every template with every item, each time.
    templates = {t["code"]: t for t in catalogue["templates"]}
    assert len(templates) == await ChecklistTemplate.count()
    assert sum(len(t["items"]) for t in templates.values()) == await TemplateItem.count()
    rows = await ChecklistTemplate.select(
        ChecklistTemplate.code,
        ChecklistTemplate.inspecting_department.code.as_alias("department"),
        ChecklistTemplate.defect_types,
    ).output(load_json=True)
    for row in rows:
        assert templates[row["code"]]["inspecting_department"] == row["department"]
        assert templates[row["code"]]["defect_types"] == row["defect_types"]
    assert any(t["inspecting_department"] for t in templates.values())  # renovation lists
    assert any(t["defect_types"] for t in templates.values())  # signage
    item = next(iter(templates.values()))["items"][0]
    assert set(item) == {
        "code",
        "text_zh",
        "text_en",
        "department",
        "photo_required_on_fail",
        "severity",
        "is_confirmation",
    }
    assert item["department"] in {"engineering", "security", "cleaning", "customer_service"}


async def test_last_check_is_the_latest_by_device_time(make_site, make_user, login):
    site = await make_site()
    patrol = await make_user("patrol", sites=[site.id])
    checkpoint = site.checkpoint_ids[0]
    _tid, _code, items = await template_items(checkpoint)
    now = datetime.now(UTC)
    latest = await add_inspection(
        checkpoint,
        patrol.id,
        device_time=now - timedelta(hours=1),
        received_at=now - timedelta(minutes=50),
        failed=(items[0]["code"],),
    )
    # Made earlier, synced later (a phone that was offline): not the last check.
    await add_inspection(
        checkpoint, patrol.id, device_time=now - timedelta(hours=5), received_at=now
    )
    passed = await add_inspection(site.checkpoint_ids[1], patrol.id)

    checkpoints = {c["id"]: c for c in (await fetch(await login(patrol)))["checkpoints"]}
    last = checkpoints[checkpoint]["last_check"]
    assert last["id"] == latest
    assert last["result"] == "fail"
    assert last["inspector"] == "测试patrol"
    assert datetime.fromisoformat(last["device_time"]) == now - timedelta(hours=1)
    assert checkpoints[site.checkpoint_ids[1]]["last_check"]["id"] == passed
    assert checkpoints[site.checkpoint_ids[1]]["last_check"]["result"] == "pass"
    assert checkpoints[site.checkpoint_ids[2]]["last_check"] is None


async def test_incremental_sends_what_changed_or_was_checked(make_site, make_user, login):
    site, other = await make_site(), await make_site()
    patrol = await make_user("patrol", sites=[site.id])
    await backdate(site.id)
    await backdate(other.id)
    client = await login(patrol)
    first = await fetch(client)
    assert first["full"] is True and len(first["checkpoints"]) == 4

    renamed, checked, retired, untouched = site.checkpoint_ids
    await touch(renamed, name="消火栓(新)")
    # A check made three days ago but received now: the checkpoint has news.
    inspection = await add_inspection(
        checked, patrol.id, device_time=datetime.now(UTC) - timedelta(days=3)
    )
    await touch(retired, active=False)
    await touch(other.checkpoint_ids[0], name="别的小区")

    second = await fetch(client, first["cursor"])
    assert second["full"] is False
    changed = {c["id"]: c for c in second["checkpoints"]}
    assert set(changed) == {renamed, checked, retired}
    assert untouched not in changed
    assert changed[renamed]["name"] == "消火栓(新)"
    assert changed[checked]["last_check"]["id"] == inspection
    assert changed[retired]["active"] is False  # the phone deletes it
    # The small lists come whole every time.
    assert [s["id"] for s in second["sites"]] == [site.id]
    assert len(second["templates"]) == len(first["templates"])
    assert second["buildings"] == first["buildings"] and second["floors"] == first["floors"]
    assert second["cursor"] != first["cursor"]

    # Once everything is old again, the next fetch has nothing to send.
    await backdate(site.id)
    third = await fetch(client, second["cursor"])
    assert third["full"] is False and third["checkpoints"] == []


async def test_new_cursor_is_taken_before_the_read(make_site, make_user, login):
    from server.catalogue import read_cursor

    site = await make_site()
    client = await login(await make_user("patrol", sites=[site.id]))
    before = datetime.now(UTC)
    cursor = (await fetch(client))["cursor"]
    after = datetime.now(UTC)
    at = read_cursor(cursor, [site.id], after)
    assert at is not None
    assert before - timedelta(milliseconds=1) <= at <= after
    # The same cursor means nothing for another set of sites.
    assert read_cursor(cursor, [site.id, site.id + 1], after) is None


def _b64(payload) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


async def test_invalid_cursor_gives_the_full_catalogue(make_site, make_user, login):
    from server.catalogue import make_cursor, sites_digest

    site, other = await make_site(), await make_site()
    await backdate(site.id)
    patrol = await make_user("patrol", sites=[site.id])
    client = await login(patrol)
    theirs = await login(await make_user("patrol", sites=[other.id]))
    their_cursor = (await fetch(theirs))["cursor"]
    now_micros = int(datetime.now(UTC).timestamp() * 1_000_000)
    digest = sites_digest([site.id])
    for cursor in (
        "",
        "garbage",
        "!!!***",
        "x" * 500,
        _b64({"v": 1}),
        _b64([1, 2]),
        _b64({"v": 99, "t": now_micros, "s": digest}),
        _b64({"v": 1, "t": "yesterday", "s": digest}),
        _b64({"v": 1, "t": 10**30, "s": digest}),
        _b64({"v": 1, "t": True, "s": digest}),
        # From the future: a cursor the server never made.
        make_cursor(datetime.now(UTC) + timedelta(days=1), [site.id]),
        # Made for another user's sites: the sites I see changed, start again.
        their_cursor,
    ):
        catalogue = await fetch(client, cursor)
        assert catalogue["full"] is True, cursor
        assert sorted(c["id"] for c in catalogue["checkpoints"]) == sorted(site.checkpoint_ids)
    # A sound cursor of mine is incremental (nothing changed: nothing sent).
    mine = make_cursor(datetime.now(UTC), [site.id])
    catalogue = await fetch(client, mine)
    assert catalogue["full"] is False and catalogue["checkpoints"] == []


async def test_open_work_orders_of_my_sites(make_site, make_user, login):
    site, other = await make_site(), await make_site()
    patrol = await make_user("patrol", sites=[site.id])
    checkpoint = site.checkpoint_ids[0]
    _tid, _code, items = await template_items(checkpoint)
    code = items[0]["code"]
    one = await add_inspection(checkpoint, patrol.id, failed=(code,))
    two = await add_inspection(checkpoint, patrol.id, failed=(code,))
    raised = await add_work_order(site.id, checkpoint, code, [one, two])
    in_progress = await add_work_order(
        site.id, site.checkpoint_ids[1], code, [], status="in_progress", department="security"
    )
    closed = await add_work_order(site.id, site.checkpoint_ids[2], code, [one], status="closed")
    theirs = await add_work_order(other.id, other.checkpoint_ids[0], code, [])

    catalogue = await fetch(await login(patrol))
    orders = {o["id"]: o for o in catalogue["work_orders"]}
    assert set(orders) == {raised, in_progress}
    assert closed not in orders and theirs not in orders
    assert orders[raised] | {"raised_at": None} == {
        "id": raised,
        "checkpoint_id": checkpoint,
        "item_code": code,
        "department": "engineering",
        "status": "raised",
        "title": f"问题 {code}",
        "raised_at": None,
        "reports": 2,
    }
    assert orders[in_progress]["reports"] == 0
    assert orders[in_progress]["department"] == "security"
    # Incremental fetches carry the whole open list too.
    await backdate(site.id)
    again = await fetch(await login(patrol), catalogue["cursor"])
    assert again["full"] is False
    assert {o["id"] for o in again["work_orders"]} == {raised, in_progress}

    admin = await fetch(await login(await make_user("admin")))
    assert {raised, in_progress, theirs} <= {o["id"] for o in admin["work_orders"]}
    assert closed not in {o["id"] for o in admin["work_orders"]}
    assert {site.id, other.id} <= {s["id"] for s in admin["sites"]}


async def test_user_without_sites_gets_the_checklists_only(make_user, login):
    catalogue = await fetch(await login(await make_user("patrol")))
    assert catalogue["full"] is True
    assert catalogue["sites"] == catalogue["checkpoints"] == catalogue["work_orders"] == []
    assert catalogue["buildings"] == catalogue["floors"] == []
    assert catalogue["templates"]


async def test_demo_site_full_catalogue_time(settings, make_user, login):
    """The demo site's ~2,100 checkpoints in one full catalogue: measured, and bounded."""
    from server.demo import load_demo

    summary = await load_demo(settings)
    from server.tables.sites import Site

    site = await Site.select(Site.id).where(Site.code == summary.site_code).first()
    client = await login(await make_user("manager", sites=[site["id"]]))
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        response = await client.get("/api/catalogue")
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200
    body = response.json()
    assert body["full"] is True
    assert len(body["checkpoints"]) == summary.checkpoint_total
    assert summary.checkpoint_total > 2000
    size = len(response.content)
    zipped = len(gzip.compress(response.content, 6))
    print(
        f"\ndemo catalogue: {len(body['checkpoints'])} checkpoints, best {min(timings) * 1000:.0f}"
        f" ms of {[round(t * 1000) for t in timings]} ms, {size / 1024:.0f} KiB,"
        f" {zipped / 1024:.0f} KiB gzipped"
    )
    # Generous for a 2-core CI machine; it is a small fraction of this in practice.
    assert min(timings) < 3.0
