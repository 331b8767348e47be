"""The field round with no signal, in real Chromium against the real server: checks logged offline
through the check screen are kept on the phone (IndexedDB) across a browser restart, shown in the
outbox, and reach the server exactly once with every photo when the network returns. Also: the
session revoked in the middle of a sync (log in again, nothing lost) and two tabs syncing at once
(the cross-tab lock: every record and photo sent once).

Each test works as a patrol officer of its own, made through the admin API, so "the server holds
exactly N inspections" counts this test's records only. Waits are on locators and on the phone's own
state, never fixed sleeps.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
import uuid
from pathlib import Path

import httpx
import pytest
from conftest import CHROMIUM, CHROMIUM_ARGS
from phone import PHONE
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, BrowserContext, Page, expect
from test_browser_scan import label_frame, write_y4m

from qr.signing import label_url, sign

pytestmark = pytest.mark.browser

PASSWORD = "offline-round-pw-1"
SYNC_TIMEOUT_MS = 90_000

# The phone's IndexedDB as the app keeps it (web/store.js), read from the page.
RECORDS_JS = """async () => {
  const store = await import('/static/store.js');
  const rows = await store.listRecords();
  const out = [];
  for (const row of rows) {
    const photos = [];
    for (const sha of store.photoHashes(row.record)) {
      const blob = await store.getPhotoBlob(sha);
      let digest = null;
      if (blob) {
        const bytes = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
        digest = [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, '0')).join('');
      }
      photos.push({sha, digest});
    }
    out.push({id: row.id, status: row.status, code: row.code, user_id: row.user_id,
              checkpoint: row.record.checkpoint, photos,
              photos_total: row.photos_total, photos_sent: row.photos_sent});
  }
  return out;
}"""


# ---------------------------------------------------------------------------------------------
# Set-up through the real API


class Field:
    """The demo site, its facility checkpoints with signed labels, and an admin API client."""

    def __init__(self, live_server):
        self.url = live_server.url
        self.admin = httpx.Client(base_url=self.url, timeout=30)
        response = self.admin.post(
            "/api/auth/login", json={"username": "admin", "password": live_server.demo_password}
        )
        assert response.status_code == 200, response.text
        sites = self.admin.get("/api/me").json()["sites"]
        self.site = next(s for s in sites if s["code"] == "DEMO")
        page = self.admin.get(
            f"/api/sites/{self.site['id']}/checkpoints",
            params={"kind": "facility", "page_size": 40},
        ).json()
        secret = live_server.env["XUNJIAN_SECRET_KEY"].encode()
        self.checkpoints = []
        for c in page["items"]:
            signature = sign(secret, "DEMO", c["code"], c["label_version"])
            url = label_url(self.url, c["code"], c["label_version"], signature)
            self.checkpoints.append({**c, "url": url, "path": url.removeprefix(self.url)})
        assert len(self.checkpoints) >= 20, "the demo has at least 20 facility checkpoints"

    def new_patrol(self) -> dict:
        username = f"offline-{uuid.uuid4().hex[:10]}"
        response = self.admin.post(
            "/api/users",
            json={
                "username": username,
                "password": PASSWORD,
                "role": "patrol",
                "display_name": "离线测试",
                "department": "customer_service",
                "sites": ["DEMO"],
            },
        )
        assert response.status_code in (200, 201), response.text
        return {"id": response.json()["id"], "username": username, "password": PASSWORD}

    def revoke_sessions(self, user_id: int) -> int:
        response = self.admin.post(f"/api/users/{user_id}/revoke-sessions")
        assert response.status_code == 200, response.text
        return response.json()["revoked"]

    def inspections_by(self, user_id: int, checkpoint_ids: set[int]) -> list[dict]:
        """Every inspection the server holds by this person at these checkpoints."""
        found = []
        for checkpoint_id in sorted(checkpoint_ids):
            response = self.admin.get(
                "/api/inspections", params={"checkpoint": checkpoint_id, "page_size": 100}
            )
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["total"] <= 100
            found += [i for i in body["items"] if i["inspector"]["id"] == user_id]
        return found

    def inspection(self, inspection_id: str) -> dict:
        response = self.admin.get(f"/api/inspections/{inspection_id}")
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def field(live_server):
    f = Field(live_server)
    yield f
    f.admin.close()


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> list[Path]:
    """Five different camera pictures (JPEG, 1600×1200, each its own colour and mark)."""
    folder = tmp_path_factory.mktemp("camera")
    paths = []
    for i in range(5):
        image = Image.new("RGB", (1600, 1200), (40 * i + 30, 120, 200 - 30 * i))
        draw = ImageDraw.Draw(image)
        draw.rectangle((200 + 100 * i, 300, 700 + 100 * i, 900), fill=(250, 240, 20))
        draw.ellipse((900, 200 + 50 * i, 1400, 700 + 50 * i), fill=(20, 20, 20))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        path = folder / f"defect-{i}.jpg"
        path.write_bytes(buffer.getvalue())
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------------------------
# The phone


class Phone:
    """One tab of the app: log in, log checks through the check screen, read the outbox."""

    def __init__(self, page: Page, base_url: str):
        self.page = page
        self.base_url = base_url
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def open(self, path: str):
        return self.page.goto(self.base_url + path)

    def login(self, user: dict) -> None:
        expect(self.page.get_by_test_id("login-screen")).to_be_visible()
        self.page.get_by_test_id("login-username").fill(user["username"])
        self.page.get_by_test_id("login-password").fill(user["password"])
        with self.page.expect_response("**/api/auth/login"):
            self.page.get_by_test_id("login-submit").click()
        expect(self.page.get_by_test_id("login-screen")).to_have_count(0)

    def go(self, path: str) -> None:
        """Change screen inside the app, as the scanner does after reading a label."""
        self.page.evaluate(
            "path => { history.pushState(null, '', path); dispatchEvent(new PopStateEvent('popstate')); }",
            path,
        )

    def evaluate(self, script: str, arg=None):
        return self.page.evaluate(script, arg)

    def wait_until(self, script: str, arg=None, timeout_ms: int = 30_000):
        """Poll an (async) expression in the page until it is truthy; return its value."""
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            value = self.page.evaluate(script, arg)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {script}: last value {value!r}")
            self.page.wait_for_timeout(200)

    def wait_ready(self) -> None:
        """The service worker controls the page and the catalogue is on the phone."""
        self.page.wait_for_function(
            "navigator.serviceWorker.controller !== null"
            " && navigator.serviceWorker.controller.state === 'activated'"
        )
        self.wait_until(
            """async () => {
              const c = await (await import('/static/store.js')).getCatalogue();
              return Boolean(c && c.checkpoints.length && c.templates.length);
            }"""
        )

    def log_check(self, checkpoint: dict, picture: Path | None = None, scan: bool = False) -> None:
        """Open the checkpoint's label (its URL, or the scanner reading it with the camera) and save
        a check: all pass, or one failed item with a photo."""
        self.go("/app/scan" if scan else checkpoint["path"])
        screen = self.page.get_by_test_id("checkpoint-screen")
        expect(screen).to_have_attribute("data-state", "form")
        expect(self.page.get_by_test_id("checkpoint-code")).to_have_text(checkpoint["code"])
        if picture is not None:
            first = self.page.get_by_test_id("check-items").locator("> li").first
            code = first.get_attribute("data-testid").removeprefix("item-")
            self.page.get_by_test_id(f"item-{code}-fail").click()
            self.page.get_by_test_id(f"item-{code}-camera").set_input_files(str(picture))
            expect(self.page.get_by_test_id(f"item-{code}-photos").locator("img")).to_have_count(1)
            self.page.get_by_test_id(f"item-{code}-note").fill("玻璃破损")
        self.page.get_by_test_id("check-all-pass").click()
        expect(screen).to_have_attribute("data-ready", "true")
        self.page.get_by_test_id("check-save").click()
        self.page.wait_for_url("**/app/scan")

    def records(self) -> list[dict]:
        return self.page.evaluate(RECORDS_JS)

    def unsynced(self) -> int:
        return self.page.evaluate("async () => (await import('/static/store.js')).countUnsynced()")


def launch_profile(
    browser: Browser, profile: Path, camera: Path, offline: bool = False
) -> BrowserContext:
    """A Chromium with a profile directory of its own that survives closing it (a real phone's),
    whose camera films `camera` (a .y4m video)."""
    return browser.browser_type.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={camera}",
        ],
        permissions=["camera"],
        offline=offline,
        **PHONE,
    )


def first_page(context: BrowserContext) -> Page:
    return context.pages[0] if context.pages else context.new_page()


def assert_on_server(field: Field, user: dict, records: list[dict], checkpoint_ids: set[int]):
    """Exactly these records, once each, with every photo the phone took (same SHA-256)."""
    stored = field.inspections_by(user["id"], checkpoint_ids)
    assert sorted(i["id"] for i in stored) == sorted(r["id"] for r in records)
    for record in records:
        inspection = field.inspection(record["id"])
        assert inspection["inspector"]["id"] == user["id"]
        assert inspection["checkpoint"]["code"] == record["checkpoint"]
        on_server = {p["sha256"] for item in inspection["items"] for p in item["photos"]}
        on_server |= {p["sha256"] for p in inspection["photos"]}
        assert on_server == {p["sha"] for p in record["photos"]}
        for photo in record["photos"]:
            response = field.admin.get(f"/api/photos/{photo['sha']}")
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("image/jpeg")


# ---------------------------------------------------------------------------------------------
# Tests


def test_offline_round_survives_a_restart_and_syncs_exactly_once(
    browser: Browser, field: Field, pictures, tmp_path, artifacts_dir
):
    user = field.new_patrol()
    profile = tmp_path / "phone-profile"
    checkpoints = field.checkpoints[:20]
    # The camera films the first checkpoint's label.
    camera = write_y4m(label_frame(checkpoints[0]["url"]), tmp_path / "label.y4m")

    # Online once: log in, the service worker installs, the catalogue comes down.
    context = launch_profile(browser, profile, camera)
    phone = Phone(first_page(context), field.url)
    phone.open("/app/home")
    phone.login(user)
    expect(phone.page.get_by_test_id("home-screen")).to_be_visible()
    expect(phone.page.get_by_test_id("tile-outbox")).to_have_attribute("href", "/app/outbox")
    phone.wait_ready()

    # The basement: no network. 20 checks, the first 5 with a failed item and a photo; the first
    # label is read by the scanner, the others opened as the scanner opens them.
    context.set_offline(True)
    for i, checkpoint in enumerate(checkpoints):
        phone.log_check(checkpoint, pictures[i] if i < 5 else None, scan=i == 0)
    records = phone.records()
    assert len(records) == 20
    assert {r["status"] for r in records} == {"pending"}
    assert {r["user_id"] for r in records} == {user["id"]}
    with_photos = [r for r in records if r["photos"]]
    assert len(with_photos) == 5
    for record in with_photos:
        # The photo kept on the phone is the one its name says.
        assert [p["sha"] for p in record["photos"]] == [p["digest"] for p in record["photos"]]
    phone.go("/app/home")
    expect(phone.page.get_by_test_id("tile-outbox-count")).to_have_text("20")
    expect(phone.page.get_by_test_id("outbox-badge")).to_contain_text("20")
    assert phone.errors == []
    context.close()

    # The browser is closed and opened again, still with no signal: everything is still there.
    context = launch_profile(browser, profile, camera, offline=True)
    phone = Phone(first_page(context), field.url)
    response = phone.open("/app/outbox")
    assert response is not None and response.from_service_worker
    expect(phone.page.get_by_test_id("outbox-screen")).to_be_visible()
    expect(phone.page.get_by_test_id("offline-banner")).to_be_visible()
    expect(phone.page.get_by_test_id("outbox-unsynced")).to_have_text("20")
    rows = phone.page.get_by_test_id("outbox-record")
    expect(rows).to_have_count(20)
    expect(phone.page.locator("[data-testid=outbox-record][data-status=pending]")).to_have_count(20)
    expect(
        phone.page.get_by_test_id("outbox-record-photos").filter(has_text="照片 0/1")
    ).to_have_count(5)
    expect(phone.page.get_by_test_id("outbox-state")).to_have_attribute("data-state", "offline")
    expect(phone.page.get_by_test_id("outbox-record-name").first).not_to_be_empty()
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= 390
    phone.page.screenshot(path=str(artifacts_dir / "outbox-offline-390.png"))

    # The rescue path works offline: a JSON file with every unsynced record and its photos.
    with phone.page.expect_download() as download:
        phone.page.get_by_test_id("outbox-export").click()
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert sorted(r["id"] for r in exported["records"]) == sorted(r["id"] for r in records)
    exported_photos = [p for r in exported["records"] for p in r["photos"]]
    assert len(exported_photos) == 5
    for photo in exported_photos:
        assert hashlib.sha256(base64.b64decode(photo["base64"])).hexdigest() == photo["sha256"]

    # The network returns: the outbox drains by itself.
    context.set_offline(False)
    expect(phone.page.get_by_test_id("outbox-unsynced")).to_have_text("0", timeout=SYNC_TIMEOUT_MS)
    expect(phone.page.get_by_test_id("outbox-empty")).to_be_visible()
    expect(phone.page.locator("[data-testid=outbox-record][data-status=synced]")).to_have_count(20)
    expect(
        phone.page.get_by_test_id("outbox-record-photos").filter(has_text="照片 1/1")
    ).to_have_count(5)
    expect(phone.page.get_by_test_id("outbox-badge")).to_have_count(0)
    phone.page.screenshot(path=str(artifacts_dir / "outbox-synced-390.png"), full_page=False)
    assert {r["status"] for r in phone.records()} == {"synced"}

    assert_on_server(field, user, records, {c["id"] for c in checkpoints})
    # Failed items raised work orders on the server (findings) — one per failed check at least.
    failed = [field.inspection(r["id"]) for r in with_photos]
    assert all(i["work_orders"] for i in failed)

    # A second sync sends nothing again and changes nothing on the server.
    phone.page.get_by_test_id("outbox-sync").click()
    expect(phone.page.get_by_test_id("outbox-state")).to_have_attribute("data-state", "ok")
    assert_on_server(field, user, records, {c["id"] for c in checkpoints})
    assert phone.errors == []
    context.close()


def test_session_revoked_mid_sync_then_login_carries_on(
    browser: Browser, field: Field, pictures, artifacts_dir
):
    user = field.new_patrol()
    checkpoints = field.checkpoints[20:23]
    context = browser.new_context(**PHONE)
    phone = Phone(context.new_page(), field.url)
    phone.open("/app/home")
    phone.login(user)
    phone.wait_ready()

    context.set_offline(True)
    phone.log_check(checkpoints[0], pictures[0])
    phone.log_check(checkpoints[1])
    phone.log_check(checkpoints[2])
    records = phone.records()
    assert len(records) == 3

    # The session is revoked on the server after the photo went up, just before the records do.
    seen: list[int] = []

    def revoke_then_send(route):
        if not seen:
            assert field.revoke_sessions(user["id"]) >= 1
        seen.append(1)
        route.continue_()

    phone.page.route("**/api/sync", revoke_then_send)
    phone.go("/app/outbox")
    with phone.page.expect_response("**/api/sync") as answer:
        context.set_offline(False)
    assert answer.value.status == 401

    # The app asks the person to log in again; nothing was lost or marked sent.
    expect(phone.page.get_by_test_id("login-screen")).to_be_visible()
    # The login screen shows as soon as the 401 arrives; the interrupted sync then puts what it
    # was sending back to pending. Wait for it to have finished, not for a fixed time.
    phone.wait_until(
        """async () => {
          const s = (await import('/static/sync.js')).syncState();
          return !s.running && s.lastError === 'signed_out';
        }"""
    )
    assert phone.unsynced() == 3
    assert {r["status"] for r in phone.records()} == {"pending"}
    assert field.inspections_by(user["id"], {c["id"] for c in checkpoints}) == []

    phone.login(user)
    expect(phone.page.get_by_test_id("outbox-screen")).to_be_visible()
    expect(phone.page.get_by_test_id("outbox-unsynced")).to_have_text("0", timeout=SYNC_TIMEOUT_MS)
    assert {r["status"] for r in phone.records()} == {"synced"}
    assert_on_server(field, user, records, {c["id"] for c in checkpoints})
    assert phone.errors == []
    context.close()


@pytest.mark.parametrize("lock", ["web-locks", "lease"])
def test_two_tabs_send_each_record_once(browser: Browser, field: Field, pictures, lock):
    user = field.new_patrol()
    checkpoints = field.checkpoints[23:31]
    context = browser.new_context(**PHONE)
    if lock == "lease":
        # A browser without the Web Locks API: the localStorage lease keeps the tabs apart.
        context.add_init_script(
            "Object.defineProperty(Navigator.prototype, 'locks', {get: () => undefined})"
        )
    first = Phone(context.new_page(), field.url)
    first.open("/app/home")
    first.login(user)
    first.wait_ready()
    second = Phone(context.new_page(), field.url)
    second.open("/app/outbox")
    expect(second.page.get_by_test_id("outbox-screen")).to_be_visible()

    context.set_offline(True)
    for i, checkpoint in enumerate(checkpoints):
        first.log_check(checkpoint, pictures[i] if i < 2 else None)
    records = first.records()
    assert len(records) == len(checkpoints)
    expect(second.page.get_by_test_id("outbox-unsynced")).to_have_text(str(len(checkpoints)))

    # Count what each tab sends: every record id in POST /api/sync, every photo PUT.
    sent_records: list[str] = []
    sent_photos: list[str] = []

    def on_request(request):
        if request.url.endswith("/api/sync") and request.method == "POST":
            sent_records.extend(r["id"] for r in json.loads(request.post_data)["records"])
        elif "/api/photos/" in request.url and request.method == "PUT":
            sent_photos.append(request.url.rsplit("/", 1)[1])

    context.on("request", on_request)
    context.set_offline(False)
    # Both tabs are told to sync at the same moment, on top of their own `online` triggers.
    for phone in (first, second):
        phone.page.evaluate("import('/static/sync.js').then((s) => { s.syncNow({force: true}); })")
    first.go("/app/outbox")
    for phone in (first, second):
        expect(phone.page.get_by_test_id("outbox-unsynced")).to_have_text(
            "0", timeout=SYNC_TIMEOUT_MS
        )

    assert sorted(sent_records) == sorted(r["id"] for r in records)
    assert sorted(sent_photos) == sorted(p["sha"] for r in records for p in r["photos"])
    assert_on_server(field, user, records, {c["id"] for c in checkpoints})
    assert first.errors == [] and second.errors == []
    context.close()


def test_server_error_backs_off_and_a_refusal_is_kept_until_deleted(
    browser: Browser, field: Field, artifacts_dir
):
    user = field.new_patrol()
    good, forged = field.checkpoints[31], field.checkpoints[32]
    context = browser.new_context(**PHONE)
    phone = Phone(context.new_page(), field.url)
    phone.open("/app/home")
    phone.login(user)
    phone.wait_ready()

    # Offline the phone cannot check a label's signature; the server does when the record arrives.
    context.set_offline(True)
    phone.log_check(good)
    phone.log_check({**forged, "path": forged["path"].rsplit("&s=", 1)[0] + "&s=AAAAAAAAAAA"})
    records = {r["checkpoint"]: r for r in phone.records()}

    # The server answers 500: nothing is taken as delivered, the records wait and back off.
    failures: list[int] = []

    def server_error(route):
        failures.append(1)
        route.fulfill(
            status=500,
            content_type="application/json",
            body='{"error": {"code": "internal_error", "message": "boom"}}',
        )

    phone.page.route("**/api/sync", server_error)
    phone.go("/app/outbox")
    context.set_offline(False)
    expect(
        phone.page.locator("[data-testid=outbox-record] [data-testid=outbox-retry]")
    ).to_have_count(2, timeout=SYNC_TIMEOUT_MS)
    assert failures
    assert {r["status"] for r in phone.records()} == {"pending"}
    backoff = phone.evaluate(
        "async () => (await (await import('/static/store.js')).listRecords())"
        ".map((r) => [r.attempts, r.next_try_at - Date.now()])"
    )
    for attempts, wait_ms in backoff:
        assert attempts == 1 and 0 < wait_ms <= 5_000
    expect(phone.page.get_by_test_id("outbox-state")).to_have_attribute("data-state", "server")
    assert field.inspections_by(user["id"], {good["id"], forged["id"]}) == []

    # The server is well again; "retry" sends at once: one accepted, one refused with the reason.
    phone.page.unroute("**/api/sync")
    phone.page.locator(
        f"[data-testid=outbox-record][data-id='{records[good['code']]['id']}']"
    ).get_by_test_id("outbox-retry").click()
    rejected = phone.page.locator("[data-testid=outbox-record][data-status=rejected]")
    expect(rejected).to_have_count(1, timeout=SYNC_TIMEOUT_MS)
    expect(phone.page.locator("[data-testid=outbox-record][data-status=synced]")).to_have_count(1)
    expect(rejected.get_by_test_id("outbox-record-code")).to_have_text(forged["code"])
    expect(rejected.get_by_test_id("outbox-record-reason")).to_contain_text("bad_signature")
    expect(phone.page.get_by_test_id("outbox-unsynced")).to_have_text("1")
    phone.page.screenshot(path=str(artifacts_dir / "outbox-rejected-390.png"))

    # A refused record stays until the person deletes it, and deleting asks first.
    phone.page.once("dialog", lambda dialog: dialog.dismiss())
    rejected.get_by_test_id("outbox-delete").click()
    expect(rejected).to_have_count(1)
    phone.page.once("dialog", lambda dialog: dialog.accept())
    rejected.get_by_test_id("outbox-delete").click()
    expect(rejected).to_have_count(0)
    expect(phone.page.get_by_test_id("outbox-unsynced")).to_have_text("0")
    remaining = phone.records()
    assert [r["id"] for r in remaining] == [records[good["code"]]["id"]]

    stored = field.inspections_by(user["id"], {good["id"], forged["id"]})
    assert [i["id"] for i in stored] == [records[good["code"]]["id"]]

    # Logging out with an unsynced record warns first and keeps the outbox.
    context.set_offline(True)
    phone.log_check(good)
    phone.go("/app/outbox")
    expect(phone.page.get_by_test_id("outbox-unsynced")).to_have_text("1")
    # Keep it unsynced for the logout below: the server fails before the phone is back online
    # (coming online starts a sync at once, which would otherwise deliver it first).
    phone.page.route("**/api/sync", server_error)
    context.set_offline(False)
    messages: list[str] = []

    def cancel(dialog):
        messages.append(dialog.message)
        dialog.dismiss()

    # Wait until the failed attempt is over, so the tap does not race the outbox's redraw.
    expect(phone.page.get_by_test_id("outbox-state")).to_have_attribute(
        "data-state", "server", timeout=SYNC_TIMEOUT_MS
    )
    assert {r["status"] for r in phone.records() if r["checkpoint"] == good["code"]} >= {"pending"}
    phone.page.once("dialog", cancel)
    with phone.page.expect_event("dialog"):
        phone.page.get_by_test_id("logout").click()
    expect(phone.page.get_by_test_id("outbox-screen")).to_be_visible()
    assert messages and "1" in messages[0] and "未同步" in messages[0]
    phone.page.once("dialog", lambda dialog: dialog.accept())
    with phone.page.expect_response("**/api/auth/logout"):
        phone.page.get_by_test_id("logout").click()
    expect(phone.page.get_by_test_id("login-screen")).to_be_visible()
    assert phone.unsynced() == 1
    assert phone.errors == []
    context.close()


def test_background_sync_asks_the_open_app_to_sync(browser: Browser, field: Field):
    user = field.new_patrol()
    context = browser.new_context(**PHONE)
    phone = Phone(context.new_page(), field.url)
    phone.open("/app/home")
    phone.login(user)
    phone.wait_ready()
    context.set_offline(True)
    phone.log_check(field.checkpoints[33])

    # Saving offline registered a Background Sync for the outbox.
    phone.wait_until(
        """async () => {
          const registration = await navigator.serviceWorker.ready;
          return (await registration.sync.getTags()).includes('xunjian-outbox');
        }"""
    )
    phone.evaluate(
        """() => {
          window.__messages = [];
          navigator.serviceWorker.addEventListener('message', (e) => window.__messages.push(e.data));
        }"""
    )
    # The network returns and the browser fires the sync event (Chromium holds it back while the
    # worker is offline): the worker asks the open app to sync.
    context.set_offline(False)
    cdp = context.new_cdp_session(phone.page)
    registrations: list[dict] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda params: registrations.extend(params["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    phone.page.wait_for_function("true")
    deadline = time.monotonic() + 10
    while not registrations and time.monotonic() < deadline:
        phone.page.wait_for_timeout(100)
    registration = next(r for r in registrations if r["scopeURL"].startswith(field.url))
    cdp.send(
        "ServiceWorker.dispatchSyncEvent",
        {
            "origin": field.url,
            "registrationId": registration["registrationId"],
            "tag": "xunjian-outbox",
            "lastChance": False,
        },
    )
    phone.wait_until("() => window.__messages.some((m) => m && m.type === 'xunjian-sync')")
    phone.wait_until("async () => (await (await import('/static/store.js')).countUnsynced()) === 0")
    assert [r["status"] for r in phone.records()] == ["synced"]
    assert phone.errors == []
    context.close()


def test_a_shared_phone_sends_only_the_logged_in_persons_records(browser: Browser, field: Field):
    first_user, second_user = field.new_patrol(), field.new_patrol()
    checkpoints = field.checkpoints[34:36]
    context = browser.new_context(**PHONE)
    phone = Phone(context.new_page(), field.url)
    phone.open("/app/home")
    phone.login(first_user)
    phone.wait_ready()

    # The first person logs two checks; the server is down when they go off shift.
    context.set_offline(True)
    for checkpoint in checkpoints:
        phone.log_check(checkpoint)
    records = phone.records()
    phone.page.route("**/api/sync", lambda route: route.fulfill(status=503, body=""))
    context.set_offline(False)
    phone.go("/app/outbox")
    expect(phone.page.get_by_test_id("outbox-state")).to_have_attribute(
        "data-state", "server", timeout=SYNC_TIMEOUT_MS
    )
    phone.page.once("dialog", lambda dialog: dialog.accept())
    with phone.page.expect_response("**/api/auth/logout"):
        phone.page.get_by_test_id("logout").click()
    phone.page.unroute("**/api/sync")

    # The next person on the same phone: their sync runs and sends none of the first person's.
    posted: list[str] = []
    phone.page.on(
        "request",
        lambda request: (
            posted.append(request.url)
            if request.url.endswith("/api/sync") and request.method == "POST"
            else None
        ),
    )
    phone.login(second_user)
    phone.go("/app/outbox")
    expect(phone.page.get_by_test_id("outbox-unsynced")).to_have_text("0")
    phone.page.get_by_test_id("outbox-sync").click()
    expect(phone.page.get_by_test_id("outbox-state")).to_have_attribute("data-state", "ok")
    assert posted == []
    assert {(r["user_id"], r["status"]) for r in phone.records()} == {(first_user["id"], "pending")}
    ids = {c["id"] for c in checkpoints}
    assert field.inspections_by(second_user["id"], ids) == []
    assert field.inspections_by(first_user["id"], ids) == []

    # The first person is back: their records go, under their name.
    with phone.page.expect_response("**/api/auth/logout"):
        phone.page.get_by_test_id("logout").click()
    phone.login(first_user)
    phone.go("/app/outbox")
    expect(phone.page.get_by_test_id("outbox-unsynced")).to_have_text("0", timeout=SYNC_TIMEOUT_MS)
    assert {r["status"] for r in phone.records()} == {"synced"}
    assert_on_server(field, first_user, records, ids)
    assert phone.errors == []
    context.close()
