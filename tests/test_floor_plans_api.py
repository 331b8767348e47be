"""The floor view over the API: uploading a plan image (checked and re-encoded like photos, stored
once by content), sharing it with the floors of the same layout, the generated schematic when there
is none, the floor's checkpoints with positions and compliance, and moving a checkpoint."""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from server import compliance_store
from server.tables.checkpoints import Checkpoint
from server.tables.inspections import Inspection
from server.tables.plans import PatrolPlan, PlanCheckpoint
from server.tables.sites import Floor, Unit

pytestmark = pytest.mark.api

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _png(width=200, height=100, colour=None) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour or tuple(os.urandom(3))).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
async def desk(make_site, make_user, login):
    site = await make_site(checkpoints=3)
    manager = await make_user("manager", sites=[site.id])
    return site, manager, await login(manager)


async def _floor(building_id: int, level: int, units: list[str]) -> int:
    floor = Floor(building=building_id, level=level, name=f"{level}F")
    await floor.save()
    for number in units:
        await Unit(floor=floor.id, number=number).save()
    return floor.id


async def test_schematic_when_no_plan_then_upload_read_and_delete(desk, settings):
    site, _, client = desk
    svg = await client.get(f"/api/floors/{site.floor_id}/plan")
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    text = svg.text
    assert "101" in text and "1栋 1F 示意图" in text
    assert text.count("<circle") == 3  # the three checkpoints at their default spots
    assert "<script" not in text
    assert (await client.get(f"/api/floors/{site.floor_id}/plan?checkpoints=false")).text.count(
        "<circle"
    ) == 0

    png = _png(300, 150)
    response = await client.put(
        f"/api/floors/{site.floor_id}/plan", content=png, headers={"Content-Type": "image/png"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    sha = hashlib.sha256(png).hexdigest()
    assert body == {
        "floor": site.floor_id,
        "plan": {"sha256": sha, "width": 300, "height": 150},
        "applied_to": [site.floor_id],
    }
    image = await client.get(f"/api/floors/{site.floor_id}/plan")
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(image.content)).size == (300, 150)
    assert image.headers["etag"] == f'"{sha}"'
    again = await client.get(
        f"/api/floors/{site.floor_id}/plan", headers={"If-None-Match": f'"{sha}"'}
    )
    assert again.status_code == 304
    view = (await client.get(f"/api/floors/{site.floor_id}/checkpoints")).json()
    assert view["plan"] == {"sha256": sha, "width": 300, "height": 150}
    # The same image again: nothing new stored, same answer.
    response = await client.put(
        f"/api/floors/{site.floor_id}/plan", content=png, headers={"Content-Type": "image/png"}
    )
    assert response.json()["plan"]["sha256"] == sha

    response = await client.delete(f"/api/floors/{site.floor_id}/plan")
    assert response.status_code == 200
    assert response.json() == {"floor": site.floor_id, "cleared": [site.floor_id]}
    svg = await client.get(f"/api/floors/{site.floor_id}/plan")
    assert svg.headers["content-type"].startswith("image/svg+xml")


async def test_upload_limits_are_the_photo_limits(desk):
    site, _, client = desk
    url = f"/api/floors/{site.floor_id}/plan"
    response = await client.put(url, content=b"%PDF-1.4 not an image at all")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "photo_not_image"
    response = await client.put(url, content=_png()[:60], headers={"Content-Type": "image/png"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "photo_corrupt"
    response = await client.put(url + "?apply_to=everything", content=_png())
    assert response.status_code == 400
    assert (await Floor.select(Floor.plan_image).where(Floor.id == site.floor_id).first())[
        "plan_image"
    ] is None


async def test_upload_too_large(make_site, make_user, app, settings, login):
    site = await make_site()
    client = await login(await make_user("manager", sites=[site.id]))
    too_big = b"\x89PNG\r\n\x1a\n" + b"\0" * (settings.photo_max_bytes + 1)
    response = await client.put(f"/api/floors/{site.floor_id}/plan", content=too_big)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "photo_too_large"


async def test_one_image_serves_the_floors_of_the_same_layout(desk):
    site, _, client = desk
    building = site.building_id
    f2 = await _floor(building, 2, ["201", "202"])
    f3 = await _floor(building, 3, ["301", "302"])
    f4 = await _floor(building, 4, ["401", "402"])
    f5 = await _floor(building, 5, ["501", "502", "503"])  # another layout
    b1 = await _floor(building, -1, [])  # basement, no units
    own = _png(100, 100)
    response = await client.put(f"/api/floors/{f4}/plan", content=own)
    own_sha = response.json()["plan"]["sha256"]

    shared = _png(120, 60)
    response = await client.put(
        f"/api/floors/{f2}/plan?apply_to=building_same_layout", content=shared
    )
    assert response.status_code == 200, response.text
    # 3F takes it; 4F keeps its own plan; 5F, B1 and 1F (unit 101 only) are other layouts.
    assert response.json()["applied_to"] == [f2, f3]
    rows = {
        r["id"]: r["plan_image"]
        for r in await Floor.select(Floor.id, Floor.plan_image).where(
            Floor.id.is_in([f2, f3, f4, f5, b1, site.floor_id])
        )
    }
    shared_sha = hashlib.sha256(shared).hexdigest()
    assert shared_sha in rows[f2] and rows[f2] == rows[f3]
    assert own_sha in rows[f4]
    assert rows[f5] is None and rows[b1] is None and rows[site.floor_id] is None
    assert (await client.get(f"/api/floors/{f3}/plan")).headers["etag"] == f'"{shared_sha}"'

    # A new image for the layout replaces it where it was shared, still not on 4F.
    newer = _png(140, 70)
    response = await client.put(
        f"/api/floors/{f3}/plan?apply_to=building_same_layout", content=newer
    )
    assert response.json()["applied_to"] == [f2, f3]
    # Deleting 2F's alone leaves 3F's; deleting for the layout clears the rest.
    assert (await client.delete(f"/api/floors/{f2}/plan")).json()["cleared"] == [f2]
    response = await client.delete(f"/api/floors/{f3}/plan?apply_to=building_same_layout")
    assert response.json()["cleared"] == [f3]
    assert (await client.get(f"/api/floors/{f4}/plan")).headers["etag"] == f'"{own_sha}"'


async def test_positions_and_compliance_states(desk, make_user, login):
    site, manager, client = desk
    a, b, c = site.checkpoint_ids
    view = (await client.get(f"/api/floors/{site.floor_id}/checkpoints")).json()
    assert view["floor"]["name"] == "1F" and view["floor"]["building"]["name"] == "1栋"
    assert [cp["id"] for cp in view["checkpoints"]] == [a, b, c]
    assert all(not cp["placed"] and 0 <= cp["x"] <= 1 for cp in view["checkpoints"])
    assert all(cp["state"] == "not_planned" for cp in view["checkpoints"])

    response = await client.put(f"/api/checkpoints/{a}/position", json={"x": 0.25, "y": 0.75})
    assert response.status_code == 200
    assert response.json() == {"id": a, "floor": site.floor_id, "x": 0.25, "y": 0.75}
    for bad in ({"x": 1.5, "y": 0.5}, {"x": -0.1, "y": 0.5}, {"x": 0.5}):
        response = await client.put(f"/api/checkpoints/{a}/position", json=bad)
        assert response.status_code == 400, bad
    view = (await client.get(f"/api/floors/{site.floor_id}/checkpoints")).json()
    first = view["checkpoints"][0]
    assert (first["x"], first["y"], first["placed"]) == (0.25, 0.75, True)

    # A daily plan over a and b from three days ago: rounds missed on past days.
    now = datetime.now(UTC)
    today = now.astimezone(SHANGHAI).date()
    plan_id = (
        await PatrolPlan.insert(
            PatrolPlan(
                site=site.id,
                name="测试计划",
                per="day",
                times=1,
                starts_on=today - timedelta(days=3),
                timezone="Asia/Shanghai",
                created_at=now,
                updated_at=now,
            )
        ).returning(PatrolPlan.id)
    )[0]["id"]
    for cp in (a, b):
        await PlanCheckpoint.insert(PlanCheckpoint(plan=plan_id, checkpoint=cp))
    await compliance_store.rebuild_plan(plan_id)
    # Two days ago, not yesterday: just after midnight yesterday's round is still in its grace.
    past = (today - timedelta(days=2)).isoformat()
    view = (
        await client.get(f"/api/floors/{site.floor_id}/checkpoints?from={past}&to={past}")
    ).json()
    states = {cp["id"]: cp["state"] for cp in view["checkpoints"]}
    assert states == {a: "missed", b: "missed", c: "not_planned"}
    assert view["checkpoints"][0]["counts"]["missed"] == 1
    today_view = (await client.get(f"/api/floors/{site.floor_id}/checkpoints")).json()
    assert {cp["id"]: cp["state"] for cp in today_view["checkpoints"]}[a] == "pending"

    # A stored check shows as the last check time.
    await Inspection.insert(
        Inspection(
            id=uuid.uuid4(),
            checkpoint=b,
            inspector=manager.id,
            device_time=now - timedelta(hours=1),
            received_at=now,
            source="manual",
            body_hash="0" * 64,
        )
    )
    view = (await client.get(f"/api/floors/{site.floor_id}/checkpoints")).json()
    last = {cp["id"]: cp["last_inspection_at"] for cp in view["checkpoints"]}
    assert last[a] is None
    assert abs(datetime.fromisoformat(last[b]) - (now - timedelta(hours=1))) < timedelta(seconds=1)
    response = await client.get(
        f"/api/floors/{site.floor_id}/checkpoints?from=2026-01-02&to=2026-01-01"
    )
    assert response.status_code == 400

    # A patrol of the site reads but may not move or upload.
    patrol = await login(await make_user("patrol", sites=[site.id]))
    assert (await patrol.get(f"/api/floors/{site.floor_id}/checkpoints")).status_code == 200
    response = await patrol.put(f"/api/checkpoints/{b}/position", json={"x": 0.5, "y": 0.5})
    assert response.status_code == 403
    response = await patrol.put(f"/api/floors/{site.floor_id}/plan", content=_png())
    assert response.status_code == 403
    assert (await Checkpoint.select(Checkpoint.plan_x).where(Checkpoint.id == b).first())[
        "plan_x"
    ] is None


async def test_other_sites_floors_and_checkpoints_are_404(make_site, make_user, login):
    mine, theirs = await make_site(), await make_site()
    client = await login(await make_user("manager", sites=[mine.id]))
    for method, path, kwargs in (
        ("GET", f"/api/floors/{theirs.floor_id}/plan", {}),
        ("GET", f"/api/floors/{theirs.floor_id}/checkpoints", {}),
        ("PUT", f"/api/floors/{theirs.floor_id}/plan", {"content": _png()}),
        ("DELETE", f"/api/floors/{theirs.floor_id}/plan", {}),
        (
            "PUT",
            f"/api/checkpoints/{theirs.checkpoint_ids[0]}/position",
            {"json": {"x": 0, "y": 0}},
        ),
        ("GET", "/api/floors/999999999/checkpoints", {}),
    ):
        response = await client.request(method, path, **kwargs)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "not_found"
