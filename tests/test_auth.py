"""Login, sessions, logout, throttling and the error shape of auth failures."""

import pytest

pytestmark = pytest.mark.api


async def test_login_sets_session_and_me_describes_user(make_site, make_user, make_client):
    site = await make_site()
    user = await make_user("patrol", sites=[site.id])
    client = make_client()
    response = await client.post(
        "/api/auth/login", json={"username": user.username, "password": user.password}
    )
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert (
        "xj_session=" in cookie
        and "HttpOnly" in cookie
        and "SameSite=lax" in cookie.replace("Lax", "lax")
    )
    assert "Max-Age=2592000" in cookie  # 30 days: a field shift and beyond
    me = (await client.get("/api/me")).json()
    assert me["username"] == user.username
    assert me["role"] == "patrol"
    assert [s["id"] for s in me["sites"]] == [site.id]


async def test_wrong_password_is_401_with_message_in_the_requested_language(make_user, make_client):
    user = await make_user()
    zh = await make_client("zh-CN").post(
        "/api/auth/login", json={"username": user.username, "password": "nope"}
    )
    assert zh.status_code == 401
    assert zh.json() == {"error": {"code": "invalid_credentials", "message": "用户名或密码错误"}}
    en = await make_client("en-GB,en;q=0.9").post(
        "/api/auth/login", json={"username": user.username, "password": "nope"}
    )
    assert en.json()["error"]["message"] == "Wrong username or password"


async def test_unknown_user_answers_like_a_wrong_password(make_client):
    response = await make_client().post(
        "/api/auth/login", json={"username": "nobody-here", "password": "x"}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


async def test_me_without_session_is_401(make_client):
    response = await make_client().get("/api/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


async def test_forged_cookie_is_401(make_client):
    client = make_client()
    client.cookies.set("xj_session", "forged-token")
    response = await client.get("/api/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "session_expired"


async def test_logout_ends_the_session(make_user, login):
    client = await login(await make_user())
    token = client.cookies.get("xj_session")
    assert (await client.post("/api/auth/logout")).status_code == 204
    # Even a copy of the old cookie no longer works.
    client.cookies.set("xj_session", token)
    assert (await client.get("/api/me")).status_code == 401


async def test_admin_can_revoke_every_session_of_a_user(make_user, login):
    admin = await login(await make_user("admin"))
    victim = await make_user("patrol")
    phone_a, phone_b = await login(victim), await login(victim)
    response = await admin.post(f"/api/users/{victim.id}/revoke-sessions")
    assert response.status_code == 200 and response.json() == {"revoked": 2}
    assert (await phone_a.get("/api/me")).status_code == 401
    assert (await phone_b.get("/api/me")).status_code == 401


async def test_disabled_account_cannot_log_in(make_user, make_client):
    user = await make_user(active=False)
    response = await make_client().post(
        "/api/auth/login", json={"username": user.username, "password": user.password}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "account_disabled"


async def test_repeated_failures_for_one_user_are_throttled(make_user, make_client, app):
    user = await make_user()
    limit = app.state.settings.login_failures_per_user
    for _ in range(limit):
        # Each attempt from a different address: the per-user limit must still hold.
        response = await make_client().post(
            "/api/auth/login", json={"username": user.username, "password": "wrong"}
        )
        assert response.status_code == 401
    blocked = await make_client().post(
        "/api/auth/login", json={"username": user.username, "password": user.password}
    )
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "too_many_attempts"
    assert int(blocked.headers["retry-after"]) > 0


async def test_repeated_failures_from_one_address_are_throttled(make_client, app, monkeypatch):
    from dataclasses import replace

    monkeypatch.setattr(
        app.state, "settings", replace(app.state.settings, login_failures_per_address=3)
    )
    client = make_client()
    for i in range(3):
        response = await client.post(
            "/api/auth/login", json={"username": f"guess{i}", "password": "x"}
        )
        assert response.status_code == 401
    response = await client.post(
        "/api/auth/login", json={"username": "guess-next", "password": "x"}
    )
    assert response.status_code == 429


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"username": 5, "password": "x"}',
        b'{"username": "a"}',
        b'{"username": "a", "password": "b", "extra": 1}',
        b'{"username": "", "password": "b"}',
        b"[]",
    ],
)
async def test_bad_login_bodies_are_400_with_the_error_shape(make_client, body):
    response = await make_client().post(
        "/api/auth/login", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"] == "请求内容有误"
