"""Joint acceptance and the deposit settlement on the phone, in real Chromium at phone size against
the real server and the demo site.

A permit is registered and started through the API on a free unit of the demo site. On the phone,
工程 (engineering) starts the hidden-works acceptance, loses the network and fails its sign-off
with what is to be rectified and a photo; the page still opens offline and shows the sign-off
waiting; back online it is sent once. 客服 and 保安 pass (API): the round fails with the item to
rectify. 工程 starts the re-inspection and passes it with the others: the permit's hidden works
are accepted by the round. At completion the owner and the contractor sign on the phone (drawn
signature and name), offline, and the round passes. 工程 records a deduction with a photo; the
manager opens the statement (contractor's deposit first), approves it on the phone, and the
deposit is settled with the numbers frozen.
"""

from __future__ import annotations

import io
import random
import time
import uuid
from datetime import date
from pathlib import Path

import httpx
import pytest
from phone import PHONE
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser

SYNC_TIMEOUT_MS = 60_000
DEPARTMENTS = ("customer_service", "engineering", "security")

REQUESTS_JS = """async (group) => {
  const store = await import('/static/store.js');
  const rows = await store.listRequests(null, group);
  return rows.map((row) => ({id: row.id, status: row.status, code: row.code, reason: row.reason,
    path: row.record.path, body: row.record.body}));
}"""


def login_client(url: str, username: str, password: str) -> httpx.Client:
    client = httpx.Client(
        base_url=url, timeout=30, limits=httpx.Limits(max_keepalive_connections=0)
    )
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return client


@pytest.fixture(scope="module")
def staff(live_server):
    """API sessions of the demo's desk (客服 dispatcher), guard (保安 inspector) and manager."""
    clients = {
        name: login_client(live_server.url, name, live_server.demo_password)
        for name in ("dispatcher", "inspector", "manager", "engineering")
    }
    site = next(s for s in clients["manager"].get("/api/me").json()["sites"] if s["code"] == "DEMO")
    yield {"site": site, **clients}
    for client in clients.values():
        client.close()


def started_permit(staff: dict) -> dict:
    """A permit on a free unit of the demo site, registered and started (deposits 5000 元
    contractor, 2000 元 owner)."""
    desk, manager = staff["dispatcher"], staff["manager"]
    buildings = manager.get(f"/api/sites/{staff['site']['id']}/buildings").json()
    floors = [f["id"] for b in buildings for f in b["floors"]]
    random.shuffle(floors)
    for floor in floors:
        units = manager.get(f"/api/floors/{floor}/units").json()
        for unit in units:
            if unit["permit_id"] is not None or unit["status"] == "renovating":
                continue
            response = desk.post(
                "/api/renovations",
                json={
                    "site": staff["site"]["id"],
                    "unit": unit["id"],
                    "owner_name": "韩梅梅",
                    "owner_phone": "13800001234",
                    "contractor_company": "安居装饰工程有限公司",
                    "contractor_person": "李雷",
                    "contractor_phone": "13900005678",
                    "area_m2": 88,
                    "starts_on": date.today().isoformat(),
                    "owner_deposit": 200000,
                    "contractor_deposit": 500000,
                    "client_id": str(uuid.uuid4()),
                },
            )
            if response.status_code == 409:
                continue
            assert response.status_code == 201, response.text
            permit = response.json()
            url = f"/api/renovations/{permit['id']}"
            for step, body in (
                ("submit-drawings", {}),
                ("approve-drawings", {}),
                *(("sign", {"department": d}) for d in DEPARTMENTS),
                ("issue", {}),
                ("start", {}),
            ):
                answer = manager.post(f"{url}/{step}", json=body)
                assert answer.status_code == 200, answer.text
            return answer.json()
    raise AssertionError("no free unit on the demo site")


@pytest.fixture
def picture(tmp_path) -> Path:
    image = Image.new("RGB", (1600, 1200), (180, 170, 150))
    draw = ImageDraw.Draw(image)
    draw.rectangle((200, 300, 1400, 900), fill=(90, 90, 100))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    path = tmp_path / "waterproofing.jpg"
    path.write_bytes(buffer.getvalue())
    return path


