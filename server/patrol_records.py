"""Patrol records (综合巡视记录表, SOP 001 §4.4): the daily record of a site — per person or for
the whole site — and the monthly summary per building or per person, as data and as XLSX.

The daily record lists each check of the local day in time order: when, which checkpoint and
where (building / floor), the result (合格 / 不合格 with the failed items), the note, and the work
orders the check raised or joined; then the planned rounds of the day (done / late / unverified /
missed / pending) from the stored compliance results (``plan_occurrence``), and the orders raised
by hand that day.

Every query is bounded by the site and the day or month: checks are read through the index on
``inspection (checkpoint, device_time)`` starting from the site's checkpoints; rounds through
``plan_occurrence (site, day, …)``; orders through ``work_order (site, raised_at)``. The monthly
summary is aggregated by the database (a month may hold tens of thousands of checks).
"""

from __future__ import annotations

import asyncio
import io
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, Side

from server import compliance, compliance_store
from server.tables.plans import PatrolPlan

#: A day's checks listed at most (a day of one site is small; this only bounds a runaway).
MAX_DAY_CHECKS = 5000
STATUSES = ("done", "late", "unverified", "missed", "pending")
NO_BUILDING = "其他区域"
ANYONE = "任何人"


def _marks(n: int) -> str:
    return ", ".join("{}" for _ in range(n))


