"""Monthly work-order statistics (月统计分析, SOP 002) and the XLSX export of a date range.

Statistics describe the orders **raised** in the month (site time): how many by department, source,
kind of checkpoint (facility, vacant unit, signage, renovation, or none) and status; for each step of the clock how many were done on time, done late, or are still open
past their deadline (on-time % = on time / (on time + late + overdue); steps not yet due are left
out); the median and 90th percentile of the time to arrange (accepted, from dispatch), to report
(from dispatch) and to close (from being raised); how many were escalated; the owners' answers on
the follow-up call.

The steps and their deadlines are ``server/sla.py``'s:

* dispatch: within 24 h of being raised;
* arrange: a named worker within 2 h of dispatch;
* report: within 4 h of dispatch; deferring the order with its reason is that report (§4.3.7),
  so the step is done at the earlier of reporting and deferring;
* return: a deferred order back (resumed or reported) within 2 working days of its deferral, on
  the site's working-day calendar.

Counts, on-time tallies and durations are computed by the database over the month's orders (one
index range on ``work_order (site, raised_at)``); only the return step, which needs the working-day
calendar, is decided here, for the month's deferred orders. Durations are measured to the
millisecond (SQLite's date arithmetic); percentiles interpolate linearly between ranks.
"""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, date, datetime, time, timedelta

from openpyxl import Workbook
from piccolo.engine.sqlite import SQLiteEngine

from server import sla
from server.calendars import calendars_for
from server.sites import visible_site
from server.tables.accounts import Department
from server.tables.checkpoints import CHECKPOINT_KINDS
from server.tables.work_orders import SATISFACTION, WORK_ORDER_SOURCES, WorkOrder, WorkOrderEvent
from server.work_order_flow import STATUSES
from server.work_orders import deadlines_of

STEPS = ("dispatch", "arrange", "report", "return")
DURATIONS = ("arrange", "report", "close")
MAX_EXPORT_DAYS = 366
EXPORT_BATCH = 2000

_HOUR_MS = 3_600_000


