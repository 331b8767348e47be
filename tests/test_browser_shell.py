"""The PWA shell in real Chromium against the real server: login, home, language, logout, the QR
label deep link surviving a login, and the app opening with no network (service worker).

Phone-sized context (390×844, touch, 2× pixels, zh-CN). Selectors are data-testid attributes;
waits are on locators and responses, never fixed sleeps.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from phone import PHONE
from playwright.sync_api import BrowserContext, Page, expect

pytestmark = pytest.mark.browser

CJK = re.compile(r"[\u4e00-\u9fff]")


class Shell:
    """Page object for the shell: the login screen, home, the top bar."""

    def __init__(self, page: Page, base_url: str):
        self.page = page
        self.base_url = base_url

    def open(self, path: str = "/"):
        return self.page.goto(self.base_url + path)

    def path(self) -> str:
        return self.page.url.removeprefix(self.base_url)

    def submit_login(self, username: str, password: str) -> None:
        self.page.get_by_test_id("login-username").fill(username)
        self.page.get_by_test_id("login-password").fill(password)
        with self.page.expect_response("**/api/auth/login"):
            self.page.get_by_test_id("login-submit").click()

    def login(self, username: str, password: str) -> None:
        expect(self.page.get_by_test_id("login-screen")).to_be_visible()
        self.submit_login(username, password)
        expect(self.page.get_by_test_id("login-screen")).to_have_count(0)

    def me(self) -> dict:
        """/api/me with this context's session cookie."""
        response = self.page.request.get(f"{self.base_url}/api/me")
        assert response.status == 200, response.text()
        return response.json()

    def checkpoint_count(self) -> int:
        count = self.page.get_by_test_id("home-checkpoints-count")
        expect(count).to_have_text(re.compile(r"^\d+$"))
        return int(count.inner_text())


@pytest.fixture
def context(live_server, browser):
    # live_server first: its async set-up (migrations) cannot run once Playwright's sync API has
    # taken the thread's event loop.
    context = browser.new_context(**PHONE)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext):
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert errors == [], f"uncaught errors in the page: {errors}"


@pytest.fixture
def shell(page, live_server) -> Shell:
    return Shell(page, live_server.url)


def test_login_home_language_logout(shell: Shell, page: Page, live_server, artifacts_dir):
    shell.open("/")
    expect(page.get_by_test_id("login-screen")).to_be_visible()
    assert shell.path() == "/app/login"
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")

    # An empty form is answered on the phone, without a request.
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_have_text("请输入用户名和密码")

    # A wrong password: the server's message, in Chinese, and the button is usable again.
    shell.submit_login("patrol", "definitely-not-the-password")
    error = page.get_by_test_id("login-error")
    expect(error).to_be_visible()
    expect(error).to_have_text(CJK)
    expect(page.get_by_test_id("login-submit")).to_be_enabled()
    expect(page.get_by_test_id("login-password")).to_have_value("")
    page.screenshot(path=str(artifacts_dir / "login-390.png"))

    # Show / hide password.
    page.get_by_test_id("login-password").fill("secret")
    page.get_by_test_id("login-toggle-password").click()
    expect(page.get_by_test_id("login-password")).to_have_attribute("type", "text")
    page.get_by_test_id("login-toggle-password").click()
    expect(page.get_by_test_id("login-password")).to_have_attribute("type", "password")

    shell.submit_login("patrol", live_server.demo_password)
    expect(page.get_by_test_id("home-screen")).to_be_visible()
    assert shell.path() == "/app/home"
    me = shell.me()
    assert me["role"] == "patrol"
    expect(page.get_by_test_id("home-greeting")).to_contain_text(me["display_name"])
    expect(page.get_by_test_id("home-role")).to_contain_text("楼管员")
    expect(page.get_by_test_id("topbar-site")).to_have_text(me["sites"][0]["name"])
    assert shell.checkpoint_count() > 0
    # The counts by kind add up to the total.
    kinds = page.get_by_test_id("home-by-kind").locator("li strong").all_inner_texts()
    assert sum(int(k) for k in kinds) == shell.checkpoint_count()

    # Screens that exist are links; those that do not yet are shown disabled, never as dead links.
    expect(page.get_by_test_id("tile-scan")).to_have_attribute("href", "/app/scan")
    expect(page.get_by_test_id("tile-outbox")).to_have_attribute("href", "/app/outbox")
    expect(page.get_by_test_id("tile-work-orders")).to_have_attribute("href", "/app/work-orders")
    # Managers' tiles are hidden from a patrol.
    for hidden in ("tile-coverage", "tile-labels", "tile-admin"):
        expect(page.get_by_test_id(hidden)).to_have_count(0)
    # Nothing wider than the phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(artifacts_dir / "home-390.png"))

    # English, kept across a reload.
    page.get_by_test_id("lang-switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_test_id("home-greeting")).to_have_text(f"Hello, {me['display_name']}")
    expect(page.get_by_test_id("home-role")).to_contain_text("Patrol officer")
    expect(page.get_by_test_id("tile-work-orders")).to_contain_text("Work orders")
    expect(page.get_by_test_id("logout")).to_have_text("Log out")
    page.reload()
    expect(page.get_by_test_id("home-greeting")).to_have_text(f"Hello, {me['display_name']}")
    page.screenshot(path=str(artifacts_dir / "home-390-en.png"))

    # Logout ends the session on the server, not just on the screen.
    with page.expect_response("**/api/auth/logout") as logout:
        page.get_by_test_id("logout").click()
    assert logout.value.status == 204
    expect(page.get_by_test_id("login-screen")).to_be_visible()
    assert shell.path() == "/app/login"
    assert page.request.get(f"{live_server.url}/api/me").status == 401

    # Errors from the server now come in English (Accept-Language follows the switch).
    shell.submit_login("no-such-user-here", "wrong-password")
    expect(page.get_by_test_id("login-error")).to_be_visible()
    expect(page.get_by_test_id("login-error")).not_to_have_text(CJK)

    # Back to Chinese for the next person.
    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_test_id("login-submit")).to_have_text("登录")