def _utc(value) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _chunks(values: list, size: int = 500):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def month_days(month: str) -> tuple[date, date]:
    year, number = int(month[:4]), int(month[5:7])
    first = date(year, number, 1)
    following = date(year + number // 12, number % 12 + 1, 1)
    return first, following - timedelta(days=1)


def _counts(counts: compliance.Counts) -> dict:
    return compliance_store.counts_view(counts)


def _add(counts: compliance.Counts, status: str, n: int) -> None:
    counts.expected += n
    setattr(counts, status, getattr(counts, status) + n)


async def _people_names(ids) -> dict[int, str]:
    ids = sorted({i for i in ids if i is not None})
    out: dict[int, str] = {}
    for chunk in _chunks(ids):
        rows = await PatrolPlan.raw(
            f"SELECT id, display_name, username FROM xj_user WHERE id IN ({_marks(len(chunk))})",
            *chunk,
        )
        out.update({r["id"]: r["display_name"] or r["username"] for r in rows})
    return out


async def _places(table: str, ids) -> dict[int, str]:
    ids = sorted({i for i in ids if i is not None})
    out: dict[int, str] = {}
    for chunk in _chunks(ids):
        rows = await PatrolPlan.raw(
            f"SELECT id, name FROM {table} WHERE id IN ({_marks(len(chunk))})", *chunk
        )
        out.update({r["id"]: r["name"] for r in rows})
    return out


# --- the daily record --------------------------------------------------------------------------


async def _day_checks(site_id: int, start: datetime, end: datetime, person: int | None):
    sql = (
        "SELECT i.id AS id, i.device_time AS device_time, i.source AS source, i.note AS note, "
        "i.inspector AS inspector, c.id AS checkpoint, c.code AS code, c.name AS name, "
        "c.kind AS kind, c.building AS building, c.floor AS floor, "
        "COALESCE(i.template, c.template) AS template "
        "FROM checkpoint c JOIN inspection i ON i.checkpoint = c.id "
        "WHERE c.site = {} AND i.device_time >= {} AND i.device_time < {}"
    )
    args: list = [site_id, start, end]
    if person is not None:
        sql += " AND i.inspector = {}"
        args.append(person)
    sql += " ORDER BY i.device_time, i.id LIMIT {}"
    args.append(MAX_DAY_CHECKS + 1)
    return await PatrolPlan.raw(sql, *args)


async def _failed_items(checks: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for chunk in _chunks(checks):
        rows = await PatrolPlan.raw(
            "SELECT r.inspection AS inspection, r.item_code AS code, r.note AS note, "
            "r.defect_type AS defect_type, r.id AS rid FROM item_result r "
            f"WHERE r.inspection IN ({_marks(len(chunk))}) AND r.result = 'fail' "
            "ORDER BY r.id",
            *[c["id"] for c in chunk],
        )
        for row in rows:
            out[str(row["inspection"])].append(row)
    templates = sorted({c["template"] for c in checks if c["template"] is not None})
    texts: dict[tuple[int, str], tuple[str, str]] = {}
    for chunk in _chunks(templates):
        for row in await PatrolPlan.raw(
            "SELECT template, code, text_zh, text_en FROM template_item "
            f"WHERE template IN ({_marks(len(chunk))})",
            *chunk,
        ):
            texts[(row["template"], row["code"])] = (row["text_zh"], row["text_en"])
    template_of = {str(c["id"]): c["template"] for c in checks}
    result: dict[str, list[dict]] = {}
    for inspection, rows in out.items():
        items = []
        for row in rows:
            zh, en = texts.get(
                (template_of.get(inspection), row["code"]), (row["code"], row["code"])
            )
            items.append(
                {
                    "code": row["code"],
                    "text": zh,
                    "text_en": en,
                    "note": row["note"] or "",
                    "defect_type": row["defect_type"] or "",
                }
            )
        result[inspection] = items
    return result


async def _orders_of_checks(checks: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for chunk in _chunks(checks):
        rows = await PatrolPlan.raw(
            "SELECT r.inspection AS inspection, o.id AS id, o.title AS title, o.status AS status, "
            "o.department AS department FROM work_order_report r "
            "JOIN work_order o ON o.id = r.work_order "
            f"WHERE r.inspection IN ({_marks(len(chunk))}) ORDER BY o.id",
            *[c["id"] for c in chunk],
        )
        for row in rows:
            out[str(row["inspection"])].append(
                {"id": row["id"], "title": row["title"], "status": row["status"]}
            )
    return out


async def _hand_orders(site_id: int, start: datetime, end: datetime, person: int | None):
    """Orders raised by hand (or from an owner's report) that day — by the person, if one."""
    sql = (
        "SELECT id, title, status, source, raised_at, raised_by FROM work_order "
        "WHERE site = {} AND raised_at >= {} AND raised_at < {} AND source <> 'inspection'"
    )
    args: list = [site_id, start, end]
    if person is not None:
        sql += " AND raised_by = {}"
        args.append(person)
    sql += " ORDER BY raised_at, id LIMIT 1000"
    return await PatrolPlan.raw(sql, *args)


async def _day_rounds(
    site_id: int, day: date, person: int | None, plan_ids: list[int] | None
) -> tuple[compliance.Counts, list[dict]]:
    """The planned rounds of the day: every plan's (person None), or the person's: the rounds
    they did, and the missed / pending rounds of plans they are among the people of."""
    sql = (
        'SELECT "plan", person, status, COUNT(*) AS n FROM plan_occurrence '
        "WHERE site = {} AND day = {}"
    )
    args: list = [site_id, day]
    if plan_ids is not None:
        if not plan_ids:
            return compliance.Counts(), []
        sql += f' AND "plan" IN ({_marks(len(plan_ids))})'
        args.extend(plan_ids)
    rows = await PatrolPlan.raw(sql + ' GROUP BY "plan", person, status', *args)
    plan_rows = await PatrolPlan.raw(
        "SELECT id, site, name, role, department FROM patrol_plan WHERE site = {}", site_id
    )
    names = {r["id"]: r["name"] for r in plan_rows}
    people = await compliance_store.plan_people(plan_rows) if person is not None else {}
    total = compliance.Counts()
    per_plan: dict[int, compliance.Counts] = defaultdict(compliance.Counts)
    for row in rows:
        if person is not None:
            if row["person"] is not None:
                if row["person"] != person:
                    continue
            else:
                assigned = people.get(row["plan"])
                if assigned is None or person not in assigned:
                    continue
        _add(total, row["status"], row["n"])
        _add(per_plan[row["plan"]], row["status"], row["n"])
    plans = [
        {"id": plan_id, "name": names.get(plan_id, ""), **_counts(counts)}
        for plan_id, counts in sorted(per_plan.items())
    ]
    return total, plans


async def daily_record(
    site: dict, day: date, person: dict | None, plan_ids: list[int] | None, zone: ZoneInfo
) -> dict:
    """The 综合巡视记录表 of ``site`` for the local ``day``; ``person`` = {id, name} or None for
    the whole site. ``plan_ids`` limits the rounds to these plans (None = all)."""
    start, end = day_bounds(day, zone)
    person_id = person["id"] if person else None
    await compliance_store.bring_up_to_date(site["id"])
    rows = await _day_checks(site["id"], start, end, person_id)
    truncated = len(rows) > MAX_DAY_CHECKS
    rows = rows[:MAX_DAY_CHECKS]
    failed = await _failed_items(rows)
    orders = await _orders_of_checks(rows)
    buildings = await _places("building", (r["building"] for r in rows))
    floors = await _places("floor", (r["floor"] for r in rows))
    hand = await _hand_orders(site["id"], start, end, person_id)
    names = await _people_names([r["inspector"] for r in rows] + [o["raised_by"] for o in hand])
    checks = []
    for row in rows:
        key = str(row["id"])
        at = _utc(row["device_time"])
        items = failed.get(key, [])
        checks.append(
            {
                "id": key,
                "time": at,
                "local_time": at.astimezone(zone).strftime("%H:%M"),
                "inspector": {"id": row["inspector"], "name": names.get(row["inspector"], "")},
                "checkpoint": {
                    "id": row["checkpoint"],
                    "code": row["code"],
                    "name": row["name"],
                    "kind": row["kind"],
                },
                "building": (
                    {"id": row["building"], "name": buildings.get(row["building"], "")}
                    if row["building"] is not None
                    else None
                ),
                "floor": (
                    {"id": row["floor"], "name": floors.get(row["floor"], "")}
                    if row["floor"] is not None
                    else None
                ),
                "source": row["source"],
                "result": "fail" if items else "pass",
                "failed_items": items,
                "note": row["note"] or "",
                "work_orders": orders.get(key, []),
            }
        )
    rounds, plans = await _day_rounds(site["id"], day, person_id, plan_ids)
    order_ids = {o["id"] for c in checks for o in c["work_orders"]}
    return {
        "site": {"id": site["id"], "code": site["code"], "name": site["name"]},
        "day": day,
        "timezone": zone.key,
        "person": person,
        "checks": checks,
        "truncated": truncated,
        "hand_orders": [
            {
                "id": o["id"],
                "title": o["title"],
                "status": o["status"],
                "source": o["source"],
                "raised_at": _utc(o["raised_at"]),
                "local_time": _utc(o["raised_at"]).astimezone(zone).strftime("%H:%M"),
                "raised_by": (
                    {"id": o["raised_by"], "name": names.get(o["raised_by"], "")}
                    if o["raised_by"] is not None
                    else None
                ),
            }
            for o in hand
        ],
        "rounds": _counts(rounds),
        "plans": plans,
        "totals": {
            "checks": len(checks),
            "failed": sum(1 for c in checks if c["result"] == "fail"),
            "work_orders": len(order_ids) + len(hand),
        },
    }


# --- the monthly summary -----------------------------------------------------------------------


async def monthly_summary(site: dict, month: str, by: str, zone: ZoneInfo) -> dict:
    """Rounds expected / done / late / unverified / missed / pending and on-time rate, checks,
    failed checks and work orders raised, per building or per person, for a month (site time)."""
    first, last = month_days(month)
    start, _ = day_bounds(first, zone)
    _, end = day_bounds(last, zone)
    site_id = site["id"]
    await compliance_store.bring_up_to_date(site_id)
    total, groups, _ = await compliance_store.aggregate(site_id, first, last, by)
    rounds = {key: counts for (key, _bucket), counts in groups.items()}
    key_sql = "c.building" if by == "building" else "i.inspector"
    check_rows = await PatrolPlan.raw(
        f"SELECT {key_sql} AS key, COUNT(*) AS checks, "
        "SUM(CASE WHEN EXISTS (SELECT 1 FROM item_result r WHERE r.inspection = i.id "
        "AND r.result = 'fail') THEN 1 ELSE 0 END) AS failed "
        "FROM checkpoint c JOIN inspection i ON i.checkpoint = c.id "
        "WHERE c.site = {} AND i.device_time >= {} AND i.device_time < {} "
        f"GROUP BY {key_sql}",
        site_id,
        start,
        end,
    )
    order_key = "c.building" if by == "building" else "o.raised_by"
    order_rows = await PatrolPlan.raw(
        f"SELECT {order_key} AS key, COUNT(*) AS n FROM work_order o "
        "LEFT JOIN checkpoint c ON c.id = o.checkpoint "
        "WHERE o.site = {} AND o.raised_at >= {} AND o.raised_at < {} "
        f"GROUP BY {order_key}",
        site_id,
        start,
        end,
    )
    checks = {r["key"]: (int(r["checks"] or 0), int(r["failed"] or 0)) for r in check_rows}
    orders = {r["key"]: int(r["n"] or 0) for r in order_rows}
    keys = set(rounds) | set(checks) | set(orders)
    if by == "building":
        info = {
            r["id"]: r
            for chunk in _chunks(sorted(k for k in keys if k is not None))
            for r in await PatrolPlan.raw(
                f"SELECT id, name, sort_order FROM building WHERE id IN ({_marks(len(chunk))})",
                *chunk,
            )
        }
        labels = {k: info[k]["name"] for k in info}
        order = {k: (info[k]["sort_order"], k) for k in info}
        default_label = NO_BUILDING
    else:
        labels = await _people_names(keys)
        order = {k: (labels.get(k, ""), k) for k in keys if k is not None}
        default_label = ANYONE
    rows = []

    def place(key):
        return (0, order[key]) if key in order else (1, 0 if key is None else -1)

    for key in sorted(keys, key=place):
        n_checks, n_failed = checks.get(key, (0, 0))
        rows.append(
            {
                "key": key,
                "label": labels.get(key, "") if key is not None else default_label,
                **_counts(rounds.get(key, compliance.Counts())),
                "checks": n_checks,
                "failed_checks": n_failed,
                "work_orders": orders.get(key, 0),
            }
        )
    return {
        "site": {"id": site_id, "code": site["code"], "name": site["name"]},
        "month": month,
        "from": first,
        "to": last,
        "by": by,
        "timezone": zone.key,
        "total": {
            **_counts(total),
            "checks": sum(c for c, _ in checks.values()),
            "failed_checks": sum(f for _, f in checks.values()),
            "work_orders": sum(orders.values()),
        },
        "rows": rows,
    }


# --- XLSX --------------------------------------------------------------------------------------

DAILY_HEADERS = (
    ("序号", 6),
    ("时间", 8),
    ("巡视人", 14),
    ("楼栋/楼层", 14),
    ("巡视部位(点位)", 30),
    ("巡视结果", 10),
    ("发现问题", 36),
    ("处理情况(派工单)", 30),
    ("备注", 20),
)
MONTHLY_HEADERS = (
    "应巡次数",
    "按时",
    "迟到",
    "手工录入(未核实)",
    "漏巡",
    "未到期",
    "按时率",
    "巡检次数",
    "不合格次数",
    "报修工单",
)
STATUS_ZH = {
    "raised": "待派工",
    "dispatched": "已派工",
    "arranged": "已安排",
    "deferred": "延期",
    "reported": "已完工",
    "verified": "已验收",
    "closed": "已关闭",
}
_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_WRAP = Alignment(wrap_text=True, vertical="top")
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _cell(sheet, value, *, bold=False, size=None, box=True, align=_WRAP):
    cell = WriteOnlyCell(sheet, value=value)
    if bold or size:
        cell.font = Font(bold=bold, size=size or 11)
    if box:
        cell.border = _BOX
    cell.alignment = align
    return cell


def _page_setup(sheet, header_rows: str) -> None:
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = "9"  # A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = header_rows
    sheet.print_options.horizontalCentered = True
    sheet.page_margins.left = sheet.page_margins.right = 0.4
    sheet.page_margins.top = sheet.page_margins.bottom = 0.5


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _rounds_line(rounds: dict) -> str:
    return (
        f"计划巡视:应巡 {rounds['expected']} 次,按时 {rounds['done']},迟到 {rounds['late']},"
        f"手工录入 {rounds['unverified']},漏巡 {rounds['missed']},未到期 {rounds['pending']},"
        f"按时率 {_rate(rounds['on_time_rate'])}"
    )


def _daily_xlsx(record: dict) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title="综合巡视记录表")
    for index, (_, width) in enumerate(DAILY_HEADERS):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    _page_setup(sheet, "1:4")
    person = record["person"]["name"] if record["person"] else "全部人员"
    sheet.append([_cell(sheet, "综合巡视记录表", bold=True, size=16, box=False, align=_CENTER)])
    sheet.append(
        [
            _cell(
                sheet,
                f"小区:{record['site']['name']}    日期:{record['day'].isoformat()}    "
                f"巡视人:{person}",
                box=False,
            )
        ]
    )
    sheet.append([_cell(sheet, _rounds_line(record["rounds"]), box=False)])
    sheet.append([_cell(sheet, title, bold=True, align=_CENTER) for title, _ in DAILY_HEADERS])
    for number, check in enumerate(record["checks"], start=1):
        place = " ".join(
            part["name"] for part in (check["building"], check["floor"]) if part is not None
        )
        problems = ";".join(
            item["text"] + (f"({item['note']})" if item["note"] else "")
            for item in check["failed_items"]
        )
        orders = ";".join(
            f"#{o['id']} {o['title']}({STATUS_ZH.get(o['status'], o['status'])})"
            for o in check["work_orders"]
        )
        note = check["note"]
        if check["source"] == "manual":
            note = ("手工录入 " + note).strip()
        sheet.append(
            [
                _cell(sheet, number, align=_CENTER),
                _cell(sheet, check["local_time"], align=_CENTER),
                _cell(sheet, check["inspector"]["name"]),
                _cell(sheet, place),
                _cell(sheet, f"{check['checkpoint']['code']} {check['checkpoint']['name']}"),
                _cell(sheet, "不合格" if check["result"] == "fail" else "合格", align=_CENTER),
                _cell(sheet, problems),
                _cell(sheet, orders),
                _cell(sheet, note),
            ]
        )
    for order in record["hand_orders"]:
        who = order["raised_by"]["name"] if order["raised_by"] else ""
        sheet.append(
            [
                _cell(sheet, "报修", align=_CENTER),
                _cell(sheet, order["local_time"], align=_CENTER),
                _cell(sheet, who),
                _cell(sheet, ""),
                _cell(sheet, ""),
                _cell(sheet, ""),
                _cell(sheet, order["title"]),
                _cell(
                    sheet,
                    f"#{order['id']}({STATUS_ZH.get(order['status'], order['status'])})",
                ),
                _cell(sheet, "业主报修" if order["source"] == "owner" else "手工报修"),
            ]
        )
    sheet.append([])
    totals = record["totals"]
    sheet.append(
        [
            _cell(
                sheet,
                f"合计:巡检 {totals['checks']} 次,不合格 {totals['failed']} 次,"
                f"派工单 {totals['work_orders']} 张",
                box=False,
            )
        ]
    )
    sheet.append([])
    sheet.append(
        [
            _cell(sheet, "巡视人签字:", box=False),
            None,
            None,
            None,
            _cell(sheet, "主管签字:", box=False),
            None,
            _cell(sheet, "日期:", box=False),
        ]
    )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _monthly_xlsx(summary: dict) -> bytes:
    workbook = Workbook(write_only=True)
    by_zh = "楼栋" if summary["by"] == "building" else "人员"
    sheet = workbook.create_sheet(title=f"月度汇总(按{by_zh})")
    sheet.column_dimensions["A"].width = 18
    for index in range(len(MONTHLY_HEADERS)):
        sheet.column_dimensions[chr(ord("B") + index)].width = 11
    _page_setup(sheet, "1:3")
    sheet.append(
        [_cell(sheet, f"巡视月度汇总表(按{by_zh})", bold=True, size=16, box=False, align=_CENTER)]
    )
    sheet.append(
        [
            _cell(
                sheet,
                f"小区:{summary['site']['name']}    月份:{summary['month']}"
                f"({summary['from'].isoformat()} 至 {summary['to'].isoformat()})",
                box=False,
            )
        ]
    )
    sheet.append([_cell(sheet, t, bold=True, align=_CENTER) for t in (by_zh, *MONTHLY_HEADERS)])

    def line(label: str, row: dict, bold: bool = False) -> list:
        values = (
            row["expected"],
            row["done"],
            row["late"],
            row["unverified"],
            row["missed"],
            row["pending"],
            _rate(row["on_time_rate"]),
            row["checks"],
            row["failed_checks"],
            row["work_orders"],
        )
        return [_cell(sheet, label, bold=bold)] + [
            _cell(sheet, v, bold=bold, align=_CENTER) for v in values
        ]

    for row in summary["rows"]:
        sheet.append(line(row["label"], row))
    sheet.append(line("合计", summary["total"], bold=True))
    if summary["by"] == "person":
        sheet.append([])
        sheet.append(
            [
                _cell(
                    sheet,
                    "注:按人员统计时,漏巡与未到期计入计划的每位巡视人,各行之和可能大于合计。",
                    box=False,
                )
            ]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def daily_xlsx(record: dict) -> bytes:
    return await asyncio.to_thread(_daily_xlsx, record)


async def monthly_xlsx(summary: dict) -> bytes:
    return await asyncio.to_thread(_monthly_xlsx, summary)
