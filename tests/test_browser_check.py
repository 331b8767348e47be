"""The check screen (/c/<code>) in real Chromium at phone size, against the real server and demo site.

Labels are real: a demo checkpoint's code signed with the live server's secret. The screen is built
from the catalogue the app keeps on the phone (IndexedDB), so every test first opens the app online
(which downloads the catalogue), then works with the network off where that is the point: a patrol
in a basement. What a save leaves behind is read back from IndexedDB in the page.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import time

import httpx
import pytest
from phone import PHONE
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, Page, expect

from qr.signing import label_url, sign

pytestmark = pytest.mark.browser

OPEN_TIMEOUT_MS = 15_000
# A photo is decoded, scaled and hashed on the phone before its thumbnail shows: seconds of CPU on
# a loaded two-core test machine.
PHOTO_TIMEOUT_MS = 15_000
DEVICE_TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")

# Everything in one IndexedDB object store of the app's database, as plain JSON-able values.
READ_STORE = """async (name) => {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open("xunjian");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  try {
    const rows = await new Promise((resolve, reject) => {
      const request = db.transaction(name).objectStore(name).getAll();
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    return rows.map((row) => JSON.parse(JSON.stringify(row, (k, v) => (v instanceof Blob
      ? {blob: true, size: v.size, type: v.type} : v))));
  } finally {
    db.close();
  }
}"""

# One stored photo's bytes (base64) and the SHA-256 the browser itself computes over them.
READ_PHOTO = """async (sha) => {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open("xunjian");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const row = await new Promise((resolve, reject) => {
    const request = db.transaction("photos").objectStore("photos").get(sha);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  db.close();
  const bytes = new Uint8Array(await row.blob.arrayBuffer());
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return { base64: btoa(binary), digest: Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join(""),
           width: row.width, height: row.height, type: row.blob.type, uploaded: row.uploaded };
}"""


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def demo(live_server) -> dict:
    """The demo site and a signed label maker for its checkpoints of each kind."""
    # No kept-alive connections: the server closes idle ones between tests.
    client = httpx.Client(
        base_url=live_server.url, timeout=10, limits=httpx.Limits(max_keepalive_connections=0)
    )
    response = client.post(
        "/api/auth/login", json={"username": "manager", "password": live_server.demo_password}
    )
    assert response.status_code == 200, response.text
    site = client.get("/api/me").json()["sites"][0]
    secret = live_server.env["XUNJIAN_SECRET_KEY"].encode()

    def label(kind: str, page: int) -> dict:
        # Pages no other browser test signs labels for (the labels test re-issues signage page 7).
        items = client.get(
            f"/api/sites/{site['id']}/checkpoints",
            params={"kind": kind, "page_size": 1, "page": page},
        ).json()["items"]
        checkpoint = items[0]
        code, version = checkpoint["code"], checkpoint["label_version"]
        signature = sign(secret, site["code"], code, version)
        return {
            **checkpoint,
            "signature": signature,
            "url": label_url(live_server.url, code, version, signature),
            "site_id": site["id"],
        }

    yield {"site": site, "label": label}
    client.close()


@pytest.fixture
def phone(browser: Browser):
    context = browser.new_context(**PHONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], errors


def open_label(page: Page, live_server, label: dict, username: str = "patrol") -> None:
    """Open a label's URL as a person who is not logged in yet: login, then the check form."""
    page.goto(label["url"])
    expect(page.get_by_test_id("login-screen")).to_be_visible()
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(live_server.demo_password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("checkpoint-screen")).to_have_attribute(
        "data-state", "form", timeout=OPEN_TIMEOUT_MS
    )
    expect(page.get_by_test_id("checkpoint-code")).to_have_text(label["code"])


def open_in_app(page: Page, path: str) -> None:
    """Go to a screen the way a link inside the app does (no page load: works offline too)."""
    page.evaluate(
        "(path) => { history.pushState(null, '', path); dispatchEvent(new PopStateEvent('popstate')); }",
        path,
    )


def wait_until(condition, timeout: float = 20.0) -> None:
    """Poll a condition checked from Python (page.evaluate awaits the page's promises)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.25)


def store(page: Page, name: str) -> list[dict]:
    return page.evaluate(READ_STORE, name)


def template_of(page: Page, code: str) -> dict:
    catalogue = store(page, "catalogue")[0]["value"]
    return next(t for t in catalogue["templates"] if t["code"] == code)


def camera_jpeg(size=(3000, 2000), orientation: int = 6) -> dict:
    """A phone camera's JPEG: landscape pixels with an EXIF orientation saying "turn me upright"."""
    image = Image.new("RGB", size, (70, 110, 160))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, size[0] // 3, size[1] // 3), fill=(230, 40, 30))  # a marked corner
    draw.ellipse((size[0] // 2, size[1] // 2, size[0] // 2 + 600, size[1] // 2 + 400), fill="white")
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92, exif=exif.tobytes())
    return {"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": out.getvalue()}


def assert_thumb_reachable(page: Page, test_id: str, viewport_height: int = 844) -> None:
    box = page.get_by_test_id(test_id).bounding_box()
    assert box is not None, test_id
    assert box["height"] >= 56, (test_id, box)
    # In the lower half of the screen, where the thumb is, and on it.
    assert viewport_height / 2 < box["y"] + box["height"] <= viewport_height, (test_id, box)


def saved_record(page: Page, code: str) -> dict:
    rows = [row for row in store(page, "records") if row["record"]["checkpoint"] == code]
    assert len(rows) == 1, rows
    return rows[0]


# ---------------------------------------------------------------------------------------------
# Tests


def test_clean_facility_is_saved_in_two_taps_offline(phone, live_server, demo, artifacts_dir):
    label = demo["label"]("facility", 5)
    open_label(phone, live_server, label)
    screen = phone.get_by_test_id("checkpoint-screen")
    expect(phone.get_by_test_id("check-name")).to_have_text(label["name"])
    expect(phone.get_by_test_id("check-kind")).to_have_text("设施设备")
    expect(phone.get_by_test_id("check-location")).to_contain_text("栋")
    expect(phone.get_by_test_id("check-last")).to_be_visible()
    expect(screen).to_have_attribute("data-ready", "false")
    template = template_of(phone, screen.get_attribute("data-template"))
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    first = template["items"][0]["code"]
    for result in ("pass", "fail", "na"):
        assert phone.get_by_test_id(f"item-{first}-{result}").bounding_box()["height"] >= 56
    assert_thumb_reachable(phone, "check-all-pass")
    assert_thumb_reachable(phone, "check-save")
    phone.screenshot(path=str(artifacts_dir / "check-390-facility.png"))

    # The basement: no network from here on.
    phone.context.set_offline(True)
    before = {k: phone.get_by_test_id(k).bounding_box() for k in ("check-all-pass", "check-save")}
    phone.get_by_test_id("check-all-pass").click()  # tap 1
    expect(screen).to_have_attribute("data-ready", "true")
    # Nothing moved under the thumb: a double tap on "all pass" does not land on Save.
    assert {k: phone.get_by_test_id(k).bounding_box() for k in before} == before
    expect(phone.get_by_test_id("check-all-pass")).to_have_attribute("aria-disabled", "true")
    expect(phone.get_by_test_id("check-save")).to_have_attribute("aria-disabled", "false")
    phone.screenshot(path=str(artifacts_dir / "check-390-all-pass.png"))
    for item in template["items"]:
        expect(phone.get_by_test_id(f"item-{item['code']}-pass")).to_have_attribute(
            "aria-pressed", "true"
        )
    phone.get_by_test_id("check-save").click()  # tap 2
    expect(phone.get_by_test_id("check-saved")).to_have_text("已保存，待同步")
    expect(phone).to_have_url(re.compile(r"/app/scan$"))

    row = saved_record(phone, label["code"])
    record = row["record"]
    assert row["status"] in ("pending", "sending")
    assert row["user_id"] == phone.evaluate("JSON.parse(localStorage.getItem('xunjian.me')).id")
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", record["id"]
    )
    assert record["source"] == "scan"
    assert record["version"] == label["label_version"]
    assert record["signature"] == label["signature"]
    assert record["site"] == label["site_id"]
    assert record["template"] == template["code"]
    assert DEVICE_TIME_RE.match(record["device_time"]), record["device_time"]
    assert [i["item"] for i in record["items"]] == [i["code"] for i in template["items"]]
    assert {i["result"] for i in record["items"]} == {"pass"}
    assert record["photos"] == [] and all(i["photos"] == [] for i in record["items"])
    assert store(phone, "drafts") == []

    # Back at the same checkpoint (still offline): the check just made is its last check.
    open_in_app(phone, f"/c/{label['code']}?v={label['label_version']}&s={label['signature']}")
    expect(phone.get_by_test_id("check-last")).to_contain_text("本机记录，待同步")
    expect(phone.get_by_test_id("check-last")).to_contain_text("合格")


def test_failed_item_needs_a_photo_before_saving(phone, live_server, demo, artifacts_dir):
    label = demo["label"]("facility", 6)
    open_label(phone, live_server, label)
    screen = phone.get_by_test_id("checkpoint-screen")
    template = template_of(phone, screen.get_attribute("data-template"))
    item = next(i for i in template["items"] if i["photo_required_on_fail"])
    code = item["code"]

    phone.get_by_test_id(f"item-{code}-fail").click()
    phone.get_by_test_id("check-all-pass").click()  # the rest pass; the failure stays
    expect(phone.get_by_test_id(f"item-{code}-fail")).to_have_attribute("aria-pressed", "true")
    message = phone.get_by_test_id(f"item-{code}-message")
    expect(message).to_have_text("不合格需拍照：拍照后才能保存")
    expect(phone.get_by_test_id("check-todo")).to_have_text("1 项需拍照")
    save = phone.get_by_test_id("check-save")
    expect(save).to_have_attribute("aria-disabled", "true")
    camera = phone.get_by_test_id(f"item-{code}-camera")
    assert camera.get_attribute("capture") == "environment"
    assert camera.get_attribute("accept") == "image/*"
    expect(phone.get_by_test_id(f"item-{code}-gallery")).to_have_count(
        1 if template["allow_gallery"] else 0
    )
    phone.screenshot(path=str(artifacts_dir / "check-390-fail-needs-photo.png"))

    save.click(force=True)  # refused: nothing stored, the screen stays
    expect(message).to_be_visible()
    assert "/c/" in phone.url
    assert store(phone, "records") == []

    phone.context.set_offline(True)
    camera.set_input_files(camera_jpeg())
    thumbs = phone.get_by_test_id(f"item-{code}-photos").locator("img")
    expect(thumbs).to_have_count(1, timeout=PHOTO_TIMEOUT_MS)
    phone.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=thumbs.element_handle()
    )
    expect(message).to_be_hidden()
    expect(save).to_have_attribute("aria-disabled", "false")

    # Removed again → blocked again; a second shot is kept.
    phone.get_by_test_id(f"item-{code}-photo-remove").click()
    expect(thumbs).to_have_count(0)
    expect(message).to_be_visible()
    camera.set_input_files(camera_jpeg())
    expect(thumbs).to_have_count(1, timeout=PHOTO_TIMEOUT_MS)
    box = phone.get_by_test_id(f"item-{code}-photo-remove").bounding_box()
    assert box["width"] >= 48 and box["height"] >= 48
    phone.get_by_test_id(f"item-{code}-note").fill("箱门玻璃破裂")
    phone.get_by_test_id(f"item-{code}").scroll_into_view_if_needed()
    phone.screenshot(path=str(artifacts_dir / "check-390-fail-with-photo.png"))
    save.click()
    expect(phone).to_have_url(re.compile(r"/app/scan$"))

    record = saved_record(phone, label["code"])["record"]
    failed = next(i for i in record["items"] if i["item"] == code)
    assert failed["result"] == "fail" and failed["note"] == "箱门玻璃破裂"
    assert len(failed["photos"]) == 1
    sha = failed["photos"][0]
    photo = phone.evaluate(READ_PHOTO, sha)
    data = base64.b64decode(photo["base64"])
    assert hashlib.sha256(data).hexdigest() == sha == photo["digest"]
    assert photo["type"] == "image/jpeg" and photo["uploaded"] is False
    stored = Image.open(io.BytesIO(data))
    assert stored.format == "JPEG"
    # 3000×2000 turned upright by its EXIF orientation (6: 90° clockwise), long edge 1600.
    assert stored.size == (photo["width"], photo["height"]) == (1067, 1600)
    # The marked corner (top-left of the sensor) is now top-right: orientation really applied.
    red = stored.convert("RGB").getpixel((1067 - 40, 40))
    assert red[0] > 180 and red[2] < 90, red
    assert "exif" not in stored.info or 0x0112 not in stored.getexif()


def test_vacant_unit_needs_every_closing_confirmation(phone, live_server, demo, artifacts_dir):
    label = demo["label"]("vacant_unit", 2)
    open_label(phone, live_server, label)
    screen = phone.get_by_test_id("checkpoint-screen")
    expect(screen).to_have_attribute("data-kind", "vacant_unit")
    template = template_of(phone, screen.get_attribute("data-template"))
    confirmations = [i["code"] for i in template["items"] if i["is_confirmation"]]
    assert len(confirmations) == 4

    phone.get_by_test_id("check-all-pass").click()
    # "All pass" never ticks the confirmations: a person must.
    for code in confirmations:
        expect(phone.get_by_test_id(f"confirm-{code}")).not_to_be_checked()
    expect(phone.get_by_test_id("check-todo")).to_have_text("4 项需确认")
    save = phone.get_by_test_id("check-save")
    expect(save).to_have_attribute("aria-disabled", "true")
    save.click(force=True)
    assert store(phone, "records") == []
    phone.get_by_test_id("check-confirmations").scroll_into_view_if_needed()
    phone.screenshot(path=str(artifacts_dir / "check-390-vacant-confirmations.png"))

    for i, code in enumerate(confirmations):
        tick = phone.get_by_test_id(f"confirm-{code}")
        row = tick.locator("xpath=ancestor::label")
        assert row.bounding_box()["height"] >= 56
        row.click()  # the whole row is the target, not only the box
        expect(tick).to_be_checked()
        if i < len(confirmations) - 1:
            expect(save).to_have_attribute("aria-disabled", "true")
    expect(save).to_have_attribute("aria-disabled", "false")
    save.click()
    expect(phone).to_have_url(re.compile(r"/app/scan$"))
    record = saved_record(phone, label["code"])["record"]
    results = {i["item"]: i["result"] for i in record["items"]}
    assert all(results[code] == "pass" for code in confirmations)
    assert set(results) == {i["code"] for i in template["items"]}


def test_signage_failure_picks_a_defect_type(phone, live_server, demo, artifacts_dir):
    label = demo["label"]("signage", 3)
    open_label(phone, live_server, label)
    screen = phone.get_by_test_id("checkpoint-screen")
    template = template_of(phone, screen.get_attribute("data-template"))
    assert template["kind"] == "signage" and template["defect_types"]

    phone.get_by_test_id("item-intact-fail").click()
    defects = [
        phone.get_by_test_id(f"item-intact-defect-{d['code']}") for d in template["defect_types"]
    ]
    for button, defect in zip(defects, template["defect_types"], strict=True):
        expect(button).to_have_text(defect["zh"])
        box = button.bounding_box()
        assert box["height"] >= 56 and box["width"] >= 120
    phone.get_by_test_id("item-intact-defect-torn").click()
    expect(phone.get_by_test_id("item-intact-defect-torn")).to_have_attribute(
        "aria-pressed", "true"
    )
    phone.get_by_test_id("item-intact-defect-soiled").click()  # changed mind: one type at a time
    expect(phone.get_by_test_id("item-intact-defect-torn")).to_have_attribute(
        "aria-pressed", "false"
    )
    phone.get_by_test_id("item-intact").scroll_into_view_if_needed()
    phone.screenshot(path=str(artifacts_dir / "check-390-signage-defect.png"))
    phone.get_by_test_id("item-intact-camera").set_input_files(camera_jpeg((1200, 900), 1))
    expect(phone.get_by_test_id("item-intact-photos").locator("img")).to_have_count(
        1, timeout=PHOTO_TIMEOUT_MS
    )
    phone.get_by_test_id("check-all-pass").click()
    phone.get_by_test_id("check-save").click()
    expect(phone).to_have_url(re.compile(r"/app/scan$"))

    record = saved_record(phone, label["code"])["record"]
    intact = next(i for i in record["items"] if i["item"] == "intact")
    assert intact["result"] == "fail" and intact["defect_type"] == "soiled"
    photo = phone.evaluate(READ_PHOTO, intact["photos"][0])
    assert (photo["width"], photo["height"]) == (1200, 900)  # small enough: not scaled up
    assert all(i["defect_type"] == "" for i in record["items"] if i["item"] != "intact")


def test_unsaved_form_survives_a_reload(phone, live_server, demo):
    label = demo["label"]("facility", 7)
    open_label(phone, live_server, label)
    screen = phone.get_by_test_id("checkpoint-screen")
    template = template_of(phone, screen.get_attribute("data-template"))
    first, second = template["items"][0]["code"], template["items"][1]["code"]
    phone.get_by_test_id(f"item-{first}-na").click()
    phone.get_by_test_id(f"item-{second}-fail").click()
    phone.get_by_test_id(f"item-{second}-camera").set_input_files(camera_jpeg((800, 600), 1))
    expect(phone.get_by_test_id(f"item-{second}-photos").locator("img")).to_have_count(
        1, timeout=PHOTO_TIMEOUT_MS
    )
    phone.get_by_test_id(f"item-{second}-note").fill("漏水")
    phone.get_by_test_id("check-note").fill("夜班复查")
    expect(screen).to_have_attribute("data-draft", "saved")
    sha = phone.get_by_test_id(f"item-{second}-photos").locator("img").get_attribute("data-sha256")

    phone.reload()
    expect(screen).to_have_attribute("data-state", "form", timeout=OPEN_TIMEOUT_MS)
    expect(phone.get_by_test_id("check-draft-restored")).to_be_visible()
    expect(phone.get_by_test_id(f"item-{first}-na")).to_have_attribute("aria-pressed", "true")
    expect(phone.get_by_test_id(f"item-{second}-fail")).to_have_attribute("aria-pressed", "true")
    expect(phone.get_by_test_id(f"item-{second}-note")).to_have_value("漏水")
    expect(phone.get_by_test_id("check-note")).to_have_value("夜班复查")
    img = phone.get_by_test_id(f"item-{second}-photos").locator("img")
    expect(img).to_have_attribute("data-sha256", sha)
    assert img.get_attribute("src").startswith("blob:")  # shown from the phone, not the server

    phone.get_by_test_id("check-all-pass").click()
    phone.get_by_test_id("check-save").click()
    expect(phone).to_have_url(re.compile(r"/app/scan$"))
    record = saved_record(phone, label["code"])["record"]
    assert record["note"] == "夜班复查"
    results = {i["item"]: i for i in record["items"]}
    assert results[first]["result"] == "na"
    assert results[second]["photos"] == [sha] and results[second]["note"] == "漏水"
    assert store(phone, "drafts") == []


def test_renovation_uses_my_departments_checklist(browser, live_server, demo):
    label = demo["label"]("renovation", 1)
    for username, template in (
        ("inspector", "renovation.security"),
        ("patrol", "renovation.customer_service"),
    ):
        context = browser.new_context(**PHONE)
        page = context.new_page()
        open_label(page, live_server, label, username)
        expect(page.get_by_test_id("checkpoint-screen")).to_have_attribute(
            "data-template", template
        )
        context.close()


def test_unknown_code_offline_goes_back_to_the_scanner(phone, live_server, demo, artifacts_dir):
    open_label(phone, live_server, demo["label"]("facility", 8))
    phone.context.set_offline(True)
    open_in_app(phone, "/c/NO-SUCH-1?manual=1")
    screen = phone.get_by_test_id("checkpoint-screen")
    expect(screen).to_have_attribute("data-state", "unknown")
    expect(phone.get_by_test_id("check-unknown")).to_contain_text("本机没有这个检查点的资料")
    expect(phone.get_by_test_id("checkpoint-code")).to_have_text("NO-SUCH-1")
    assert_thumb_reachable(phone, "check-back-to-scan")
    phone.screenshot(path=str(artifacts_dir / "check-390-unknown.png"))
    phone.get_by_test_id("check-back-to-scan").click()
    expect(phone).to_have_url(re.compile(r"/app/scan$"))


def test_smallest_phone_in_english(phone, live_server, demo, artifacts_dir):
    phone.set_viewport_size({"width": 360, "height": 640})
    label = demo["label"]("facility", 9)
    open_label(phone, live_server, label)
    screen = phone.get_by_test_id("checkpoint-screen")
    template = template_of(phone, screen.get_attribute("data-template"))
    first = template["items"][0]
    phone.get_by_test_id(f"item-{first['code']}-fail").click()
    phone.get_by_test_id("lang-switch").click()
    expect(phone.get_by_test_id("check-all-pass")).to_have_text("All pass")
    # The screen is redrawn in English with what was entered still there.
    expect(phone.get_by_test_id(f"item-{first['code']}-fail")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(phone.get_by_test_id(f"item-{first['code']}")).to_contain_text(first["text_en"])
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    assert_thumb_reachable(phone, "check-save", 640)
    phone.screenshot(path=str(artifacts_dir / "check-360-en.png"))
    phone.get_by_test_id("lang-switch").click()


def test_typed_code_is_saved_as_manual_and_unverified(phone, live_server, demo):
    label = demo["label"]("facility", 10)
    open_label(phone, live_server, demo["label"]("facility", 11))
    phone.context.set_offline(True)
    open_in_app(phone, f"/c/{label['code']}?manual=1")
    screen = phone.get_by_test_id("checkpoint-screen")
    expect(screen).to_have_attribute("data-state", "form")
    expect(phone.get_by_test_id("checkpoint-code")).to_have_text(label["code"])
    expect(phone.get_by_test_id("check-manual")).to_contain_text("手动输入，未验证")
    phone.get_by_test_id("check-all-pass").click()
    phone.get_by_test_id("check-save").click()
    expect(phone).to_have_url(re.compile(r"/app/scan$"))
    record = saved_record(phone, label["code"])["record"]
    assert record["source"] == "manual"
    assert record["version"] is None and record["signature"] is None
    assert record["site"] == label["site_id"]


def test_gallery_only_where_the_template_allows_it(phone, live_server, demo):
    label = demo["label"]("facility", 12)
    open_label(phone, live_server, label)
    screen = phone.get_by_test_id("checkpoint-screen")
    code = screen.get_attribute("data-template")
    item = template_of(phone, code)["items"][0]["code"]
    phone.get_by_test_id(f"item-{item}-fail").click()
    expect(phone.get_by_test_id(f"item-{item}-camera")).to_have_count(1)
    expect(phone.get_by_test_id(f"item-{item}-gallery")).to_have_count(0)

    # The same template with the gallery allowed (as a site's administrator may set it).
    phone.evaluate(
        """async (code) => {
          const db = await new Promise((resolve, reject) => {
            const request = indexedDB.open("xunjian");
            request.onsuccess = () => resolve(request.result);
            request.onerror = () => reject(request.error);
          });
          const tx = db.transaction("catalogue", "readwrite");
          const store = tx.objectStore("catalogue");
          const entry = await new Promise((resolve) => {
            const request = store.get("main");
            request.onsuccess = () => resolve(request.result);
          });
          entry.value.templates.find((t) => t.code === code).allow_gallery = true;
          store.put(entry);
          await new Promise((resolve) => { tx.oncomplete = resolve; });
          db.close();
        }""",
        code,
    )
    phone.context.set_offline(True)  # no catalogue refresh undoing the change
    open_in_app(phone, "/app/home")
    open_in_app(phone, f"/c/{label['code']}?manual=1")
    expect(screen).to_have_attribute("data-state", "form")
    expect(phone.get_by_test_id(f"item-{item}-fail")).to_have_attribute("aria-pressed", "true")
    gallery = phone.get_by_test_id(f"item-{item}-gallery")
    expect(gallery).to_have_count(1)
    assert gallery.get_attribute("capture") is None
    assert gallery.get_attribute("multiple") is not None
    gallery.set_input_files([camera_jpeg((2400, 1800), 1), camera_jpeg((1600, 2400), 1)])
    expect(phone.get_by_test_id(f"item-{item}-photos").locator("img")).to_have_count(
        2, timeout=PHOTO_TIMEOUT_MS
    )


def test_synced_check_shows_on_the_server_and_as_the_last_check(phone, live_server, demo):
    label = demo["label"]("facility", 13)
    open_label(phone, live_server, label)
    phone.get_by_test_id("check-all-pass").click()
    phone.get_by_test_id("check-save").click()
    expect(phone).to_have_url(re.compile(r"/app/scan$"))
    record_id = saved_record(phone, label["code"])["id"]
    # The outbox sends it by itself (online); wait until the server acknowledged it.
    wait_until(lambda: saved_record(phone, label["code"])["status"] == "synced")
    # …and the server's status of the checkpoint names it.
    status = (
        f"fetch('/api/checkpoints/{label['id']}/status', {{cache: 'no-store'}}).then(r => r.json())"
    )
    wait_until(lambda: any(c["id"] == record_id for c in phone.evaluate(status)["last_checks"]))
    open_in_app(phone, f"/c/{label['code']}?v={label['label_version']}&s={label['signature']}")
    last = phone.get_by_test_id("check-last")
    expect(last).to_contain_text("王晓明")  # the server's answer names the inspector
    expect(last).not_to_contain_text("本机记录")


def test_open_work_order_of_a_failure_is_shown_offline_too(phone, live_server, demo):
    label = demo["label"]("facility", 14)
    open_label(phone, live_server, label)
    screen = phone.get_by_test_id("checkpoint-screen")
    template = template_of(phone, screen.get_attribute("data-template"))
    item = next(i for i in template["items"] if i["photo_required_on_fail"])
    code = item["code"]
    expect(phone.get_by_test_id("check-orders")).to_have_text("没有未关闭的工单")
    phone.get_by_test_id(f"item-{code}-fail").click()
    phone.get_by_test_id(f"item-{code}-camera").set_input_files(camera_jpeg((1000, 800), 1))
    expect(phone.get_by_test_id(f"item-{code}-photos").locator("img")).to_have_count(
        1, timeout=PHOTO_TIMEOUT_MS
    )
    phone.get_by_test_id("check-all-pass").click()
    phone.get_by_test_id("check-save").click()
    expect(phone).to_have_url(re.compile(r"/app/scan$"))

    # Synced (photo and record), the server raised a work order, the phone's catalogue has it.
    wait_until(lambda: saved_record(phone, label["code"])["status"] == "synced", 30)

    def catalogue_orders():
        catalogue = store(phone, "catalogue")[0]["value"]
        return [w for w in catalogue["work_orders"] if w["checkpoint_id"] == label["id"]]

    phone.evaluate("dispatchEvent(new Event('online'))")  # nudge a catalogue refresh
    wait_until(lambda: bool(catalogue_orders()), 30)
    assert [w["item_code"] for w in catalogue_orders()] == [code]

    phone.context.set_offline(True)
    open_in_app(phone, f"/c/{label['code']}?v={label['label_version']}&s={label['signature']}")
    expect(screen).to_have_attribute("data-state", "form")
    expect(phone.get_by_test_id("check-orders")).to_contain_text("未关闭工单（1）")
    expect(phone.get_by_test_id(f"item-{code}-order")).to_be_visible()
    expect(phone.get_by_test_id(f"item-{code}-order")).to_have_text("已有工单")
    others = [i["code"] for i in template["items"] if i["code"] != code]
    expect(phone.get_by_test_id(f"item-{others[0]}-order")).to_be_hidden()
    expect(phone.get_by_test_id("check-last")).to_contain_text("有问题")


def test_label_opened_cold_with_no_network(phone, live_server, demo):
    """The phone's own camera app opens the label URL in a basement: the page loads from the
    service worker, the form from the catalogue on the phone, the check is saved for later."""
    label = demo["label"]("facility", 15)
    open_label(phone, live_server, label)
    phone.wait_for_function(
        "navigator.serviceWorker.controller !== null"
        " && navigator.serviceWorker.controller.state === 'activated'"
    )
    phone.context.set_offline(True)
    phone.reload()
    screen = phone.get_by_test_id("checkpoint-screen")
    expect(screen).to_have_attribute("data-state", "form", timeout=OPEN_TIMEOUT_MS)
    expect(phone.get_by_test_id("offline-banner")).to_be_visible()
    expect(phone.get_by_test_id("check-name")).to_have_text(label["name"])
    phone.get_by_test_id("check-all-pass").click()
    phone.get_by_test_id("check-save").click()
    expect(phone.get_by_test_id("check-saved")).to_be_visible()
    expect(phone).to_have_url(re.compile(r"/app/scan$"))
    assert saved_record(phone, label["code"])["status"] in ("pending", "sending")


def test_checkpoint_missing_from_an_old_catalogue_is_fetched_when_online(phone, live_server, demo):
    label = demo["label"]("facility", 16)
    open_label(phone, live_server, demo["label"]("facility", 17))
    # The phone's catalogue predates this checkpoint (and has no cursor to update it from).
    phone.evaluate(
        """async (id) => {
          const db = await new Promise((resolve, reject) => {
            const request = indexedDB.open("xunjian");
            request.onsuccess = () => resolve(request.result);
            request.onerror = () => reject(request.error);
          });
          const tx = db.transaction("catalogue", "readwrite");
          const store = tx.objectStore("catalogue");
          const entry = await new Promise((resolve) => {
            const request = store.get("main");
            request.onsuccess = () => resolve(request.result);
          });
          entry.value.checkpoints = entry.value.checkpoints.filter((c) => c.id !== id);
          entry.value.cursor = null;
          store.put(entry);
          await new Promise((resolve) => { tx.oncomplete = resolve; });
          db.close();
        }""",
        label["id"],
    )
    with phone.expect_response(re.compile(r"/api/catalogue")):
        open_in_app(phone, f"/c/{label['code']}?v={label['label_version']}&s={label['signature']}")
    screen = phone.get_by_test_id("checkpoint-screen")
    expect(screen).to_have_attribute("data-state", "form")
    expect(phone.get_by_test_id("check-name")).to_have_text(label["name"])


def test_restored_draft_can_be_cleared(phone, live_server, demo):
    label = demo["label"]("facility", 18)
    open_label(phone, live_server, label)
    screen = phone.get_by_test_id("checkpoint-screen")
    first = template_of(phone, screen.get_attribute("data-template"))["items"][0]["code"]
    phone.get_by_test_id(f"item-{first}-pass").click()
    expect(screen).to_have_attribute("data-draft", "saved")
    assert len(store(phone, "drafts")) == 1
    phone.reload()
    expect(phone.get_by_test_id(f"item-{first}-pass")).to_have_attribute(
        "aria-pressed", "true", timeout=OPEN_TIMEOUT_MS
    )
    phone.once("dialog", lambda dialog: dialog.accept())
    phone.get_by_test_id("check-discard").click()
    expect(phone.get_by_test_id(f"item-{first}-pass")).to_have_attribute("aria-pressed", "false")
    expect(phone.get_by_test_id("check-draft-restored")).to_have_count(0)
    assert store(phone, "drafts") == []
    phone.reload()
    expect(screen).to_have_attribute("data-state", "form", timeout=OPEN_TIMEOUT_MS)
    expect(phone.get_by_test_id(f"item-{first}-pass")).to_have_attribute("aria-pressed", "false")