def month_range(month: str, timezone) -> tuple[datetime, datetime]:
    """The UTC instants [start, end) of ``month`` (YYYY-MM) in ``timezone`` (a ZoneInfo)."""
    year, number = int(month[:4]), int(month[5:7])
    first = date(year, number, 1)
    following = date(year + number // 12, number % 12 + 1, 1)
    return _local_midnight(first, timezone), _local_midnight(following, timezone)


def _local_midnight(day: date, timezone) -> datetime:
    return datetime.combine(day, time(0), tzinfo=timezone).astimezone(UTC)


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _is_sqlite() -> bool:
    return isinstance(WorkOrder._meta.db, SQLiteEngine)


class _Sql:
    """Engine-specific pieces of the statistics' SQL, and the parameters in the order the
    statement's ``{}`` placeholders consume them."""

    def __init__(self) -> None:
        self.sqlite = _is_sqlite()
        self.args: list = []
        self.text = ""

    def param(self, value) -> str:
        self.args.append(value)
        if isinstance(value, datetime) and not self.sqlite:
            return "CAST({} AS TIMESTAMPTZ)"
        return "{}"

    def ms(self, later: str, earlier: str) -> str:
        """Milliseconds from ``earlier`` to ``later`` (two timestamp expressions)."""
        if self.sqlite:
            return f"ROUND((julianday({later}) - julianday({earlier})) * 86400000.0)"
        return f"(EXTRACT(EPOCH FROM ({later} - {earlier})) * 1000.0)"

    def cohort(self, site_id: int, start: datetime, end: datetime) -> str:
        """The month's orders of one site (one range of the index on (site, raised_at))."""
        return (
            f'o."site" = {self.param(site_id)} AND o."raised_at" >= {self.param(start)} '
            f'AND o."raised_at" < {self.param(end)}'
        )


def _counts_sql(site_id: int, start: datetime, end: datetime, now: datetime) -> _Sql:
    sql = _Sql()
    raised, dispatched = 'o."raised_at"', 'o."dispatched_at"'
    arranged, reported, deferred = 'o."arranged_at"', 'o."reported_at"', 'o."deferred_at"'
    # The report step is done at the earlier of reporting and deferring.
    report_done = (
        f"CASE WHEN {reported} IS NULL THEN {deferred} WHEN {deferred} IS NULL THEN {reported} "
        f"WHEN {deferred} < {reported} THEN {deferred} ELSE {reported} END"
    )

    def tally(done: str, base: str, limit_ms: int, still_open: str) -> str:
        took = sql.ms(done, base)
        return (
            f"SUM(CASE WHEN {done} IS NOT NULL AND {took} <= {limit_ms} THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN {done} IS NOT NULL AND {took} > {limit_ms} THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN {done} IS NULL AND {still_open} "
            f"AND {sql.ms(sql.param(now), base)} > {limit_ms} THEN 1 ELSE 0 END)"
        )

    columns = [
        'o."department" AS department',
        'o."source" AS source',
        'o."status" AS status',
        "COUNT(*) AS n",
        tally(dispatched, raised, 24 * _HOUR_MS, "o.\"status\" = 'raised'"),
        tally(arranged, dispatched, 2 * _HOUR_MS, "o.\"status\" = 'dispatched'"),
        tally(report_done, dispatched, 4 * _HOUR_MS, "o.\"status\" IN ('dispatched', 'arranged')"),
        'SUM(CASE WHEN o."escalation_level" >= 1 THEN 1 ELSE 0 END)',
        'SUM(CASE WHEN o."escalation_level" >= 2 THEN 1 ELSE 0 END)',
        *(
            f"SUM(CASE WHEN o.\"satisfaction\" = '{answer}' THEN 1 ELSE 0 END)"
            for answer in SATISFACTION
        ),
    ]
    sql.text = (
        f'SELECT {", ".join(columns)} FROM "work_order" o '
        f"WHERE {sql.cohort(site_id, start, end)} "
        'GROUP BY o."department", o."source", o."status"'
    )
    return sql


def _durations_sql(site_id: int, start: datetime, end: datetime) -> _Sql:
    sql = _Sql()
    arrange = sql.ms('o."arranged_at"', 'o."dispatched_at"')
    report = sql.ms('o."reported_at"', 'o."dispatched_at"')
    close = sql.ms('o."closed_at"', 'o."raised_at"')
    sql.text = (
        f"SELECT {arrange} AS arrange, {report} AS report, {close} AS close "
        f'FROM "work_order" o WHERE {sql.cohort(site_id, start, end)} AND ('
        'o."arranged_at" IS NOT NULL OR o."reported_at" IS NOT NULL OR o."closed_at" IS NOT NULL)'
    )
    return sql


def _kinds_sql(site_id: int, start: datetime, end: datetime) -> _Sql:
    """The month's orders by the kind of checkpoint they concern (none: raised without one)."""
    sql = _Sql()
    sql.text = (
        'SELECT c."kind" AS kind, COUNT(*) AS n FROM "work_order" o '
        'LEFT JOIN "checkpoint" c ON c."id" = o."checkpoint" '
        f'WHERE {sql.cohort(site_id, start, end)} GROUP BY c."kind"'
    )
    return sql


def _returns_sql(site_id: int, start: datetime, end: datetime) -> _Sql:
    """The month's deferred orders and when each came back: its earliest resume or report at or
    after its latest deferral (an outer join, grouped by the order's key, so that the database
    can look the events up by order)."""
    sql = _Sql()
    sql.text = (
        'SELECT o."id" AS id, o."status" AS status, o."deferred_at" AS deferred_at, '
        'MIN(e."device_time") AS returned_at FROM "work_order" o '
        'LEFT JOIN "work_order_event" e ON e."work_order" = o."id" '
        'AND e."action" IN (\'resume\', \'report\') AND e."device_time" >= o."deferred_at" '
        f'WHERE {sql.cohort(site_id, start, end)} AND o."deferred_at" IS NOT NULL '
        'GROUP BY o."id"'
    )
    return sql


async def _run(sql: _Sql) -> list[dict]:
    from piccolo.querystring import QueryString

    return await WorkOrder._meta.db.run_querystring(QueryString(sql.text, *sql.args))


def _as_utc(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _tally(on_time: int, late: int, overdue: int) -> dict:
    decided = on_time + late + overdue
    return {
        "on_time": on_time,
        "late": late,
        "overdue": overdue,
        "percent": round(100.0 * on_time / decided, 1) if decided else None,
    }


async def monthly_stats(
    user, site_id: int, month: str, default_timezone: str, now: datetime | None = None
) -> dict:
    """The statistics of the orders raised at ``site_id`` in ``month`` (YYYY-MM, site time)."""
    await visible_site(user, site_id)
    now = now or datetime.now(UTC)
    calendar = (await calendars_for([site_id], default_timezone))[site_id]
    start, end = month_range(month, calendar.timezone)
    groups = await _run(_counts_sql(site_id, start, end, now))
    by_department: dict[int | None, int] = {}
    by_source = dict.fromkeys(WORK_ORDER_SOURCES, 0)
    by_status = dict.fromkeys(STATUSES, 0)
    tallies = [0] * 9
    escalated = [0, 0]
    answers = [0] * len(SATISFACTION)
    total = 0
    for row in groups:
        values = list(row.values())
        count = int(values[3])
        total += count
        by_department[row["department"]] = by_department.get(row["department"], 0) + count
        by_source[row["source"]] = by_source.get(row["source"], 0) + count
        by_status[row["status"]] = by_status.get(row["status"], 0) + count
        for i in range(9):
            tallies[i] += int(values[4 + i] or 0)
        for i in range(2):
            escalated[i] += int(values[13 + i] or 0)
        for i in range(len(SATISFACTION)):
            answers[i] += int(values[15 + i] or 0)

    by_kind = {**dict.fromkeys(CHECKPOINT_KINDS, 0), "without_checkpoint": 0}
    for row in await _run(_kinds_sql(site_id, start, end)):
        key = row["kind"] if row["kind"] in by_kind else "without_checkpoint"
        by_kind[key] += int(row["n"])

    durations: dict[str, list[float]] = {name: [] for name in DURATIONS}
    for row in await _run(_durations_sql(site_id, start, end)):
        for name in DURATIONS:
            if row[name] is not None:
                durations[name].append(float(row[name]) / 1000.0)

    returned = [0, 0, 0]
    for row in await _run(_returns_sql(site_id, start, end)):
        deferred_at = _as_utc(row["deferred_at"])
        back = _as_utc(row["returned_at"]) if row["status"] != "deferred" else None
        deadline = sla.Deadline(
            "return", calendar.add_working_days(deferred_at, sla.DEFERRAL_WORKING_DAYS), back
        )
        state = deadline.state(now)
        if state == "on_time":
            returned[0] += 1
        elif state == "late":
            returned[1] += 1
        elif state == "overdue" and row["status"] == "deferred":
            returned[2] += 1

    names = {
        d["id"]: d
        for d in await Department.select(Department.id, Department.code, Department.name_zh)
    }
    departments = sorted(
        (
            {
                "department": names[key]["code"] if key in names else None,
                "name": names[key]["name_zh"] if key in names else None,
                "count": count,
            }
            for key, count in by_department.items()
        ),
        key=lambda d: (-d["count"], d["department"] or ""),
    )
    answered = sum(answers)
    return {
        "site": site_id,
        "month": month,
        "timezone": str(calendar.timezone),
        "from": start.astimezone(calendar.timezone),
        "to": end.astimezone(calendar.timezone),
        "total": total,
        "open": total - by_status.get("closed", 0),
        "by_department": departments,
        "by_source": by_source,
        "by_kind": by_kind,
        "by_status": by_status,
        "on_time": {
            "dispatch": _tally(*tallies[0:3]),
            "arrange": _tally(*tallies[3:6]),
            "report": _tally(*tallies[6:9]),
            "return": _tally(*returned),
        },
        "durations": {
            name: {
                "count": len(values),
                "median_seconds": _seconds(percentile(values, 0.5)),
                "p90_seconds": _seconds(percentile(values, 0.9)),
            }
            for name, values in durations.items()
        },
        "escalations": {"department_head": escalated[0], "manager": escalated[1]},
        "satisfaction": {
            **dict(zip(SATISFACTION, answers, strict=True)),
            "answered": answered,
            "percent_satisfied": (
                round(100.0 * (answers[0] + answers[1]) / answered, 1) if answered else None
            ),
        },
    }


def _seconds(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


# ---------------------------------------------------------------------------------------------
# XLSX export

SOURCE_ZH = {"inspection": "巡检发现", "manual": "现场报修", "owner": "业主报修"}
STATUS_ZH = {
    "raised": "待派工",
    "dispatched": "待接单",
    "arranged": "处理中",
    "deferred": "暂缓",
    "reported": "待核实",
    "verified": "已核实",
    "closed": "已关闭",
}
STATE_ZH = {"on_time": "按时", "late": "超时完成", "overdue": "已超时", "pending": "未到期"}
SATISFACTION_ZH = {"satisfied": "满意", "acceptable": "基本满意", "dissatisfied": "不满意"}
ESCALATION_ZH = {0: "", 1: "部门负责人", 2: "管理处经理"}

EXPORT_HEADERS = (
    "工单号",
    "来源",
    "状态",
    "部门",
    "检查点编号",
    "检查点",
    "问题",
    "问题描述",
    "严重程度",
    "报修人",
    "报修时间",
    "派工时间",
    "派工时限",
    "派工",
    "接单时间",
    "接单时限",
    "接单",
    "汇报完成时间",
    "汇报时限",
    "汇报",
    "暂缓时间",
    "暂缓回复时限",
    "暂缓回复",
    "核实时间",
    "关闭时间",
    "处理人",
    "升级",
    "业主",
    "房号",
    "业主电话",
    "业主签字",
    "回访满意度",
)

_EXPORT_COLUMNS = (
    WorkOrder.id,
    WorkOrder.source,
    WorkOrder.status,
    WorkOrder.department.name_zh.as_alias("department_name"),
    WorkOrder.checkpoint.code.as_alias("checkpoint_code"),
    WorkOrder.checkpoint.name.as_alias("checkpoint_name"),
    WorkOrder.title,
    WorkOrder.description,
    WorkOrder.severity,
    WorkOrder.raised_by.display_name.as_alias("raised_by_name"),
    WorkOrder.raised_at,
    WorkOrder.dispatched_at,
    WorkOrder.arranged_at,
    WorkOrder.reported_at,
    WorkOrder.deferred_at,
    WorkOrder.verified_at,
    WorkOrder.closed_at,
    WorkOrder.assignee.display_name.as_alias("assignee_name"),
    WorkOrder.escalation_level,
    WorkOrder.owner_name,
    WorkOrder.owner_unit,
    WorkOrder.owner_phone,
    WorkOrder.owner_signed,
    WorkOrder.owner_absent,
    WorkOrder.satisfaction,
)


async def export_orders(
    user,
    site_id: int,
    first_day: date,
    last_day: date,
    default_timezone: str,
    now: datetime | None = None,
) -> tuple[bytes, str]:
    """The orders raised at the site from ``first_day`` to ``last_day`` (inclusive, site time) as
    an XLSX workbook (bytes) and a file name. The workbook is written in a worker thread, a batch
    of orders at a time, so the event loop keeps serving."""
    site = await visible_site(user, site_id)
    now = now or datetime.now(UTC)
    calendar = (await calendars_for([site_id], default_timezone))[site_id]
    tz = calendar.timezone
    start = _local_midnight(first_day, tz)
    end = _local_midnight(last_day + timedelta(days=1), tz)
    ids = [
        r["id"]
        for r in await WorkOrder.select(WorkOrder.id)
        .where(
            (WorkOrder.site == site_id)
            & (WorkOrder.raised_at >= start)
            & (WorkOrder.raised_at < end)
        )
        .order_by(WorkOrder.raised_at)
        .order_by(WorkOrder.id)
    ]
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title="工单")
    sheet.freeze_panes = "A2"
    for column, width in (("A", 8), ("G", 30), ("H", 40)):
        sheet.column_dimensions[column].width = width
    sheet.append(list(EXPORT_HEADERS))
    for offset in range(0, len(ids), EXPORT_BATCH):
        chunk = ids[offset : offset + EXPORT_BATCH]
        rows = await WorkOrder.select(*_EXPORT_COLUMNS).where(WorkOrder.id.is_in(chunk))
        rows.sort(key=lambda r: (_as_utc(r["raised_at"]), r["id"]))
        returned = await _returned(rows)
        # Deadlines, states and cells are worked out in the worker thread too.
        await asyncio.to_thread(_append_all, sheet, rows, returned, calendar, now)
    buffer = io.BytesIO()
    await asyncio.to_thread(workbook.save, buffer)
    name = f"work-orders-{site['code']}-{first_day.isoformat()}-{last_day.isoformat()}.xlsx"
    return buffer.getvalue(), name


def _append_all(
    sheet, rows: list[dict], returned: dict[int, datetime], calendar: sla.WorkCalendar, now
) -> None:
    for row in rows:
        sheet.append(_export_line(row, returned.get(row["id"]), calendar, now))


async def _returned(rows: list[dict]) -> dict[int, datetime]:
    """When each order that came back from a deferral did: its earliest resume or report at or
    after its latest deferral."""
    deferred = {
        r["id"]: _as_utc(r["deferred_at"])
        for r in rows
        if r["deferred_at"] is not None and r["status"] != "deferred"
    }
    if not deferred:
        return {}
    returned: dict[int, datetime] = {}
    for event in await WorkOrderEvent.select(
        WorkOrderEvent.work_order, WorkOrderEvent.device_time
    ).where(
        WorkOrderEvent.work_order.is_in(list(deferred))
        & WorkOrderEvent.action.is_in(["resume", "report"])
    ):
        order_id, at = event["work_order"], _as_utc(event["device_time"])
        if at >= deferred[order_id] and (order_id not in returned or at < returned[order_id]):
            returned[order_id] = at
    return returned


def _export_line(
    row: dict, returned_at: datetime | None, calendar: sla.WorkCalendar, now: datetime
) -> list:
    tz = calendar.timezone

    def local(value) -> datetime | None:
        value = _as_utc(value)
        # Excel has no time zones: the site's wall-clock time, to the second.
        return value.astimezone(tz).replace(tzinfo=None, microsecond=0) if value else None

    deadlines = {d.step: d for d in deadlines_of(row, returned_at, calendar)}
    # The report step is done by reporting or by deferring with the reason, whichever came first.
    if "report" in deadlines and row["deferred_at"] is not None:
        report = deadlines["report"]
        deferred_at = _as_utc(row["deferred_at"])
        done = min(d for d in (report.done_at, deferred_at) if d is not None)
        deadlines["report"] = sla.Deadline("report", report.due, done)

    def step(name: str) -> list:
        deadline = deadlines.get(name)
        if deadline is None:
            return [None, ""]
        return [local(deadline.due), STATE_ZH[deadline.state(now)]]

    signed = ""
    if row["owner_absent"]:
        signed = "业主不在家"
    elif row["owner_signed"]:
        signed = "已签字"
    return [
        row["id"],
        SOURCE_ZH.get(row["source"], row["source"]),
        STATUS_ZH.get(row["status"], row["status"]),
        row["department_name"] or "",
        row["checkpoint_code"] or "",
        row["checkpoint_name"] or "",
        row["title"],
        row["description"],
        row["severity"],
        row["raised_by_name"] or "",
        local(row["raised_at"]),
        local(row["dispatched_at"]),
        *step("dispatch"),
        local(row["arranged_at"]),
        *step("arrange"),
        local(row["reported_at"]),
        *step("report"),
        local(row["deferred_at"]),
        *step("return"),
        local(row["verified_at"]),
        local(row["closed_at"]),
        row["assignee_name"] or "",
        ESCALATION_ZH.get(row["escalation_level"], str(row["escalation_level"])),
        row["owner_name"],
        row["owner_unit"],
        row["owner_phone"],
        signed,
        SATISFACTION_ZH.get(row["satisfaction"] or "", ""),
    ]


__all__ = [
    "EXPORT_HEADERS",
    "MAX_EXPORT_DAYS",
    "export_orders",
    "month_range",
    "monthly_stats",
    "percentile",
]