class Phone:
    def __init__(self, browser: Browser, base_url: str):
        self.context = browser.new_context(**PHONE)
        self.page: Page = self.context.new_page()
        self.base_url = base_url
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def open(self, path: str):
        return self.page.goto(self.base_url + path)

    def login(self, username: str, password: str) -> None:
        self.open("/app/home")
        expect(self.page.get_by_test_id("login-screen")).to_be_visible()
        self.page.get_by_test_id("login-username").fill(username)
        self.page.get_by_test_id("login-password").fill(password)
        with self.page.expect_response("**/api/auth/login"):
            self.page.get_by_test_id("login-submit").click()
        expect(self.page.get_by_test_id("home-screen")).to_be_visible()
        self.page.wait_for_function(
            "navigator.serviceWorker.controller !== null"
            " && navigator.serviceWorker.controller.state === 'activated'"
        )

    def requests(self, group: str) -> list[dict]:
        return self.page.evaluate(REQUESTS_JS, group)

    def wait_sent(self, group: str, count: int) -> list[dict]:
        deadline = time.monotonic() + SYNC_TIMEOUT_MS / 1000
        while True:
            rows = self.requests(group)
            if len(rows) == count and all(r["status"] == "synced" for r in rows):
                return rows
            if time.monotonic() > deadline:
                raise AssertionError(f"requests not sent: {rows}")
            self.page.wait_for_timeout(250)

    def close(self) -> None:
        self.context.close()
        assert self.errors == [], self.errors


