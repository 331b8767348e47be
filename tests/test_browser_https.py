"""The app over HTTPS from the local CA (`xunjian serve --tls`), in real Chromium on a phone.

Chromium is told to trust the server's key and nothing else: --ignore-certificate-errors-spki-list
with the SHA-256 of the generated server key (the flag needs a profile directory of its own, so the
browser runs on a fresh persistent profile). A Chromium without the flag is refused first, so the
trust really comes from the certificate. Then the page must be a secure context, the service
worker must register and control the page after a reload, and the fake camera showing a real
signed label must open its checkpoint.
"""

from __future__ import annotations

import httpx
import pytest
from conftest import CHROMIUM, CHROMIUM_ARGS, demo_server
from phone import PHONE
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect
from test_browser_scan import (
    DECODE_TIMEOUT_MS,
    RECORDER,
    assert_camera_released,
    decoders,
    label_frame,
    label_path_re,
    write_y4m,
)
from tls_server import Server

from qr.signing import label_url, sign
from server import tls

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def https_server(settings, migrated, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("https-data")
    prepared = demo_server(
        settings.database_url, data_dir, settings.secret_key, settings.demo_password
    )
    server = Server(prepared.env, tls=True, data_dir=data_dir)
    server.env = {**prepared.env, "XUNJIAN_BASE_URL": server.url}
    server.password = settings.demo_password
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def label(https_server) -> dict:
    with httpx.Client(
        base_url=https_server.url, verify=https_server.trusting_context(), timeout=10
    ) as client:
        response = client.post(
            "/api/auth/login", json={"username": "manager", "password": https_server.password}
        )
        assert response.status_code == 200, response.text
        site = client.get("/api/me").json()["sites"][0]
        items = client.get(f"/api/sites/{site['id']}/checkpoints", params={"page_size": 1})
    checkpoint = items.json()["items"][0]
    code, version = checkpoint["code"], checkpoint["label_version"]
    signature = sign(https_server.env["XUNJIAN_SECRET_KEY"].encode(), "DEMO", code, version)
    return {
        "code": code,
        "version": version,
        "signature": signature,
        "url": label_url(https_server.url, code, version, signature),
    }


def test_app_over_https_is_secure_registers_its_worker_and_scans(
    browser, https_server, label, tmp_path, artifacts_dir
):
    leaf = tls.load_certificate(https_server.data_dir / "tls" / "server.crt")
    spki = tls.spki_sha256_base64(leaf)
    camera = write_y4m(label_frame(label["url"]), tmp_path / "camera.y4m")
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={camera}",
    ]
    # The session's Playwright launches both (a second sync Playwright in one process is refused).
    chromium = browser.browser_type
    # Without the server's key trusted, Chromium refuses the certificate.
    untrusting = chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    try:
        page = untrusting.new_page()
        with pytest.raises(PlaywrightError, match="ERR_CERT_AUTHORITY_INVALID"):
            page.goto(https_server.url + "/app/home")
    finally:
        untrusting.close()

    context = chromium.launch_persistent_context(
        str(tmp_path / "profile"),
        executable_path=CHROMIUM,
        headless=True,
        args=[*args, f"--ignore-certificate-errors-spki-list={spki}"],
        permissions=["camera"],
        **PHONE,
    )
    try:
        context.add_init_script(RECORDER)
        page = context.pages[0] if context.pages else context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        resolves: list[int] = []
        page.on(
            "response",
            lambda r: resolves.append(r.status) if r.url.endswith("/api/scan/resolve") else None,
        )

        page.goto(https_server.url + "/app/home")
        assert page.evaluate("window.isSecureContext") is True
        assert page.evaluate("location.protocol") == "https:"
        expect(page.get_by_test_id("login-screen")).to_be_visible()
        page.get_by_test_id("login-username").fill("patrol")
        page.get_by_test_id("login-password").fill(https_server.password)
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("home-screen")).to_be_visible()

        # The service worker registers over HTTPS and controls the page after a reload.
        scope = page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)")
        assert scope == https_server.url + "/"
        page.reload()
        expect(page.get_by_test_id("home-screen")).to_be_visible()
        page.wait_for_function(
            "navigator.serviceWorker.controller !== null"
            " && navigator.serviceWorker.controller.state === 'activated'"
        )
        assert page.evaluate("navigator.serviceWorker.controller.scriptURL") == (
            https_server.url + "/sw.js"
        )

        # The camera works in the secure context: the label opens its checkpoint.
        assert page.evaluate("typeof navigator.mediaDevices?.getUserMedia") == "function"
        page.get_by_test_id("tile-scan").click()
        expect(page).to_have_url(label_path_re(label), timeout=DECODE_TIMEOUT_MS)
        expect(page.get_by_test_id("checkpoint-code")).to_have_text(label["code"])
        assert resolves == [200]
        assert decoders(page)[-1] in ("jsqr", "barcode-detector")
        assert_camera_released(page)
        page.screenshot(path=str(artifacts_dir / "https-checkpoint-390.png"))
        assert errors == []

        # The CA page, as a phone shows it: the fingerprint to compare and both downloads.
        page.goto(https_server.url + "/ca")
        ca = tls.load_certificate(https_server.ca_path)
        expect(page.get_by_test_id("ca-fingerprint")).to_have_text(tls.fingerprint(ca))
        expect(page.get_by_test_id("ca-download")).to_have_attribute("href", "/ca.crt")
        expect(page.get_by_test_id("ca-download-ios")).to_be_visible()
        page.screenshot(path=str(artifacts_dir / "https-ca-page-390.png"), full_page=True)
    finally:
        context.close()
