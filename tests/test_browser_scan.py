"""The in-app scanner (/app/scan) in real Chromium with a fake camera that shows a printed label.

Chromium's fake capture device plays a .y4m file; the file is a launch flag, so each camera picture
gets a Chromium of its own (launched from the session's Playwright). The labels are real: a demo
checkpoint's code signed with the live server's secret, so /api/scan/resolve really verifies them.

Headless Chromium on Linux has no BarcodeDetector, so these tests exercise the jsQR worker; the
scanner root's data-decoder attribute says which decoder ran and the tests record it.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from conftest import CHROMIUM, CHROMIUM_ARGS
from phone import PHONE
from PIL import Image, ImageDraw, ImageFilter
from playwright.sync_api import Browser, Page, expect

from qr.signing import label_url, sign

pytestmark = pytest.mark.browser

FRAME = (640, 480)
GREY = 128
DECODE_TIMEOUT_MS = 15_000

# Recorded in the page before the app runs: which decoder the scanner used, and every camera
# stream it opened (to check that leaving the screen lets the camera go).
RECORDER = """
window.__scan = { decoders: [], streams: [] };
new MutationObserver((records) => {
  for (const r of records) window.__scan.decoders.push(r.target.getAttribute('data-decoder'));
}).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-decoder'] });
if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
  const open = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    const stream = await open(constraints);
    window.__scan.streams.push(stream);
    return stream;
  };
}
"""


# ---------------------------------------------------------------------------------------------
# Camera pictures


def qr_image(text: str, box: int = 6) -> Image.Image:
    import qrcode

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box, border=4)
    qr.add_data(text)
    qr.make(fit=True)
    return qr.make_image(fill_color="black", back_color="white").get_image().convert("L")


def label_frame(text: str, *, dim: bool = False, angle: float = 0.0) -> Image.Image:
    """A white label with the QR code on a grey wall, 640×480; optionally dim, flat and tilted."""
    code = qr_image(text)
    label = Image.new("L", (code.width + 40, code.height + 70), 255)
    label.paste(code, (20, 20))
    ImageDraw.Draw(label).rectangle(
        (20, code.height + 30, code.width + 20, code.height + 50), fill=90
    )
    if angle:
        label = label.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=GREY)
    frame = Image.new("L", FRAME, GREY)
    frame.paste(label, ((FRAME[0] - label.width) // 2, (FRAME[1] - label.height) // 2))
    if dim:
        # A stairwell: black prints as 55, white as 105 (contrast 50/255), slightly out of focus.
        frame = frame.point(lambda v: 55 + v * 50 // 255).filter(ImageFilter.GaussianBlur(0.8))
    return frame.convert("RGB")


def write_y4m(image: Image.Image, path: Path, frames: int = 3) -> Path:
    """YUV4MPEG2 4:2:0 (what --use-file-for-fake-video-capture plays, looping)."""
    width, height = image.size
    y, cb, cr = image.convert("YCbCr").split()
    half = (width // 2, height // 2)
    planes = (
        y.tobytes() + cb.resize(half, Image.BOX).tobytes() + cr.resize(half, Image.BOX).tobytes()
    )
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for _ in range(frames):
            out.write(b"FRAME\n" + planes)
    return path


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def demo_label(live_server) -> dict:
    """A real demo checkpoint and its current, correctly signed label URL."""
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        response = client.post(
            "/api/auth/login", json={"username": "manager", "password": live_server.demo_password}
        )
        assert response.status_code == 200, response.text
        site = client.get("/api/me").json()["sites"][0]
        items = client.get(f"/api/sites/{site['id']}/checkpoints", params={"page_size": 1}).json()
    checkpoint = items["items"][0]
    code, version = checkpoint["code"], checkpoint["label_version"]
    secret = live_server.env["XUNJIAN_SECRET_KEY"].encode()
    signature = sign(secret, "DEMO", code, version)
    return {
        "code": code,
        "version": version,
        "signature": signature,
        "url": label_url(live_server.url, code, version, signature),
        "site_id": site["id"],
    }


@pytest.fixture
def camera(browser: Browser, tmp_path):
    """camera(image) → a Chromium whose camera shows `image` (the session's Playwright launches it)."""
    launched: list[Browser] = []

    def launch(image: Image.Image | None, *, fake_ui: bool = True) -> Browser:
        args = [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream"]
        if image is not None:
            video = write_y4m(image, tmp_path / f"camera-{len(launched)}.y4m")
            args.append(f"--use-file-for-fake-video-capture={video}")
        if fake_ui:
            args.append("--use-fake-ui-for-media-stream")
        instance = browser.browser_type.launch(executable_path=CHROMIUM, headless=True, args=args)
        launched.append(instance)
        return instance

    yield launch
    for instance in launched:
        instance.close()


def open_page(instance: Browser, *, permissions=("camera",)) -> Page:
    context = instance.new_context(**PHONE, permissions=list(permissions))
    context.add_init_script(RECORDER)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # checked by the tests
    return page


def login_to(page: Page, live_server, path: str, username: str = "patrol") -> None:
    page.goto(live_server.url + path)
    expect(page.get_by_test_id("login-screen")).to_be_visible()
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(live_server.demo_password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-screen")).to_have_count(0)


def label_path_re(label: dict) -> re.Pattern:
    return re.compile(
        rf"/c/{re.escape(label['code'])}\?v={label['version']}&s={re.escape(label['signature'])}$"
    )


def decoders(page: Page) -> list[str]:
    return page.evaluate("window.__scan.decoders")


def assert_camera_released(page: Page) -> None:
    states = page.evaluate(
        "window.__scan.streams.flatMap(s => s.getTracks().map(t => t.readyState))"
    )
    assert states and all(state == "ended" for state in states), states


# ---------------------------------------------------------------------------------------------
# Tests


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param({}, id="clear"),
        pytest.param({"dim": True, "angle": 8.0}, id="dim-low-contrast-rotated"),
    ],
)
def test_scanning_a_label_opens_its_checkpoint(camera, live_server, demo_label, variant):
    page = open_page(camera(label_frame(demo_label["url"], **variant)))
    resolves: list[int] = []
    page.on(
        "response",
        lambda r: resolves.append(r.status) if r.url.endswith("/api/scan/resolve") else None,
    )
    login_to(page, live_server, "/app/scan")

    expect(page).to_have_url(label_path_re(demo_label), timeout=DECODE_TIMEOUT_MS)
    expect(page.get_by_test_id("checkpoint-code")).to_have_text(demo_label["code"])
    assert resolves == [200]  # the server verified the label before the screen opened
    ran = decoders(page)
    assert ran and ran[-1] in ("jsqr", "barcode-detector")
    print(f"\nscanner decoder ({variant or 'clear'}): {ran[-1]}")
    assert_camera_released(page)
    assert page.errors == []


def test_offline_scan_opens_the_label_as_printed(camera, live_server, demo_label):
    page = open_page(camera(label_frame(demo_label["url"])))
    login_to(page, live_server, "/app/home")
    expect(page.get_by_test_id("home-screen")).to_be_visible()
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function(
        "navigator.serviceWorker.controller !== null"
        " && navigator.serviceWorker.controller.state === 'activated'"
    )

    page.context.set_offline(True)
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.get_by_test_id("tile-scan").click()
    expect(page).to_have_url(label_path_re(demo_label), timeout=DECODE_TIMEOUT_MS)
    expect(page.get_by_test_id("checkpoint-code")).to_have_text(demo_label["code"])
    expect(page.get_by_test_id("offline-banner")).to_be_visible()
    assert any(url.endswith("/api/scan/resolve") for url in failed)  # it did try the server
    assert decoders(page)[-1] in ("jsqr", "barcode-detector")
    assert_camera_released(page)
    assert page.errors == []


def test_rejected_label_shows_the_servers_reason_and_scanning_resumes(
    camera, live_server, demo_label, artifacts_dir
):
    forged = label_url(live_server.url, demo_label["code"], demo_label["version"], "A" * 11)
    page = open_page(camera(label_frame(forged)))
    answers = []
    page.on(
        "response", lambda r: answers.append(r) if r.url.endswith("/api/scan/resolve") else None
    )
    login_to(page, live_server, "/app/scan")
    screen = page.get_by_test_id("scan-screen")

    message = page.get_by_test_id("scan-message")
    expect(message).to_be_visible(timeout=DECODE_TIMEOUT_MS)
    assert [a.status for a in answers] == [403]
    error = answers[0].json()["error"]
    assert error["code"] == "bad_signature"
    expect(message).to_have_text(error["message"])
    expect(page.get_by_test_id("scan-message-code")).to_contain_text(demo_label["code"])
    expect(screen).to_have_attribute("data-state", "message")
    assert page.url.endswith("/app/scan")
    page.screenshot(path=str(artifacts_dir / "scan-390-rejected.png"))

    page.get_by_test_id("scan-continue").click()
    expect(message).to_be_hidden()
    expect(screen).to_have_attribute("data-state", "scanning")
    # The same label, still in view, is read again after the quiet period and rejected again.
    expect(screen).to_have_attribute("data-state", "message", timeout=DECODE_TIMEOUT_MS)
    assert page.errors == []


def test_foreign_code_is_refused_without_asking_the_server(camera, live_server):
    page = open_page(camera(label_frame("https://example.com/promo?id=42")))
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/scan/" in r.url else None)
    login_to(page, live_server, "/app/scan")

    message = page.get_by_test_id("scan-message")
    expect(message).to_have_text("不是本系统的标签", timeout=DECODE_TIMEOUT_MS)
    assert asked == []
    assert page.errors == []


def test_manual_entry_and_the_screen_at_phone_size(camera, live_server, demo_label, artifacts_dir):
    # A camera looking at a bare wall: the scanner keeps scanning.
    page = open_page(camera(Image.new("RGB", FRAME, (GREY, GREY, GREY))))
    login_to(page, live_server, "/app/scan")
    screen = page.get_by_test_id("scan-screen")
    expect(screen).to_have_attribute("data-state", "scanning")
    expect(page.get_by_test_id("scan-hint")).to_have_text("把标签上的二维码放进框内")
    expect(page.get_by_test_id("scan-torch")).to_be_hidden()  # the fake camera has no torch
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(artifacts_dir / "scan-390.png"))

    toggle = page.get_by_test_id("scan-manual-toggle")
    for control in (toggle, page.get_by_test_id("scan-manual-submit")):
        if control.is_visible():
            box = control.bounding_box()
            assert box["height"] >= 56 and box["y"] + box["height"] > 844 / 2
    toggle.click()
    expect(page.get_by_test_id("scan-manual-note")).to_contain_text("手动输入，未验证")
    code_input = page.get_by_test_id("scan-code-input")
    submit = page.get_by_test_id("scan-manual-submit")
    assert submit.bounding_box()["height"] >= 56
    page.screenshot(path=str(artifacts_dir / "scan-390-manual.png"))

    # Unknown code: the server's message, the screen stays.
    code_input.fill("NO-SUCH-CODE-9")
    submit.click()
    expect(page.get_by_test_id("scan-manual-error")).to_be_visible()
    assert page.url.endswith("/app/scan")

    # Typed in lower case with a stray space: cleaned to the printed form, then opened as manual.
    code_input.fill("")
    code_input.type(demo_label["code"].lower() + " ")
    expect(code_input).to_have_value(demo_label["code"])
    with page.expect_response(re.compile(r"/api/checkpoints/by-code/")) as answer:
        submit.click()
    assert answer.value.status == 200
    assert f"site={demo_label['site_id']}" in answer.value.url
    expect(page).to_have_url(re.compile(rf"/c/{re.escape(demo_label['code'])}\?manual=1$"))
    assert_camera_released(page)
    assert page.errors == []


