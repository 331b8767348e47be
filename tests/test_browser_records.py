"""Patrol records in real Chromium against the real server and demo site, at a desk (1280×800) and
on the phone (390×844).

The demo's 秩序部领班 (user ``inspector``, plan 秩序部领班巡查(每日4次)) syncs three checks made
yesterday through POST /api/sync with genuine signed labels — one with a failed item, a note and
a photo. The manager picks yesterday and the inspector and sees those checks in time order as
the API gives them, the failed one marked 不合格 with its item and its work order; printing shows
only the form (no app chrome, no controls) on A4 landscape; 导出 Excel downloads a workbook
openpyxl opens with the same rows; the monthly tab totals as the API. On the phone, the inspector
opens 巡视记录 from home, steps back to yesterday and reads their own day as stacked rows, with
no way to pick anyone else.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from phone import PHONE, login, login_client
from PIL import Image
from playwright.sync_api import Page, expect

from qr.signing import sign

pytestmark = pytest.mark.browser

DESK = {"viewport": {"width": 1280, "height": 800}, "locale": "zh-CN"}
SITE_TZ = ZoneInfo("Asia/Shanghai")
PLAN = "秩序部领班巡查(每日4次)"


@pytest.fixture(scope="module")
def inspector_day(live_server):
    url, password = live_server.url, live_server.demo_password
    secret = live_server.env["XUNJIAN_SECRET_KEY"].encode()
    manager = login_client(url, "manager", password)
    inspector = login_client(url, "inspector", password)
    me = inspector.get("/api/me").json()
    site = next(s for s in me["sites"] if s["code"] == "DEMO")
    day = (datetime.now(SITE_TZ) - timedelta(days=1)).date()
    plan = next(
        p
        for p in inspector.get("/api/plans", params={"site": site["id"]}).json()
        if p["name"] == PLAN
    )
    ids = inspector.get(f"/api/plans/{plan['id']}").json()["checkpoint_ids"]
    catalogue = inspector.get("/api/catalogue").json()
    templates = {t["id"]: t for t in catalogue["templates"]}
    checkpoints = {c["id"]: c for c in catalogue["checkpoints"]}

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (180, 40, 40)).save(buffer, "JPEG")
    photo = buffer.getvalue()
    sha = hashlib.sha256(photo).hexdigest()
    response = inspector.put(
        f"/api/photos/{sha}", content=photo, headers={"Content-Type": "image/jpeg"}
    )
    assert response.status_code in (200, 201), response.text

    def record(checkpoint_id: int, hour: int, minute: int, fail: bool = False) -> dict:
        c = checkpoints[checkpoint_id]
        items = [
            {"item": i["code"], "result": "pass"}
            for i in templates[c["template_id"]]["items"]
            if not i.get("is_confirmation")
        ]
        items += [
            {"item": i["code"], "result": "pass"}
            for i in templates[c["template_id"]]["items"]
            if i.get("is_confirmation")
        ]
        if fail:
            items[0] = {**items[0], "result": "fail", "note": "门禁读卡器损坏", "photos": [sha]}
        return {
            "id": str(uuid.uuid4()),
            "checkpoint": c["code"],
            "site": site["id"],
            "version": c["label_version"],
            "signature": sign(secret, "DEMO", c["code"], c["label_version"]),
            "source": "scan",
            "device_time": datetime.combine(day, time(hour, minute), SITE_TZ).isoformat(),
            "items": items,
            "note": "夜班交接已核对" if fail else "",
        }

    records = [record(ids[0], 7, 5), record(ids[1], 7, 20, fail=True), record(ids[2], 13, 10)]
    response = inspector.post("/api/sync", json={"records": records})
    assert response.status_code == 200, response.text
    assert all(r["status"] == "accepted" for r in response.json()["results"]), response.text
    expected = manager.get(
        "/api/patrol-records/daily",
        params={"site": site["id"], "day": day.isoformat(), "user": me["id"]},
    ).json()
    assert len(expected["checks"]) >= 3
    yield {
        "url": url,
        "password": password,
        "site": site,
        "day": day,
        "inspector": me,
        "record": expected,
        "codes": [checkpoints[i]["code"] for i in ids[:3]],
        "manager": manager,
    }
    manager.close()
    inspector.close()


def _rows(page: Page) -> list[dict]:
    return page.eval_on_selector_all(
        "[data-testid=records-row]",
        "rows => rows.map(r => ({result: r.dataset.result, text: r.innerText}))",
    )


def test_the_manager_reads_the_inspectors_day_prints_it_and_exports_it(
    inspector_day, browser, artifacts_dir
):
    d = inspector_day
    context = browser.new_context(**DESK, accept_downloads=True)
    page = context.new_page()
    try:
        login(page, d["url"], "manager", d["password"])
        expect(page.get_by_test_id("tile-records")).to_be_visible()
        page.goto(f"{d['url']}/app/records?day={d['day'].isoformat()}")
        expect(page.get_by_test_id("records-who")).to_have_text("全部人员")
        assert "null" not in page.get_by_test_id("records-controls").inner_text()
        # The inspector is among the people of the day; picking them shows their record.
        person = page.get_by_test_id("records-person")
        expect(person.locator(f"option[value='{d['inspector']['id']}']")).to_have_count(1)
        person.select_option(str(d["inspector"]["id"]))
        expect(page.get_by_test_id("records-who")).to_have_text(d["inspector"]["display_name"])
        api_checks = d["record"]["checks"]
        expect(page.get_by_test_id("records-row")).to_have_count(len(api_checks))
        rows = _rows(page)
        for row, check in zip(rows, api_checks, strict=True):
            assert check["checkpoint"]["code"] in row["text"]
            assert check["local_time"] in row["text"]
            assert row["result"] == check["result"]
        ours = [r for r in rows if any(code in r["text"] for code in d["codes"])]
        assert [r["result"] for r in ours][:3] == ["pass", "fail", "pass"]
        failed = next(r for r in ours if r["result"] == "fail")
        assert "不合格" in failed["text"] and "门禁读卡器损坏" in failed["text"]
        assert "#" in failed["text"] and "夜班交接已核对" in failed["text"]
        rounds = d["record"]["rounds"]
        expect(page.get_by_test_id("records-rounds")).to_contain_text(
            f"应巡 {rounds['expected']} 次"
        )
        expect(page.get_by_test_id("records-form")).to_contain_text("巡视人签字")
        page.screenshot(path=str(artifacts_dir / "records-1280.png"), full_page=True)

        # Printing: only the form, without the app's chrome and the controls.
        page.emulate_media(media="print")
        expect(page.locator(".topbar")).to_be_hidden()
        expect(page.get_by_test_id("records-controls")).to_be_hidden()
        expect(page.get_by_test_id("records-tab-daily")).to_be_hidden()
        expect(page.get_by_test_id("records-form")).to_be_visible()
        expect(page.get_by_test_id("records-table").locator("thead")).to_be_visible()
        page.screenshot(path=str(artifacts_dir / "records-print.png"), full_page=True)
        pdf = page.pdf(prefer_css_page_size=True)
        assert pdf.startswith(b"%PDF")
        page.emulate_media(media="screen")
        expect(page.get_by_test_id("records-controls")).to_be_visible()

        # 导出 Excel: a real download of the same rows.
        with page.expect_download() as info:
            page.get_by_test_id("records-export").click()
        download = info.value
        assert download.suggested_filename.endswith(".xlsx")
        with open(download.path(), "rb") as saved:
            sheet = load_workbook(io.BytesIO(saved.read())).active
        table = [list(r) for r in sheet.iter_rows(values_only=True)]
        assert table[3][:6] == ["序号", "时间", "巡视人", "楼栋/楼层", "巡视部位(点位)", "巡视结果"]
        body = [r for r in table[4:] if isinstance(r[0], int)]
        assert [r[1] for r in body] == [c["local_time"] for c in api_checks]
        assert [r[5] for r in body] == [
            "不合格" if c["result"] == "fail" else "合格" for c in api_checks
        ]
        assert sheet.page_setup.orientation == "landscape"

        # The month, by person, as the API counts it.
        page.get_by_test_id("records-tab-monthly").click()
        page.get_by_test_id("records-by").select_option("person")
        month = d["day"].strftime("%Y-%m")
        expect(page.get_by_test_id("records-month")).to_have_value(
            datetime.now(SITE_TZ).strftime("%Y-%m")
        )
        page.get_by_test_id("records-month").fill(month)
        page.get_by_test_id("records-month").dispatch_event("change")
        summary = (
            d["manager"]
            .get(
                "/api/patrol-records/monthly",
                params={"site": d["site"]["id"], "month": month, "by": "person"},
            )
            .json()
        )
        row = page.locator(f"[data-testid=records-month-row][data-key='{d['inspector']['id']}']")
        expect(row).to_be_visible()
        mine = next(r for r in summary["rows"] if r["key"] == d["inspector"]["id"])
        cells = row.locator("td").all_inner_texts()
        assert cells[7] == str(mine["checks"]) and cells[8] == str(mine["failed_checks"])
        assert mine["checks"] >= 3 and mine["failed_checks"] >= 1
        page.screenshot(path=str(artifacts_dir / "records-month-1280.png"), full_page=True)
        expect(page.get_by_test_id("records-export")).to_have_attribute(
            "href",
            f"/api/patrol-records/monthly.xlsx?site={d['site']['id']}&month={month}&by=person",
        )
    finally:
        context.close()


def test_the_inspector_reads_their_own_day_on_the_phone(inspector_day, browser, artifacts_dir):
    d = inspector_day
    context = browser.new_context(**PHONE)
    page = context.new_page()
    try:
        login(page, d["url"], "inspector", d["password"])
        page.get_by_test_id("tile-records").click()
        expect(page.get_by_test_id("records-form")).to_be_visible()
        # Their own record only: no person to pick, no monthly tab.
        expect(page.get_by_test_id("records-person")).to_have_count(0)
        expect(page.get_by_test_id("records-tab-monthly")).to_have_count(0)
        expect(page.get_by_test_id("records-who")).to_have_text(d["inspector"]["display_name"])
        today = datetime.now(SITE_TZ).date()
        for _ in range((today - d["day"]).days):
            page.get_by_test_id("records-prev").click()
        expect(page.get_by_test_id("records-day")).to_have_value(d["day"].isoformat())
        expect(page.get_by_test_id("records-row")).to_have_count(len(d["record"]["checks"]))
        # Stacked on the phone: no table header, each row a card with its column names.
        expect(page.get_by_test_id("records-table").locator("thead")).to_be_hidden()
        first = page.get_by_test_id("records-row").first
        box = first.bounding_box()
        assert box and box["width"] <= 390
        label = (
            first.locator("td").nth(1).evaluate("td => getComputedStyle(td, '::before').content")
        )
        assert "时间" in label
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= 390, overflow
        page.screenshot(path=str(artifacts_dir / "records-390.png"), full_page=True)
        # Asking the API for someone else's record is refused.
        status = page.evaluate(
            """async ([site, day]) => (await fetch(
                `/api/patrol-records/daily?site=${site}&day=${day}&user=1`)).status""",
            [d["site"]["id"], d["day"].isoformat()],
        )
        assert status in (403, 404) if d["inspector"]["id"] == 1 else status == 403
    finally:
        context.close()
