"""The back office (piccolo_admin) mounted at /admin/ of a Litestar app: page, assets, who may enter,
listing checkpoints and revoking a phone's login through its API."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from piccolo_api.session_auth.tables import SessionsBase

from server.admin import SITE_NAME, allowed_hosts
from server.auth import load_current_user, open_session
from server.tables.accounts import AuthSession, User
from server.tables.checkpoints import Checkpoint
from server.tables.sites import Site

pytestmark = pytest.mark.api

PASSWORD = "admin-test-pw-1"


@pytest.fixture
async def client(app):
    """The real app (which mounts the back office), driven over ASGI in the tests' own loop."""
    transport = httpx.ASGITransport(app=app, client=("10.8.0.1", 40000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver.local"
    ) as test_client:
        yield test_client


async def _user(*, admin: bool, active: bool = True) -> User:
    name = f"adm-{uuid.uuid4().hex[:8]}"
    return await User.create_user(
        username=name,
        password=PASSWORD,
        email=f"{name}@test.invalid",
        admin=admin,
        active=active,
        role="admin" if admin else "patrol",
    )


async def _csrf(client) -> dict[str, str]:
    response = await client.get("/admin/")
    token = response.cookies.get("csrftoken") or client.cookies.get("csrftoken")
    assert token
    return {"X-CSRFToken": token}


async def _login(client, user: User, password: str = PASSWORD):
    return await client.post(
        "/admin/public/login/",
        headers=await _csrf(client),
        json={"username": user.username, "password": password},
    )


async def test_admin_page_and_assets_are_served_under_the_prefix(client):
    redirect = await client.get("/admin", follow_redirects=False)
    assert redirect.status_code == 308 and redirect.headers["location"] == "admin/"
    page = await client.get("/admin/")
    assert page.status_code == 200
    assert '<div id="app">' in page.text
    script = re.search(r'src="\./(assets/[^"]+\.js)"', page.text).group(1)
    asset = await client.get(f"/admin/{script}")
    assert asset.status_code == 200 and "javascript" in asset.headers["content-type"]
    meta = await client.get("/admin/public/meta/")
    assert meta.status_code == 200 and meta.json()["site_name"] == SITE_NAME


async def test_api_refuses_without_login(client):
    for path in ("/admin/api/tables/checkpoint/", "/admin/api/user/", "/admin/api/tables/"):
        response = await client.get(path)
        assert response.status_code == 401, path


async def test_login_needs_the_csrf_token(client):
    user = await _user(admin=True)
    response = await client.post(
        "/admin/public/login/", json={"username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 403
    assert "id" not in response.cookies


async def test_non_admin_cannot_log_in(client):
    user = await _user(admin=False)
    response = await _login(client, user)
    assert response.status_code == 403
    assert "管理员" in response.json()["detail"]
    assert "id" not in response.cookies and "id" not in client.cookies
    assert not await SessionsBase.exists().where(SessionsBase.user_id == user.id)
    assert (await client.get("/admin/api/user/")).status_code == 401


async def test_inactive_admin_cannot_log_in(client):
    user = await _user(admin=True, active=False)
    assert (await _login(client, user)).status_code == 403


async def test_piccolo_refuses_a_non_admin_session_on_its_own(client):
    """The gate at login is a second line: piccolo_admin's API itself demands admin=True."""
    user = await _user(admin=False)
    now = datetime.now()
    session = await SessionsBase.create_session(
        user_id=user.id,
        expiry_date=now + timedelta(hours=1),
        max_expiry_date=now + timedelta(days=1),
    )
    client.cookies.set("id", session.token)
    assert (await client.get("/admin/api/tables/checkpoint/")).status_code == 401


async def test_wrong_password_is_refused(client):
    user = await _user(admin=True)
    response = await _login(client, user, password="not-the-password")
    assert response.status_code == 401
    assert "id" not in response.cookies


async def test_admin_logs_in_and_lists_checkpoints(client):
    site = (
        await Site.insert(
            Site(
                code=f"ADM{uuid.uuid4().hex[:6]}".upper(),
                name="后台测试小区",
                created_at=datetime.now(UTC),
            )
        )
    )[0]["id"]
    codes = ["ADM-1", "ADM-2"]
    await Checkpoint.insert(
        *[
            Checkpoint(
                site=site,
                code=code,
                kind="facility",
                type_code="hydrant",
                name=f"消火栓 {code}",
                updated_at=datetime.now(UTC),
            )
            for code in codes
        ]
    )
    user = await _user(admin=True)
    response = await _login(client, user)
    assert response.status_code == 200, response.text
    assert response.cookies.get("id")

    me = await client.get("/admin/api/user/")
    assert me.status_code == 200 and me.json()["username"] == user.username
    listing = await client.get("/admin/api/tables/checkpoint/", params={"site": site})
    assert listing.status_code == 200
    assert sorted(row["code"] for row in listing.json()["rows"]) == codes
    grouped = (await client.get("/admin/api/tables/grouped/")).json()
    assert grouped["grouped"]["巡检点与模板"] == [
        "checklist_template",
        "checkpoint",
        "template_item",
    ]
    assert "auth_session" in grouped["grouped"]["人员"]


async def test_admin_revokes_a_phone_login(client):
    phone_user = await _user(admin=False)
    token = await open_session(_Settings(), phone_user.id, "Android test phone")
    assert await load_current_user(token) is not None
    session_id = (
        await AuthSession.select(AuthSession.id).where(AuthSession.user == phone_user.id).first()
    )["id"]

    admin = await _user(admin=True)
    assert (await _login(client, admin)).status_code == 200
    response = await client.patch(
        f"/admin/api/tables/auth_session/{session_id}/",
        headers=await _csrf(client),
        json={"revoked": True},
    )
    assert response.status_code == 200, response.text
    assert await load_current_user(token) is None


class _Settings:
    session_days = 30


def test_allowed_hosts_cover_base_url_and_loopback(settings):
    from dataclasses import replace

    hosts = allowed_hosts(replace(settings, base_url="https://xj.Example.cn:8443", host="10.0.0.5"))
    assert hosts == ["xj.example.cn", "localhost", "127.0.0.1", "::1", "10.0.0.5"]
