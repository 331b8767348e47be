"""Per-site working-day calendars: the table, ``server.calendars.calendars_for`` and the API."""

import sqlite3
from datetime import UTC, date, datetime

import asyncpg
import pytest

from server.calendars import calendars_for
from server.tables.calendars import SiteCalendarDay
from server.tables.sites import Site


async def _days(site_id: int, *entries: tuple[date, str, str]) -> None:
    await SiteCalendarDay.insert(
        *[SiteCalendarDay(site=site_id, day=d, kind=k, name=n) for d, k, n in entries]
    )


async def test_calendars_for_reads_each_sites_days_and_time_zone(make_site):
    a, b, c = await make_site(0), await make_site(0), await make_site(0)
    await Site.update({Site.timezone: "Asia/Urumqi"}).where(Site.id == b.id)
    await Site.update({Site.timezone: "Not/AZone"}).where(Site.id == c.id)
    await _days(
        a.id,
        (date(2026, 10, 1), "holiday", "国庆节"),
        (date(2026, 10, 10), "workday", "国庆节调休"),
    )
    await _days(b.id, (date(2026, 10, 2), "holiday", "国庆节"))

    calendars = await calendars_for([a.id, b.id, c.id, 999_999_999], "Europe/Berlin")

    assert set(calendars) == {a.id, b.id, c.id}
    assert str(calendars[a.id].timezone) == "Asia/Shanghai"
    assert str(calendars[b.id].timezone) == "Asia/Urumqi"
    # A site whose zone is not a real one falls back to the server's default.
    assert str(calendars[c.id].timezone) == "Europe/Berlin"
    assert calendars[a.id].holidays == {date(2026, 10, 1)}
    assert calendars[a.id].workdays == {date(2026, 10, 10)}
    assert not calendars[a.id].is_working_day(date(2026, 10, 1))
    assert calendars[a.id].is_working_day(date(2026, 10, 10))  # a Saturday, worked (调休)
    assert calendars[b.id].holidays == {date(2026, 10, 2)}
    assert calendars[b.id].workdays == frozenset()
    assert calendars[c.id].holidays == frozenset()
    # Wednesday 30 September 10:00 in Shanghai + 2 working days: the rest of the 30th, 1 October
    # off, all of Friday 2 October, the weekend, then Monday 5 October until 10:00.
    deferred = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)
    assert calendars[a.id].add_working_days(deferred, 2) == datetime(2026, 10, 5, 2, 0, tzinfo=UTC)
    # Site c (Berlin, no holidays): 04:00 local on Wednesday + 2 working days = Friday 04:00.
    assert calendars[c.id].add_working_days(deferred, 2) == datetime(2026, 10, 2, 2, 0, tzinfo=UTC)


async def test_calendars_for_nothing_is_empty(app):
    assert await calendars_for([], "Asia/Shanghai") == {}


async def test_one_entry_per_site_and_day(make_site):
    site = await make_site(0)
    await _days(site.id, (date(2026, 5, 1), "holiday", "劳动节"))
    with pytest.raises((sqlite3.IntegrityError, asyncpg.UniqueViolationError)):
        await _days(site.id, (date(2026, 5, 1), "workday", ""))


async def test_calendar_days_go_with_their_site(make_site):
    site = await make_site(0)
    await _days(site.id, (date(2026, 5, 1), "holiday", "劳动节"))
    await Site.delete().where(Site.id == site.id)
    assert await SiteCalendarDay.count().where(SiteCalendarDay.site == site.id) == 0


# ---------------------------------------------------------------------------------------------
# The API


async def test_manager_sets_reads_and_clears_days(make_site, make_user, login):
    site = await make_site(0)
    manager = await login(await make_user("manager", sites=[site.id]))
    base = f"/api/sites/{site.id}/calendar"

    response = await manager.put(f"{base}/2026-10-01", json={"kind": "holiday", "name": " 国庆节 "})
    assert response.status_code == 200, response.text
    assert response.json() == {"day": "2026-10-01", "kind": "holiday", "name": "国庆节"}
    assert (await manager.put(f"{base}/2026-10-10", json={"kind": "workday"})).status_code == 200
    assert (
        await manager.put(f"{base}/2027-01-01", json={"kind": "holiday", "name": "元旦"})
    ).status_code == 200
    # Setting a day again replaces it.
    response = await manager.put(
        f"{base}/2026-10-10", json={"kind": "workday", "name": "国庆节调休"}
    )
    assert response.status_code == 200

    body = (await manager.get(base, params={"year": 2026})).json()
    assert body == {
        "site": site.id,
        "timezone": "Asia/Shanghai",
        "days": [
            {"day": "2026-10-01", "kind": "holiday", "name": "国庆节"},
            {"day": "2026-10-10", "kind": "workday", "name": "国庆节调休"},
        ],
    }
    everything = (await manager.get(base)).json()["days"]
    assert [d["day"] for d in everything] == ["2026-10-01", "2026-10-10", "2027-01-01"]

    assert (await manager.delete(f"{base}/2026-10-01")).status_code == 204
    # Deleting a day that is ordinary already is harmless (a retried request).
    assert (await manager.delete(f"{base}/2026-10-01")).status_code == 204
    days = (await manager.get(base, params={"year": 2026})).json()["days"]
    assert days == [{"day": "2026-10-10", "kind": "workday", "name": "国庆节调休"}]
    calendar = (await calendars_for([site.id], "Asia/Shanghai"))[site.id]
    assert calendar.holidays == {date(2027, 1, 1)}
    assert calendar.workdays == {date(2026, 10, 10)}


