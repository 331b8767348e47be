"""A site's working-day calendar: public holidays and make-up working days (调休) that differ from
the plain Monday–Friday week. Read by ``server/calendars.py`` into ``sla.WorkCalendar``."""

from piccolo.columns import Date, ForeignKey, OnDelete, Varchar
from piccolo.table import Table

CALENDAR_DAY_KINDS = ("holiday", "workday")


class SiteCalendarDay(Table):
    """One local day at one site that is a holiday (day off) or a make-up working day (调休).

    At most one row per site and day (a unique index, migration 2026-11-23T14:10:01)."""

    site = ForeignKey("server.tables.sites.Site", on_delete=OnDelete.cascade, null=False)
    day = Date()
    kind = Varchar(length=8, help_text=" | ".join(CALENDAR_DAY_KINDS))
    name = Varchar(length=50, default="", help_text="e.g. 国庆节, 国庆节调休")
