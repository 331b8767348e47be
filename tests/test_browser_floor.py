"""The floor view in real Chromium on the phone (390×844), as the demo manager.

A 1栋 floor covered only by the 楼管员's daily round (王晓明 1栋每日巡视, 08:30–17:30) opens on
yesterday with no plan uploaded: the server's schematic is shown with every checkpoint of the floor
as a dot, each coloured as GET /api/floors/{id}/checkpoints says. A check of one checkpoint made
yesterday and synced now turns its dot on time (the others stay missed) and shows its time on tap.
A PNG plan drawn here is uploaded through the page's file input and is shown after a reload; a dot
dragged in "调整位置" mode is where the API then says it is.
"""

from __future__ import annotations

import io
import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from phone import PHONE, login
from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect

from qr.signing import sign

pytestmark = pytest.mark.browser

SITE_TZ = ZoneInfo("Asia/Shanghai")
PLAN = "王晓明 1栋每日巡视"
COLOURS = {  # the coverage map's colours (web/styles.css .cov-*)
    "on_time": "rgb(30, 123, 52)",
    "missed": "rgb(179, 38, 30)",
    "late": "rgb(242, 183, 5)",
    "pending": "rgb(219, 232, 246)",
    "not_planned": "rgb(236, 239, 243)",
}


def client(url: str, username: str, password: str) -> httpx.Client:
    c = httpx.Client(base_url=url, timeout=60)
    response = c.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return c


