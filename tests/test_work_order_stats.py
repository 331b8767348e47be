"""Monthly work-order statistics and the XLSX export, checked against a month worked out by hand."""

import io
import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from server.tables.accounts import Department
from server.tables.calendars import SiteCalendarDay
from server.tables.work_orders import WorkOrder, WorkOrderEvent
from server.work_order_stats import EXPORT_HEADERS, month_range, percentile

pytestmark = pytest.mark.api

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A time in March/April 2026 at the site (Shanghai)."""
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


async def _departments() -> dict[str, int]:
    return {d["code"]: d["id"] for d in await Department.select(Department.id, Department.code)}


async def _order(site_id: int, department: int | None, **fields) -> int:
    raised = fields.pop("raised_at")
    row = WorkOrder(
        site=site_id,
        department=department,
        title=fields.pop("title", "测试工单"),
        raised_at=raised,
        created_at=raised,
        updated_at=raised,
        **fields,
    )
    return (await WorkOrder.insert(row).returning(WorkOrder.id))[0]["id"]


async def _event(order_id: int, action: str, when: datetime, to_status: str) -> None:
    await WorkOrderEvent.insert(
        WorkOrderEvent(
            work_order=order_id,
            action=action,
            from_status="deferred",
            to_status=to_status,
            device_time=when,
            server_time=when,
        )
    )


@pytest.fixture
async def march(make_site):
    """A site with March 2026 worked out by hand (see the expected numbers in the tests).

    Tuesday 17 March is a holiday at this site."""
    site = await make_site(1)  # one facility checkpoint
    other = await make_site(0)
    dept = await _departments()
    eng, sec, cln = dept["engineering"], dept["security"], dept["cleaning"]
    await SiteCalendarDay.insert(
        SiteCalendarDay(site=site.id, day=date(2026, 3, 17), kind="holiday", name="测试假日")
    )
    ids = {}
    # O8: the month's first minutes (local time; still February in UTC).
    ids["o8"] = await _order(
        site.id,
        eng,
        source="inspection",
        status="closed",
        checkpoint=site.checkpoint_ids[0],
        item_code="pressure",
        raised_at=at(3, 1, 0, 10),
        dispatched_at=at(3, 1, 0, 20),
        arranged_at=at(3, 1, 0, 50),
        reported_at=at(3, 1, 2, 20),
        verified_at=at(3, 1, 9, 0),
        closed_at=at(3, 1, 10, 10),
        satisfaction="acceptable",
    )
    ids["o1"] = await _order(
        site.id,
        eng,
        source="inspection",
        status="closed",
        checkpoint=site.checkpoint_ids[0],
        item_code="pressure",
        raised_at=at(3, 2, 9),
        dispatched_at=at(3, 2, 10),
        arranged_at=at(3, 2, 11),
        reported_at=at(3, 2, 12),
        verified_at=at(3, 2, 13),
        closed_at=at(3, 2, 15),
        satisfaction="satisfied",
    )
    # O2: dispatched after 25 h, arranged after 3 h: both late.
    ids["o2"] = await _order(
        site.id,
        eng,
        source="manual",
        status="closed",
        raised_at=at(3, 3, 9),
        dispatched_at=at(3, 4, 10),
        arranged_at=at(3, 4, 13),
        reported_at=at(3, 4, 13, 30),
        verified_at=at(3, 4, 15),
        closed_at=at(3, 5, 9),
        satisfaction="dissatisfied",
    )
    # O3: an owner's order deferred on Friday 6 March 10:00 and never back (due Tuesday 10
    # March 10:00): escalated to the manager.
    ids["o3"] = await _order(
        site.id,
        sec,
        source="owner",
        status="deferred",
        raised_at=at(3, 6, 8),
        dispatched_at=at(3, 6, 8, 30),
        arranged_at=at(3, 6, 9),
        deferred_at=at(3, 6, 10),
        escalation_level=2,
        owner_name="王先生",
        owner_unit="1栋1203",
        owner_phone="13812341234",
    )
    # A resume before the (latest) deferral does not count as coming back.
    await _event(ids["o3"], "resume", at(3, 6, 9, 30), "arranged")
    # O4: deferred Monday 9 March 10:00, due back Wednesday 11 March 10:00, back Thursday: late.
    ids["o4"] = await _order(
        site.id,
        eng,
        source="inspection",
        status="reported",
        raised_at=at(3, 9, 9),
        dispatched_at=at(3, 9, 9),
        arranged_at=at(3, 9, 9, 30),
        deferred_at=at(3, 9, 10),
        reported_at=at(3, 12, 12),
        escalation_level=1,
    )
    await _event(ids["o4"], "resume", at(3, 12, 9), "arranged")
    await _event(ids["o4"], "report", at(3, 12, 12), "reported")
    # O10: deferred Monday 16 March 10:00; Tuesday is a holiday here, so due back Thursday 19
    # March 10:00; back Wednesday 12:00: on time (late on a calendar without the holiday).
    ids["o10"] = await _order(
        site.id,
        eng,
        source="manual",
        status="reported",
        raised_at=at(3, 16, 9),
        dispatched_at=at(3, 16, 9),
        arranged_at=at(3, 16, 9, 10),
        deferred_at=at(3, 16, 10),
        reported_at=at(3, 18, 14),
    )
    await _event(ids["o10"], "resume", at(3, 18, 12), "arranged")
    await _event(ids["o10"], "report", at(3, 18, 14), "reported")
    # O5: never dispatched.
    ids["o5"] = await _order(
        site.id, None, source="manual", status="raised", raised_at=at(3, 20, 9)
    )
    # O6: dispatched, nobody arranged.
    ids["o6"] = await _order(
        site.id,
        cln,
        source="manual",
        status="dispatched",
        raised_at=at(3, 25, 9),
        dispatched_at=at(3, 25, 9, 10),
    )
    # Not March at this site: April (local) and another site.
    await _order(site.id, eng, source="manual", status="raised", raised_at=at(4, 1, 0, 30))
    await _order(other.id, eng, source="manual", status="raised", raised_at=at(3, 10, 9))
    return site, other, ids


def test_month_range_is_the_sites_local_month():
    start, end = month_range("2026-03", SHANGHAI)
    assert start == datetime(2026, 2, 28, 16, 0, tzinfo=UTC)
    assert end == datetime(2026, 3, 31, 16, 0, tzinfo=UTC)
    start, end = month_range("2026-12", SHANGHAI)
    assert end == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)


def test_percentiles_interpolate_between_ranks():
    assert percentile([], 0.5) is None
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([600, 1800, 1800, 1800, 3600, 10800], 0.5) == 1800
    assert percentile([600, 1800, 1800, 1800, 3600, 10800], 0.9) == 7200
    assert percentile([3, 1, 2, 4], 0.5) == 2.5


async def test_monthly_statistics(march, make_user, login):
    site, _, _ = march
    client = await login(await make_user("dispatcher", sites=[site.id]))
    response = await client.get(
        "/api/work-orders/stats", params={"site": site.id, "month": "2026-03"}
    )
    assert response.status_code == 200, response.text
    stats = response.json()
    assert stats["site"] == site.id and stats["month"] == "2026-03"
    assert stats["timezone"] == "Asia/Shanghai"
    assert stats["from"] == "2026-03-01T00:00:00+08:00"
    assert stats["to"] == "2026-04-01T00:00:00+08:00"
    assert stats["total"] == 8
    assert stats["open"] == 5
    assert stats["by_status"] == {
        "raised": 1,
        "dispatched": 1,
        "arranged": 0,
        "deferred": 1,
        "reported": 2,
        "verified": 0,
        "closed": 3,
    }
    assert stats["by_source"] == {"inspection": 3, "manual": 4, "owner": 1}
    assert stats["by_kind"] == {
        "facility": 2,
        "vacant_unit": 0,
        "signage": 0,
        "renovation": 0,
        "without_checkpoint": 6,
    }
    by_department = {d["department"]: d["count"] for d in stats["by_department"]}
    assert by_department == {"engineering": 5, "security": 1, "cleaning": 1, None: 1}
    assert stats["by_department"][0]["department"] == "engineering"
    assert stats["by_department"][0]["name"]
    assert stats["on_time"] == {
        "dispatch": {"on_time": 6, "late": 1, "overdue": 1, "percent": 75.0},
        "arrange": {"on_time": 5, "late": 1, "overdue": 1, "percent": 71.4},
        "report": {"on_time": 6, "late": 0, "overdue": 1, "percent": 85.7},
        "return": {"on_time": 1, "late": 1, "overdue": 1, "percent": 33.3},
    }
    assert stats["durations"] == {
        "arrange": {"count": 6, "median_seconds": 1800.0, "p90_seconds": 7200.0},
        "report": {"count": 5, "median_seconds": 12600.0, "p90_seconds": 238320.0},
        "close": {"count": 3, "median_seconds": 36000.0, "p90_seconds": 145440.0},
    }
    assert stats["escalations"] == {"department_head": 2, "manager": 1}
    assert stats["satisfaction"] == {
        "satisfied": 1,
        "acceptable": 1,
        "dissatisfied": 1,
        "answered": 3,
        "percent_satisfied": 66.7,
    }


async def test_an_empty_month(march, make_user, login):
    site, _, _ = march
    client = await login(await make_user("manager", sites=[site.id]))
    stats = (
        await client.get("/api/work-orders/stats", params={"site": site.id, "month": "2025-12"})
    ).json()
    assert stats["total"] == 0 and stats["by_department"] == []
    assert stats["on_time"]["dispatch"] == {"on_time": 0, "late": 0, "overdue": 0, "percent": None}
    assert stats["durations"]["close"] == {"count": 0, "median_seconds": None, "p90_seconds": None}
    assert stats["satisfaction"]["percent_satisfied"] is None


async def test_who_may_see_statistics_and_export(march, make_user, login):
    site, other, _ = march
    params = {"site": site.id, "month": "2026-03"}
    export = {"site": site.id, "from": "2026-03-01", "to": "2026-03-31"}
    for role in ("patrol", "inspector", "department"):
        client = await login(
            await make_user(
                role, sites=[site.id], department="engineering" if role == "department" else None
            )
        )
        for path, query in (
            ("/api/work-orders/stats", params),
            ("/api/work-orders/export.xlsx", export),
        ):
            response = await client.get(path, params=query)
            assert response.status_code == 403, (role, path)
            assert response.json()["error"]["code"] == "forbidden"
    # The desk of another site: this site does not exist for them.
    stranger = await login(await make_user("manager", sites=[other.id]))
    for path, query in (
        ("/api/work-orders/stats", params),
        ("/api/work-orders/export.xlsx", export),
    ):
        response = await stranger.get(path, params=query)
        assert response.status_code == 404, path
    admin = await login(await make_user("admin"))
    assert (await admin.get("/api/work-orders/stats", params=params)).json()["total"] == 8


async def test_bad_parameters_are_400(march, make_user, login):
    site, _, ids = march
    client = await login(await make_user("dispatcher", sites=[site.id]))
    for query in (
        {"site": site.id},
        {"site": site.id, "month": "2026-13"},
        {"site": site.id, "month": "2026-3"},
        {"month": "2026-03"},
    ):
        response = await client.get("/api/work-orders/stats", params=query)
        assert response.status_code == 400, query
        assert response.json()["error"]["code"] == "invalid_request"
    for query in (
        {"site": site.id, "from": "2026-03-01"},
        {"site": site.id, "from": "2026-03-01", "to": "2026-02-30"},
        {"site": site.id, "from": "2026-03-02", "to": "2026-03-01"},
    ):
        response = await client.get("/api/work-orders/export.xlsx", params=query)
        assert response.status_code == 400, query
        assert response.json()["error"]["code"] == "invalid_request"
    response = await client.get(
        "/api/work-orders/export.xlsx",
        params={"site": site.id, "from": "2026-01-01", "to": "2027-01-02"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "export_range_too_long"
    # 366 days is allowed.
    response = await client.get(
        "/api/work-orders/export.xlsx",
        params={"site": site.id, "from": "2026-01-01", "to": "2027-01-01"},
    )
    assert response.status_code == 200
    # The order routes are still the order routes.
    assert (await client.get(f"/api/work-orders/{ids['o1']}")).json()["id"] == ids["o1"]


async def test_export_opens_in_excel_with_each_orders_steps(march, make_user, login):
    site, _, ids = march
    client = await login(await make_user("manager", sites=[site.id]))
    response = await client.get(
        "/api/work-orders/export.xlsx",
        params={"site": site.id, "from": "2026-03-01", "to": "2026-03-31"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert "attachment" in response.headers["content-disposition"]
    assert f"{site.code}-2026-03-01-2026-03-31.xlsx" in response.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == EXPORT_HEADERS
    column = {name: i for i, name in enumerate(EXPORT_HEADERS)}
    by_id = {row[0]: row for row in rows[1:]}
    # Every March order, in the order they were raised; nothing else.
    assert [row[0] for row in rows[1:]] == [
        ids[k] for k in ("o8", "o1", "o2", "o3", "o4", "o10", "o5", "o6")
    ]

    def cell(key, name):
        return by_id[ids[key]][column[name]]

    # Times are the site's wall-clock times.
    assert cell("o8", "报修时间") == datetime(2026, 3, 1, 0, 10)
    assert cell("o2", "派工时间") == datetime(2026, 3, 4, 10, 0)
    assert cell("o2", "派工时限") == datetime(2026, 3, 4, 9, 0)
    assert cell("o2", "派工") == "超时完成"
    assert cell("o2", "接单") == "超时完成"
    assert cell("o2", "汇报") == "按时"
    assert cell("o2", "回访满意度") == "不满意"
    assert cell("o2", "来源") == "现场报修"
    assert cell("o2", "状态") == "已关闭"
    assert cell("o3", "来源") == "业主报修"
    assert cell("o3", "状态") == "暂缓"
    assert cell("o3", "业主") == "王先生"
    assert cell("o3", "房号") == "1栋1203"
    assert cell("o3", "业主电话") == "13812341234"
    assert cell("o3", "暂缓时间") == datetime(2026, 3, 6, 10, 0)
    assert cell("o3", "暂缓回复时限") == datetime(2026, 3, 10, 10, 0)
    assert cell("o3", "暂缓回复") == "已超时"
    assert cell("o3", "汇报") == "按时"  # the deferral with its reason is the report
    assert cell("o3", "升级") == "管理处经理"
    assert cell("o4", "暂缓回复时限") == datetime(2026, 3, 11, 10, 0)
    assert cell("o4", "暂缓回复") == "超时完成"
    assert cell("o10", "暂缓回复时限") == datetime(2026, 3, 19, 10, 0)
    assert cell("o10", "暂缓回复") == "按时"
    assert cell("o5", "派工") == "已超时"
    assert cell("o5", "部门") is None or cell("o5", "部门") == ""
    assert cell("o5", "接单时限") is None
    assert cell("o6", "接单") == "已超时"
    assert cell("o1", "关闭时间") == datetime(2026, 3, 2, 15, 0)
    assert cell("o1", "检查点编号") == "A-1-T0"
    assert cell("o1", "检查点") == "消火栓 0"
    assert cell("o1", "部门")


async def test_export_of_many_orders_is_complete(make_site, make_user, login):
    site = await make_site(0)
    start = at(5, 1, 8)
    orders = [
        WorkOrder(
            site=site.id,
            source="manual",
            status="raised",
            title=f"工单 {i}",
            raised_at=start + timedelta(minutes=i),
            created_at=start,
            updated_at=start,
        )
        for i in range(4500)
    ]
    for offset in range(0, len(orders), 500):  # PostgreSQL takes at most 32767 parameters
        await WorkOrder.insert(*orders[offset : offset + 500])
    client = await login(await make_user("dispatcher", sites=[site.id]))
    response = await client.get(
        "/api/work-orders/export.xlsx",
        params={"site": site.id, "from": "2026-05-01", "to": "2026-05-31"},
    )
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.content), read_only=True).active.values)
    assert len(rows) == 4501
    assert [r[6] for r in rows[1:]] == [f"工单 {i}" for i in range(4500)]


async def test_statistics_agree_with_the_sla_clock_on_random_orders(make_site, make_user, login):
    """The database's tallies against ``server/sla.py`` order by order (random orders of one
    month, on a calendar with holidays and a make-up day)."""
    from server import sla
    from server.calendars import calendars_for

    rng = random.Random(20260501)
    site = await make_site(0)
    eng = (await _departments())["engineering"]
    holidays = [date(2026, 5, d) for d in (1, 4, 5)]
    await SiteCalendarDay.insert(
        *[SiteCalendarDay(site=site.id, day=d, kind="holiday", name="劳动节") for d in holidays],
        SiteCalendarDay(site=site.id, day=date(2026, 5, 9), kind="workday", name="劳动节调休"),
    )
    statuses = ("raised", "dispatched", "arranged", "deferred", "reported", "verified", "closed")
    orders = []
    for _ in range(150):
        raised = at(5, 1, 0) + timedelta(seconds=rng.randrange(31 * 86400))
        status = rng.choice(statuses)
        rank = statuses.index(status)
        times = {"raised_at": raised}
        if rank >= 1:
            times["dispatched_at"] = raised + timedelta(seconds=rng.randrange(40 * 3600))
        if rank >= 2:
            times["arranged_at"] = times["dispatched_at"] + timedelta(
                seconds=rng.randrange(4 * 3600)
            )
        deferred = status == "deferred" or (rank >= 4 and rng.random() < 0.4)
        returned = None
        if deferred:
            times["deferred_at"] = times["arranged_at"] + timedelta(seconds=rng.randrange(6 * 3600))
            if rank >= 4:
                returned = times["deferred_at"] + timedelta(seconds=rng.randrange(5 * 86400))
        if rank >= 4:
            start = returned or times["arranged_at"]
            times["reported_at"] = start + timedelta(seconds=rng.randrange(8 * 3600))
        if rank >= 6:
            times["closed_at"] = times["reported_at"] + timedelta(seconds=rng.randrange(86400))
        order_id = await _order(
            site.id, eng if rank else None, source="manual", status=status, **times
        )
        if returned is not None:
            await _event(order_id, rng.choice(["resume", "report"]), returned, "arranged")
        orders.append((status, times, returned))

    calendar = (await calendars_for([site.id], "Asia/Shanghai"))[site.id]
    now = datetime.now(UTC)
    expected = {step: [0, 0, 0] for step in ("dispatch", "arrange", "report", "return")}
    took = {"arrange": [], "report": [], "close": []}
    open_in = {
        "dispatch": {"raised"},
        "arrange": {"dispatched"},
        "report": {"dispatched", "arranged"},
        "return": {"deferred"},
    }
    for status, times, returned in orders:
        raised, dispatched = times["raised_at"], times.get("dispatched_at")
        deferred, reported = times.get("deferred_at"), times.get("reported_at")
        steps = [sla.Deadline("dispatch", raised + sla.DISPATCH_WITHIN, dispatched)]
        if dispatched:
            steps.append(
                sla.Deadline("arrange", dispatched + sla.ARRANGE_WITHIN, times.get("arranged_at"))
            )
            report_done = min((t for t in (reported, deferred) if t), default=None)
            steps.append(sla.Deadline("report", dispatched + sla.REPORT_WITHIN, report_done))
        if deferred:
            due = calendar.add_working_days(deferred, sla.DEFERRAL_WORKING_DAYS)
            steps.append(sla.Deadline("return", due, returned))
        for step in steps:
            state = step.state(now)
            if state == "on_time":
                expected[step.step][0] += 1
            elif state == "late":
                expected[step.step][1] += 1
            elif state == "overdue" and status in open_in[step.step]:
                expected[step.step][2] += 1
        if times.get("arranged_at"):
            took["arrange"].append((times["arranged_at"] - dispatched).total_seconds())
        if reported:
            took["report"].append((reported - dispatched).total_seconds())
        if times.get("closed_at"):
            took["close"].append((times["closed_at"] - raised).total_seconds())

    client = await login(await make_user("dispatcher", sites=[site.id]))
    stats = (
        await client.get("/api/work-orders/stats", params={"site": site.id, "month": "2026-05"})
    ).json()
    assert stats["total"] == len(orders)
    for step, (on_time, late, overdue) in expected.items():
        got = stats["on_time"][step]
        assert (got["on_time"], got["late"], got["overdue"]) == (on_time, late, overdue), step
    for name, values in took.items():
        got = stats["durations"][name]
        assert got["count"] == len(values)
        assert got["median_seconds"] == pytest.approx(percentile(values, 0.5), abs=0.1)
        assert got["p90_seconds"] == pytest.approx(percentile(values, 0.9), abs=0.1)
    # The return step is really decided on this site's calendar (holidays in the month).
    assert sum(expected["return"]) > 10