def test_smallest_phone_and_english(camera, live_server, artifacts_dir):
    page = open_page(camera(Image.new("RGB", FRAME, (GREY, GREY, GREY))))
    page.set_viewport_size({"width": 360, "height": 640})
    login_to(page, live_server, "/app/scan")
    expect(page.get_by_test_id("scan-screen")).to_have_attribute("data-state", "scanning")
    page.get_by_test_id("scan-manual-toggle").click()
    submit = page.get_by_test_id("scan-manual-submit")
    box = submit.bounding_box()
    assert box["height"] >= 56 and box["y"] + box["height"] <= 640
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(artifacts_dir / "scan-360-manual.png"))

    # Switching language redraws the screen: the old camera is let go, a new one opens.
    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_test_id("scan-screen")).to_have_attribute("data-state", "scanning")
    expect(page.get_by_test_id("scan-hint")).to_have_text(
        "Fit the label's QR code inside the frame"
    )
    live = page.evaluate(
        "window.__scan.streams.filter(s => s.getTracks().some(t => t.readyState === 'live')).length"
    )
    assert live == 1
    page.get_by_test_id("lang-switch").click()
    assert page.errors == []


def test_camera_refused_leaves_manual_entry(camera, live_server, demo_label, artifacts_dir):
    # No fake "allow" UI and no camera permission: Chromium refuses the camera.
    page = open_page(camera(None, fake_ui=False), permissions=())
    login_to(page, live_server, "/app/scan")
    screen = page.get_by_test_id("scan-screen")
    expect(screen).to_have_attribute("data-state", "no-camera")
    problem = page.get_by_test_id("scan-camera-error")
    expect(problem).to_be_visible()
    expect(problem).to_contain_text("相机")
    page.screenshot(path=str(artifacts_dir / "scan-390-denied.png"))

    expect(page.get_by_test_id("scan-manual")).to_be_visible()
    expect(page.get_by_test_id("scan-manual-toggle")).to_be_hidden()
    page.get_by_test_id("scan-code-input").fill(demo_label["code"])
    page.get_by_test_id("scan-manual-submit").click()
    expect(page).to_have_url(re.compile(rf"/c/{re.escape(demo_label['code'])}\?manual=1$"))
    assert page.errors == []


