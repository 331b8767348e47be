"""A manager prints labels from the phone: pick building, floor and kind, get the PDF; a patrol
does not see the screen's tile. Real Chromium against the real server with the demo site."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from phone import PHONE, login, login_client
from playwright.sync_api import expect
from pypdf import PdfReader

pytestmark = pytest.mark.browser


@pytest.fixture
def phone(live_server, browser):
    context = browser.new_context(**PHONE, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], errors


def test_manager_downloads_the_labels_of_one_floor(phone, live_server, artifacts_dir):
    login(phone, live_server.url, "manager", live_server.demo_password)
    phone.get_by_test_id("tile-labels").click()
    expect(phone.get_by_test_id("labels-screen")).to_be_visible()
    phone.get_by_test_id("labels-building").select_option(label="1栋")
    phone.get_by_test_id("labels-floor").select_option(label="12F")
    phone.get_by_test_id("labels-kind").select_option("facility")
    phone.screenshot(path=str(artifacts_dir / "labels-390.png"))
    with phone.expect_download() as pending:
        phone.get_by_test_id("labels-download").click()
    download = pending.value
    assert download.suggested_filename.endswith(".pdf")
    data = Path(download.path()).read_bytes()
    assert data.startswith(b"%PDF")
    # One floor's facilities fit on one dense page (24 labels).
    assert len(PdfReader(io.BytesIO(data)).pages) == 1
    expect(phone.get_by_test_id("labels-status")).to_contain_text("已下载")


def _floor_without_renovations(live_server) -> str:
    """A floor of 1栋 with no unit under renovation now (other browser tests issue permits on the
    demo site, so which floors have one depends on what ran before)."""
    client = login_client(live_server.url, "manager", live_server.demo_password)
    try:
        catalogue = client.get("/api/catalogue").json()
    finally:
        client.close()
    building = next(b for b in catalogue["buildings"] if b["name"] == "1栋")
    renovating = {
        c["floor_id"] for c in catalogue["checkpoints"] if c["kind"] == "renovation" and c["active"]
    }
    floors = sorted(
        (f for f in catalogue["floors"] if f["building_id"] == building["id"]),
        key=lambda f: f["level"],
    )
    return next(f["name"] for f in floors if f["level"] > 0 and f["id"] not in renovating)


def test_a_refusal_is_shown_in_the_persons_language(phone, live_server):
    floor = _floor_without_renovations(live_server)
    login(phone, live_server.url, "manager", live_server.demo_password)
    phone.goto(f"{live_server.url}/app/labels")
    # No unit of that floor is under renovation: nothing to print → the server's reason.
    phone.get_by_test_id("labels-building").select_option(label="1栋")
    phone.get_by_test_id("labels-floor").select_option(label=floor)
    phone.get_by_test_id("labels-kind").select_option("renovation")
    phone.get_by_test_id("labels-download").click()
    status = phone.get_by_test_id("labels-status")
    expect(status).to_have_class("status form-error")
    assert status.inner_text().strip()


def test_patrol_has_no_labels_tile(phone, live_server):
    login(phone, live_server.url, "patrol", live_server.demo_password)
    expect(phone.get_by_test_id("tile-scan")).to_be_visible()
    expect(phone.get_by_test_id("tile-labels")).to_have_count(0)


def test_manager_reissues_a_damaged_label_and_the_old_one_is_refused(phone, live_server):
    import httpx

    from qr.signing import label_url, sign

    login(phone, live_server.url, "manager", live_server.demo_password)
    api = httpx.Client(base_url=live_server.url)
    api.post("/api/auth/login", json={"username": "manager", "password": live_server.demo_password})
    site = api.get("/api/me").json()["sites"][0]
    # Page 7: a checkpoint no other browser test signs a label for (re-issuing retires its label).
    checkpoint = api.get(
        f"/api/sites/{site['id']}/checkpoints",
        params={"kind": "signage", "page_size": 1, "page": 7},
    ).json()["items"][0]
    secret = live_server.env["XUNJIAN_SECRET_KEY"].encode()
    version = checkpoint["label_version"]
    old = label_url(
        live_server.url,
        checkpoint["code"],
        version,
        sign(secret, site["code"], checkpoint["code"], version),
    )
    assert api.post("/api/scan/resolve", json={"text": old}).status_code == 200

    phone.goto(old)
    expect(phone.get_by_test_id("checkpoint-screen")).to_be_visible()
    phone.once("dialog", lambda dialog: dialog.accept())
    with phone.expect_download() as pending:
        phone.get_by_test_id("reissue-label").click()
    data = Path(pending.value.path()).read_bytes()
    assert data.startswith(b"%PDF")
    assert len(PdfReader(io.BytesIO(data)).pages) == 1

    refused = api.post("/api/scan/resolve", json={"text": old})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "label_revoked"
    new = label_url(
        live_server.url,
        checkpoint["code"],
        version + 1,
        sign(secret, site["code"], checkpoint["code"], version + 1),
    )
    assert api.post("/api/scan/resolve", json={"text": new}).status_code == 200
