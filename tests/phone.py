"""The phone the browser tests hold: a mid-range Android in portrait, touch, Chinese UI; and how
they log in."""

import httpx
from playwright.sync_api import Page, expect

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
    "locale": "zh-CN",
}


def login_client(url: str, username: str, password: str) -> httpx.Client:
    """An API client of the live server, logged in as ``username`` (no kept-alive connections:
    a test's server may restart under it)."""
    client = httpx.Client(
        base_url=url, timeout=60, limits=httpx.Limits(max_keepalive_connections=0)
    )
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return client


def login(page: Page, base_url: str, username: str, password: str) -> None:
    """Log ``page`` in through the login screen and wait for the home screen."""
    page.goto(f"{base_url}/app/login")
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("home-screen")).to_be_visible()