async def test_bad_days_and_bodies_are_400(make_site, make_user, login):
    site = await make_site(0)
    manager = await login(await make_user("manager", sites=[site.id]))
    base = f"/api/sites/{site.id}/calendar"
    for path, body in (
        (f"{base}/2026-02-30", {"kind": "holiday"}),
        (f"{base}/tomorrow", {"kind": "holiday"}),
        (f"{base}/2026-10-01", {"kind": "weekend"}),
        (f"{base}/2026-10-01", {}),
        (f"{base}/2026-10-01", {"kind": "holiday", "name": "节" * 51}),
        (f"{base}/2026-10-01", {"kind": "holiday", "extra": 1}),
    ):
        response = await manager.put(path, json=body)
        assert response.status_code == 400, (path, body, response.text)
        assert response.json()["error"]["code"] == "invalid_request"
    assert (await manager.get(base, params={"year": "20x6"})).status_code == 400
    assert await SiteCalendarDay.count().where(SiteCalendarDay.site == site.id) == 0


async def test_only_managers_of_the_site_change_it(make_site, make_user, login):
    site, other = await make_site(0), await make_site(0)
    put = {"json": {"kind": "holiday", "name": "国庆节"}}
    for role in ("patrol", "inspector", "dispatcher", "department"):
        client = await login(
            await make_user(
                role, sites=[site.id], department="engineering" if role == "department" else None
            )
        )
        # Reading is for everyone on the site.
        assert (await client.get(f"/api/sites/{site.id}/calendar")).status_code == 200
        for method in ("PUT", "DELETE"):
            response = await client.request(
                method,
                f"/api/sites/{site.id}/calendar/2026-10-01",
                **(put if method == "PUT" else {}),
            )
            assert response.status_code == 403, (role, method)
            assert response.json()["error"]["code"] == "forbidden"
    # A manager of another site: the site does not exist for them.
    stranger = await login(await make_user("manager", sites=[other.id]))
    for method in ("GET", "PUT", "DELETE"):
        path = f"/api/sites/{site.id}/calendar" + ("" if method == "GET" else "/2026-10-01")
        response = await stranger.request(method, path, **(put if method == "PUT" else {}))
        assert response.status_code == 404, method
        assert response.json()["error"]["code"] == "not_found"
    # An admin may change any site.
    admin = await login(await make_user("admin"))
    assert (await admin.put(f"/api/sites/{site.id}/calendar/2026-10-01", **put)).status_code == 200
    assert await SiteCalendarDay.count().where(SiteCalendarDay.site == site.id) == 1


async def test_a_new_holiday_moves_open_orders_deadlines(make_site, make_user, login):
    from server.tables.accounts import Department
    from server.tables.work_orders import WorkOrder

    site = await make_site(0)
    manager = await login(await make_user("manager", sites=[site.id]))
    engineering = (
        await Department.select(Department.id).where(Department.code == "engineering").first()
    )["id"]
    # Deferred on Wednesday 30 September 2026 at 10:00 Shanghai time: back by Friday 10:00.
    deferred_at = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)
    order_id = (
        await WorkOrder.insert(
            WorkOrder(
                site=site.id,
                department=engineering,
                source="manual",
                status="deferred",
                title="门禁故障",
                raised_at=deferred_at,
                created_at=deferred_at,
                updated_at=deferred_at,
                dispatched_at=deferred_at,
                deferred_at=deferred_at,
            )
        ).returning(WorkOrder.id)
    )[0]["id"]

    async def return_due() -> str:
        order = (await manager.get(f"/api/work-orders/{order_id}")).json()
        return next(d["due"] for d in order["deadlines"] if d["step"] == "return")

    async def stored_due() -> datetime | None:
        row = await WorkOrder.select(WorkOrder.due_at).where(WorkOrder.id == order_id).first()
        value = row["due_at"]
        return value.astimezone(UTC) if value is not None else None

    assert await return_due() == "2026-10-02T10:00:00+08:00"
    base = f"/api/sites/{site.id}/calendar"
    assert (
        await manager.put(f"{base}/2026-10-01", json={"kind": "holiday", "name": "国庆节"})
    ).status_code == 200
    # 1 October off: the rest of the 30th, Friday 2 October, then Monday 5 October until 10:00.
    assert await return_due() == "2026-10-05T10:00:00+08:00"
    assert await stored_due() == datetime(2026, 10, 5, 2, 0, tzinfo=UTC)
    # Saturday 3 October worked (调休): back by Saturday 10:00.
    assert (await manager.put(f"{base}/2026-10-03", json={"kind": "workday"})).status_code == 200
    assert await return_due() == "2026-10-03T10:00:00+08:00"
    assert await stored_due() == datetime(2026, 10, 3, 2, 0, tzinfo=UTC)
    assert (await manager.delete(f"{base}/2026-10-03")).status_code == 204
    assert (await manager.delete(f"{base}/2026-10-01")).status_code == 204
    assert await return_due() == "2026-10-02T10:00:00+08:00"
    assert await stored_due() == datetime(2026, 10, 2, 2, 0, tzinfo=UTC)
