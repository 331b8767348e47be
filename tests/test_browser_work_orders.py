"""Work orders on the phone, in real Chromium at phone size against the real server and demo site.

The engineering worker opens their queue online (the phone keeps it), loses the network, accepts
and reports an order with a photo, reloads the app still offline (the queue still shows the
waiting steps), and when the network returns the outbox sends both steps exactly once, at their
device times, with the photo. Then the dispatcher verifies and closes the order from their phone.
A step delivered twice (same client_id) leaves one event.

Each test raises its own order through the API (the desk raises it and dispatches it to
engineering), so other tests' orders never matter.
"""

from __future__ import annotations

import io
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from phone import PHONE, login_client
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser

SYNC_TIMEOUT_MS = 60_000

# The phone's work-order outbox records (web/store.js), as JSON.
WO_RECORDS_JS = """async () => {
  const store = await import('/static/store.js');
  const rows = await store.listWorkOrderRecords();
  return rows.map((row) => ({id: row.id, status: row.status, code: row.code, reason: row.reason,
    user_id: row.user_id, record: row.record, photos: store.photoHashes(row.record)}));
}"""


@pytest.fixture(scope="module")
def desk(live_server):
    client = login_client(live_server.url, "dispatcher", live_server.demo_password)
    site = next(s for s in client.get("/api/me").json()["sites"] if s["code"] == "DEMO")
    yield {"client": client, "site": site}
    client.close()


