"""A site's renovation rules: the noisy-hours windows and the pure test of one moment, the API (every
member reads, managers and admins change, exactly once per client_id, refused when invalid), and
their use: a worker's pass deposit and fee and a permit's months come from the site."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time

import pytest

from server.site_rules import (
    DEFAULTS,
    Rules,
    WindowError,
    noisy_allowed,
    normalise_windows,
    site_clock,
)

RULES_URL = "/api/sites/{}/renovation-rules"
NEW_RULES = {
    "pass_deposit": 20000,
    "pass_fee": 1000,
    "noisy_hours": [["14:30", "17:30"], ["08:30", "11:30"]],
    "renovation_months": 2,
}


# --- pure ---------------------------------------------------------------------------------------


@pytest.mark.unit
def test_windows_are_sorted_and_may_touch_but_not_overlap():
    assert normalise_windows([["14:00", "18:00"], [" 08:00", "12:00"]]) == (
        ("08:00", "12:00"),
        ("14:00", "18:00"),
    )
    assert normalise_windows([["08:00", "12:00"], ["12:00", "13:00"]]) == (
        ("08:00", "12:00"),
        ("12:00", "13:00"),
    )
    assert normalise_windows([]) == ()
    with pytest.raises(WindowError) as overlap:
        normalise_windows([["08:00", "12:00"], ["13:00", "18:00"], ["11:59", "12:30"]])
    assert overlap.value.index == 2
    with pytest.raises(WindowError) as inside:
        normalise_windows([["08:00", "18:00"], ["09:00", "10:00"]])
    assert inside.value.index == 1


@pytest.mark.unit
@pytest.mark.parametrize(
    "window",
    [
        ["8:00", "12:00"],  # not HH:MM
        ["08:00", "24:00"],
        ["08:60", "09:00"],
        ["12:00", "12:00"],  # empty
        ["22:00", "06:00"],  # overnight
        ["08:00"],
        "08:00-12:00",
        ["08:00", "12:00", "13:00"],
    ],
)
def test_bad_windows_are_refused(window):
    with pytest.raises(WindowError) as error:
        normalise_windows([["19:00", "20:00"], window])
    assert error.value.index == 1


@pytest.mark.unit
def test_at_most_six_windows():
    seven = [[f"{h:02d}:00", f"{h:02d}:30"] for h in range(8, 15)]
    assert len(normalise_windows(seven[:6])) == 6
    with pytest.raises(WindowError):
        normalise_windows(seven)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("moment", "allowed"),
    [
        (time(7, 59), False),
        (time(8, 0), True),
        (time(11, 59, 59), True),
        (time(12, 0), False),
        (time(13, 30), False),
        (time(14, 0), True),
        (time(17, 59), True),
        (time(18, 0), False),
        (time(23, 0), False),
    ],
)
def test_noisy_work_inside_a_window_counting_its_start_not_its_end(moment, allowed):
    assert noisy_allowed(DEFAULTS, moment) is allowed


@pytest.mark.unit
def test_no_windows_means_no_noisy_work_and_the_site_clock_is_the_sites():
    assert not noisy_allowed(Rules(noisy_hours=()), time(10, 0))
    # 02:30 UTC is 10:30 in Shanghai (allowed) and 02:30 in London in November (not).
    moment = datetime(2026, 11, 23, 2, 30, tzinfo=UTC)
    shanghai = site_clock(DEFAULTS, moment)
    london = site_clock(Rules(timezone="Europe/London"), moment)
    assert shanghai.strftime("%H:%M") == "10:30" and noisy_allowed(DEFAULTS, shanghai.time())
    assert london.strftime("%H:%M") == "02:30" and not noisy_allowed(DEFAULTS, london.time())


# --- the API ------------------------------------------------------------------------------------


@pytest.fixture
def people(make_site, make_user, login):
    async def make():
        site = await make_site(checkpoints=1)
        clients = {}
        for name, role, department in (
            ("manager", "manager", None),
            ("dispatcher", "dispatcher", "customer_service"),
            ("guard", "inspector", "security"),
            ("patrol", "patrol", "customer_service"),
        ):
            clients[name] = await login(await make_user(role, [site.id], department))
        return site, clients

    return make


async def _changes(site_id: int) -> int:
    from server.tables.sites import SiteRulesChange

    return await SiteRulesChange.count().where(SiteRulesChange.site == site_id)


@pytest.mark.api
async def test_every_member_reads_the_defaults_and_other_sites_are_hidden(
    people, make_site, make_user, login
):
    site, c = await people()
    for client in c.values():
        response = await client.get(RULES_URL.format(site.id))
        assert response.status_code == 200, response.text
        rules = response.json()
        assert rules["site_id"] == site.id
        assert rules["pass_deposit"] == 10000 and rules["pass_fee"] == 500
        assert rules["noisy_hours"] == [["08:00", "12:00"], ["14:00", "18:00"]]
        assert rules["renovation_months"] == 3
        assert rules["timezone"] == "Asia/Shanghai"
        assert rules["changes"] == []
        hour, minute = map(int, rules["local_time"].split(":"))
        assert rules["noisy_allowed_now"] is noisy_allowed(DEFAULTS, time(hour, minute))
    other = await make_site(checkpoints=0)
    outsider = await login(await make_user("manager", [other.id]))
    for method in ("get", "put"):
        kwargs = {"json": NEW_RULES} if method == "put" else {}
        response = await getattr(outsider, method)(RULES_URL.format(site.id), **kwargs)
        assert response.status_code == 404
    assert (await c["manager"].get(RULES_URL.format(2_147_483_647))).status_code == 404
    assert (await c["manager"].get(RULES_URL.format(0))).status_code == 400


@pytest.mark.api
async def test_managers_change_the_rules_and_others_may_not(people):
    site, c = await people()
    url = RULES_URL.format(site.id)
    for name in ("dispatcher", "guard", "patrol"):
        response = await c[name].put(url, json=NEW_RULES)
        assert response.status_code == 403, name
        assert response.json()["error"]["code"] == "forbidden"
    response = await c["manager"].put(url, json=NEW_RULES)
    assert response.status_code == 200, response.text
    assert "X-Replayed" not in response.headers
    saved = response.json()
    assert saved["noisy_hours"] == [["08:30", "11:30"], ["14:30", "17:30"]]  # sorted
    assert (saved["pass_deposit"], saved["pass_fee"], saved["renovation_months"]) == (
        20000,
        1000,
        2,
    )
    [change] = saved["changes"]
    assert change["by"]["display_name"] == "测试manager"
    assert change["rules"]["pass_deposit"] == 20000
    read = (await c["patrol"].get(url)).json()
    assert read["noisy_hours"] == saved["noisy_hours"] and read["pass_fee"] == 1000
    # No windows at all: noisy work is never allowed on this site.
    quiet = await c["manager"].put(url, json={**NEW_RULES, "noisy_hours": []})
    assert quiet.status_code == 200
    assert quiet.json()["noisy_hours"] == [] and quiet.json()["noisy_allowed_now"] is False
    assert len(quiet.json()["changes"]) == 2


@pytest.mark.api
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"noisy_hours": [["08:00", "12:00"], ["11:00", "13:00"]]}, "noisy_hours[1]"),
        ({"noisy_hours": [["18:00", "08:00"]]}, "noisy_hours[0]"),
        ({"noisy_hours": [["8点", "12:00"]]}, "noisy_hours[0]"),
        ({"noisy_hours": [["08:00", "12:00", "14:00"]]}, None),
        ({"pass_deposit": -1}, None),
        ({"pass_fee": -500}, None),
        ({"renovation_months": 0}, None),
        ({"renovation_months": 37}, None),
        ({"pass_deposit": "100元"}, None),
        ({"surprise": 1}, None),
    ],
)
async def test_invalid_rules_are_refused_and_change_nothing(people, change, field):
    site, c = await people()
    url = RULES_URL.format(site.id)
    response = await c["manager"].put(url, json={**NEW_RULES, **change}, headers={})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    if field is not None:
        assert error["detail"][0]["field"] == field
    rules = (await c["manager"].get(url)).json()
    assert rules["pass_deposit"] == 10000 and rules["renovation_months"] == 3
    assert await _changes(site.id) == 0


@pytest.mark.api
async def test_missing_fields_are_refused(people):
    site, c = await people()
    body = {k: v for k, v in NEW_RULES.items() if k != "noisy_hours"}
    response = await c["manager"].put(RULES_URL.format(site.id), json=body)
    assert response.status_code == 400


@pytest.mark.api
async def test_a_change_is_stored_exactly_once_per_client_id(people):
    site, c = await people()
    url = RULES_URL.format(site.id)
    body = {**NEW_RULES, "client_id": str(uuid.uuid4())}
    first = await c["manager"].put(url, json=body)
    assert first.status_code == 200 and "X-Replayed" not in first.headers
    # Another manager's change in between; the phone's re-send must not undo it.
    other = await c["manager"].put(url, json={**NEW_RULES, "pass_fee": 800})
    assert other.status_code == 200
    again = await c["manager"].put(url, json=body)
    assert again.status_code == 200 and again.headers["X-Replayed"] == "1"
    assert again.json()["pass_fee"] == 800
    # The same windows in another order is the same request.
    reordered = {**body, "noisy_hours": list(reversed(body["noisy_hours"]))}
    assert (await c["manager"].put(url, json=reordered)).headers.get("X-Replayed") == "1"
    conflict = await c["manager"].put(url, json={**body, "pass_deposit": 1})
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "client_id_conflict"
    assert await _changes(site.id) == 2
    # The id belongs to this site's change: another manager re-using it elsewhere conflicts.
    elsewhere, c2 = await people()
    clash = await c2["manager"].put(RULES_URL.format(elsewhere.id), json=body)
    assert clash.status_code == 409


# --- the rules in use ---------------------------------------------------------------------------


def _application(site, **changes) -> dict:
    return {
        "site": site.id,
        "unit": site.unit_id,
        "owner_name": "张三",
        "starts_on": "2026-11-30",
        **changes,
    }


@pytest.mark.api
async def test_a_permit_runs_the_sites_months_unless_given_an_end(people, make_site):
    site, c = await people()
    await c["manager"].put(RULES_URL.format(site.id), json=NEW_RULES)
    permit = (await c["dispatcher"].post("/api/renovations", json=_application(site))).json()
    assert permit["ends_on"] == "2027-01-30"  # two months
    # A site left at the defaults: three months.
    plain, c2 = await people()
    permit = (await c2["dispatcher"].post("/api/renovations", json=_application(plain))).json()
    assert permit["ends_on"] == "2027-02-28"
    # An end date given by the desk wins.
    other, c3 = await people()
    await c3["manager"].put(RULES_URL.format(other.id), json=NEW_RULES)
    permit = (
        await c3["dispatcher"].post(
            "/api/renovations", json=_application(other, ends_on="2027-05-01")
        )
    ).json()
    assert permit["ends_on"] == "2027-05-01"


@pytest.mark.api
async def test_a_registration_replays_even_after_the_sites_months_changed(people):
    site, c = await people()
    body = _application(site, client_id=str(uuid.uuid4()))
    first = await c["dispatcher"].post("/api/renovations", json=body)
    assert first.status_code == 201 and first.json()["ends_on"] == "2027-02-28"
    await c["manager"].put(RULES_URL.format(site.id), json=NEW_RULES)
    again = await c["dispatcher"].post("/api/renovations", json=body)
    assert again.status_code == 200 and again.headers["X-Replayed"] == "1"
    assert again.json()["ends_on"] == "2027-02-28"


@pytest.mark.api
async def test_a_workers_pass_costs_what_the_site_says_unless_given(people):
    site, c = await people()
    permit = (await c["dispatcher"].post("/api/renovations", json=_application(site))).json()
    workers = f"/api/renovations/{permit['id']}/workers"
    default = await c["dispatcher"].post(
        workers, json={"name": "王五", "id_number": "310101199001011234"}
    )
    assert default.status_code == 201, default.text
    await c["manager"].put(RULES_URL.format(site.id), json=NEW_RULES)
    by_site = await c["dispatcher"].post(
        workers, json={"name": "赵六", "id_number": "310101199202022345"}
    )
    assert by_site.status_code == 201, by_site.text
    given = await c["dispatcher"].post(
        workers,
        json={
            "name": "孙七",
            "id_number": "310101199303033456",
            "pass_deposit": 0,
            "pass_fee": 300,
        },
    )
    assert given.status_code == 201
    passes = {w["name"]: (w["pass_deposit"], w["pass_fee"]) for w in given.json()["workers"]}
    assert passes == {"王五": (10000, 500), "赵六": (20000, 1000), "孙七": (0, 300)}


# --- the screen ---------------------------------------------------------------------------------


def _login_client(url: str, username: str, password: str):
    import httpx

    client = httpx.Client(base_url=url, timeout=60)
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return client


def _login(page, base_url: str, username: str, password: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base_url}/app/login")
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("home-screen")).to_be_visible()


@pytest.mark.browser
def test_the_manager_sets_the_rules_on_the_phone_and_others_read_them(
    live_server, browser, artifacts_dir
):
    from phone import PHONE
    from playwright.sync_api import expect

    password = live_server.demo_password
    manager = _login_client(live_server.url, "manager", password)
    site = next(s for s in manager.get("/api/me").json()["sites"] if s["code"] == "DEMO")
    url = RULES_URL.format(site["id"])
    before = manager.get(url).json()
    context = browser.new_context(**PHONE)
    try:
        page = context.new_page()
        _login(page, live_server.url, "manager", password)
        page.get_by_test_id("tile-renovation-rules").click()
        expect(page.get_by_test_id("rules-form")).to_be_visible()
        assert page.url.endswith("/app/renovations/rules")
        expect(page.get_by_test_id("rules-deposit")).to_have_value("100")
        expect(page.get_by_test_id("rules-fee")).to_have_value("5")
        expect(page.get_by_test_id("rules-months")).to_have_value("3")
        expect(page.get_by_test_id("rules-window")).to_have_count(2)
        now = page.get_by_test_id("rules-now")
        allowed = now.get_attribute("data-allowed") == "true"
        expect(now).to_contain_text("允许噪音施工" if allowed else "禁止噪音施工")

        page.get_by_test_id("rules-deposit").fill("150")
        page.get_by_test_id("rules-fee").fill("7.5")
        page.get_by_test_id("rules-months").fill("4")
        page.get_by_test_id("rules-window-add").click()
        third = page.get_by_test_id("rules-window").nth(2)
        # Typed on the number pad: 1130 is 11:30, inside 08:00–12:00.
        third.get_by_test_id("rules-window-start").fill("1130")
        third.get_by_test_id("rules-window-end").fill("1300")
        page.get_by_test_id("rules-save").click()
        expect(page.get_by_test_id("rules-windows-error")).to_contain_text("重叠")
        expect(third.get_by_test_id("rules-window-start")).to_have_value("11:30")
        page.screenshot(path=str(artifacts_dir / "site-rules-error-390.png"), full_page=True)
        assert manager.get(url).json()["pass_deposit"] == before["pass_deposit"]

        third.get_by_test_id("rules-window-start").fill("1900")
        third.get_by_test_id("rules-window-end").fill("20:00")
        page.get_by_test_id("rules-save").click()
        expect(page.get_by_test_id("rules-status")).to_have_text("已保存")
        expect(page.get_by_test_id("rules-history-row")).to_have_count(len(before["changes"]) + 1)
        expect(page.get_by_test_id("rules-history-row").first).to_contain_text("刘芳")
        page.screenshot(path=str(artifacts_dir / "site-rules-390.png"), full_page=True)
        saved = manager.get(url).json()
        assert (saved["pass_deposit"], saved["pass_fee"], saved["renovation_months"]) == (
            15000,
            750,
            4,
        )
        assert saved["noisy_hours"] == [["08:00", "12:00"], ["14:00", "18:00"], ["19:00", "20:00"]]
        # The form reads back what was stored.
        expect(page.get_by_test_id("rules-fee")).to_have_value("7.5")
        expect(page.get_by_test_id("rules-window")).to_have_count(3)

        # The 楼管员 reads the same rules and has nothing to change them with.
        patrol_page = context.browser.new_context(**PHONE).new_page()
        try:
            _login(patrol_page, live_server.url, "patrol", password)
            expect(patrol_page.get_by_test_id("tile-renovation-rules")).to_have_count(0)
            patrol_page.goto(f"{live_server.url}/app/renovations/rules")
            expect(patrol_page.get_by_test_id("rules-read")).to_be_visible()
            expect(patrol_page.get_by_test_id("rules-read-deposit")).to_have_text("150")
            expect(patrol_page.get_by_test_id("rules-read-hours")).to_contain_text("19:00–20:00")
            expect(patrol_page.get_by_test_id("rules-save")).to_have_count(0)
        finally:
            patrol_page.context.close()
    finally:
        context.close()
        # Other browser tests share the demo site: put its rules back.
        restored = manager.put(
            url,
            json={k: before[k] for k in ("pass_deposit", "pass_fee", "noisy_hours")}
            | {"renovation_months": before["renovation_months"]},
        )
        assert restored.status_code == 200, restored.text
        manager.close()
