"""The renovation board (装修动态表) in real Chromium on the phone (390×844) against the real server
and demo site: a permit issued through the API appears under its building and floor with the days
left, the three departments' marks and totals exactly as the API gives them; an engineering check
shows up in the engineering cell with the inspector's name; the building / floor filters narrow the
board and survive a reload (they live in the URL); printing hides the controls and keeps the table.

The demo's own renovations may be on the board too: assertions are about our permit's row and about
the screen agreeing with the API."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from phone import PHONE
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

SITE_TZ = ZoneInfo("Asia/Shanghai")  # the demo site's
DEPARTMENTS = ("customer_service", "engineering", "security")


def login_client(url: str, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return client


def login(page: Page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/app/login")
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("home-screen")).to_be_visible()


def _free_unit(client: httpx.Client, site_id: int) -> tuple[dict, dict, dict]:
    """A unit of the demo site with no open permit: (building, floor, unit)."""
    for building in client.get(f"/api/sites/{site_id}/buildings").json():
        for floor in reversed(building["floors"]):
            units = client.get(f"/api/floors/{floor['id']}/units").json()
            for unit in units:
                if unit["permit_id"] is None and unit["status"] in ("vacant", "occupied"):
                    return building, floor, unit
    raise AssertionError("the demo site has no unit free for a permit")


def _issue_permit(client: httpx.Client, site_id: int, unit_id: int) -> dict:
    today = datetime.now(SITE_TZ).date()
    response = client.post(
        "/api/renovations",
        json={
            "site": site_id,
            "unit": unit_id,
            "owner_name": "测试业主",
            "contractor_company": "好家装饰",
            "area_m2": 80,
            "starts_on": (today - timedelta(days=10)).isoformat(),
            "ends_on": (today + timedelta(days=5)).isoformat(),
            "client_id": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 201, response.text
    permit = response.json()
    url = f"/api/renovations/{permit['id']}"
    steps = [("submit-drawings", {}), ("approve-drawings", {})]
    steps += [("sign", {"department": d}) for d in DEPARTMENTS]
    steps += [("issue", {})]
    for name, body in steps:
        response = client.post(f"{url}/{name}", json=body)
        assert response.status_code == 200, (name, response.text)
    return response.json()


def _engineering_check(live_server, settings, site: dict, checkpoint_id: int) -> None:
    from qr.signing import sign
    from server import labels

    client = login_client(live_server.url, "engineering", live_server.demo_password)
    try:
        checkpoint = client.get(f"/api/checkpoints/{checkpoint_id}").json()
        catalogue = client.get("/api/catalogue").json()
        template = next(t for t in catalogue["templates"] if t["code"] == "renovation.engineering")
        version = checkpoint["label_version"]
        record = {
            "id": str(uuid.uuid4()),
            "checkpoint": checkpoint["code"],
            "site": site["id"],
            "version": version,
            "signature": sign(
                labels.label_secret(settings), site["code"], checkpoint["code"], version
            ),
            "source": "scan",
            "device_time": datetime.now(SITE_TZ).isoformat(),
            "template": template["code"],
            "items": [{"item": i["code"], "result": "pass"} for i in template["items"]],
            "note": "",
            "photos": [],
        }
        response = client.post("/api/sync", json={"records": [record]})
        assert response.status_code == 200, response.text
        assert response.json()["results"][0]["status"] == "accepted", response.text
    finally:
        client.close()


def _expect_row_matches(page: Page, row: dict) -> None:
    pid = row["permit_id"]
    for department in DEPARTMENTS:
        cell = page.get_by_test_id(f"rb-cell-{pid}-{department}")
        expect(cell).to_have_attribute("data-status", row["departments"][department]["today"])
    expect(page.get_by_test_id(f"rb-left-{pid}")).to_have_text(f"{row['days_left']} 天")
    violations = page.get_by_test_id(f"rb-violations-{pid}")
    expect(violations).to_have_attribute("data-open", str(row["violations"]["open"]))


def test_renovation_board_on_the_phone(browser, live_server, settings, artifacts_dir):
    desk = login_client(live_server.url, "manager", live_server.demo_password)
    try:
        site = next(s for s in desk.get("/api/me").json()["sites"] if s["code"] == "DEMO")
        building, floor, unit = _free_unit(desk, site["id"])
        permit = _issue_permit(desk, site["id"], unit["id"])
        pid = permit["id"]
        board = desk.get("/api/renovations/board", params={"site": site["id"]}).json()
        row = next(r for r in board["rows"] if r["permit_id"] == pid)
        assert row["days_left"] == 5

        context = browser.new_context(**PHONE)
        page = context.new_page()
        try:
            login(page, live_server.url, "manager", live_server.demo_password)
            # From the home screen's tile; then the site named in the URL.
            page.get_by_test_id("tile-renovation-board").click()
            expect(page.get_by_test_id("renovation-board")).to_be_visible()
            expect(page).to_have_url(f"{live_server.url}/app/renovations/board")
            page.goto(f"{live_server.url}/app/renovations/board?site={site['id']}")
            expect(page.get_by_test_id("renovation-board")).to_be_visible()
            our_row = page.get_by_test_id(f"rb-row-{pid}")
            expect(our_row).to_be_visible()
            expect(page.get_by_test_id(f"rb-unit-{pid}")).to_have_text(unit["number"])
            _expect_row_matches(page, row)
            # The totals at the top are the API's.
            board = desk.get("/api/renovations/board", params={"site": site["id"]}).json()
            expect(page.get_by_test_id("rb-total-active")).to_contain_text(
                str(board["totals"]["active"])
            )
            for department in DEPARTMENTS:
                expect(page.get_by_test_id(f"rb-total-{department}")).to_have_attribute(
                    "data-count", str(board["totals"]["not_inspected_today"][department])
                )
            # Our unit sits under its building and floor.
            group = page.get_by_test_id(f"rb-group-{building['id']}:{floor['id']}")
            expect(group.get_by_test_id(f"rb-row-{pid}")).to_be_visible()
            expect(page.get_by_test_id(f"rb-cell-{pid}-engineering")).to_contain_text("未巡过")

            # An engineering check: its cell names the inspector (and the day's mark is the API's).
            _engineering_check(live_server, settings, site, permit["checkpoint_id"])
            page.get_by_test_id("rb-refresh").click()
            cell = page.get_by_test_id(f"rb-cell-{pid}-engineering")
            expect(cell).to_contain_text("赵志强")
            board = desk.get("/api/renovations/board", params={"site": site["id"]}).json()
            row = next(r for r in board["rows"] if r["permit_id"] == pid)
            assert row["departments"]["engineering"]["last_by"]["display_name"].startswith("赵志强")
            _expect_row_matches(page, row)
            expect(page.get_by_test_id(f"rb-cell-{pid}-security")).to_contain_text("未巡过")

            # Filter by building, then floor: the URL keeps them through a reload.
            page.get_by_test_id("rb-building").select_option(str(building["id"]))
            page.get_by_test_id("rb-floor").select_option(str(floor["id"]))
            expect(page).to_have_url(
                f"{live_server.url}/app/renovations/board?site={site['id']}"
                f"&building={building['id']}&floor={floor['id']}"
            )
            expect(page.get_by_test_id(f"rb-row-{pid}")).to_be_visible()
            on_floor = desk.get(
                "/api/renovations/board",
                params={"site": site["id"], "building": building["id"], "floor": floor["id"]},
            ).json()
            expect(page.locator("[data-testid^='rb-row-']")).to_have_count(len(on_floor["rows"]))
            page.reload()
            expect(page.get_by_test_id("rb-floor")).to_have_value(str(floor["id"]))
            expect(page.get_by_test_id(f"rb-row-{pid}")).to_be_visible()
            expect(page.locator("[data-testid^='rb-row-']")).to_have_count(len(on_floor["rows"]))
            page.screenshot(path=str(artifacts_dir / "renovation-board-phone.png"), full_page=True)

            # Printed: the controls are gone, the board stays.
            page.emulate_media(media="print")
            expect(page.get_by_test_id("rb-print")).to_be_hidden()
            expect(page.get_by_test_id("rb-building")).to_be_hidden()
            expect(page.get_by_test_id(f"rb-row-{pid}")).to_be_visible()
            expect(page.get_by_test_id("rb-totals")).to_be_visible()
            page.set_viewport_size({"width": 1123, "height": 794})  # A4 landscape at 96 dpi
            expect(page.locator("thead").first).to_be_visible()  # a table, not phone cards
            page.screenshot(path=str(artifacts_dir / "renovation-board-print.png"), full_page=True)
            # On A4 landscape for the floor's notice board.
            import io

            from pypdf import PdfReader

            pdf = page.pdf(
                path=str(artifacts_dir / "renovation-board-a4.pdf"), prefer_css_page_size=True
            )
            box = PdfReader(io.BytesIO(pdf)).pages[0].mediabox
            width_mm, height_mm = float(box.width) * 25.4 / 72, float(box.height) * 25.4 / 72
            assert abs(width_mm - 297) < 2 and abs(height_mm - 210) < 2, (width_mm, height_mm)
        finally:
            context.close()
    finally:
        desk.close()