def test_admin_sees_back_office_as_a_real_link(shell: Shell, page: Page, live_server):
    shell.open("/app/home")
    shell.login("admin", live_server.demo_password)
    expect(page.get_by_test_id("home-screen")).to_be_visible()
    admin = page.get_by_test_id("tile-admin")
    expect(admin).to_have_attribute("href", "/admin/")
    expect(admin).not_to_have_attribute("aria-disabled", "true")
    expect(page.get_by_test_id("tile-coverage")).to_be_visible()
    expect(page.get_by_test_id("tile-labels")).to_be_visible()


def test_label_deep_link_survives_login(shell: Shell, page: Page, live_server, artifacts_dir):
    target = "/c/SOMECODE?s=abc123"
    shell.open(target)
    expect(page.get_by_test_id("login-screen")).to_be_visible()
    assert shell.path() == f"/app/login?next={quote(target, safe='')}"

    shell.login("patrol", live_server.demo_password)
    expect(page.get_by_test_id("checkpoint-screen")).to_be_visible()
    assert shell.path() == target
    expect(page.get_by_test_id("checkpoint-code")).to_have_text("SOMECODE")
    page.screenshot(path=str(artifacts_dir / "checkpoint-390.png"))

    page.get_by_test_id("checkpoint-home").click()
    expect(page.get_by_test_id("home-screen")).to_be_visible()
    assert shell.path() == "/app/home"
    # The browser's back button returns to the label screen.
    page.go_back()
    expect(page.get_by_test_id("checkpoint-code")).to_have_text("SOMECODE")


def test_every_string_in_both_languages(shell: Shell, page: Page):
    shell.open("/app/login")
    expect(page.get_by_test_id("login-screen")).to_be_visible()
    missing = page.evaluate(
        """import('/static/i18n.js').then(({_strings}) => {
            const zh = Object.keys(_strings['zh-CN']), en = Object.keys(_strings.en);
            return {en: zh.filter(k => !en.includes(k)), zh: en.filter(k => !zh.includes(k))};
        })"""
    )
    assert missing == {"en": [], "zh": []}


def test_next_never_leaves_the_app(shell: Shell, page: Page, live_server):
    shell.open("/app/login?next=" + quote("//evil.example/c/X", safe=""))
    shell.login("patrol", live_server.demo_password)
    expect(page.get_by_test_id("home-screen")).to_be_visible()
    assert shell.path() == "/app/home"


def test_unknown_app_path_lands_on_home(shell: Shell, page: Page, live_server):
    shell.open("/app/home")
    shell.login("patrol", live_server.demo_password)
    shell.open("/app/no-such-screen")
    expect(page.get_by_test_id("home-screen")).to_be_visible()
    assert shell.path() == "/app/home"


def test_cold_start_offline(shell: Shell, page: Page, context: BrowserContext, live_server):
    shell.open("/app/home")
    shell.login("patrol", live_server.demo_password)
    online_count = shell.checkpoint_count()
    # The worker has installed (precached the shell) and controls the page.
    page.wait_for_function(
        "navigator.serviceWorker.controller !== null"
        " && navigator.serviceWorker.controller.state === 'activated'"
    )
    cache_names = page.evaluate("caches.keys()")
    assert any(name.startswith("xunjian-shell-") for name in cache_names)

    context.set_offline(True)
    response = page.reload()
    assert response is not None and response.from_service_worker
    expect(page.get_by_test_id("offline-banner")).to_be_visible()
    expect(page.get_by_test_id("home-greeting")).to_be_visible()
    # The last numbers seen online, marked as such.
    assert shell.checkpoint_count() == online_count
    expect(page.get_by_test_id("home-summary-note")).to_be_visible()

    # A fresh tab while offline: the whole shell comes from the worker's cache.
    second = context.new_page()
    second_response = second.goto(f"{live_server.url}/c/OFFLINE-1")
    assert second_response is not None and second_response.from_service_worker
    expect(second.get_by_test_id("checkpoint-code")).to_have_text("OFFLINE-1")
    expect(second.get_by_test_id("offline-banner")).to_be_visible()

    # Back online: the banner goes once a real request gets through.
    context.set_offline(False)
    page.reload()
    expect(page.get_by_test_id("home-greeting")).to_be_visible()
    expect(page.get_by_test_id("offline-banner")).to_be_hidden()
