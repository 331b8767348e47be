"""The desk screens in real Chromium against the real server and demo site, at a desk (1280×800)
and on the phone (390×844): the dispatcher's board (overdue first, filters that narrow the list
and survive a reload, counts that match the API, a refresh every minute), the monthly statistics
(the month's counts as the API gives them) with the Excel export (a real download that openpyxl
opens, one row per order raised in the range), and the manager's work calendar (a holiday added
on the page is there after a reload, and can be deleted).

Orders are raised through the API in the tests (some days in the past, so they are overdue), and
the assertions compare the screens with the API's answers, so other tests' orders never matter.
"""

from __future__ import annotations

import asyncio
import io
import re
import sqlite3
import threading
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from phone import PHONE, login, login_client
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

DESK = {"viewport": {"width": 1280, "height": 800}, "locale": "zh-CN"}
SITE_TZ = ZoneInfo("Asia/Shanghai")  # the demo site's time zone


@pytest.fixture(scope="module")
def desk(live_server):
    client = login_client(live_server.url, "dispatcher", live_server.demo_password)
    site = next(s for s in client.get("/api/me").json()["sites"] if s["code"] == "DEMO")
    yield {"client": client, "site": site, "password": live_server.demo_password}
    client.close()


def raise_order(desk: dict, title: str, *, days_ago: float = 0, **extra) -> dict:
    device_time = datetime.now(SITE_TZ) - timedelta(days=days_ago)
    response = desk["client"].post(
        "/api/work-orders",
        json={
            "site": desk["site"]["id"],
            "title": title,
            "description": f"{title}：门禁读卡器不亮",
            "device_time": device_time.isoformat(),
            "client_id": str(uuid.uuid4()),
            **extra,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def dispatch(desk: dict, order: dict, department: str) -> dict:
    response = desk["client"].post(
        f"/api/work-orders/{order['id']}/dispatch",
        json={"department": department, "client_id": str(uuid.uuid4())},
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def orders(desk):
    """Three orders left undispatched for days (overdue), two fresh ones dispatched to
    engineering, one to cleaning, one fresh owner's report not yet dispatched."""
    tag = uuid.uuid4().hex[:6]
    overdue = [raise_order(desk, f"看板超时{tag}-{n}", days_ago=n) for n in (6, 8, 10)]
    engineering = [
        dispatch(desk, raise_order(desk, f"看板工程{tag}-{n}"), "engineering") for n in (1, 2)
    ]
    cleaning = dispatch(desk, raise_order(desk, f"看板保洁{tag}"), "cleaning")
    owner = raise_order(
        desk, f"看板业主{tag}", source="owner", owner_name="王先生", owner_unit="1栋1单元101"
    )
    for order in overdue:
        assert order["overdue"] is True, order
    # And one taken all the way: accepted and reported by engineering, verified and closed.
    closed = dispatch(desk, raise_order(desk, f"看板关闭{tag}"), "engineering")
    worker = login_client(desk["client"].base_url, "engineering", desk["password"])
    for client, step in (
        (worker, "accept"),
        (worker, "report"),
        (desk["client"], "verify"),
        (desk["client"], "close"),
    ):
        response = client.post(
            f"/api/work-orders/{closed['id']}/{step}",
            json={"note": "已更换读卡器", "client_id": str(uuid.uuid4())},
        )
        assert response.status_code == 200, response.text
    worker.close()
    assert response.json()["status"] == "closed"
    return {
        "overdue": overdue,
        "engineering": engineering,
        "cleaning": cleaning,
        "owner": owner,
        "closed": response.json(),
    }


@pytest.fixture
def open_page(browser):
    """A new page at desk or phone size; fails the test on any script error in the page."""
    contexts, errors = [], []

    def make(size: dict) -> Page:
        context = browser.new_context(**size, accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert errors == [], errors


def row_ids(page: Page) -> list[int]:
    return [
        int(i)
        for i in page.locator("[data-testid=board-row]").evaluate_all(
            "rows => rows.map(r => r.dataset.id)"
        )
    ]


def api_total(desk: dict, **params) -> int:
    query = {"site": desk["site"]["id"], "page_size": 1, **params}
    response = desk["client"].get("/api/work-orders", params=query)
    assert response.status_code == 200, response.text
    return response.json()["total"]


def test_board_lists_overdue_first_and_filters_survive_a_reload(
    open_page, live_server, desk, orders, artifacts_dir
):
    page = open_page(DESK)
    login(page, live_server.url, "dispatcher", live_server.demo_password)
    page.get_by_test_id("tile-board").click()
    expect(page).to_have_url(re.compile(r"/app/board$"))
    rows = page.get_by_test_id("board-row")
    overdue_ids = [o["id"] for o in orders["overdue"]]
    for order_id in overdue_ids:
        expect(page.locator(f"[data-testid=board-row][data-id='{order_id}']")).to_have_attribute(
            "data-overdue", "true"
        )

    # Overdue first: no order that is not overdue comes before an overdue one.
    flags = rows.evaluate_all("rows => rows.map(r => r.dataset.overdue)")
    assert "true" in flags and "false" in flags
    assert flags == sorted(flags, key=lambda f: f != "true"), flags
    # The oldest of them is the most overdue: shown first of the three, "超时 …" on it.
    ids = row_ids(page)
    assert ids.index(overdue_ids[2]) < ids.index(overdue_ids[1]) < ids.index(overdue_ids[0])
    due = page.locator(
        f"[data-testid=board-row][data-id='{overdue_ids[2]}'] [data-testid=board-row-due]"
    )
    expect(due).to_contain_text("超时")
    # The whole list is open orders only, its footer says how many, as the API does.
    open_total = api_total(desk, open="true")
    expect(page.get_by_test_id("board-status")).to_contain_text(f"共 {open_total} 单")
    # The chips count what tapping them shows: as the API counts.
    expect(page.get_by_test_id("board-chip-overdue")).to_contain_text(
        str(api_total(desk, open="true", overdue="true"))
    )
    expect(page.get_by_test_id("board-chip-department-engineering")).to_contain_text(
        str(api_total(desk, open="true", department="engineering"))
    )
    page.screenshot(path=str(artifacts_dir / "board-1280.png"), full_page=True)

    # A department from the filter, then a status from its chip: the list narrows to both.
    page.get_by_test_id("board-department").select_option("engineering")
    expect(page).to_have_url(re.compile(r"department=engineering"))
    expect(
        page.locator("[data-testid=board-row]:not([data-department=engineering])")
    ).to_have_count(0)
    for order in orders["engineering"]:
        expect(page.locator(f"[data-testid=board-row][data-id='{order['id']}']")).to_be_visible()
    page.get_by_test_id("board-chip-status-dispatched").click()
    expect(page).to_have_url(re.compile(r"status=dispatched"))
    expect(page.get_by_test_id("board-chip-status-dispatched")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page.locator("[data-testid=board-row]:not([data-status=dispatched])")).to_have_count(0)
    expect(
        page.locator(f"[data-testid=board-row][data-id='{orders['cleaning']['id']}']")
    ).to_have_count(0)
    narrowed = api_total(desk, department="engineering", status="dispatched")
    expect(rows).to_have_count(min(narrowed, 50))

    # A reload keeps the filters (they are in the URL) and the narrowed list.
    page.reload()
    expect(page.get_by_test_id("board-department")).to_have_value("engineering")
    expect(page.get_by_test_id("board-status-filter")).to_have_value("dispatched")
    expect(rows).to_have_count(min(narrowed, 50))
    expect(
        page.locator("[data-testid=board-row]:not([data-department=engineering])")
    ).to_have_count(0)

    # Source: the owner's report, and only owners' reports.
    page.get_by_test_id("board-clear").click()
    expect(page).to_have_url(re.compile(r"/app/board$"))
    page.get_by_test_id("board-source").select_option("owner")
    expect(
        page.locator(f"[data-testid=board-row][data-id='{orders['owner']['id']}']")
    ).to_be_visible()
    expect(page.locator("[data-testid=board-row]:not([data-source=owner])")).to_have_count(0)

    # A row opens the order.
    page.locator(f"[data-testid=board-row][data-id='{orders['owner']['id']}'] a").click()
    expect(page).to_have_url(re.compile(rf"/app/work-orders/{orders['owner']['id']}$"))


def test_board_on_the_phone_is_a_card_list_that_refreshes_every_minute(
    open_page, live_server, desk, orders, artifacts_dir
):
    page = open_page(PHONE)
    page.clock.install()
    login(page, live_server.url, "dispatcher", live_server.demo_password)
    page.goto(f"{live_server.url}/app/board?overdue=1")
    rows = page.get_by_test_id("board-row")
    expect(rows.first).to_be_visible()
    expect(page.locator("[data-testid=board-row][data-overdue=false]")).to_have_count(0)
    expect(page.get_by_test_id("board-overdue")).to_be_checked()
    # Cards: nothing wider than the phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(artifacts_dir / "board-390.png"), full_page=True)

    # An order overdue since now arrives on the board by itself within a minute.
    later = raise_order(desk, f"看板刷新{uuid.uuid4().hex[:6]}", days_ago=12)
    new_row = page.locator(f"[data-testid=board-row][data-id='{later['id']}']")
    expect(new_row).to_have_count(0)
    page.clock.fast_forward("01:01")
    expect(new_row).to_be_visible()


def month_stats(desk: dict, month: str) -> dict:
    response = desk["client"].get(
        "/api/work-orders/stats", params={"site": desk["site"]["id"], "month": month}
    )
    assert response.status_code == 200, response.text
    return response.json()


def orders_raised_between(desk: dict, first: date, last: date) -> set[int]:
    """Every order of the site raised from ``first`` to ``last`` (site days), read from the list."""
    found, page = set(), 1
    while True:
        response = desk["client"].get(
            "/api/work-orders",
            params={"site": desk["site"]["id"], "page": page, "page_size": 200},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        for item in body["items"]:
            raised = datetime.fromisoformat(item["raised_at"]).astimezone(SITE_TZ).date()
            if first <= raised <= last:
                found.add(item["id"])
        if page * 200 >= body["total"]:
            return found
        page += 1


@pytest.mark.parametrize("size,shot", [(DESK, "stats-1280"), (PHONE, "stats-390")])
def test_monthly_statistics_show_the_months_counts(
    open_page, live_server, desk, orders, artifacts_dir, size, shot
):
    page = open_page(size)
    login(page, live_server.url, "dispatcher", live_server.demo_password)
    page.get_by_test_id("tile-stats").click()
    month = datetime.now(SITE_TZ).strftime("%Y-%m")
    expect(page).to_have_url(re.compile(rf"/app/work-orders/stats\?site=\d+&month={month}"))
    expect(page.get_by_test_id("stats-total")).to_be_visible()
    stats = month_stats(desk, month)
    assert stats["total"] >= 3  # at least the fresh orders of `orders`
    expect(page.get_by_test_id("stats-total")).to_have_text(str(stats["total"]))
    expect(page.get_by_test_id("stats-open")).to_have_text(str(stats["open"]))
    for entry in stats["by_department"]:
        row = page.locator(
            f"[data-testid=stats-by-department] tr[data-department='{entry['department'] or ''}']"
        )
        expect(row).to_have_attribute("data-count", str(entry["count"]))
    for source, count in stats["by_source"].items():
        expect(
            page.locator(f"[data-testid=stats-by-source] tr[data-source={source}]")
        ).to_have_attribute("data-count", str(count))
    for status, count in stats["by_status"].items():
        expect(
            page.locator(f"[data-testid=stats-by-status] tr[data-status={status}]")
        ).to_have_attribute("data-count", str(count))
    for step, tally in stats["on_time"].items():
        percent = page.get_by_test_id(f"stats-percent-{step}")
        expect(percent).to_have_text(
            "—" if tally["percent"] is None else f"{tally['percent']:.1f}%"
        )
    assert stats["durations"]["close"]["count"] >= 1  # the closed one of `orders`
    for step, duration in stats["durations"].items():
        row = page.locator(f"[data-testid=stats-durations] tr[data-duration={step}]")
        expect(row.locator("td").first).to_have_text(str(duration["count"]))
        if duration["median_seconds"] is not None:
            expect(row.locator("td").nth(1)).not_to_have_text("—")
    if size is PHONE:
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(artifacts_dir / f"{shot}.png"), full_page=True)

    # The month before: another month's numbers, from the arrows.
    page.get_by_test_id("stats-prev").click()
    before = (datetime.now(SITE_TZ).replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    expect(page).to_have_url(re.compile(rf"month={before}"))
    # The export's range follows the month shown (until dates are picked by hand).
    expect(page.get_by_test_id("stats-from")).to_have_value(f"{before}-01")
    expect(page.get_by_test_id("stats-total")).to_have_text(str(month_stats(desk, before)["total"]))


def test_export_downloads_the_orders_of_the_range_as_xlsx(open_page, live_server, desk, orders):
    page = open_page(DESK)
    login(page, live_server.url, "dispatcher", live_server.demo_password)
    page.goto(f"{live_server.url}/app/work-orders/stats")
    today = datetime.now(SITE_TZ).date()
    first = today - timedelta(days=9)  # takes the orders raised 6 and 8 days ago, not 10
    page.get_by_test_id("stats-from").fill(first.isoformat())
    page.get_by_test_id("stats-to").fill(today.isoformat())
    link = page.get_by_test_id("stats-export")
    expect(link).to_have_attribute(
        "href", re.compile(rf"from={first.isoformat()}&to={today.isoformat()}")
    )
    with page.expect_download() as pending:
        link.click()
    download = pending.value
    assert download.suggested_filename.endswith(".xlsx")
    workbook = load_workbook(io.BytesIO(Path(download.path()).read_bytes()), read_only=True)
    sheet = workbook.worksheets[0]
    lines = list(sheet.iter_rows(values_only=True))
    expected = orders_raised_between(desk, first, today)
    assert len(lines) == 1 + len(expected)  # a header, then one row per order
    exported = {int(line[0]) for line in lines[1:]}
    assert exported == expected
    overdue = [o["id"] for o in orders["overdue"]]
    assert overdue[0] in exported and overdue[1] in exported and overdue[2] not in exported

    # A range backwards cannot be downloaded.
    page.get_by_test_id("stats-from").fill((today + timedelta(days=1)).isoformat())
    expect(page.get_by_test_id("stats-export-error")).to_be_visible()
    expect(link).not_to_have_attribute("href", re.compile("."))


def test_manager_adds_a_holiday_that_is_listed_after_a_reload(open_page, live_server):
    page = open_page(PHONE)
    login(page, live_server.url, "manager", live_server.demo_password)
    page.get_by_test_id("tile-calendar").click()
    expect(page.get_by_test_id("calendar-screen")).to_be_visible()
    # A day of a year no order's deadline reaches, so no other test's clock moves.
    year = datetime.now(SITE_TZ).year + 3
    day = f"{year}-05-01"
    page.get_by_test_id("calendar-day-input").fill(day)
    page.get_by_test_id("calendar-kind-holiday").check()
    page.get_by_test_id("calendar-name").fill("劳动节")
    page.get_by_test_id("calendar-add").click()
    expect(page.get_by_test_id("calendar-status")).to_contain_text(day)
    listed = page.locator(f"[data-testid=calendar-day][data-day='{day}']")
    expect(listed).to_have_attribute("data-kind", "holiday")
    expect(listed).to_contain_text("劳动节")
    expect(page.get_by_test_id("calendar-year")).to_have_text(str(year))

    page.reload()
    expect(listed).to_contain_text("劳动节")
    expect(listed).to_contain_text("放假")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # A make-up working day beside it; then the holiday deleted (after a confirmation).
    page.get_by_test_id("calendar-day-input").fill(f"{year}-05-09")
    page.get_by_test_id("calendar-kind-workday").check()
    page.get_by_test_id("calendar-name").fill("劳动节调休")
    page.get_by_test_id("calendar-add").click()
    workday = page.locator(f"[data-testid=calendar-day][data-day='{year}-05-09']")
    expect(workday).to_have_attribute("data-kind", "workday")
    page.once("dialog", lambda dialog: dialog.accept())
    listed.get_by_test_id("calendar-delete").click()
    expect(listed).to_have_count(0)
    page.reload()
    expect(workday).to_be_visible()
    expect(listed).to_have_count(0)

    client = login_client(live_server.url, "manager", live_server.demo_password)
    site = client.get("/api/me").json()["sites"][0]["id"]
    days = client.get(f"/api/sites/{site}/calendar", params={"year": year}).json()["days"]
    client.close()
    assert [(d["day"], d["kind"]) for d in days] == [(f"{year}-05-09", "workday")]


def test_dispatcher_reads_the_calendar_but_cannot_change_it(open_page, live_server):
    page = open_page(DESK)
    login(page, live_server.url, "dispatcher", live_server.demo_password)
    expect(page.get_by_test_id("tile-calendar")).to_have_count(0)
    page.goto(f"{live_server.url}/app/calendar")
    expect(page.get_by_test_id("calendar-screen")).to_be_visible()
    expect(page.get_by_test_id("calendar-form")).to_have_count(0)
    expect(page.get_by_test_id("calendar-list")).to_be_visible()


def test_desk_screens_speak_english_too(open_page, live_server, desk, orders):
    page = open_page(DESK)
    login(page, live_server.url, "dispatcher", live_server.demo_password)
    # Every word of the desk screens exists in both languages.
    missing = page.evaluate(
        """async () => {
          await Promise.all(["board", "stats", "calendar"].map((n) => import(`/static/pages/${n}.js`)));
          const { _strings } = await import("/static/i18n.js");
          const mine = (lang) => Object.keys(_strings[lang]).filter((k) =>
            /^(board|desk|stats|calendar)\\.|^tile\\.(board|stats|calendar)$/.test(k));
          const zh = mine("zh-CN"), en = mine("en");
          return [zh.filter((k) => !en.includes(k)), en.filter((k) => !zh.includes(k)), zh.length];
        }"""
    )
    assert missing[0] == [] and missing[1] == [] and missing[2] > 100, missing
    # Times as people say them (the statistics' medians, the board's time left).
    spoken = page.evaluate(
        """async () => {
          const { formatDuration } = await import("/static/pages/board.js");
          return [4800, 20, 90061, 7200, 3 * 86400 + 5 * 3600].map(formatDuration);
        }"""
    )
    assert spoken == ["1 小时 20 分", "不到 1 分", "1 天 1 小时", "2 小时", "3 天 5 小时"]
    page.goto(f"{live_server.url}/app/board")
    expect(page.get_by_test_id("board-row").first).to_be_visible()
    page.get_by_test_id("lang-switch").click()
    expect(page.locator("h1")).to_have_text("Dispatch board")
    overdue = orders["overdue"][0]["id"]
    expect(
        page.locator(f"[data-testid=board-row][data-id='{overdue}'] [data-testid=board-row-due]")
    ).to_contain_text("Overdue")
    page.goto(f"{live_server.url}/app/work-orders/stats")
    expect(page.locator("h1")).to_have_text("Monthly statistics")
    page.get_by_test_id("lang-switch").click()
    expect(page.locator("h1")).to_have_text("月统计分析")


def test_board_pages_fifty_at_a_time_and_a_refresh_keeps_what_was_shown(
    open_page, live_server, desk, orders
):
    # More open orders than one page of the board.
    tag = uuid.uuid4().hex[:6]
    for n in range(max(0, 60 - api_total(desk, open="true"))):
        raise_order(desk, f"看板翻页{tag}-{n}", days_ago=n % 3)
    total = api_total(desk, open="true")
    assert total > 50

    page = open_page(DESK)
    login(page, live_server.url, "dispatcher", live_server.demo_password)
    page.goto(f"{live_server.url}/app/board")
    rows = page.get_by_test_id("board-row")
    expect(rows).to_have_count(50)
    expect(page.get_by_test_id("board-status")).to_have_text(f"显示 50 / 共 {total} 单")
    first_page = row_ids(page)
    page.get_by_test_id("board-more").click()
    shown = min(total, 100)
    expect(rows).to_have_count(shown)
    expect(page.get_by_test_id("board-status")).to_have_text(f"显示 {shown} / 共 {total} 单")
    ids = row_ids(page)
    assert ids[:50] == first_page and len(set(ids)) == shown
    flags = rows.evaluate_all("rows => rows.map(r => r.dataset.overdue)")
    assert flags == sorted(flags, key=lambda f: f != "true"), flags
    if shown == total:
        expect(page.get_by_test_id("board-more")).to_be_hidden()

    # A refresh (by hand here; every minute by itself) keeps both pages on the screen.
    page.get_by_test_id("board-refresh").click()
    expect(page.get_by_test_id("board-refresh")).to_be_enabled()
    expect(rows).to_have_count(shown)
    assert row_ids(page) == ids


def store_escalation_level(database_url: str, order_id: int, level: int) -> None:
    """What the server's escalation task stores after two (four) working days: set here directly,
    because the live server's clock cannot be moved from a test."""
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
            db.execute("UPDATE work_order SET escalation_level = ? WHERE id = ?", (level, order_id))
        return

    async def update() -> None:
        import asyncpg

        connection = await asyncpg.connect(database_url)
        try:
            await connection.execute(
                "UPDATE work_order SET escalation_level = $1 WHERE id = $2", level, order_id
            )
        finally:
            await connection.close()

    # Playwright's sync API holds this thread's event loop: run the update in a thread of its own.
    worker = threading.Thread(target=lambda: asyncio.run(update()))
    worker.start()
    worker.join()


def test_escalated_orders_carry_their_level_on_the_board(open_page, live_server, desk):
    worker = login_client(live_server.url, "engineering", live_server.demo_password)
    tag = uuid.uuid4().hex[:6]
    deferred = []
    for level in (1, 2):
        order = dispatch(desk, raise_order(desk, f"看板升级{tag}-{level}"), "engineering")
        for step, body in (("accept", {}), ("defer", {"note": "等配件"})):
            response = worker.post(
                f"/api/work-orders/{order['id']}/{step}",
                json={**body, "client_id": str(uuid.uuid4())},
            )
            assert response.status_code == 200, response.text
        store_escalation_level(live_server.env["XUNJIAN_DATABASE_URL"], order["id"], level)
        deferred.append(order["id"])
    worker.close()

    page = open_page(PHONE)
    login(page, live_server.url, "dispatcher", live_server.demo_password)
    page.goto(f"{live_server.url}/app/board?status=deferred&department=engineering")
    for order_id, text in zip(deferred, ("升级至部门主管", "升级至经理"), strict=True):
        row = page.locator(f"[data-testid=board-row][data-id='{order_id}']")
        expect(row.get_by_test_id("board-row-escalated")).to_have_text(text)
        expect(row.get_by_test_id("board-row-status")).to_have_text("暂缓")
