"""Sites' working-day calendars (节假日 and 调休) as ``sla.WorkCalendar`` objects.

A site's calendar is the plain Monday–Friday week in the site's time zone, changed by its
``SiteCalendarDay`` rows: a ``holiday`` is a day off, a ``workday`` a make-up working day. The
time zone is the site's own (``Site.timezone``) when it names a real zone, else the server's
default, else Asia/Shanghai.

``calendars_for`` loads the calendars of many sites with two queries (sites, then all their
calendar days), whatever the number of sites.

Managers (and admins) of a site edit its days one at a time; after every change the open orders'
stored deadlines are recomputed (``server.work_orders.refresh_due``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from zoneinfo import ZoneInfo

from server import sla
from server.auth import CurrentUser
from server.sites import visible_site
from server.tables.calendars import CALENDAR_DAY_KINDS, SiteCalendarDay
from server.tables.sites import Site

FALLBACK_TIMEZONE = "Asia/Shanghai"


def site_zone(name: str | None) -> ZoneInfo:
    """A site's time zone (Asia/Shanghai when it is unset or unknown)."""
    return ZoneInfo(valid_timezone(name))


def valid_timezone(*names: str | None) -> str:
    """The first of ``names`` that is a known time zone (Asia/Shanghai if none is)."""
    for name in (*names, FALLBACK_TIMEZONE):
        if not name:
            continue
        try:
            ZoneInfo(name)
        except (KeyError, ValueError):
            continue
        return name
    raise AssertionError("unreachable")


def _as_date(value) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


async def calendars_for(
    site_ids: Iterable[int], default_timezone: str
) -> dict[int, sla.WorkCalendar]:
    """The working-day calendar of each of ``site_ids`` that exists (unknown ids are left out)."""
    ids = sorted(set(site_ids))
    if not ids:
        return {}
    sites = await Site.select(Site.id, Site.timezone).where(Site.id.is_in(ids))
    holidays: dict[int, set[date]] = {s["id"]: set() for s in sites}
    workdays: dict[int, set[date]] = {s["id"]: set() for s in sites}
    rows = await SiteCalendarDay.select(
        SiteCalendarDay.site, SiteCalendarDay.day, SiteCalendarDay.kind
    ).where(SiteCalendarDay.site.is_in(ids))
    for row in rows:
        target = workdays if row["kind"] == "workday" else holidays
        if row["site"] in target:
            target[row["site"]].add(_as_date(row["day"]))
    return {
        s["id"]: sla.WorkCalendar.of(
            valid_timezone(s["timezone"], default_timezone),
            holidays[s["id"]],
            workdays[s["id"]],
        )
        for s in sites
    }


async def calendar_of(site_id: int, default_timezone: str) -> sla.WorkCalendar | None:
    """One site's calendar (None if the site does not exist)."""
    return (await calendars_for([site_id], default_timezone)).get(site_id)


async def site_calendar(
    user: CurrentUser, site_id: int, year: int | None, default_timezone: str
) -> dict:
    """A site's calendar days (of ``year``, or all), in date order."""
    site = await visible_site(user, site_id)
    query = SiteCalendarDay.select(
        SiteCalendarDay.day, SiteCalendarDay.kind, SiteCalendarDay.name
    ).where(SiteCalendarDay.site == site_id)
    if year is not None:
        query = query.where(
            (SiteCalendarDay.day >= date(year, 1, 1)) & (SiteCalendarDay.day <= date(year, 12, 31))
        )
    rows = await query.order_by(SiteCalendarDay.day)
    return {
        "site": site_id,
        "timezone": valid_timezone(site["timezone"], default_timezone),
        "days": [{"day": _as_date(r["day"]), "kind": r["kind"], "name": r["name"]} for r in rows],
    }


async def set_day(
    user: CurrentUser, site_id: int, day: date, kind: str, name: str, default_timezone: str
) -> dict:
    """Make ``day`` a holiday or a make-up working day at the site (replacing what it was)."""
    if kind not in CALENDAR_DAY_KINDS:
        raise ValueError(kind)
    await visible_site(user, site_id)
    # One statement, so two managers setting the same day at once cannot both insert it.
    await SiteCalendarDay.insert(
        SiteCalendarDay(site=site_id, day=day, kind=kind, name=name)
    ).on_conflict(
        target=(SiteCalendarDay.site, SiteCalendarDay.day),
        action="DO UPDATE",
        values=[SiteCalendarDay.kind, SiteCalendarDay.name],
    )
    await _refresh(site_id, default_timezone)
    return {"day": day, "kind": kind, "name": name}


async def clear_day(user: CurrentUser, site_id: int, day: date, default_timezone: str) -> bool:
    """Make ``day`` an ordinary day again (True if it was not). Deleting twice is harmless."""
    await visible_site(user, site_id)
    deleted = (
        await SiteCalendarDay.delete()
        .where((SiteCalendarDay.site == site_id) & (SiteCalendarDay.day == day))
        .returning(SiteCalendarDay.id)
    )
    if deleted:
        await _refresh(site_id, default_timezone)
    return bool(deleted)


async def _refresh(site_id: int, default_timezone: str) -> None:
    """The site's open orders' stored deadlines follow its calendar."""
    # Imported here: server.work_orders reads its calendars from this module.
    from server.work_orders import refresh_due

    await refresh_due(site_id, default_timezone)


__all__ = [
    "FALLBACK_TIMEZONE",
    "calendar_of",
    "calendars_for",
    "clear_day",
    "set_day",
    "site_calendar",
    "valid_timezone",
]