def draw_signature(page: Page) -> None:
    canvas = page.get_by_test_id("signature-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None and box["width"] >= 250
    x, y = box["x"], box["y"]
    page.mouse.move(x + 40, y + 150)
    page.mouse.down()
    for step in range(1, 21):
        page.mouse.move(x + 40 + step * 12, y + 150 - (step % 5) * 18, steps=2)
    page.mouse.up()


def sign(client: httpx.Client, url: str, round_id: int, party: str, passed: bool = True) -> dict:
    response = client.post(
        f"{url}/acceptances/{round_id}/signoffs",
        json={"party": party, "passed": passed, "client_id": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_acceptance_rounds_signatures_and_the_settlement_on_the_phone(
    browser: Browser, live_server, staff, picture, artifacts_dir
):
    permit = started_permit(staff)
    permit_id = permit["id"]
    url = f"/api/renovations/{permit_id}"
    group = f"renovation:{permit_id}"
    manager = staff["manager"]

    # 工程 starts the hidden-works acceptance on the phone.
    worker = Phone(browser, live_server.url)
    worker.login("engineering", live_server.demo_password)
    page = worker.page
    worker.open(f"/app/renovations/{permit_id}/acceptance/hidden_works")
    screen = page.get_by_test_id("acc-screen")
    expect(screen).to_have_attribute("data-source", "server")
    expect(page.get_by_test_id("acc-title")).to_have_text("隐蔽工程验收")
    expect(page.get_by_test_id("acc-none")).to_be_visible()
    page.get_by_test_id("acc-open").click()
    round_card = page.get_by_test_id("acc-round")
    expect(round_card).to_have_attribute("data-round", "1", timeout=SYNC_TIMEOUT_MS)
    expect(round_card).to_have_attribute("data-status", "open")
    # Only its own department's buttons: 工程 does not sign for 客服 or 保安.
    expect(page.get_by_test_id("acc-pass-engineering")).to_be_visible()
    expect(page.get_by_test_id("acc-pass-security")).to_have_count(0)

    # Offline: fail it with what to rectify and a photo.
    worker.context.set_offline(True)
    page.get_by_test_id("acc-fail-engineering").click()
    page.get_by_test_id("acc-submit").click()
    expect(page.get_by_test_id("acc-form-error")).to_have_text("不通过时请填写需要整改的项目")
    page.get_by_test_id("acc-items").fill("卫生间防水未做闭水试验\n强电线管未穿管")
    page.get_by_test_id("acc-form-camera").set_input_files(str(picture))
    expect(page.get_by_test_id("acc-form-photos").locator("img")).to_have_count(1, timeout=15_000)
    page.get_by_test_id("acc-submit").click()
    expect(page.get_by_test_id("acc-party-engineering")).to_have_attribute("data-state", "queued")
    # The page opens offline from the phone's copy, the sign-off still waiting.
    page.reload()
    expect(screen).to_have_attribute("data-source", "cache")
    expect(page.get_by_test_id("acc-offline")).to_be_visible()
    expect(page.get_by_test_id("acc-party-engineering")).to_have_attribute("data-state", "queued")
    worker.context.set_offline(False)
    page.evaluate("async () => (await import('/static/sync.js')).syncNow({force: true})")
    rows = worker.wait_sent(group, 2)
    assert [r["path"].rsplit("/", 1)[-1] for r in rows] == ["acceptances", "signoffs"]
    assert len(rows[1]["body"]["photos"]) == 1

    rounds = manager.get(f"{url}/acceptances?kind=hidden_works").json()
    assert len(rounds) == 1 and rounds[0]["signoffs"]["engineering"]["passed"] is False
    round1 = rounds[0]["id"]
    sign(staff["dispatcher"], url, round1, "customer_service")
    failed = sign(staff["inspector"], url, round1, "security")
    assert failed["status"] == "failed"
    assert [x["item"] for x in failed["to_rectify"]] == ["卫生间防水未做闭水试验", "强电线管未穿管"]

    # The phone shows the failed round and what to rectify; 工程 starts the re-inspection.
    page.reload()
    expect(round_card).to_have_attribute("data-status", "failed")
    expect(page.get_by_test_id("acc-to-rectify").locator("li")).to_have_count(2)
    page.screenshot(path=str(artifacts_dir / "acceptance-failed.png"), full_page=True)
    page.get_by_test_id("acc-open").click()
    expect(round_card).to_have_attribute("data-round", "2", timeout=SYNC_TIMEOUT_MS)
    expect(page.get_by_test_id("acc-history")).to_contain_text("卫生间防水未做闭水试验")
    page.get_by_test_id("acc-pass-engineering").click()
    page.get_by_test_id("acc-submit").click()
    worker.wait_sent(group, 4)
    round2 = manager.get(f"{url}/acceptances?kind=hidden_works").json()[-1]["id"]
    sign(staff["dispatcher"], url, round2, "customer_service")
    sign(staff["inspector"], url, round2, "security")
    assert manager.get(url).json()["status"] == "hidden_works_accepted"
    page.reload()
    expect(round_card).to_have_attribute("data-status", "passed")
    expect(page.get_by_test_id("acc-banner")).to_have_attribute("data-status", "passed")

    # Completion: the departments pass; the owner and the contractor sign on the phone, offline.
    assert staff["dispatcher"].post(f"{url}/complete", json={}).status_code == 200
    worker.open(f"/app/renovations/{permit_id}/acceptance/completion")
    expect(page.get_by_test_id("acc-title")).to_have_text("竣工验收")
    page.get_by_test_id("acc-open").click()
    expect(round_card).to_have_attribute("data-round", "1", timeout=SYNC_TIMEOUT_MS)
    worker.wait_sent(group, 5)
    completion = manager.get(f"{url}/acceptances?kind=completion").json()[0]["id"]
    for client, party in (
        (staff["dispatcher"], "customer_service"),
        (staff["engineering"], "engineering"),
        (staff["inspector"], "security"),
    ):
        sign(client, url, completion, party)
    page.reload()
    expect(page.get_by_test_id("acc-party-security")).to_have_attribute("data-state", "passed")
    worker.context.set_offline(True)
    for party, name in (("owner", "韩梅梅"), ("contractor", "李雷")):
        page.get_by_test_id(f"acc-pass-{party}").click()
        expect(page.get_by_test_id("acc-name")).to_have_value(name)
        page.get_by_test_id("acc-submit").click()
        expect(page.get_by_test_id("acc-form-error")).to_have_text("请先签字")
        draw_signature(page)
        if party == "owner":
            page.screenshot(path=str(artifacts_dir / "acceptance-owner-signature.png"))
        page.get_by_test_id("acc-submit").click()
        expect(page.get_by_test_id(f"acc-party-{party}")).to_have_attribute("data-state", "queued")
    worker.context.set_offline(False)
    page.evaluate("async () => (await import('/static/sync.js')).syncNow({force: true})")
    worker.wait_sent(group, 7)
    done = manager.get(f"{url}/acceptances/{completion}").json()
    assert done["status"] == "passed"
    assert done["signoffs"]["owner"]["signer_name"] == "韩梅梅"
    assert done["signoffs"]["contractor"]["signature"]["sha256"]
    assert manager.get(url).json()["status"] == "completion_accepted"
    expect(page.get_by_test_id("acc-round")).to_have_attribute(
        "data-status", "passed", timeout=SYNC_TIMEOUT_MS
    )

    # 工程 records a deduction with a photo on the settlement page.
    worker.open(f"/app/renovations/{permit_id}/settlement")
    expect(page.get_by_test_id("set-statement")).to_be_visible()
    page.get_by_test_id("set-add").click()
    page.get_by_test_id("set-amount").fill("0")
    page.get_by_test_id("set-reason").fill("损坏电梯轿厢壁板")
    page.get_by_test_id("set-save").click()
    expect(page.get_by_test_id("set-form-error")).to_be_visible()
    page.get_by_test_id("set-amount").fill("5800.50")
    page.get_by_test_id("set-form-camera").set_input_files(str(picture))
    expect(page.get_by_test_id("set-form-photos").locator("img")).to_have_count(1, timeout=15_000)
    page.get_by_test_id("set-save").click()
    worker.wait_sent(group, 8)
    expect(page.get_by_test_id("set-deduction")).to_have_count(1, timeout=SYNC_TIMEOUT_MS)
    expect(page.get_by_test_id("set-total")).to_have_attribute("data-fen", "580050")
    expect(page.get_by_test_id("set-from-contractor")).to_have_attribute("data-fen", "500000")
    expect(page.get_by_test_id("set-approve")).to_have_count(0)  # the manager approves
    worker.close()

    # The manager reads the statement on their phone and approves it.
    boss = Phone(browser, live_server.url)
    boss.login("manager", live_server.demo_password)
    boss.open(f"/app/renovations/{permit_id}/settlement")
    bpage = boss.page
    expect(bpage.get_by_test_id("set-screen")).to_have_attribute("data-approved", "false")
    expect(bpage.get_by_test_id("set-total")).to_have_attribute("data-fen", "580050")
    expect(bpage.get_by_test_id("set-refund-contractor")).to_have_attribute("data-fen", "0")
    expect(bpage.get_by_test_id("set-from-owner")).to_have_attribute("data-fen", "80050")
    expect(bpage.get_by_test_id("set-refund-owner")).to_have_attribute("data-fen", "119950")
    bpage.once("dialog", lambda dialog: dialog.accept())
    bpage.get_by_test_id("set-approve").click()
    expect(bpage.get_by_test_id("set-screen")).to_have_attribute(
        "data-approved", "true", timeout=SYNC_TIMEOUT_MS
    )
    expect(bpage.get_by_test_id("set-approval")).to_contain_text("已审批")
    bpage.emulate_media(media="print")
    bpage.screenshot(path=str(artifacts_dir / "settlement-print.png"), full_page=True)
    bpage.emulate_media(media="screen")
    boss.close()

    statement = manager.get(f"{url}/settlement").json()
    assert statement["approved"] and statement["status"] == "deposit_settled"
    assert (statement["from_contractor"], statement["from_owner"]) == (500000, 80050)
    events = [e["action"] for e in manager.get(url).json()["timeline"]]
    # Each queued write arrived once.
    assert events.count("acceptance_open") == 3
    assert events.count("acceptance_signoff") == 11
    assert events.count("deduction") == 1 and events.count("settle_deposit") == 1
