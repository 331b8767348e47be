"""The managers' patrol-plan screens (巡检计划) in real Chromium against the real server and demo
site, on the phone (390×844).

The demo manager makes a plan on the phone: two time windows, 1栋's facility checkpoints, the
demo 楼管员 as the person. The list then says it in words, and GET /api/plans holds exactly what
was entered, with the checkpoint count the form showed after saving. Changing the windows saves;
overlapping windows are refused with the server's reason at the form, in Chinese, and nothing
changes; deleting asks first and then the plan is gone. The dispatcher reads the same list without
any button that changes a plan.
"""

from __future__ import annotations

import uuid

import pytest
from phone import PHONE, login, login_client
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

THUMB = 44  # px: the smallest target a gloved thumb hits reliably


def set_window(page: Page, index: int, start: str, end: str) -> None:
    row = page.get_by_test_id("plan-window").nth(index)
    row.get_by_test_id("plan-window-start").fill(start)
    row.get_by_test_id("plan-window-end").fill(end)


def assert_thumb_sized(locator) -> None:
    for i in range(locator.count()):
        box = locator.nth(i).bounding_box()
        assert box is not None and box["height"] >= THUMB and box["width"] >= THUMB, box


def test_manager_makes_changes_and_deletes_a_plan_on_the_phone(live_server, browser, artifacts_dir):
    password = live_server.demo_password
    manager = login_client(live_server.url, "manager", password)
    site = next(s for s in manager.get("/api/me").json()["sites"] if s["code"] == "DEMO")
    building = next(
        b for b in manager.get(f"/api/sites/{site['id']}/buildings").json() if b["name"] == "1栋"
    )
    patrol = next(u for u in manager.get("/api/users").json() if u["username"] == "patrol")
    facilities = manager.get(
        f"/api/sites/{site['id']}/checkpoints",
        params={"building": building["id"], "kind": "facility", "page_size": 1},
    ).json()["total"]
    assert facilities > 0
    plans_before = manager.get("/api/plans", params={"site": site["id"]}).json()
    name = f"1栋设施早晚巡视 {uuid.uuid4().hex[:6]}"

    context = browser.new_context(**PHONE)
    page = context.new_page()
    login(page, live_server.url, "manager", password)
    page.get_by_test_id("tile-plans").click()
    expect(page.get_by_test_id("plans-screen")).to_be_visible()
    expect(page.get_by_test_id("plan-item")).to_have_count(len(plans_before))
    expect(page.get_by_test_id("plans-coverage")).to_have_attribute("href", "/app/coverage")

    # -- a new plan ----------------------------------------------------------------------------
    page.get_by_test_id("plans-new").click()
    expect(page.get_by_test_id("plan-form")).to_be_visible()
    expect(page.get_by_test_id("plan-windows-hint")).to_contain_text("跨夜")
    page.get_by_test_id("plan-name-input").fill(name)
    expect(page.get_by_test_id("plan-per-day")).to_have_attribute("aria-pressed", "true")
    page.get_by_test_id("plan-window-add").click()
    page.get_by_test_id("plan-window-add").click()
    set_window(page, 0, "08:00", "12:00")
    set_window(page, 1, "14:00", "18:00")
    # A daily plan with windows has one round per window: the form keeps the count in step.
    expect(page.get_by_test_id("plan-times")).to_have_value("2")
    page.get_by_test_id("plan-grace").fill("30")
    page.locator(
        f".plan-building[data-building-id='{building['id']}'] [data-testid=plan-building]"
    ).check()
    page.get_by_test_id("plan-kind-facility").check()
    page.locator(f"[data-testid=plan-assignee][value='{patrol['id']}']").check()
    # Targets for a thumb: window rows, their remove buttons, the choices and the save button.
    assert_thumb_sized(page.get_by_test_id("plan-window-remove"))
    assert_thumb_sized(page.get_by_test_id("plan-window-start"))
    assert_thumb_sized(page.locator(".plan-check:visible"))
    assert_thumb_sized(page.get_by_test_id("plan-save"))
    page.screenshot(path=str(artifacts_dir / "plans-form-390.png"), full_page=True)
    page.get_by_test_id("plan-save").click()
    expect(page.get_by_test_id("plan-saved")).to_have_text(f"已保存。将包含 {facilities} 个点位")
    expect(page.get_by_test_id("plan-count-live")).to_have_text(f"将包含 {facilities} 个点位")
    expect(page.get_by_test_id("plan-error")).to_be_hidden()

    plans = manager.get("/api/plans", params={"site": site["id"]}).json()
    assert len(plans) == len(plans_before) + 1
    plan = next(p for p in plans if p["name"] == name)
    assert page.url.endswith(f"/app/plans/{plan['id']}")
    assert plan["per"] == "day" and plan["times"] == 2
    assert plan["windows"] == [["08:00", "12:00"], ["14:00", "18:00"]]
    assert plan["grace_minutes"] == 30
    assert plan["selection"]["buildings"] == [building["id"]]
    assert plan["selection"]["floors"] == []
    assert plan["selection"]["kinds"] == ["facility"]
    assert plan["checkpoint_count"] == facilities
    assert [a["id"] for a in plan["assignees"]] == [patrol["id"]]
    assert plan["role"] is None and plan["department"] is None
    assert plan["ends_on"] is None

    # -- listed in words -----------------------------------------------------------------------
    page.get_by_test_id("plan-back").click()
    item = page.locator(f"[data-testid=plan-item][data-plan-id='{plan['id']}']")
    expect(item.get_by_test_id("plan-name")).to_have_text(name)
    expect(item.get_by_test_id("plan-frequency")).to_have_text("每天 2 次 08:00–12:00、14:00–18:00")
    expect(item.get_by_test_id("plan-count")).to_have_text(f"{facilities} 个点位")
    expect(item.get_by_test_id("plan-people")).to_have_text(patrol["display_name"])
    expect(item.get_by_test_id("plan-dates")).to_contain_text(f"{plan['starts_on']} 起")
    # The demo's own plans read the same way.
    demo = page.locator("[data-testid=plan-item]", has_text="王晓明 1栋每日巡视")
    expect(demo.get_by_test_id("plan-frequency")).to_have_text("每天 1 次 08:30–17:30")
    weekly = page.locator("[data-testid=plan-item]", has_text="空置房每周巡查")
    expect(weekly.get_by_test_id("plan-frequency")).to_have_text("每周 1 次")
    expect(weekly.get_by_test_id("plan-people")).to_have_text("楼管员")
    monthly = page.locator("[data-testid=plan-item]", has_text="标识每月检查")
    expect(monthly.get_by_test_id("plan-frequency")).to_have_text("每月 1 次")
    assert_thumb_sized(item.get_by_test_id("plan-edit"))
    assert_thumb_sized(item.get_by_test_id("plan-delete"))
    item.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "plans-390.png"))

    # -- edit: other times and a night window ---------------------------------------------------
    item.get_by_test_id("plan-edit").click()
    expect(page.get_by_test_id("plan-name-input")).to_have_value(name)
    expect(page.get_by_test_id("plan-window")).to_have_count(2)
    expect(page.get_by_test_id("plan-count-live")).to_have_text(f"将包含 {facilities} 个点位")
    set_window(page, 1, "13:00", "17:00")
    page.get_by_test_id("plan-window-add").click()
    # Typed the quick way on the number pad: 2200 and 600 are 22:00 and 06:00.
    set_window(page, 2, "2200", "600")
    page.get_by_test_id("plan-grace").click()
    expect(page.get_by_test_id("plan-window-start").nth(2)).to_have_value("22:00")
    expect(page.get_by_test_id("plan-window-end").nth(2)).to_have_value("06:00")
    expect(page.get_by_test_id("plan-times")).to_have_value("3")
    expect(page.get_by_test_id("plan-window-night").nth(2)).to_have_text("跨夜：结束在次日")
    expect(page.get_by_test_id("plan-window-night").nth(0)).to_be_hidden()
    page.get_by_test_id("plan-save").click()
    expect(page.get_by_test_id("plan-saved")).to_be_visible()
    saved = manager.get(f"/api/plans/{plan['id']}").json()
    assert saved["windows"] == [["08:00", "12:00"], ["13:00", "17:00"], ["22:00", "06:00"]]
    assert saved["times"] == 3
    assert saved["selection"]["buildings"] == [building["id"]]
    assert [a["id"] for a in saved["assignees"]] == [patrol["id"]]
    assert saved["starts_on"] == plan["starts_on"]

    # -- invalid: overlapping windows are refused at the form, nothing changes ----------------
    set_window(page, 1, "11:00", "17:00")
    page.get_by_test_id("plan-save").click()
    error = page.get_by_test_id("plan-error")
    expect(error).to_be_visible()
    expect(error).to_have_text("巡检计划设置有误：时段不能重叠")
    expect(page.get_by_test_id("plan-saved")).to_be_hidden()
    # Said again at the windows, where it is fixed, and the form is scrolled there.
    windows_error = page.get_by_test_id("plan-windows-error")
    expect(windows_error).to_have_text("时段不能重叠")
    expect(windows_error).to_be_in_viewport()
    expect(page.get_by_test_id("plan-window-start").nth(1)).to_have_attribute(
        "aria-invalid", "true"
    )
    page.screenshot(path=str(artifacts_dir / "plans-form-error-390.png"))
    assert manager.get(f"/api/plans/{plan['id']}").json() == saved
    # A removed window row is not sent; the plan saves again once the overlap is gone.
    page.get_by_test_id("plan-window").nth(1).get_by_test_id("plan-window-remove").click()
    expect(page.get_by_test_id("plan-times")).to_have_value("2")
    page.get_by_test_id("plan-save").click()
    expect(page.get_by_test_id("plan-saved")).to_be_visible()
    expect(page.get_by_test_id("plan-error")).to_be_hidden()
    expect(windows_error).to_be_hidden()
    assert manager.get(f"/api/plans/{plan['id']}").json()["windows"] == [
        ["08:00", "12:00"],
        ["22:00", "06:00"],
    ]

    # -- a new plan with overlapping windows is not saved at all ------------------------------
    page.goto(f"{live_server.url}/app/plans/new")
    page.get_by_test_id("plan-name-input").fill(f"{name} 重叠")
    page.get_by_test_id("plan-window-add").click()
    page.get_by_test_id("plan-window-add").click()
    set_window(page, 0, "08:00", "12:00")
    set_window(page, 1, "10:00", "14:00")
    page.get_by_test_id("plan-kind-signage").check()
    page.get_by_test_id("plan-save").click()
    expect(page.get_by_test_id("plan-error")).to_have_text("巡检计划设置有误：时段不能重叠")
    assert page.url.endswith("/app/plans/new")
    assert len(manager.get("/api/plans", params={"site": site["id"]}).json()) == len(plans)

    # -- delete: asks first ---------------------------------------------------------------------
    page.goto(f"{live_server.url}/app/plans")
    item = page.locator(f"[data-testid=plan-item][data-plan-id='{plan['id']}']")
    expect(item.get_by_test_id("plan-frequency")).to_have_text(
        "每天 2 次 08:00–12:00、22:00–06:00（跨夜）"
    )
    page.once("dialog", lambda dialog: dialog.dismiss())
    item.get_by_test_id("plan-delete").click()
    expect(item).to_be_visible()
    assert manager.get(f"/api/plans/{plan['id']}").status_code == 200
    messages = []

    def accept(dialog):
        messages.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    item.get_by_test_id("plan-delete").click()
    expect(item).to_have_count(0)
    expect(page.get_by_test_id("plans-status")).to_have_text(f"已删除“{name}”")
    assert name in messages[0]
    assert manager.get(f"/api/plans/{plan['id']}").status_code == 404
    assert len(manager.get("/api/plans", params={"site": site["id"]}).json()) == len(plans_before)
    context.close()