def plan_png() -> bytes:
    """A floor plan as an architect's export might look: walls, rooms, a corridor, labels."""
    img = Image.new("RGB", (1200, 700), "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle((10, 10, 1190, 690), outline="black", width=8)
    draw.rectangle((10, 290, 1190, 410), fill=(225, 232, 240))
    for i in range(4):
        x = 150 + i * 225
        draw.rectangle((x, 10, x + 225, 290), outline="black", width=5)
        draw.rectangle((x, 410, x + 225, 690), outline="black", width=5)
        draw.text((x + 90, 140), f"0{2 * i + 1}", fill="black")
        draw.text((x + 90, 540), f"0{2 * i + 2}", fill="black")
    buffer = io.BytesIO()
    img.save(buffer, "PNG")
    return buffer.getvalue()


def floor_view(manager: httpx.Client, floor_id: int, day: str) -> dict:
    response = manager.get(f"/api/floors/{floor_id}/checkpoints", params={"from": day, "to": day})
    assert response.status_code == 200, response.text
    return response.json()


def assert_dots_match_api(page: Page, view: dict) -> None:
    expect(page.locator(".floor-dot")).to_have_count(len(view["checkpoints"]))
    for cp in view["checkpoints"]:
        dot = page.get_by_test_id(f"floor-dot-{cp['code']}")
        expect(dot).to_have_attribute("data-state", cp["state"])
        colour = dot.locator(".floor-dot-mark").evaluate("e => getComputedStyle(e).backgroundColor")
        assert colour == COLOURS[cp["state"]], (cp["code"], cp["state"], colour)
        box = dot.bounding_box()
        assert box["width"] >= 32 and box["height"] >= 32  # a thumb's target


def test_floor_view_on_the_phone(live_server, browser, artifacts_dir):
    password = live_server.demo_password
    manager = client(live_server.url, "manager", password)
    patrol = client(live_server.url, "patrol", password)
    site = next(s for s in manager.get("/api/me").json()["sites"] if s["code"] == "DEMO")
    yesterday = (datetime.now(SITE_TZ) - timedelta(days=1)).date()
    day = yesterday.isoformat()

    # A 1栋 floor whose rounds yesterday were all the 楼管员's and all missed (low floors first:
    # the coverage test arranges its day on the top ones).
    plans = manager.get("/api/plans", params={"site": site["id"]}).json()
    plan = next(p for p in plans if p["name"] == PLAN)
    mine = set(manager.get(f"/api/plans/{plan['id']}").json()["checkpoint_ids"])
    rows = manager.get(
        "/api/compliance",
        params={"site": site["id"], "from": day, "to": day, "group_by": "checkpoint"},
    ).json()["rows"]
    by_floor: dict[int, list[dict]] = {}
    for row in rows:
        by_floor.setdefault(row["floor"], []).append(row)
    catalogue = patrol.get("/api/catalogue").json()
    floors = {f["id"]: f for f in catalogue["floors"]}
    clean = sorted(
        (
            f
            for f, rs in by_floor.items()
            if f is not None
            and len(rs) >= 3
            and all(r["key"] in mine and r["expected"] == 1 and r["missed"] == 1 for r in rs)
        ),
        key=lambda f: floors[f]["level"],
    )
    floor_id = clean[0]
    view = floor_view(manager, floor_id, day)
    assert view["plan"] is None
    assert {cp["state"] for cp in view["checkpoints"]} >= {"missed"}

    context = browser.new_context(**PHONE)
    page = context.new_page()
    login(page, live_server.url, "manager", password)

    # No plan: the schematic, the floor's checkpoints as dots coloured as the API says.
    page.goto(f"{live_server.url}/app/floors/{floor_id}?from={day}&to={day}")
    expect(page.get_by_test_id("floor-plan")).to_have_attribute("data-kind", "schematic")
    expect(page.get_by_test_id("floor-period-yesterday")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("floor-title")).to_have_text(
        f"{view['floor']['building']['name']} {view['floor']['name']}"
    )
    page.wait_for_function(
        "() => { const i = document.querySelector('.floor-image'); "
        "return i && i.complete && i.naturalWidth > 0; }"
    )
    image = page.get_by_test_id("floor-image")
    assert image.get_attribute("src").startswith(f"/api/floors/{floor_id}/plan?checkpoints=false")
    box = page.get_by_test_id("floor-plan").bounding_box()
    assert box["width"] >= 350, "the plan fills the phone's width"
    assert_dots_match_api(page, view)
    page.screenshot(path=str(artifacts_dir / "floor-390.png"), full_page=True)

    # One checkpoint checked yesterday at 09:00, synced only now: on time; the rest stay missed.
    target = next(cp for cp in view["checkpoints"] if cp["id"] in mine)
    c = next(x for x in catalogue["checkpoints"] if x["id"] == target["id"])
    template = next(t for t in catalogue["templates"] if t["id"] == c["template_id"])
    at = datetime.combine(yesterday, time(9, 0), SITE_TZ)
    secret = live_server.env["XUNJIAN_SECRET_KEY"].encode()
    record = {
        "id": str(uuid.uuid4()),
        "checkpoint": c["code"],
        "site": site["id"],
        "version": c["label_version"],
        "signature": sign(secret, "DEMO", c["code"], c["label_version"]),
        "source": "scan",
        "device_time": at.isoformat(),
        "template": None,
        "items": [{"item": i["code"], "result": "pass"} for i in template["items"]],
        "note": "",
        "photos": [],
    }
    response = patrol.post("/api/sync", json={"records": [record]})
    assert response.json()["results"][0]["status"] == "accepted", response.text
    view = floor_view(manager, floor_id, day)
    states = {cp["id"]: cp["state"] for cp in view["checkpoints"]}
    assert states[target["id"]] == "on_time"
    assert all(s == "missed" for cid, s in states.items() if cid != target["id"] and cid in mine)
    page.reload()
    assert_dots_match_api(page, view)
    page.get_by_test_id(f"floor-dot-{target['code']}").click()
    expect(page.get_by_test_id("floor-info-state")).to_have_text("按时完成")
    expect(page.get_by_test_id("floor-info-last")).to_have_text(
        f"最近检查：{yesterday.month}月{yesterday.day}日 09:00"
    )

    # Upload a plan drawn here: shown after a reload, the dots still on it.
    png = plan_png()
    page.get_by_test_id("floor-file").set_input_files(
        {"name": "plan.png", "mimeType": "image/png", "buffer": png}
    )
    expect(page.get_by_test_id("floor-status")).to_have_text("平面图已上传")
    page.reload()
    expect(page.get_by_test_id("floor-plan")).to_have_attribute("data-kind", "image")
    page.wait_for_function(
        "() => { const i = document.querySelector('.floor-image'); "
        "return i && i.complete && i.naturalWidth === 1200 && i.naturalHeight === 700; }"
    )
    assert manager.get(f"/api/floors/{floor_id}/checkpoints").json()["plan"]["width"] == 1200
    assert_dots_match_api(page, view)

    # Drag a dot (in 调整位置 mode) to 30 % from the left, 80 % from the top.
    page.get_by_test_id("floor-adjust").click()
    moved = view["checkpoints"][-1]
    dot = page.get_by_test_id(f"floor-dot-{moved['code']}")
    dot.scroll_into_view_if_needed()
    start = dot.bounding_box()
    plan_box = page.get_by_test_id("floor-plan").bounding_box()
    goal_x = plan_box["x"] + 0.3 * plan_box["width"]
    goal_y = plan_box["y"] + 0.8 * plan_box["height"]
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(goal_x, goal_y, steps=8)
    page.mouse.up()
    expect(page.get_by_test_id("floor-status")).to_contain_text("位置已保存")
    after = next(
        cp for cp in floor_view(manager, floor_id, day)["checkpoints"] if cp["id"] == moved["id"]
    )
    assert after["placed"] is True
    assert abs(after["x"] - 0.3) < 0.02 and abs(after["y"] - 0.8) < 0.02, after

    # The same with a finger (real touch events): another dot to 70 % / 20 %.
    # (a dot not covered by a neighbour: a finger takes the one on top)
    on_top = page.evaluate(
        """() => [...document.querySelectorAll('.floor-dot')].filter((d) => {
             const r = d.getBoundingClientRect();
             const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
             return hit && hit.closest('.floor-dot') === d;
           }).map((d) => Number(d.dataset.id))"""
    )
    touched = next(cp for cp in view["checkpoints"] if cp["id"] in on_top and cp != moved)
    start = page.get_by_test_id(f"floor-dot-{touched['code']}").bounding_box()
    plan_box = page.get_by_test_id("floor-plan").bounding_box()
    cdp = context.new_cdp_session(page)
    x0, y0 = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
    x1 = plan_box["x"] + 0.7 * plan_box["width"]
    y1 = plan_box["y"] + 0.2 * plan_box["height"]
    cdp.send(
        "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x0, "y": y0}]}
    )
    for i in range(1, 9):
        point = {"x": x0 + (x1 - x0) * i / 8, "y": y0 + (y1 - y0) * i / 8}
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    expect(page.get_by_test_id("floor-status")).to_have_text(f"位置已保存：{touched['name']}")
    after = next(
        cp for cp in floor_view(manager, floor_id, day)["checkpoints"] if cp["id"] == touched["id"]
    )
    assert abs(after["x"] - 0.7) < 0.02 and abs(after["y"] - 0.2) < 0.02, after
    page.get_by_test_id("floor-adjust").click()
    page.reload()
    expect(page.get_by_test_id("floor-plan")).to_have_attribute("data-kind", "image")
    page.wait_for_function(
        "() => { const i = document.querySelector('.floor-image'); return i && i.naturalWidth > 0; }"
    )
    box = page.get_by_test_id(f"floor-dot-{moved['code']}").bounding_box()
    plan_box = page.get_by_test_id("floor-plan").bounding_box()
    assert abs((box["x"] + box["width"] / 2 - plan_box["x"]) / plan_box["width"] - 0.3) < 0.02
    page.screenshot(path=str(artifacts_dir / "floor-390-plan.png"), full_page=True)
    context.close()
    manager.close()
    patrol.close()
