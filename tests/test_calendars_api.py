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