def test_dispatcher_reads_the_plans_without_changing_them(live_server, browser, artifacts_dir):
    password = live_server.demo_password
    dispatcher = login_client(live_server.url, "dispatcher", password)
    site = next(s for s in dispatcher.get("/api/me").json()["sites"] if s["code"] == "DEMO")
    plans = dispatcher.get("/api/plans", params={"site": site["id"]}).json()
    assert plans

    context = browser.new_context(**PHONE)
    page = context.new_page()
    login(page, live_server.url, "dispatcher", password)
    page.get_by_test_id("tile-plans").click()
    expect(page.get_by_test_id("plan-item")).to_have_count(len(plans))
    for plan in plans:
        item = page.locator(f"[data-testid=plan-item][data-plan-id='{plan['id']}']")
        expect(item.get_by_test_id("plan-name")).to_have_text(plan["name"])
        expect(item.get_by_test_id("plan-count")).to_have_text(f"{plan['checkpoint_count']} 个点位")
    expect(page.get_by_test_id("plans-read-only")).to_be_visible()
    expect(page.get_by_test_id("plans-new")).to_have_count(0)
    expect(page.get_by_test_id("plan-edit")).to_have_count(0)
    expect(page.get_by_test_id("plan-delete")).to_have_count(0)
    expect(page.get_by_test_id("plans-coverage")).to_be_visible()
    # The form is not theirs either, even by its address.
    page.goto(f"{live_server.url}/app/plans/{plans[0]['id']}")
    expect(page.get_by_test_id("plan-form-screen")).to_contain_text("只有主管和管理员可以修改计划")
    expect(page.get_by_test_id("plan-form")).to_have_count(0)
    context.close()

    # At a desk the list and the manager's form use the wide screen.
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    login(page, live_server.url, "manager", password)
    page.goto(f"{live_server.url}/app/plans")
    expect(page.get_by_test_id("plan-item")).to_have_count(len(plans))
    page.screenshot(path=str(artifacts_dir / "plans-1280.png"))
    page.goto(f"{live_server.url}/app/plans/{plans[0]['id']}")
    expect(page.get_by_test_id("plan-name-input")).to_have_value(plans[0]["name"])
    expect(page.get_by_test_id("plan-window")).to_have_count(len(plans[0]["windows"]))
    page.screenshot(path=str(artifacts_dir / "plans-form-1280.png"), full_page=True)
    # A plan chosen by floors and facility types (the 客服 spot check): its floors show ticked,
    # and the types, which have no control here, are said to be kept.
    spot = next(p for p in plans if p["name"] == "客服主管每日抽查")
    page.goto(f"{live_server.url}/app/plans/{spot['id']}")
    expect(page.get_by_test_id("plan-selection-kept")).to_contain_text("2 种设施类型")
    expect(page.locator("[data-testid=plan-floor]:checked")).to_have_count(
        len(spot["selection"]["floors"])
    )
    expect(page.locator("[data-testid=plan-building]:checked")).to_have_count(0)
    expect(page.get_by_test_id("plan-count-live")).to_have_text(
        f"将包含 {spot['checkpoint_count']} 个点位"
    )
    context.close()
