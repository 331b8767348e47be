"""Patrol records over the API: the daily 综合巡视记录表 (JSON and XLSX) and the monthly summary per
building or per person (JSON and XLSX).

Desk roles (dispatcher, manager, admin) of the site read every record: the whole site's day, any
person's day, and the monthly summary. Everyone else reads only their own daily record (without
``user=``, or with their own id); another person's record is 403, the whole site's is theirs
alone by default. Other sites are 404.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, Request, Response, get
from litestar.params import FromQuery, QueryParameter

from server import compliance_store, patrol_records, plans
from server.auth import CurrentUser
from server.errors import ApiError
from server.guards import require_roles
from server.routes.params import ObjectId
from server.sites import visible_site
from server.tables.accounts import User

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
DESK = require_roles("dispatcher", "manager")
By = Literal["building", "person"]


class Ref(msgspec.Struct):
    id: int
    name: str


class SiteRef(msgspec.Struct):
    id: int
    code: str
    name: str


class CheckpointRef(msgspec.Struct):
    id: int
    code: str
    name: str
    kind: str


class FailedItem(msgspec.Struct):
    code: str
    #: The checklist line (zh / en); the code when the template no longer has it.
    text: str
    text_en: str
    note: str
    defect_type: str


class OrderRef(msgspec.Struct):
    id: int
    title: str
    status: str


class RecordCheck(msgspec.Struct):
    #: The check's id (the phone's UUID).
    id: str
    #: The phone's time of the check (UTC) and the same as HH:MM on the site's clock.
    time: datetime
    local_time: str
    inspector: Ref
    checkpoint: CheckpointRef
    building: Ref | None
    floor: Ref | None
    #: scan | manual (a typed code: unverified).
    source: str
    #: pass (合格) | fail (不合格: at least one failed item).
    result: Literal["pass", "fail"]
    failed_items: list[FailedItem]
    note: str
    #: Orders this check raised or joined.
    work_orders: list[OrderRef]


class HandOrder(msgspec.Struct):
    id: int
    title: str
    status: str
    #: manual | owner
    source: str
    raised_at: datetime
    local_time: str
    raised_by: Ref | None


class Counts(msgspec.Struct):
    expected: int
    done: int
    late: int
    unverified: int
    missed: int
    pending: int
    on_time_rate: float | None


class PlanCounts(Counts):
    id: int
    name: str


class DayTotals(msgspec.Struct):
    checks: int
    failed: int
    #: Orders the day's checks raised or joined, plus orders raised by hand.
    work_orders: int


class DailyRecord(msgspec.Struct):
    site: SiteRef
    day: date
    timezone: str
    #: Null: the whole site.
    person: Ref | None
    #: In time order.
    checks: list[RecordCheck]
    #: More than 5,000 checks in the day: only the first are listed.
    truncated: bool
    #: Orders raised by hand or from an owner's report that day (by the person, if one).
    hand_orders: list[HandOrder]
    #: The day's planned rounds: the person's (done by them, or missed/pending in plans they
    #: are among the people of), or all of the site's.
    rounds: Counts
    plans: list[PlanCounts]
    totals: DayTotals


class SummaryCounts(Counts):
    checks: int
    failed_checks: int
    work_orders: int


class SummaryRow(SummaryCounts):
    #: Building id or user id; null = outside any building / rounds anyone may do.
    key: int | None
    label: str


class MonthlySummary(msgspec.Struct):
    site: SiteRef
    month: str
    date_from: date = msgspec.field(name="from")
    date_to: date = msgspec.field(name="to")
    by: By = "building"
    timezone: str = "Asia/Shanghai"
    total: SummaryCounts | None = None
    rows: list[SummaryRow] = []


def _zone(site: dict, request: Request) -> ZoneInfo:
    return ZoneInfo(site.get("timezone") or request.app.state.settings.timezone)


def _attachment(content: bytes, name: str, ascii_name: str) -> Response[bytes]:
    return Response(
        content,
        media_type=XLSX,
        headers={
            "Content-Disposition": f'attachment; filename="{ascii_name}"; '
            f"filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store",
        },
    )


async def _daily(request: Request, site: int, day: date | None, user: int | None) -> dict:
    me: CurrentUser = request.user
    row = await visible_site(me, site)
    zone = _zone(row, request)
    day = day or compliance_store.today_in(zone.key, datetime.now(UTC))
    desk = me.role in plans.DESK_ROLES
    if not desk:
        if user is not None and user != me.id:
            raise ApiError(403, "forbidden")
        user = me.id
    person = None
    if user is not None:
        found = (
            await User.select(User.id, User.display_name, User.username)
            .where(User.id == user)
            .first()
        )
        if found is None:
            raise ApiError(404, "not_found")
        person = {"id": found["id"], "name": found["display_name"] or found["username"]}
    return await patrol_records.daily_record(row, day, person, None, zone)


async def _monthly(request: Request, site: int, month: str, by: str) -> dict:
    if not MONTH.match(month):
        raise ApiError(400, "invalid_request", detail=[{"field": "month", "message": "YYYY-MM"}])
    row = await visible_site(request.user, site)
    return await patrol_records.monthly_summary(row, month, by, _zone(row, request))


class PatrolRecordController(Controller):
    path = "/api/patrol-records"
    tags = ["patrol records"]

    @get("/daily")
    async def daily(
        self,
        request: Request,
        site: FromQuery[ObjectId],
        day: Annotated[date | None, QueryParameter(description="YYYY-MM-DD, site time")] = None,
        user: Annotated[ObjectId | None, QueryParameter()] = None,
    ) -> DailyRecord:
        """综合巡视记录表: the checks of the local day (default today) in time order, with their
        results, failed items and work orders, and the day's planned rounds — of one person
        (``user``) or the whole site. Patrols, inspectors and departments read only their own."""
        return msgspec.convert(await _daily(request, site, day, user), DailyRecord)

    @get("/daily.xlsx", media_type=XLSX)
    async def daily_xlsx(
        self,
        request: Request,
        site: FromQuery[ObjectId],
        day: Annotated[date | None, QueryParameter()] = None,
        user: Annotated[ObjectId | None, QueryParameter()] = None,
    ) -> Response[bytes]:
        """The daily record as an Excel sheet laid out like the paper form (A4 landscape)."""
        record = await _daily(request, site, day, user)
        who = record["person"]["name"] if record["person"] else "全部"
        name = f"综合巡视记录表-{record['site']['name']}-{record['day'].isoformat()}-{who}.xlsx"
        plain = f"patrol-record-{record['day'].isoformat()}.xlsx"
        return _attachment(await patrol_records.daily_xlsx(record), name, plain)

    @get("/monthly", guards=[DESK])
    async def monthly(
        self,
        request: Request,
        site: FromQuery[ObjectId],
        month: Annotated[str, QueryParameter(max_length=7, description="YYYY-MM")],
        by: FromQuery[By] = "building",
    ) -> MonthlySummary:
        """The month's rounds (expected, done, late, unverified, missed, pending, on-time rate),
        checks, failed checks and work orders raised, per building or per person (desk roles).
        By person, missed/pending rounds count for every person of the plan."""
        return msgspec.convert(await _monthly(request, site, month, by), MonthlySummary)

    @get("/monthly.xlsx", guards=[DESK], media_type=XLSX)
    async def monthly_xlsx(
        self,
        request: Request,
        site: FromQuery[ObjectId],
        month: Annotated[str, QueryParameter(max_length=7, description="YYYY-MM")],
        by: FromQuery[By] = "building",
    ) -> Response[bytes]:
        """The monthly summary as an Excel sheet (A4 landscape)."""
        summary = await _monthly(request, site, month, by)
        by_zh = "楼栋" if by == "building" else "人员"
        name = f"巡视月度汇总-{summary['site']['name']}-{month}-按{by_zh}.xlsx"
        plain = f"patrol-summary-{month}-{by}.xlsx"
        return _attachment(await patrol_records.monthly_xlsx(summary), name, plain)
