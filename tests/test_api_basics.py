"""OpenAPI, health, the error shape on every kind of bad input (never a 500)."""

import pytest

pytestmark = pytest.mark.api


async def test_openapi_schema_lists_the_api(make_client):
    response = await make_client().get("/schema/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/api/auth/login", "/api/me", "/api/sites/{site_id}/checkpoints", "/healthz"):
        assert path in paths
    # Request bodies are described from the msgspec Structs.
    login = paths["/api/auth/login"]["post"]["requestBody"]["content"]["application/json"]
    assert "schema" in login


async def test_healthz_queries_the_database(make_client):
    response = await make_client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "storage": "ok"}


async def test_shell_and_service_worker_are_served_without_login(make_client):
    client = make_client()
    for path in ("/", "/app/home", "/c/A-1-XF1?v=1&s=abc"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
    sw = await client.get("/sw.js")
    assert sw.status_code == 200
    assert sw.headers["service-worker-allowed"] == "/"
    assert (await client.get("/manifest.webmanifest")).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("GET", "/api/nothing-here", {}, 404, "not_found"),
        ("DELETE", "/api/me", {}, 405, "method_not_allowed"),
        ("GET", "/api/sites/{site}/checkpoints?page=0", {}, 400, "invalid_request"),
        ("GET", "/api/sites/{site}/checkpoints?page_size=100000", {}, 400, "invalid_request"),
        ("GET", "/api/sites/{site}/checkpoints?kind=spaceship", {}, 400, "invalid_request"),
        ("GET", "/api/sites/{site}/checkpoints?building=abc", {}, 400, "invalid_request"),
        ("GET", "/api/sites/999999999/summary", {}, 404, "not_found"),
        ("GET", "/api/checkpoints/99999999999999999999", {}, 400, "invalid_request"),
        ("POST", "/api/users", {"content": b"\xff\xfe garbage"}, 400, "invalid_request"),
        (
            "POST",
            "/api/users",
            {"json": {"username": "x y", "password": "longenough", "role": "patrol"}},
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/api/users",
            {"json": {"username": "xy", "password": "longenough", "role": "king"}},
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/api/users",
            {"json": {"username": "xy", "password": "short", "role": "patrol"}},
            400,
            "weak_password",
        ),
        ("POST", "/api/users", {"content": b"x" * (11 * 1024 * 1024)}, 413, "payload_too_large"),
        (
            "POST",
            "/api/sites/{site}/import",
            {"files": {"file": ("a.pdf", b"%PDF-1.4", "application/pdf")}},
            422,
            "import_invalid",
        ),
        ("POST", "/api/sites/{site}/import", {"data": {"nofile": "1"}}, 400, "invalid_request"),
    ],
)
async def test_bad_input_gets_4xx_with_a_code(
    method, path, kwargs, status, code, make_site, make_user, login
):
    site = await make_site()
    client = await login(await make_user("admin", sites=[site.id]))
    response = await client.request(method, path.format(site=site.id), **kwargs)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]


async def test_username_taken_is_409(make_user, login):
    admin = await login(await make_user("admin"))
    body = {"username": "dup-user-1", "password": "longenough1", "role": "patrol"}
    assert (await admin.post("/api/users", json=body)).status_code == 201
    again = await admin.post("/api/users", json=body)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "username_taken"


async def test_created_user_can_log_in_and_is_member_of_the_site(
    make_site, make_user, login, make_client
):
    site = await make_site()
    admin = await login(await make_user("admin"))
    body = {
        "username": "new-patrol-7",
        "password": "longenough1",
        "role": "patrol",
        "sites": [site.code],
        "display_name": "王师傅",
    }
    assert (await admin.post("/api/users", json=body)).status_code == 201
    client = make_client()
    response = await client.post(
        "/api/auth/login", json={"username": "new-patrol-7", "password": "longenough1"}
    )
    assert response.status_code == 200
    assert response.json()["display_name"] == "王师傅"
    assert [s["code"] for s in response.json()["sites"]] == [site.code]


async def test_back_office_is_mounted_under_admin(make_client):
    client = make_client()
    page = await client.get("/admin/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    redirect = await client.get("/admin")
    assert redirect.status_code == 308
    # Its API wants the back office's own login, which only admins get.
    assert (await client.get("/admin/api/tables/")).status_code in (401, 403)
