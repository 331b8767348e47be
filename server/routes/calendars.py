"""A site's working-day calendar: public holidays (节假日) and make-up working days (调休).

Everyone on a site may read its calendar (deadlines are explained by it); its managers and admins
change it, one day at a time. Every change moves the open orders' deadlines at once.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

import msgspec
from litestar import Controller, Request, delete, get, put
from litestar.params import FromPath, JSONBody, Parameter

from server import calendars
from server.errors import ApiError
from server.guards import MANAGERS
from server.routes.params import ObjectId

Kind = Literal["holiday", "workday"]


class CalendarDayRead(msgspec.Struct):
    day: date
    #: holiday: a day off that would be a working day; workday: a weekend day worked (调休).
    kind: Kind
    name: str


class SiteCalendarRead(msgspec.Struct):
    site: int
    #: The time zone the site's days are counted in.
    timezone: str
    days: list[CalendarDayRead]


class CalendarDayWrite(msgspec.Struct, forbid_unknown_fields=True):
    kind: Kind
    #: e.g. 国庆节, 国庆节调休.
    name: Annotated[str, msgspec.Meta(max_length=50)] = ""


class CalendarController(Controller):
    path = "/api/sites/{site_id:int}/calendar"
    tags = ["calendar"]

    @get()
    async def get_calendar(
        self,
        request: Request,
        site_id: ObjectId,
        year: Annotated[int | None, Parameter(ge=1970, le=2200)] = None,
    ) -> SiteCalendarRead:
        """The site's holidays and make-up working days (of ``year``, else all), in date order."""
        result = await calendars.site_calendar(
            request.user, site_id, year, request.app.state.settings.timezone
        )
        return msgspec.convert(result, SiteCalendarRead)

    @put("/{day:str}", guards=[MANAGERS])
    async def put_calendar_day(
        self,
        request: Request,
        site_id: ObjectId,
        day: FromPath[str],
        data: JSONBody[CalendarDayWrite],
    ) -> CalendarDayRead:
        """Make ``day`` (YYYY-MM-DD) a holiday or a make-up working day (replacing what it was)."""
        result = await calendars.set_day(
            request.user,
            site_id,
            _day(day),
            data.kind,
            data.name.strip(),
            request.app.state.settings.timezone,
        )
        return msgspec.convert(result, CalendarDayRead)

    @delete("/{day:str}", guards=[MANAGERS], status_code=204)
    async def delete_calendar_day(
        self, request: Request, site_id: ObjectId, day: FromPath[str]
    ) -> None:
        """Make ``day`` (YYYY-MM-DD) an ordinary day again (harmless if it already is)."""
        await calendars.clear_day(
            request.user, site_id, _day(day), request.app.state.settings.timezone
        )


def _day(text: str) -> date:
    """A calendar day in the path: exactly YYYY-MM-DD, else 400."""
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "invalid_request", detail={"day": text}) from None