def raise_for_engineering(desk: dict, description: str) -> dict:
    """An order raised at the desk and dispatched to engineering (through the API)."""
    client = desk["client"]
    response = client.post(
        "/api/work-orders",
        json={
            "site": desk["site"]["id"],
            "description": description,
            "client_id": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 201, response.text
    order = response.json()
    response = client.post(
        f"/api/work-orders/{order['id']}/dispatch",
        json={"department": "engineering", "client_id": str(uuid.uuid4())},
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "dispatched"
    return response.json()


@pytest.fixture
def picture(tmp_path) -> Path:
    """A camera picture of the repaired thing (JPEG, 1600×1200)."""
    image = Image.new("RGB", (1600, 1200), (60, 140, 90))
    draw = ImageDraw.Draw(image)
    draw.rectangle((300, 300, 1100, 900), fill=(240, 240, 240))
    draw.ellipse((900, 200, 1400, 700), fill=(30, 30, 160))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    path = tmp_path / "repaired.jpg"
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
        # The app shell is on the phone: it opens again with no network.
        self.page.wait_for_function(
            "navigator.serviceWorker.controller !== null"
            " && navigator.serviceWorker.controller.state === 'activated'"
        )

    def records(self) -> list[dict]:
        return self.page.evaluate(WO_RECORDS_JS)

    def wait_until(self, script: str, arg=None, timeout_ms: int = SYNC_TIMEOUT_MS):
        """Poll an (async) expression in the page until it is truthy; return its value."""
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            value = self.page.evaluate(script, arg)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {script}: last value {value!r}")
            self.page.wait_for_timeout(200)

    def wait_drained(self) -> None:
        self.wait_until(
            """async () => {
              const store = await import('/static/store.js');
              const rows = await store.listWorkOrderRecords();
              return rows.length > 0 && rows.every((row) => row.status === 'synced');
            }"""
        )

    def close(self) -> None:
        self.context.close()
        assert self.errors == [], self.errors


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_engineering_works_an_order_offline_and_the_dispatcher_closes_it(
    browser: Browser, live_server, desk, picture, artifacts_dir
):
    title = f"二号楼电梯厅灯不亮 {uuid.uuid4().hex[:6]}"
    order = raise_for_engineering(desk, title)
    order_id = order["id"]

    # Online: the engineering worker's queue, soonest deadline first, with this order on it.
    worker = Phone(browser, live_server.url)
    worker.login("engineering", live_server.demo_password)
    expect(worker.page.get_by_test_id("tile-work-orders")).to_have_attribute(
        "href", "/app/work-orders"
    )
    worker.page.get_by_test_id("tile-work-orders").click()
    queue = worker.page.get_by_test_id("wo-queue")
    expect(queue).to_have_attribute("data-source", "server")
    card = worker.page.locator(f'[data-testid="wo-card"][data-id="{order_id}"]')
    expect(card).to_be_visible()
    expect(card.get_by_test_id("wo-status")).to_have_text("待接单")
    # Dispatched just now: 2 hours to accept, shown in words, coloured as fine (not overdue).
    expect(card.get_by_test_id("wo-left")).to_contain_text("剩")
    assert card.get_attribute("data-sla") in ("sla-ok", "sla-soon")
    box = card.bounding_box()
    assert box is not None and box["height"] >= 48 and box["width"] >= 300
    worker.page.screenshot(path=str(artifacts_dir / "work-orders-queue.png"))
    # The colours and words for other deadlines: overdue red, within the hour amber, else green.
    states = worker.page.evaluate(
        """async () => {
          const {slaOf} = await import('/static/pages/work_orders.js');
          const now = Date.parse('2026-11-23T10:00:00Z');
          const at = (minutes) => new Date(now + minutes * 60000).toISOString();
          return [
            slaOf({status: 'dispatched', due_at: at(-35), overdue: true}, now),
            slaOf({status: 'arranged', due_at: at(40), overdue: false}, now),
            slaOf({status: 'arranged', due_at: at(80), overdue: false}, now),
            slaOf({status: 'deferred', due_at: at(60 * 49 + 5), overdue: false}, now),
            slaOf({status: 'raised', due_at: null, overdue: false}, now),
            slaOf({status: 'closed', due_at: null, overdue: false}, now),
          ];
        }"""
    )
    assert states == [
        {"cls": "sla-overdue", "text": "已超时 35 分"},
        {"cls": "sla-soon", "text": "剩 40 分"},
        {"cls": "sla-ok", "text": "剩 1 小时 20 分"},
        {"cls": "sla-ok", "text": "剩 2 天 1 小时"},
        {"cls": "sla-none", "text": ""},
        {"cls": "sla-none", "text": ""},
    ]
    # The queue is on the phone, and so is this order's detail (fetched ahead for offline use).
    worker.wait_until(
        """async ([userId, id]) => {
          const store = await import('/static/store.js');
          return Boolean(await store.getCached('order', userId, id));
        }""",
        [worker.page.evaluate("JSON.parse(localStorage.getItem('xunjian.me')).id"), order_id],
    )

    # The plant room: no network (the server is still up).
    worker.context.set_offline(True)
    card.click()
    detail = worker.page.get_by_test_id("wo-detail")
    expect(detail).to_have_attribute("data-source", "cache")
    expect(worker.page.get_by_test_id("wo-offline")).to_contain_text("离线，显示")
    expect(worker.page.get_by_test_id("wo-title")).to_have_text(title)
    worker.page.get_by_test_id("wo-act-accept").click()
    expect(detail.get_by_test_id("wo-pending").first).to_have_text("待同步：已接单")
    expect(detail).to_have_attribute("data-status", "arranged")
    # The next deadline is the server's to set: no stale "time left" meanwhile.
    expect(detail.get_by_test_id("wo-left")).to_have_count(0)

    worker.page.get_by_test_id("wo-act-report").click()
    form = worker.page.get_by_test_id("wo-form-report")
    expect(form).to_be_visible()
    # Without a photo the report is not taken.
    worker.page.get_by_test_id("wo-form-submit").click()
    expect(worker.page.get_by_test_id("wo-form-error")).to_have_text("请至少拍一张完成后的照片")
    worker.page.get_by_test_id("wo-form-camera").set_input_files(str(picture))
    expect(worker.page.get_by_test_id("wo-form-photos").locator("img")).to_have_count(1)
    worker.page.get_by_test_id("wo-form-note").fill("更换灯管两支，已恢复照明")
    worker.page.screenshot(path=str(artifacts_dir / "work-order-report-form.png"))
    worker.page.get_by_test_id("wo-form-submit").click()
    expect(detail).to_have_attribute("data-status", "reported")
    expect(detail.get_by_test_id("wo-event-local")).to_have_count(2)
    expect(detail.get_by_test_id("wo-event-local").nth(1).locator("img")).to_have_count(1)
    worker.page.evaluate("window.scrollTo(0, 0)")
    worker.page.screenshot(path=str(artifacts_dir / "work-order-detail.png"))
    detail.get_by_test_id("wo-event-local").nth(1).scroll_into_view_if_needed()
    worker.page.screenshot(path=str(artifacts_dir / "work-order-detail-timeline.png"))

    records = worker.records()
    assert [r["record"]["step"] for r in records] == ["accept", "report"]
    assert {r["status"] for r in records} == {"pending"}
    assert all(r["record"]["body"]["client_id"] == r["id"] for r in records)
    accept, report = records
    assert len(report["photos"]) == 1
    photo_sha = report["photos"][0]

    # Reload with no signal: the queue opens from the phone, still showing the waiting steps.
    response = worker.open("/app/work-orders")
    assert response is not None and response.from_service_worker
    queue = worker.page.get_by_test_id("wo-queue")
    expect(queue).to_have_attribute("data-source", "cache")
    expect(worker.page.get_by_test_id("wo-offline")).to_contain_text("离线，显示")
    card = worker.page.locator(f'[data-testid="wo-card"][data-id="{order_id}"]')
    expect(card.get_by_test_id("wo-pending").first).to_have_text("待同步：已接单")
    expect(card.get_by_test_id("wo-pending").nth(1)).to_have_text("待同步：已汇报完成")
    expect(card.get_by_test_id("wo-status")).to_have_text("待核实")
    worker.page.screenshot(path=str(artifacts_dir / "work-orders-queue-offline.png"))
    # The outbox lists both steps, waiting.
    worker.open("/app/outbox")
    steps = worker.page.locator('[data-testid="outbox-record"][data-kind="work_order_step"]')
    expect(steps).to_have_count(2)
    expect(steps.first.get_by_test_id("outbox-record-status")).to_have_text("等待发送")
    expect(steps.first.get_by_test_id("outbox-record-name")).to_have_text(title)

    # Back online: the outbox drains by itself.
    worker.context.set_offline(False)
    worker.wait_drained()
    expect(worker.page.get_by_test_id("outbox-unsynced")).to_have_text("0")
    expect(steps.first).to_have_attribute("data-status", "synced")

    # On the server: each step once, at the phone's time, the photo with the report.
    on_server = desk["client"].get(f"/api/work-orders/{order_id}").json()
    assert on_server["status"] == "reported"
    events = on_server["events"]
    assert [e["action"] for e in events].count("accept") == 1
    assert [e["action"] for e in events].count("report") == 1
    accepted = next(e for e in events if e["action"] == "accept")
    reported = next(e for e in events if e["action"] == "report")
    assert instant(accepted["device_time"]) == instant(accept["record"]["device_time"])
    assert instant(reported["device_time"]) == instant(report["record"]["device_time"])
    assert accepted["actor"]["display_name"] == reported["actor"]["display_name"]
    assert [p["sha256"] for p in reported["photos"]] == [photo_sha]
    assert reported["note"] == "更换灯管两支，已恢复照明"
    photo = desk["client"].get(f"/api/photos/{photo_sha}")
    assert photo.status_code == 200 and photo.headers["content-type"].startswith("image/jpeg")
    worker.close()

    # The dispatcher, on their own phone: verify, then close.
    dispatcher = Phone(browser, live_server.url)
    dispatcher.login("dispatcher", live_server.demo_password)
    dispatcher.open(f"/app/work-orders/{order_id}")
    detail = dispatcher.page.get_by_test_id("wo-detail")
    expect(detail).to_have_attribute("data-status", "reported")
    # Every photo of the order is there, and opens full size.
    expect(dispatcher.page.get_by_test_id("wo-photos").get_by_test_id("wo-photo")).to_have_count(1)
    dispatcher.page.get_by_test_id("wo-photos").get_by_test_id("wo-photo").click()
    expect(dispatcher.page.get_by_test_id("wo-viewer").locator("img")).to_have_attribute(
        "src", f"/api/photos/{photo_sha}"
    )
    dispatcher.page.get_by_test_id("wo-viewer-close").click()
    expect(dispatcher.page.get_by_test_id("wo-act-reject")).to_be_visible()
    dispatcher.page.screenshot(path=str(artifacts_dir / "work-order-detail-desk.png"))
    dispatcher.page.get_by_test_id("wo-act-verify").click()
    expect(detail).to_have_attribute("data-status", "verified")
    dispatcher.wait_drained()
    dispatcher.page.get_by_test_id("wo-act-close").click()
    expect(detail).to_have_attribute("data-status", "closed")
    dispatcher.wait_drained()
    # Once synced, the screen shows the server's own answer (no waiting marker left).
    expect(detail.get_by_test_id("wo-pending")).to_have_count(0)
    expect(detail.get_by_test_id("wo-status")).to_have_text("已关闭")

    on_server = desk["client"].get(f"/api/work-orders/{order_id}").json()
    assert on_server["status"] == "closed"
    actions = [e["action"] for e in on_server["events"]]
    for action in ("raise", "dispatch", "accept", "report", "verify", "close"):
        assert actions.count(action) == 1, actions
    dispatcher.close()

    # A step delivered twice (the phone lost the answer and sent it again) leaves one event.
    engineering = login_client(live_server.url, "engineering", live_server.demo_password)
    try:
        again = engineering.post(
            f"/api/work-orders/{order_id}/accept", json=accept["record"]["body"]
        )
        assert again.status_code == 200, again.text
        assert again.headers.get("x-replayed") == "1"
        conflict = engineering.post(
            f"/api/work-orders/{order_id}/accept",
            json={**accept["record"]["body"], "note": "另一条"},
        )
        assert conflict.status_code == 409
        assert conflict.json()["error"]["code"] == "client_id_conflict"
    finally:
        engineering.close()
    events = desk["client"].get(f"/api/work-orders/{order_id}").json()["events"]
    assert [e["action"] for e in events].count("accept") == 1


def test_a_step_the_server_refuses_is_shown_rejected_with_its_reason(
    browser: Browser, live_server, desk
):
    """Offline, the worker accepts an order that the desk meanwhile sent to another department:
    the step is final-refused (4xx) and the phone says so, with the server's message."""
    order = raise_for_engineering(desk, f"消火栓漏水 {uuid.uuid4().hex[:6]}")
    order_id = order["id"]
    worker = Phone(browser, live_server.url)
    worker.login("engineering", live_server.demo_password)
    worker.open(f"/app/work-orders/{order_id}")
    detail = worker.page.get_by_test_id("wo-detail")
    expect(detail).to_have_attribute("data-status", "dispatched")

    worker.context.set_offline(True)
    worker.page.get_by_test_id("wo-act-accept").click()
    expect(detail.get_by_test_id("wo-pending").first).to_have_text("待同步：已接单")
    response = desk["client"].post(
        f"/api/work-orders/{order_id}/redirect",
        json={"department": "security", "client_id": str(uuid.uuid4())},
    )
    assert response.status_code == 200, response.text

    worker.context.set_offline(False)
    worker.wait_until(
        """async () => {
          const rows = await (await import('/static/store.js')).listWorkOrderRecords();
          return rows.length === 1 && rows[0].status === 'rejected';
        }"""
    )
    [record] = worker.records()
    assert record["code"] and record["reason"], record
    worker.open("/app/outbox")
    row = worker.page.locator('[data-testid="outbox-record"][data-kind="work_order_step"]')
    expect(row).to_have_attribute("data-status", "rejected")
    expect(row.get_by_test_id("outbox-record-reason")).to_contain_text(record["reason"])
    expect(row.get_by_test_id("outbox-delete")).to_be_visible()
    # Nothing reached the order.
    events = desk["client"].get(f"/api/work-orders/{order_id}").json()["events"]
    assert "accept" not in [e["action"] for e in events]
    worker.close()


def draw_signature(page: Page) -> None:
    """Sign the canvas with a finger-like stroke (pointer events from the mouse)."""
    canvas = page.get_by_test_id("signature-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None and box["width"] >= 300 and box["height"] >= 200
    x, y = box["x"], box["y"]
    page.mouse.move(x + 40, y + 150)
    page.mouse.down()
    for step in range(1, 21):
        page.mouse.move(x + 40 + step * 12, y + 150 - (step % 5) * 18, steps=2)
    page.mouse.up()


def test_an_owners_report_from_the_desk_to_signature_follow_up_and_close(
    browser: Browser, live_server, desk, picture, artifacts_dir
):
    """The desk enters an owner's report on the phone and dispatches it; the engineer accepts,
    has the owner sign on the screen and reports; the desk verifies, records the follow-up call
    and closes it."""
    description = f"厨房水槽下水管漏水 {uuid.uuid4().hex[:6]}"
    clerk = Phone(browser, live_server.url)
    clerk.login("dispatcher", live_server.demo_password)
    clerk.open("/app/work-orders/new")
    expect(clerk.page.get_by_test_id("raise-screen")).to_be_visible()
    clerk.page.get_by_test_id("raise-description").fill(description)
    clerk.page.get_by_test_id("raise-owner").check()
    clerk.page.get_by_test_id("raise-owner-name").fill("李女士")
    # Name and unit are both needed for an owner's report.
    clerk.page.get_by_test_id("raise-submit").click()
    expect(clerk.page.get_by_test_id("raise-error")).to_have_text("业主报修需填写业主姓名和房号")
    clerk.page.get_by_test_id("raise-owner-unit").fill("3-1502")
    clerk.page.get_by_test_id("raise-owner-phone").fill("13800001234")
    clerk.page.screenshot(path=str(artifacts_dir / "work-order-raise.png"))
    clerk.page.get_by_test_id("raise-submit").click()
    expect(clerk.page.get_by_test_id("wo-queue")).to_be_visible()
    clerk.wait_drained()
    [raised] = clerk.records()
    order_id = clerk.page.evaluate(
        """async (id) => (await (await import('/static/store.js')).getRecord(id)).work_order""",
        raised["id"],
    )
    assert isinstance(order_id, int)
    on_server = desk["client"].get(f"/api/work-orders/{order_id}").json()
    assert on_server["source"] == "owner" and on_server["status"] == "raised"
    assert on_server["owner"] == {"name": "李女士", "unit": "3-1502", "phone": "13800001234"}

    # Dispatch to engineering from the order's screen.
    clerk.open(f"/app/work-orders/{order_id}")
    detail = clerk.page.get_by_test_id("wo-detail")
    expect(detail).to_have_attribute("data-status", "raised")
    expect(clerk.page.get_by_test_id("wo-owner")).to_contain_text("3-1502")
    clerk.page.get_by_test_id("wo-act-dispatch").click()
    clerk.page.get_by_test_id("wo-form-submit").click()
    expect(clerk.page.get_by_test_id("wo-form-error")).to_have_text("请选择部门")
    clerk.page.get_by_test_id("wo-dept-engineering").click()
    clerk.page.get_by_test_id("wo-form-submit").click()
    expect(detail).to_have_attribute("data-status", "dispatched")
    clerk.wait_drained()

    # The engineer: accept, the owner signs, report with a photo.
    worker = Phone(browser, live_server.url)
    worker.login("engineering", live_server.demo_password)
    worker.open(f"/app/work-orders/{order_id}")
    detail = worker.page.get_by_test_id("wo-detail")
    expect(detail).to_have_attribute("data-status", "dispatched")
    worker.page.get_by_test_id("wo-act-accept").click()
    expect(detail).to_have_attribute("data-status", "arranged")
    worker.page.get_by_test_id("wo-act-sign").click()
    expect(worker.page.get_by_test_id("signature-canvas")).to_be_visible()
    worker.page.get_by_test_id("wo-form-submit").click()
    expect(worker.page.get_by_test_id("wo-form-error")).to_have_text("请业主先签字")
    draw_signature(worker.page)
    worker.page.screenshot(path=str(artifacts_dir / "work-order-signature.png"))
    worker.page.get_by_test_id("wo-form-submit").click()
    expect(worker.page.get_by_test_id("wo-act-sign")).to_have_count(0)
    worker.page.get_by_test_id("wo-act-report").click()
    worker.page.get_by_test_id("wo-form-camera").set_input_files(str(picture))
    expect(worker.page.get_by_test_id("wo-form-photos").locator("img")).to_have_count(1)
    worker.page.get_by_test_id("wo-form-submit").click()
    expect(detail).to_have_attribute("data-status", "reported")
    worker.wait_drained()
    steps = [r["record"]["step"] for r in worker.records()]
    assert steps == ["accept", "sign-off", "report"]
    signature_sha = worker.records()[1]["record"]["body"]["signature"]
    worker.close()

    on_server = desk["client"].get(f"/api/work-orders/{order_id}").json()
    assert on_server["status"] == "reported"
    assert on_server["signature"]["sha256"] == signature_sha
    signature = desk["client"].get(f"/api/photos/{signature_sha}")
    assert signature.status_code == 200
    image = Image.open(io.BytesIO(signature.content))
    assert image.format == "JPEG"
    # Ink on white: the corner is white, and something dark was drawn.
    grey = image.convert("L")
    assert grey.getpixel((2, 2)) > 240
    assert grey.getextrema()[0] < 80

    # The desk: verify, the follow-up call, close.
    clerk.open(f"/app/work-orders/{order_id}")
    detail = clerk.page.get_by_test_id("wo-detail")
    expect(detail).to_have_attribute("data-status", "reported")
    clerk.page.get_by_test_id("wo-act-verify").click()
    expect(detail).to_have_attribute("data-status", "verified")
    # An owner's order closes only after the follow-up call.
    expect(clerk.page.get_by_test_id("wo-act-close")).to_have_count(0)
    clerk.page.get_by_test_id("wo-act-follow_up").click()
    clerk.page.get_by_test_id("wo-sat-satisfied").click()
    clerk.page.get_by_test_id("wo-form-note").fill("业主确认已不漏水")
    clerk.page.get_by_test_id("wo-form-submit").click()
    clerk.page.get_by_test_id("wo-act-close").click()
    expect(detail).to_have_attribute("data-status", "closed")
    clerk.wait_drained()
    expect(detail.get_by_test_id("wo-pending")).to_have_count(0)
    clerk.close()

    on_server = desk["client"].get(f"/api/work-orders/{order_id}").json()
    assert on_server["status"] == "closed"
    assert on_server["satisfaction"] == "satisfied"
    actions = [e["action"] for e in on_server["events"]]
    for action in (
        "raise",
        "dispatch",
        "accept",
        "sign_off",
        "report",
        "verify",
        "follow_up",
        "close",
    ):
        assert actions.count(action) == 1, actions


def test_the_check_screen_links_to_raising_an_order_at_its_checkpoint(
    browser: Browser, live_server, desk
):
    """报修 on the check screen opens the raise screen with that checkpoint chosen; a patrol's
    report is kept on the phone with a photo and reaches the server once."""
    from qr.signing import label_url, sign

    client = desk["client"]
    checkpoint = client.get(
        f"/api/sites/{desk['site']['id']}/checkpoints",
        params={"kind": "facility", "page_size": 1, "page": 3},
    ).json()["items"][0]
    secret = live_server.env["XUNJIAN_SECRET_KEY"].encode()
    signature = sign(secret, desk["site"]["code"], checkpoint["code"], checkpoint["label_version"])
    url = label_url(live_server.url, checkpoint["code"], checkpoint["label_version"], signature)

    patrol = Phone(browser, live_server.url)
    patrol.login("patrol", live_server.demo_password)
    patrol.wait_until(
        """async () => {
          const c = await (await import('/static/store.js')).getCatalogue();
          return Boolean(c && c.checkpoints.length);
        }"""
    )
    patrol.open(url.removeprefix(live_server.url))
    link = patrol.page.get_by_test_id("check-raise")
    expect(link).to_have_attribute("href", f"/app/work-orders/new?checkpoint={checkpoint['id']}")
    link.click()
    expect(patrol.page.get_by_test_id("raise-screen")).to_be_visible()
    expect(patrol.page.get_by_test_id("raise-checkpoint")).to_have_value(str(checkpoint["id"]))
    # Patrols raise manual orders only: no owner fields.
    expect(patrol.page.get_by_test_id("raise-owner")).to_have_count(0)
    description = f"墙面标识脱落 {uuid.uuid4().hex[:6]}"
    patrol.page.get_by_test_id("raise-submit").click()
    expect(patrol.page.get_by_test_id("raise-error")).to_have_text("请写明问题")
    patrol.page.get_by_test_id("raise-description").fill(description)
    patrol.page.get_by_test_id("raise-department").select_option("cleaning")
    patrol.page.get_by_test_id("raise-submit").click()
    expect(patrol.page.get_by_test_id("wo-queue")).to_be_visible()
    patrol.wait_drained()
    [raised] = patrol.records()
    order_id = patrol.page.evaluate(
        """async (id) => (await (await import('/static/store.js')).getRecord(id)).work_order""",
        raised["id"],
    )
    patrol.open("/app/outbox")
    row = patrol.page.locator('[data-testid="outbox-record"][data-kind="work_order_raise"]')
    expect(row).to_have_attribute("data-status", "synced")
    expect(row.get_by_test_id("outbox-record-name")).to_have_text(description)
    # A patrol may only add a note to the order; no step of the desk or the department.
    patrol.open(f"/app/work-orders/{order_id}")
    expect(patrol.page.get_by_test_id("wo-detail")).to_have_attribute("data-status", "raised")
    buttons = patrol.page.get_by_test_id("wo-actions").locator("button")
    expect(buttons).to_have_count(1)
    buttons.click()
    patrol.page.get_by_test_id("wo-form-submit").click()
    expect(patrol.page.get_by_test_id("wo-form-error")).to_have_text("请写备注内容")
    patrol.page.get_by_test_id("wo-form-note").fill("标识在三号楼东侧入口")
    patrol.page.get_by_test_id("wo-form-submit").click()
    patrol.wait_drained()
    patrol.close()

    order = client.get(f"/api/work-orders/{order_id}").json()
    assert order["source"] == "manual"
    assert order["checkpoint"]["id"] == checkpoint["id"]
    assert order["title"] == description
    raises = client.get(
        "/api/work-orders", params={"checkpoint": checkpoint["id"], "page_size": 200}
    ).json()["items"]
    assert [o["id"] for o in raises if o["title"] == description] == [order_id]
    notes = [e for e in order["events"] if e["action"] == "comment"]
    assert [e["note"] for e in notes] == ["标识在三号楼东侧入口"]


def test_a_step_the_server_cannot_take_now_waits_and_is_sent_again_once(
    browser: Browser, live_server, desk
):
    """A 503 is not an answer: the step stays on the phone with a backoff, nothing reaches the
    order, and "retry" in the outbox sends it (once)."""
    order_id = raise_for_engineering(desk, f"地下车库排风机异响 {uuid.uuid4().hex[:6]}")["id"]
    worker = Phone(browser, live_server.url)
    worker.login("engineering", live_server.demo_password)
    refused: list[str] = []

    def unavailable(route):
        refused.append(route.request.post_data or "")
        route.fulfill(status=503, body="")

    pattern = f"**/api/work-orders/{order_id}/accept"
    worker.page.route(pattern, unavailable)
    worker.open(f"/app/work-orders/{order_id}")
    detail = worker.page.get_by_test_id("wo-detail")
    expect(detail).to_have_attribute("data-status", "dispatched")
    worker.page.get_by_test_id("wo-act-accept").click()
    [record] = worker.wait_until(
        """async () => {
          const rows = await (await import('/static/store.js')).listWorkOrderRecords();
          return rows.length === 1 && rows[0].status === 'pending' && rows[0].attempts === 1
            && rows[0].next_try_at > Date.now() ? rows : null;
        }"""
    )
    assert len(refused) == 1
    events = desk["client"].get(f"/api/work-orders/{order_id}").json()["events"]
    assert "accept" not in [e["action"] for e in events]
    expect(detail.get_by_test_id("wo-pending").first).to_have_text("待同步：已接单")

    worker.page.unroute(pattern)
    worker.open("/app/outbox")
    row = worker.page.locator('[data-testid="outbox-record"][data-kind="work_order_step"]')
    expect(row).to_have_attribute("data-status", "pending")
    row.get_by_test_id("outbox-retry").click()
    worker.wait_drained()
    expect(row).to_have_attribute("data-status", "synced")
    # The same body both times (same client_id): the server stored the step once.
    assert refused[0] == worker.page.evaluate(
        "async (id) => JSON.stringify((await (await import('/static/store.js')).getRecord(id)).record.body)",
        record["id"],
    )
    events = desk["client"].get(f"/api/work-orders/{order_id}").json()["events"]
    assert [e["action"] for e in events].count("accept") == 1
    worker.close()