# Android Chrome's BarcodeDetector, which headless Chromium on Linux lacks: a stand-in with the same
# surface (getSupportedFormats, detect(source) → [{rawValue}]) that reads nothing until the camera
# has delivered a real frame, so the scanner's native path is exercised end to end.
FAKE_DETECTOR = """
window.BarcodeDetector = class {
  static async getSupportedFormats() { return ['qr_code', 'ean_13']; }
  constructor(options) { this.formats = options.formats; window.__scan.detectorFormats = options.formats; }
  async detect(source) {
    window.__scan.detectCalls = (window.__scan.detectCalls || 0) + 1;
    if (!(source instanceof HTMLVideoElement) || source.videoWidth === 0) return [];
    return window.__scan.detectCalls < 3 ? [] : [{ rawValue: window.__scanLabel, format: 'qr_code' }];
  }
};
"""


def test_native_barcode_detector_is_preferred(camera, live_server, demo_label):
    page = open_page(camera(Image.new("RGB", FRAME, (GREY, GREY, GREY))))
    page.context.add_init_script(f"window.__scanLabel = {demo_label['url']!r};" + FAKE_DETECTOR)
    login_to(page, live_server, "/app/scan")
    expect(page).to_have_url(label_path_re(demo_label), timeout=DECODE_TIMEOUT_MS)
    assert decoders(page)[-1] == "barcode-detector"
    assert page.evaluate("window.__scan.detectorFormats") == ["qr_code"]
    assert page.evaluate("window.__scan.detectCalls") >= 3
    assert_camera_released(page)
    assert page.errors == []
