"""A person's day over the API (GET /api/compliance/route): the checks of one local day at the
site in the order they were made, with checkpoint, building and floor; who may read whose."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from server.tables.inspections import Inspection

pytestmark = pytest.mark.api

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = datetime(2026, 11, 20, tzinfo=SHANGHAI).date()


async def _check(checkpoint: int, person: int, local: datetime, *, late_hours: float = 0) -> str:
    inspection_id = uuid.uuid4()
    at = local.astimezone(UTC)
    await Inspection.insert(
        Inspection(
            id=inspection_id,
            checkpoint=checkpoint,
            inspector=person,
            device_time=at,
            received_at=at + timedelta(hours=late_hours),
            source="scan",
            body_hash="0" * 64,
        )
    )
    return str(inspection_id)


def _local(hour: int, minute: int = 0, day=DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
async def world(make_site, make_user, login):
    site = await make_site(checkpoints=3)
    patrol = await make_user("patrol", sites=[site.id])
    other = await make_user("patrol", sites=[site.id])
    manager = await make_user("manager", sites=[site.id])
    cps = site.checkpoint_ids
    # Made out of order; one arrives a day late; one the evening before; one by someone else.
    second = await _check(cps[1], patrol.id, _local(10, 40), late_hours=30)
    first = await _check(cps[0], patrol.id, _local(8, 5))
    third = await _check(cps[2], patrol.id, _local(23, 59))
    await _check(cps[0], patrol.id, _local(23, 50, DAY - timedelta(days=1)))
    await _check(cps[0], other.id, _local(9, 0))
    return {
        "site": site,
        "patrol": patrol,
        "other": other,
        "manager": manager,
        "order": [first, second, third],
        "login": login,
    }


async def test_a_manager_reads_a_persons_day_in_order(world):
    site, patrol = world["site"], world["patrol"]
    client = await world["login"](world["manager"])
    response = await client.get(
        "/api/compliance/route",
        params={"site": site.id, "day": DAY.isoformat(), "user": patrol.id},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["day"] == DAY.isoformat() and body["timezone"] == "Asia/Shanghai"
    assert body["user"] == {"id": patrol.id, "name": "测试patrol"}
    assert [c["id"] for c in body["checks"]] == world["order"]
    first = body["checks"][0]
    assert first["checkpoint"] == {
        "id": site.checkpoint_ids[0],
        "code": "A-1-T0",
        "name": "消火栓 0",
    }
    assert first["building"] == {"id": site.building_id, "name": "1栋"}
    assert first["floor"] == {"id": site.floor_id, "name": "1F"} and first["level"] == 1
    assert first["device_time"].startswith("2026-11-20T00:05:00")
    # The late one keeps its device time and shows when it arrived.
    assert body["checks"][1]["received_at"].startswith("2026-11-21T08:40:00")
    assert {p["id"]: p["checks"] for p in body["people"]} == {
        patrol.id: 3,
        world["other"].id: 1,
    }
    # Another day: nothing.
    response = await client.get(
        "/api/compliance/route",
        params={"site": site.id, "day": "2026-11-22", "user": patrol.id},
    )
    assert response.json()["checks"] == [] and response.json()["people"] == []


async def test_a_patrol_reads_only_their_own_day(world):
    site, patrol = world["site"], world["patrol"]
    client = await world["login"](patrol)
    response = await client.get(
        "/api/compliance/route", params={"site": site.id, "day": DAY.isoformat()}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["id"] == patrol.id
    assert [c["id"] for c in body["checks"]] == world["order"]
    assert body["people"] == [{"id": patrol.id, "name": "测试patrol", "checks": 3}]
    response = await client.get(
        "/api/compliance/route",
        params={"site": site.id, "day": DAY.isoformat(), "user": world["other"].id},
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


async def test_other_sites_and_strangers_are_404(world, make_site, make_user):
    site = world["site"]
    elsewhere = await make_site(checkpoints=1)
    stranger = await make_user("patrol", sites=[elsewhere.id])
    client = await world["login"](world["manager"])
    response = await client.get(
        "/api/compliance/route", params={"site": site.id, "user": stranger.id}
    )
    assert response.status_code == 404
    response = await client.get("/api/compliance/route", params={"site": elsewhere.id})
    assert response.status_code == 404
    response = await client.get(
        "/api/compliance/route", params={"site": site.id, "user": 10_000_000}
    )
    assert response.status_code == 404
