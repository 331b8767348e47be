"""Renovation permits on the phone, in real Chromium at 390×844 against the real server and demo site.

The desk registers an application on the phone (unit picked by building / floor), submits the
drawings and signs for 客服; engineering and security approve and sign through the API; then the
desk loses the network, issues the permit and starts the work (two steps queued in order in the
outbox with `queueRequest`), reloads the app still offline (the permit opens from the phone and
shows both steps waiting), and when the network returns both are sent once each, in order. The
security inspector's phone downloads the site's renovation glance with its other offline data and,
offline, the unit's check screen shows the permit at a glance with the noisy-hours banner.

Each test registers its own permit on a unit of the demo site with no permit yet.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from phone import PHONE
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser

SYNC_TIMEOUT_MS = 60_000
DEFAULT_NOISY = [["08:00", "12:00"], ["14:00", "18:00"]]

REQUESTS_JS = """async (group) => {
  const store = await import('/static/store.js');
  const rows = await store.listRequests(null, group);
  return rows.map((row) => ({id: row.id, status: row.status, code: row.code, reason: row.reason,
    attempts: row.attempts,
    path: row.record.path, label: row.record.label, client_id: row.record.body.client_id,
    body: row.record.body}));
}"""


def login_client(url: str, username: str, password: str) -> httpx.Client:
    client = httpx.Client(
        base_url=url, timeout=30, limits=httpx.Limits(max_keepalive_connections=0)
    )
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return client


@pytest.fixture(scope="module")
def clients(live_server):
    made = {
        name: login_client(live_server.url, name, live_server.demo_password)
        for name in ("dispatcher", "engineering", "inspector")
    }
    yield made
    for client in made.values():
        client.close()


def free_unit(client: httpx.Client, site_id: int, taken: set[int]) -> dict:
    """An occupied unit of the demo site with no permit (and not used by another test)."""
    catalogue = client.get("/api/catalogue").json()
    buildings = sorted(
        (b for b in catalogue["buildings"] if b["site_id"] == site_id), key=lambda b: b["code"]
    )
    for building in reversed(buildings):
        floors = sorted(
            (f for f in catalogue["floors"] if f["building_id"] == building["id"]),
            key=lambda f: -f["level"],
        )
        for floor in floors:
            response = client.get(f"/api/floors/{floor['id']}/units")
            assert response.status_code == 200, response.text
            for unit in response.json():
                if (
                    unit["status"] == "occupied"
                    and unit["permit_id"] is None
                    and unit["id"] not in taken
                ):
                    taken.add(unit["id"])
                    return {"building": building, "floor": floor, "unit": unit}
    raise AssertionError("no free unit on the demo site")


class Phone:
    def __init__(self, browser: Browser, base_url: str):
        self.context = browser.new_context(**PHONE)
        self.page: Page = self.context.new_page()
        self.base_url = base_url
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        # Steps ask "are you sure?": the person says yes.
        self.page.on("dialog", lambda dialog: dialog.accept())

    def login(self, username: str, password: str) -> None:
        self.page.goto(self.base_url + "/app/home")
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

    def go(self, path: str) -> None:
        """Change screen the way an in-app link does (works offline)."""
        self.page.evaluate(
            "(path) => { history.pushState(null, '', path);"
            " dispatchEvent(new PopStateEvent('popstate')); }",
            path,
        )

    def wait_until(self, script: str, arg=None, timeout_ms: int = SYNC_TIMEOUT_MS):
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            value = self.page.evaluate(script, arg)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {script}: last value {value!r}")
            self.page.wait_for_timeout(200)

    def requests(self, group: str | None = None) -> list[dict]:
        return self.page.evaluate(REQUESTS_JS, group)

    def close(self) -> None:
        assert not self.errors, self.errors
        self.context.close()


def step_button(page: Page, step: str, department: str | None = None):
    selector = f'[data-testid="ren-step-{step}"]'
    if department:
        selector += f'[data-department="{department}"]'
    return page.locator(selector)


def assert_thumb_sized(locator) -> None:
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    assert box is not None and box["height"] >= 48 and box["width"] >= 300, box


def noisy_expected(timezone: str, windows) -> set[bool]:
    """Allowed now by the site's clock (both answers around a minute's edge)."""
    out = set()
    for _ in range(2):
        now = datetime.now(ZoneInfo(timezone)).strftime("%H:%M")
        out.add(any(a <= now < b for a, b in windows))
    return out


def test_desk_registers_issues_offline_once_and_the_check_screen_shows_the_glance_offline(
    browser: Browser, live_server, clients, artifacts_dir
):
    desk_api = clients["dispatcher"]
    me = desk_api.get("/api/me").json()
    site = next(s for s in me["sites"] if s["code"] == "DEMO")
    picked = free_unit(desk_api, site["id"], set())
    owner = f"张伟{uuid.uuid4().hex[:4]}"

    desk = Phone(browser, live_server.url)
    desk.login("dispatcher", live_server.demo_password)
    page = desk.page

    # Home → renovations → register.
    page.get_by_test_id("tile-renovations").click()
    expect(page.get_by_test_id("ren-list")).to_have_attribute("data-source", "server")
    page.screenshot(path=str(artifacts_dir / "renovations-list-390.png"))
    page.get_by_test_id("ren-new").click()
    expect(page.get_by_test_id("ren-new-screen")).to_be_visible()
    page.get_by_test_id("ren-building").select_option(str(picked["building"]["id"]))
    page.get_by_test_id("ren-floor").select_option(str(picked["floor"]["id"]))
    unit_button = page.locator(f'[data-testid="ren-unit"][data-id="{picked["unit"]["id"]}"]')
    expect(unit_button).to_be_enabled()
    unit_button.click()
    expect(unit_button).to_have_attribute("aria-checked", "true")
    # Units that already have a permit cannot be picked.
    busy = page.locator('[data-testid="ren-unit"][disabled]')
    for i in range(busy.count()):
        expect(busy.nth(i)).to_be_disabled()
    page.get_by_test_id("ren-owner-name").fill(owner)
    page.get_by_test_id("ren-owner-phone").fill("13812345678")
    page.get_by_test_id("ren-area").fill("96.5")
    page.get_by_test_id("ren-company").fill("安居装饰工程有限公司")
    page.get_by_test_id("ren-person").fill("王师傅")
    page.get_by_test_id("ren-person-phone").fill("13900001111")
    page.get_by_test_id("ren-owner-deposit").fill("2000")
    page.get_by_test_id("ren-contractor-deposit").fill("5000")
    page.screenshot(path=str(artifacts_dir / "renovations-new-390.png"), full_page=True)
    page.get_by_test_id("ren-submit").click()

    # Registered (through the outbox, online: sent at once) → the permit's page.
    expect(page.get_by_test_id("ren-detail")).to_have_attribute(
        "data-source", "server", timeout=20_000
    )
    permit_id = int(page.url.rstrip("/").rsplit("/", 1)[-1])
    permit = desk_api.get(f"/api/renovations/{permit_id}").json()
    assert permit["owner_name"] == owner
    assert permit["unit"]["id"] == picked["unit"]["id"]
    assert permit["status"] == "applied"
    assert permit["owner_deposit"] == 200_000 and permit["contractor_deposit"] == 500_000
    assert permit["area_m2"] == 96.5
    expect(page.get_by_test_id("ren-status")).to_have_attribute("data-status", "applied")
    expect(page.get_by_test_id("ren-contractor-deposit")).to_have_text("5,000 元")

    # Submit the drawings (one big button, "are you sure?" accepted).
    button = step_button(page, "submit-drawings")
    assert_thumb_sized(button)
    button.click()
    expect(page.get_by_test_id("ren-status")).to_have_attribute(
        "data-status", "drawings_review", timeout=20_000
    )
    expect(page.get_by_test_id("ren-queued")).to_have_count(0, timeout=20_000)

    # Engineering approves the drawings and signs; security signs (their own phones: the API).
    for client, path, body in (
        (clients["engineering"], "approve-drawings", {}),
        (clients["engineering"], "sign", {"department": "engineering"}),
        (clients["inspector"], "sign", {"department": "security"}),
    ):
        response = client.post(
            f"/api/renovations/{permit_id}/{path}", json={**body, "client_id": str(uuid.uuid4())}
        )
        assert response.status_code == 200, response.text
    page.reload()
    expect(page.get_by_test_id("ren-detail")).to_have_attribute("data-source", "server")
    # Issuing needs 客服's signature still: the button says what is missing.
    expect(step_button(page, "issue")).to_be_disabled()
    expect(page.get_by_test_id("ren-issue-missing")).to_contain_text("三部门会签")
    step_button(page, "sign", "customer_service").click()
    expect(
        page.locator('[data-testid="ren-signature"][data-dept="customer_service"]')
    ).to_have_attribute("data-signed", "true", timeout=20_000)
    expect(step_button(page, "issue")).to_be_enabled()
    page.screenshot(path=str(artifacts_dir / "renovations-permit-390.png"), full_page=True)

    # Offline: issue and start. Both wait on the phone, in order; the page shows where they lead.
    desk.context.set_offline(True)
    step_button(page, "issue").click()
    expect(page.get_by_test_id("ren-status")).to_have_attribute("data-status", "permit_issued")
    expect(page.get_by_test_id("ren-status")).to_contain_text("待同步")
    step_button(page, "start").click()
    expect(page.get_by_test_id("ren-status")).to_have_attribute("data-status", "in_progress")
    expect(page.get_by_test_id("ren-queued-item")).to_have_count(2)
    page.screenshot(path=str(artifacts_dir / "renovations-permit-offline-390.png"))
    group = f"renovation:{permit_id}"
    waiting = [r for r in desk.requests(group) if r["status"] != "synced"]
    assert [r["path"].rsplit("/", 1)[-1] for r in waiting] == ["issue", "start"]
    assert all(r["status"] == "pending" for r in waiting)
    assert all(r["client_id"] == r["id"] for r in waiting)
    # The outbox screen lists them with their labels.
    desk.go("/app/outbox")
    rows = page.locator('[data-testid="outbox-record"][data-kind="request"][data-status="pending"]')
    expect(rows).to_have_count(2)
    expect(rows.get_by_test_id("outbox-record-name").first).to_contain_text(
        picked["unit"]["number"]
    )

    # A reload with no network: the permit opens from the phone, both steps still waiting.
    page.reload()
    desk.go(f"/app/renovations/{permit_id}")
    expect(page.get_by_test_id("ren-detail")).to_have_attribute("data-source", "cache")
    expect(page.get_by_test_id("ren-queued-item")).to_have_count(2)
    assert desk_api.get(f"/api/renovations/{permit_id}").json()["status"] == "drawings_review"

    # Online again: both sent, in order, once each.
    desk.context.set_offline(False)
    page.evaluate("async () => (await import('/static/sync.js')).syncNow({force: true})")
    desk.wait_until(
        """async (group) => {
          const store = await import('/static/store.js');
          const rows = await store.listRequests(null, group);
          return rows.length >= 4 && rows.every((row) => row.status === 'synced');
        }""",
        group,
    )
    permit = desk_api.get(f"/api/renovations/{permit_id}").json()
    assert permit["status"] == "in_progress"
    actions = [e["action"] for e in permit["timeline"]]
    assert actions.count("issue") == 1 and actions.count("start") == 1
    assert actions.index("issue") < actions.index("start")
    expect(page.get_by_test_id("ren-status")).to_have_attribute(
        "data-status", "in_progress", timeout=20_000
    )
    expect(page.get_by_test_id("ren-status")).not_to_contain_text("待同步")
    # Sent again with the same client_id (a retry after a lost answer): answered, stored once.
    issue = next(r for r in desk.requests(group) if r["path"].endswith("/issue"))
    again = desk_api.post(f"/api/renovations/{permit_id}/issue", json=issue["body"])
    assert again.status_code == 200 and again.headers.get("x-replayed") == "1"
    actions = [
        e["action"] for e in desk_api.get(f"/api/renovations/{permit_id}").json()["timeline"]
    ]
    assert actions.count("issue") == 1

    # A worker registered on the phone: ID shown masked.
    page.get_by_test_id("ren-add-worker").click()
    page.get_by_test_id("ren-worker-name").fill("李四")
    page.get_by_test_id("ren-worker-id").fill("110101199001011234")
    page.get_by_test_id("ren-worker-pass").fill("P-0099")
    page.get_by_test_id("ren-add-worker-save").click()
    worker = page.get_by_test_id("ren-worker")
    expect(worker).to_have_count(1, timeout=20_000)
    expect(worker).to_contain_text("1234")
    expect(worker).not_to_contain_text("110101199001011234")

    # An extension asked for on the phone: the form, then the request waiting for engineering.
    page.get_by_test_id("ren-add-extension").click()
    page.get_by_test_id("ren-ext-until").fill("2027-04-30")
    page.get_by_test_id("ren-ext-reason").fill("业主追加厨房改造")
    page.get_by_test_id("ren-ext-fee").fill("300")
    page.get_by_test_id("ren-form-extension").screenshot(
        path=str(artifacts_dir / "renovations-extension-form-390.png")
    )
    page.get_by_test_id("ren-add-extension-save").click()
    expect(page.get_by_test_id("ren-extension")).to_have_attribute(
        "data-status", "requested", timeout=20_000
    )
    extensions = desk_api.get(f"/api/renovations/{permit_id}").json()["extensions"]
    assert [(x["requested_until"], x["fee"], x["status"]) for x in extensions] == [
        ("2027-04-30", 30_000, "requested")
    ]
    # One open request at a time: no second form.
    expect(page.get_by_test_id("ren-add-extension")).to_have_count(0)
    desk.close()

    # The security inspector's phone: the unit's checkpoint and the glance come with the sync.
    permit = desk_api.get(f"/api/renovations/{permit_id}").json()
    checkpoint_id = permit["checkpoint_id"]
    assert checkpoint_id
    glance_response = clients["inspector"].get(f"/api/renovations/glance?site={site['id']}")
    inspector = Phone(browser, live_server.url)
    inspector.login("inspector", live_server.demo_password)
    ipage = inspector.page
    code = inspector.wait_until(
        """async (id) => {
          const store = await import('/static/store.js');
          const c = await store.getCatalogue();
          const cp = c && c.checkpoints.find((x) => x.id === id);
          return cp ? cp.code : null;
        }""",
        checkpoint_id,
    )
    if glance_response.status_code == 404:
        # The glance endpoint is not in this build: the card says the data is not there.
        inspector.context.set_offline(True)
        inspector.go(f"/c/{code}?manual=1")
        expect(ipage.get_by_test_id("renovation-glance")).to_have_attribute("data-state", "missing")
        inspector.close()
        pytest.fail("GET /api/renovations/glance is missing (404): the glance cannot be shown")
    assert glance_response.status_code == 200, glance_response.text
    inspector.wait_until(
        """async (site) => {
          const store = await import('/static/store.js');
          return Boolean(await store.getCached('glance', JSON.parse(localStorage.getItem('xunjian.me')).id, site));
        }""",
        site["id"],
    )
    inspector.context.set_offline(True)
    inspector.go(f"/c/{code}?manual=1")
    card = ipage.get_by_test_id("renovation-glance")
    expect(card).to_have_attribute("data-state", "cached")
    expect(card).to_have_attribute("data-permit", str(permit_id))
    expect(card.get_by_test_id("glance-valid")).to_contain_text(permit["ends_on"])
    expect(card.get_by_test_id("glance-status")).to_have_text("施工中")
    expect(card.get_by_test_id("glance-postings")).to_contain_text("施工许可证")
    expect(card.get_by_test_id("glance-worker")).to_have_count(1)
    expect(card.get_by_test_id("glance-worker")).to_contain_text("李四")
    expect(card.get_by_test_id("glance-today").locator("li")).to_have_count(3)
    row = next(
        r
        for r in (
            glance_response.json()
            if isinstance(glance_response.json(), list)
            else glance_response.json().get("permits") or list(glance_response.json().values())
        )
        if isinstance(r, dict) and r.get("checkpoint_id") == checkpoint_id
    )
    windows = row.get("noisy_hours") or DEFAULT_NOISY
    allowed = card.get_by_test_id("glance-noisy").get_attribute("data-allowed") == "true"
    assert allowed in noisy_expected(site["timezone"], windows)
    expect(card.get_by_test_id("glance-noisy")).to_contain_text(
        "现在是允许噪音施工时段" if allowed else "现在禁止噪音施工"
    )
    # Then the inspector's own department's checklist, as on any check.
    expect(ipage.get_by_test_id("check-items")).to_be_visible()
    ipage.screenshot(path=str(artifacts_dir / "renovations-glance-390.png"))
    card.screenshot(path=str(artifacts_dir / "renovations-glance-card-390.png"))
    security = card.locator('[data-dept="security"]')
    assert security.get_attribute("data-status") != "done"

    # All pass, saved offline: back on the unit, security's round shows done (on this phone).
    ipage.get_by_test_id("check-all-pass").click()
    ipage.get_by_test_id("check-save").click()
    expect(ipage.get_by_test_id("check-saved")).to_be_visible()
    inspector.go(f"/c/{code}?manual=1")
    card = ipage.get_by_test_id("renovation-glance")
    expect(card).to_have_attribute("data-state", "cached")
    expect(card.locator('[data-dept="security"]')).to_have_attribute("data-status", "done")
    expect(card.locator('[data-dept="security"]')).to_contain_text("本机")
    inspector.close()


def test_queued_requests_wait_for_their_group_back_off_on_5xx_and_end_on_4xx(
    browser: Browser, live_server, clients
):
    """queueRequest's rules on their own: a 5xx answer backs off and holds back the later requests
    of its group (not other groups); a 4xx answer is final ("rejected", with the server's message)
    and does not hold back the rest of the group."""
    phone = Phone(browser, live_server.url)
    phone.login("dispatcher", live_server.demo_password)
    # The glance's clock rules: windows are [from, to), the day and time are the site's.
    rules = phone.page.evaluate(
        """async () => {
          const g = await import('/static/pages/renovation_glance.js');
          const w = [['08:00', '12:00'], ['14:00', '18:00']];
          const at = Date.parse('2026-11-23T16:30:00Z');  // 00:30 on the 24th in Shanghai
          return {
            allowed: ['07:59', '08:00', '11:59', '12:00', '13:30', '14:00', '17:59', '18:00']
              .map((time) => g.noisyAllowed(w, time)),
            shanghai: g.siteClock('Asia/Shanghai', new Date(at)),
            utc: g.siteClock('UTC', new Date(at)),
            left: [g.daysBetween('2026-11-24', '2027-02-24'), g.daysBetween('2026-11-24', '2026-11-23')],
          };
        }"""
    )
    assert rules == {
        "allowed": [False, True, True, False, False, True, True, False],
        "shanghai": {"today": "2026-11-24", "time": "00:30"},
        "utc": {"today": "2026-11-23", "time": "16:30"},
        "left": [92, -1],
    }
    group = f"test:{uuid.uuid4().hex[:8]}"
    seen: list[str] = []

    def unavailable(route):
        seen.append(route.request.url)
        route.fulfill(status=503, body="")

    first = "**/api/renovations/2147483000/start"
    phone.page.route(first, unavailable)
    phone.page.route(
        "**/api/renovations/2147483001/start",
        lambda route: (seen.append(route.request.url), route.continue_()),
    )
    ids = phone.page.evaluate(
        """async (group) => {
          const store = await import('/static/store.js');
          const q = (path, label, g) => store.queueRequest({path, body: {}, group: g, label});
          return [
            await q('/api/renovations/2147483000/start', 'A', group),
            await q('/api/renovations/2147483001/start', 'B', group),
            await q('/api/renovations', 'C', group + '-other'),
          ];
        }""",
        group,
    )
    phone.page.evaluate("async () => (await import('/static/sync.js')).syncNow({force: true})")
    # A is backing off; B (same group) waits behind it, unsent; C (another group) went on.
    phone.wait_until(
        """async (group) => {
          const store = await import('/static/store.js');
          const rows = await store.listRequests(null, group);
          const other = await store.listRequests(null, group + '-other');
          return rows[0].attempts >= 1 && rows[0].next_try_at > Date.now()
            && other[0].status === 'rejected';
        }""",
        group,
    )
    rows = phone.requests(group)
    assert [r["status"] for r in rows] == ["pending", "pending"]
    assert rows[1]["attempts"] == 0
    assert seen and {u.rsplit("/", 2)[-2] for u in seen} == {"2147483000"}
    [other] = phone.requests(f"{group}-other")
    assert other["code"] == "validation_error" or other["code"].startswith("invalid")
    assert other["reason"]

    # The server is back: A is refused for good (no such permit), then B is sent and refused too.
    phone.page.unroute(first)
    phone.page.evaluate("async () => (await import('/static/sync.js')).syncNow({force: true})")
    phone.wait_until(
        """async (group) => {
          const store = await import('/static/store.js');
          const rows = await store.listRequests(null, group);
          return rows.every((row) => row.status === 'rejected');
        }""",
        group,
    )
    rows = phone.requests(group)
    assert [r["id"] for r in rows] == ids[:2]
    assert [r["code"] for r in rows] == ["not_found", "not_found"]
    assert all(r["reason"] for r in rows)
    assert len([u for u in seen if "/2147483001/" in u]) == 1
    # The outbox shows them refused, with their labels and the reason.
    phone.go("/app/outbox")
    refused = phone.page.locator(
        '[data-testid="outbox-record"][data-kind="request"][data-status="rejected"]'
    )
    expect(refused).to_have_count(3)
    expect(refused.get_by_test_id("outbox-record-reason").first).not_to_be_empty()
    phone.close()


def test_a_registration_taken_offline_is_shown_waiting_and_stored_once_when_back_online(
    browser: Browser, live_server, clients
):
    desk_api = clients["dispatcher"]
    me = desk_api.get("/api/me").json()
    site = next(s for s in me["sites"] if s["code"] == "DEMO")
    picked = free_unit(desk_api, site["id"], set())
    owner = f"赵敏{uuid.uuid4().hex[:4]}"
    desk = Phone(browser, live_server.url)
    desk.login("dispatcher", live_server.demo_password)
    page = desk.page
    desk.go("/app/renovations/new")
    page.get_by_test_id("ren-building").select_option(str(picked["building"]["id"]))
    page.get_by_test_id("ren-floor").select_option(str(picked["floor"]["id"]))
    unit_button = page.locator(f'[data-testid="ren-unit"][data-id="{picked["unit"]["id"]}"]')
    expect(unit_button).to_be_enabled()

    desk.context.set_offline(True)
    unit_button.click()
    page.get_by_test_id("ren-owner-name").fill(owner)
    # Required fields are said before anything is queued.
    page.get_by_test_id("ren-starts-on").fill("")
    page.get_by_test_id("ren-submit").click()
    expect(page.get_by_test_id("ren-form-error")).to_contain_text("开始日期")
    assert desk.requests() == []
    page.get_by_test_id("ren-starts-on").fill("2026-12-01")
    page.get_by_test_id("ren-submit").click()
    expect(page.get_by_test_id("ren-list")).to_be_visible()
    card = page.get_by_test_id("ren-local-card")
    expect(card).to_have_count(1)
    expect(card).to_contain_text(picked["unit"]["number"])
    [queued] = desk.requests()
    assert queued["status"] == "pending" and queued["path"] == "/api/renovations"
    assert queued["body"]["owner_name"] == owner and queued["body"]["starts_on"] == "2026-12-01"
    assert not [
        p
        for p in desk_api.get(f"/api/renovations?site={site['id']}").json()
        if p["owner_name"] == owner
    ]

    desk.context.set_offline(False)
    page.evaluate("async () => (await import('/static/sync.js')).syncNow({force: true})")
    desk.wait_until(
        """async () => {
          const store = await import('/static/store.js');
          const rows = await store.listRequests();
          return rows.length === 1 && rows[0].status === 'synced';
        }"""
    )
    made = [
        p
        for p in desk_api.get(f"/api/renovations?site={site['id']}").json()
        if p["owner_name"] == owner
    ]
    assert len(made) == 1 and made[0]["unit"]["id"] == picked["unit"]["id"]
    assert made[0]["status"] == "applied"
    # The same registration sent again (its answer lost): a replay, still one permit.
    again = desk_api.post("/api/renovations", json=queued["body"])
    assert again.status_code == 200 and again.headers.get("x-replayed") == "1"
    assert again.json()["id"] == made[0]["id"]
    # The floor's units for the picker now show the unit taken; a floor that is not there: 404.
    units = desk_api.get(f"/api/floors/{picked['floor']['id']}/units").json()
    [unit] = [u for u in units if u["id"] == picked["unit"]["id"]]
    assert unit["permit_id"] == made[0]["id"] and unit["permit_status"] == "applied"
    assert desk_api.get("/api/floors/2147483000/units").status_code == 404
    desk.close()


def test_engineering_reviews_and_the_manager_approves_an_extension_on_their_phones(
    browser: Browser, live_server, clients
):
    desk_api = clients["dispatcher"]
    me = desk_api.get("/api/me").json()
    site = next(s for s in me["sites"] if s["code"] == "DEMO")
    picked = free_unit(desk_api, site["id"], set())

    def post(client, path, body=None):
        response = client.post(path, json={**(body or {}), "client_id": str(uuid.uuid4())})
        assert response.status_code in (200, 201), response.text
        return response.json()

    permit = post(
        desk_api,
        "/api/renovations",
        {
            "site": site["id"],
            "unit": picked["unit"]["id"],
            "owner_name": "周杰",
            "starts_on": "2026-11-20",
        },
    )
    pid = permit["id"]
    post(desk_api, f"/api/renovations/{pid}/submit-drawings")
    post(clients["engineering"], f"/api/renovations/{pid}/approve-drawings")
    for client, dept in (
        (desk_api, "customer_service"),
        (clients["engineering"], "engineering"),
        (clients["inspector"], "security"),
    ):
        post(client, f"/api/renovations/{pid}/sign", {"department": dept})
    post(desk_api, f"/api/renovations/{pid}/issue")
    post(
        desk_api,
        f"/api/renovations/{pid}/extensions",
        {"requested_until": "2027-03-31", "reason": "材料延期到货"},
    )

    engineer = Phone(browser, live_server.url)
    engineer.login("engineering", live_server.demo_password)
    engineer.go(f"/app/renovations/{pid}")
    extension = engineer.page.get_by_test_id("ren-extension")
    expect(extension).to_have_attribute("data-status", "requested")
    engineer.page.get_by_test_id("ren-ext-review").click()
    expect(extension).to_have_attribute("data-status", "reviewed", timeout=20_000)
    # Approving is the manager's: nothing more for engineering on it.
    expect(engineer.page.get_by_test_id("ren-ext-approve")).to_have_count(0)
    engineer.close()

    manager = Phone(browser, live_server.url)
    manager.login("manager", live_server.demo_password)
    manager.go(f"/app/renovations/{pid}")
    extension = manager.page.get_by_test_id("ren-extension")
    expect(extension).to_have_attribute("data-status", "reviewed")
    manager.page.get_by_test_id("ren-ext-approve").click()
    expect(extension).to_have_attribute("data-status", "approved", timeout=20_000)
    expect(manager.page.get_by_test_id("ren-head-period")).to_contain_text("2027-03-31")
    after = desk_api.get(f"/api/renovations/{pid}").json()
    assert after["ends_on"] == "2027-03-31"
    assert [x["status"] for x in after["extensions"]] == ["approved"]
    manager.close()
