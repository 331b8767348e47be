"""Sites' working-day calendars (节假日 and 调休) as ``sla.WorkCalendar`` objects.

A site's calendar is the plain Monday–Friday week in the site's time zone, changed by its
``SiteCalendarDay`` rows: a ``holiday`` is a day off, a ``workday`` a make-up working day. The
time zone is the site's own (``Site.timezone``) when it names a real zone, else the server's
default, else Asia/Shanghai.

``calendars_for`` loads the calendars of many sites with two queries (sites, then all their
calendar days), whatever the number of sites.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from zoneinfo import ZoneInfo

from server import sla
from server.tables.calendars import SiteCalendarDay
from server.tables.sites import Site

FALLBACK_TIMEZONE = "Asia/Shanghai"


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


__all__ = ["FALLBACK_TIMEZONE", "calendar_of", "calendars_for", "valid_timezone"]
