"""Monthly work-order statistics (月统计分析) and the XLSX export, for the desk (dispatchers and
managers of the site, and admins)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated
from urllib.parse import quote

import msgspec
from litestar import Controller, Request, Response, get
from litestar.params import FromQuery, QueryParameter

from server import work_order_stats
from server.errors import ApiError
from server.guards import require_roles
from server.routes.params import ObjectId

DESK = require_roles("dispatcher", "manager")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class DepartmentCount(msgspec.Struct):
    #: Department code; null for orders not dispatched yet.
    department: str | None
    name: str | None
    count: int


class SourceCounts(msgspec.Struct):
    inspection: int
    manual: int
    owner: int


class KindCounts(msgspec.Struct):
    """By the kind of checkpoint the order concerns (设施设备 / 空置房 / 标识 / 装修)."""

    facility: int
    vacant_unit: int
    signage: int
    renovation: int
    #: Raised by hand or by an owner without a checkpoint.
    without_checkpoint: int


class StatusCounts(msgspec.Struct):
    raised: int
    dispatched: int
    arranged: int
    deferred: int
    reported: int
    verified: int
    closed: int


class StepTally(msgspec.Struct):
    on_time: int
    #: Done after the deadline.
    late: int
    #: Not done, past the deadline.
    overdue: int
    #: on_time / (on_time + late + overdue) × 100, one decimal; null when none is decided.
    percent: float | None


class OnTime(msgspec.Struct):
    dispatch: StepTally
    arrange: StepTally
    report: StepTally
    #: Back within 2 working days of a deferral.
    #: (``return`` is a keyword in Python, so the field is renamed.)
    return_: StepTally = msgspec.field(name="return")


class Duration(msgspec.Struct):
    #: How many orders have this step done.
    count: int
    median_seconds: float | None
    p90_seconds: float | None


class Durations(msgspec.Struct):
    #: From dispatch to a named worker accepting.
    arrange: Duration
    #: From dispatch to the result reported.
    report: Duration
    #: From being raised to being closed.
    close: Duration


class Escalations(msgspec.Struct):
    #: Orders re-issued to the department head (level 1 or more).
    department_head: int
    #: Orders re-issued on to the manager (level 2).
    manager: int


class Satisfaction(msgspec.Struct):
    satisfied: int
    acceptable: int
    dissatisfied: int
    answered: int
    #: (satisfied + acceptable) / answered × 100; null when nobody answered.
    percent_satisfied: float | None


class WorkOrderStats(msgspec.Struct):
    site: int
    month: str
    timezone: str
    #: The month's first instant and the next month's (site time).
    from_: datetime = msgspec.field(name="from")
    to: datetime
    #: Orders raised in the month.
    total: int
    #: Of those, not closed yet.
    open: int
    by_department: list[DepartmentCount]
    by_source: SourceCounts
    by_kind: KindCounts
    by_status: StatusCounts
    on_time: OnTime
    durations: Durations
    escalations: Escalations
    satisfaction: Satisfaction


def _parse_day(name: str, text: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(
            400, "invalid_request", detail=[{"field": name, "message": "YYYY-MM-DD"}]
        ) from None


class WorkOrderStatsController(Controller):
    path = "/api/work-orders"
    tags = ["work orders"]
    guards = [DESK]

    @get("/stats")
    async def get_work_order_stats(
        self,
        request: Request,
        site: FromQuery[ObjectId],
        month: Annotated[str, QueryParameter(max_length=7, description="YYYY-MM")],
    ) -> WorkOrderStats:
        """月统计分析: the orders raised at the site in the month (site time)."""
        if not MONTH.match(month):
            raise ApiError(
                400, "invalid_request", detail=[{"field": "month", "message": "YYYY-MM"}]
            )
        result = await work_order_stats.monthly_stats(
            request.user, site, month, request.app.state.settings.timezone
        )
        return msgspec.convert(result, WorkOrderStats)

    @get("/export.xlsx", media_type=XLSX)
    async def export_work_orders(
        self,
        request: Request,
        site: FromQuery[ObjectId],
        date_from: Annotated[str, QueryParameter(name="from", max_length=10)],
        date_to: Annotated[str, QueryParameter(name="to", max_length=10)],
    ) -> Response[bytes]:
        """The orders raised at the site from ``from`` to ``to`` (whole days, site time, at most
        366 days) as an Excel workbook, one row per order with its step times and SLA states."""
        first, last = _parse_day("from", date_from), _parse_day("to", date_to)
        if last < first:
            raise ApiError(400, "invalid_request", detail=[{"field": "to", "message": "< from"}])
        if (last - first).days + 1 > work_order_stats.MAX_EXPORT_DAYS:
            raise ApiError(
                400, "export_range_too_long", detail={"max_days": work_order_stats.MAX_EXPORT_DAYS}
            )
        content, name = await work_order_stats.export_orders(
            request.user, site, first, last, request.app.state.settings.timezone
        )
        return Response(
            content,
            media_type=XLSX,
            headers={
                "Content-Disposition": f'attachment; filename="{name}"; '
                f"filename*=UTF-8''{quote(name)}",
                "Cache-Control": "no-store",
            },
        )
