"""The managers' coverage map and a person's route in real Chromium against the real server and
demo site, on the phone (390×844) and at a desk (1280×800).

A day of checks is made for yesterday through POST /api/sync with genuine signed labels, as the
demo's 楼管员 (user ``patrol``, plan 王晓明 1栋每日巡视, 08:30–17:30): on floors whose only rounds
are that plan's, one floor is checked completely on time, one completely but with one check
inside the grace period after the window (late), one all but one checkpoint, one not at all. The
map must then colour every floor of every building as GET /api/compliance?group_by=floor says;
a missed floor opens a sheet naming the missed checkpoint, the person expected and the window it
was missed in; acknowledging it there is what the API then reports; a check made yesterday but
synced now (the phone was offline) turns the partly-done floor on time after a refresh; and the
person's route lists their checks in order with the long gap between two floors marked.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from phone import PHONE, login, login_client
from playwright.sync_api import Page, expect

from qr.signing import sign

pytestmark = pytest.mark.browser

DESK = {"viewport": {"width": 1280, "height": 800}, "locale": "zh-CN"}
SITE_TZ = ZoneInfo("Asia/Shanghai")  # the demo site's time zone
PLAN = "王晓明 1栋每日巡视"


def cell_state(row: dict | None) -> str:
    """The map's colour rule, as the API documents it (contract-issue6-api.md)."""
    if not row or not row["expected"]:
        return "none"
    if row["missed"] > 0:
        return "missed"
    if row["late"] + row["unverified"] > 0:
        return "partial"
    if row["pending"] > 0:
        return "partial" if row["done"] > 0 else "pending"
    return "ontime"


class Day:
    """Yesterday on the demo site, a manager's and the 楼管员's API clients, and the checks made."""

    def __init__(self, live_server):
        self.url = live_server.url
        self.secret = live_server.env["XUNJIAN_SECRET_KEY"].encode()
        self.password = live_server.demo_password
        self.manager = login_client(self.url, "manager", self.password)
        self.patrol = login_client(self.url, "patrol", self.password)
        self.patrol_me = self.patrol.get("/api/me").json()
        self.site = next(
            s for s in self.manager.get("/api/me").json()["sites"] if s["code"] == "DEMO"
        )
        self.day = (datetime.now(SITE_TZ) - timedelta(days=1)).date()
        catalogue = self.patrol.get("/api/catalogue").json()
        self.templates = {t["id"]: t for t in catalogue["templates"]}
        self.checkpoints = {c["id"]: c for c in catalogue["checkpoints"]}
        self.floors = {f["id"]: f for f in catalogue["floors"]}
        self.checks: list[dict] = []  # what was synced, in device-time order

    def report(self, group_by: str, day=None) -> dict:
        day = (day or self.day).isoformat()
        response = self.manager.get(
            "/api/compliance",
            params={"site": self.site["id"], "from": day, "to": day, "group_by": group_by},
        )
        assert response.status_code == 200, response.text
        return response.json()

    def record(self, checkpoint_id: int, local: datetime) -> dict:
        c = self.checkpoints[checkpoint_id]
        template = self.templates[c["template_id"]]
        return {
            "id": str(uuid.uuid4()),
            "checkpoint": c["code"],
            "site": self.site["id"],
            "version": c["label_version"],
            "signature": sign(self.secret, "DEMO", c["code"], c["label_version"]),
            "source": "scan",
            "device_time": local.isoformat(),
            "template": None,
            "items": [{"item": i["code"], "result": "pass"} for i in template["items"]],
            "note": "",
            "photos": [],
        }

    def sync(self, plan: list[tuple[int, datetime]]) -> None:
        records = [self.record(cp, at) for cp, at in plan]
        for start in range(0, len(records), 200):
            response = self.patrol.post("/api/sync", json={"records": records[start : start + 200]})
            assert response.status_code == 200, response.text
            results = response.json()["results"]
            assert all(r["status"] in ("accepted", "duplicate") for r in results), results
        self.checks += [{"checkpoint": cp, "at": at} for cp, at in plan]

    def at(self, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(self.day, time(hour, minute), SITE_TZ)

    def close(self) -> None:
        self.manager.close()
        self.patrol.close()


@pytest.fixture(scope="module")
def day(live_server):
    d = Day(live_server)
    # Floors where every round yesterday is one of the 楼管员's plan, one per checkpoint.
    plans = d.manager.get("/api/plans", params={"site": d.site["id"]}).json()
    plan = next(p for p in plans if p["name"] == PLAN)
    mine = set(d.manager.get(f"/api/plans/{plan['id']}").json()["checkpoint_ids"])
    by_floor: dict[int, list[dict]] = defaultdict(list)
    for row in d.report("checkpoint")["rows"]:
        by_floor[row["floor"]].append(row)
    clean = sorted(
        (
            floor
            for floor, rows in by_floor.items()
            if floor is not None
            and len(rows) >= 3
            and all(r["key"] in mine and r["expected"] == 1 and r["missed"] == 1 for r in rows)
        ),
        key=lambda f: -d.floors[f]["level"],
    )
    assert len(clean) >= 4, "the demo has 1栋 floors covered only by the 楼管员's round"
    complete, late, partial, untouched = clean[:4]
    cps = {f: sorted(r["key"] for r in by_floor[f]) for f in (complete, late, partial)}
    plan_of_day = []
    t = d.at(9, 0)
    for cp in cps[complete]:
        plan_of_day.append((cp, t))
        t += timedelta(minutes=2)
    # A long gap (tea, a lift out of order) before the next floor.
    t += timedelta(minutes=45)
    for cp in cps[partial][:-1]:
        plan_of_day.append((cp, t))
        t += timedelta(minutes=2)
    t = d.at(16, 0)
    for cp in cps[late][:-1]:
        plan_of_day.append((cp, t))
        t += timedelta(minutes=3)
    # 17:45: after the 17:30 window, inside its 30-minute grace: late.
    plan_of_day.append((cps[late][-1], d.at(17, 45)))
    d.sync(plan_of_day)
    d.floors_used = {
        "complete": complete,
        "late": late,
        "partial": partial,
        "untouched": untouched,
    }
    d.left_out = cps[partial][-1]
    d.missed_of_untouched = sorted(r["key"] for r in by_floor[untouched])
    yield d
    d.close()


def assert_map_matches_api(page: Page, day: Day) -> dict:
    """Every floor cell of every building shows the state the API's numbers give it."""
    floors = {row["key"]: row for row in day.report("floor")["rows"]}
    buildings = {row["key"]: row for row in day.report("building")["rows"]}
    site_buildings = day.manager.get(f"/api/sites/{day.site['id']}/buildings").json()
    expect(page.get_by_test_id("cov-map")).to_have_attribute("aria-busy", "false")
    shown = page.eval_on_selector_all(
        ".cov-cell", "els => els.map(e => [e.dataset.floor, e.dataset.state])"
    )
    shown = {int(f) if f else None: s for f, s in shown}
    for b in site_buildings:
        column = page.get_by_test_id(f"cov-building-{b['id']}")
        expect(column).to_have_attribute("data-state", cell_state(buildings.get(b["id"])))
        # Top floor at the top, basements below.
        levels = [
            next(f["level"] for f in b["floors"] if f["id"] == int(fid))
            for fid in column.locator(".cov-cell").evaluate_all(
                "els => els.map(e => e.dataset.floor)"
            )
        ]
        assert levels == sorted(levels, reverse=True) and len(levels) == len(b["floors"])
        for f in b["floors"]:
            assert shown[f["id"]] == cell_state(floors.get(f["id"])), (b["name"], f["name"])
    return floors


def test_coverage_map_matches_the_api_and_missed_rounds_are_acknowledged(
    day, live_server, browser, artifacts_dir
):
    used = day.floors_used
    floors = {row["key"]: row for row in day.report("floor")["rows"]}
    # The day as arranged: one floor of each state.
    assert cell_state(floors[used["complete"]]) == "ontime"
    assert cell_state(floors[used["late"]]) == "partial"
    assert cell_state(floors[used["partial"]]) == "missed"
    assert floors[used["partial"]]["done"] >= 2 and floors[used["partial"]]["missed"] == 1
    assert cell_state(floors[used["untouched"]]) == "missed"

    # The manager at a desk: the tile on home, the map, hover counts.
    context = browser.new_context(**DESK)
    page = context.new_page()
    login(page, live_server.url, "manager", day.password)
    page.get_by_test_id("tile-coverage").click()
    expect(page.get_by_test_id("coverage-screen")).to_be_visible()
    page.get_by_test_id("cov-period-yesterday").click()
    expect(page.get_by_test_id("cov-period-yesterday")).to_have_attribute("aria-pressed", "true")
    assert "period=yesterday" in page.url
    assert_map_matches_api(page, day)
    complete = page.get_by_test_id(f"cov-cell-{used['complete']}")
    row = floors[used["complete"]]
    assert complete.get_attribute("title") == (
        f"{day.floors[used['complete']]['name']}：按时 {row['done']} · 迟到 0 · 漏检 0 · 待巡 0"
    )
    expect(complete.locator(".cov-cell-mark")).to_have_text("✓")
    expect(
        page.get_by_test_id(f"cov-cell-{used['untouched']}").locator(".cov-cell-mark")
    ).to_have_text("✕")
    expect(page.get_by_test_id(f"cov-cell-{used['late']}").locator(".cov-cell-mark")).to_have_text(
        "!"
    )
    page.screenshot(path=str(artifacts_dir / "coverage-1280.png"))
    context.close()

    # The manager on the phone in the morning: the map, a tap on the floor nobody checked.
    context = browser.new_context(**PHONE)
    page = context.new_page()
    login(page, live_server.url, "manager", day.password)
    page.goto(f"{live_server.url}/app/coverage?period=yesterday")
    assert_map_matches_api(page, day)
    # Cells big enough for a gloved thumb, buildings side by side.
    box = page.get_by_test_id(f"cov-cell-{used['untouched']}").bounding_box()
    assert box["height"] >= 44
    columns = page.locator(".cov-column").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().top)"
    )
    assert len(set(round(t) for t in columns)) == 1, "buildings stand side by side"
    page.screenshot(path=str(artifacts_dir / "coverage-390.png"))

    page.get_by_test_id(f"cov-cell-{used['untouched']}").click()
    sheet = page.get_by_test_id("cov-sheet")
    expect(sheet).to_be_visible()
    row = floors[used["untouched"]]
    expect(sheet.get_by_test_id("cov-count-missed")).to_have_text(str(row["missed"]))
    expect(sheet.get_by_test_id("cov-count-done")).to_have_text("0")
    expect(sheet.get_by_test_id("cov-floor-link")).to_have_attribute(
        "href", f"/app/floors/{used['untouched']}"
    )
    missed = day.manager.get(
        "/api/compliance/missed",
        params={
            "site": day.site["id"],
            "from": day.day.isoformat(),
            "to": day.day.isoformat(),
            "floor": used["untouched"],
        },
    ).json()
    assert missed["total"] == len(day.missed_of_untouched)
    target = missed["items"][0]
    item = sheet.get_by_test_id(f"cov-missed-{target['id']}")
    expect(item).to_contain_text(target["checkpoint"]["name"])
    m, d = day.day.month, day.day.day
    expect(item.get_by_test_id("cov-missed-window")).to_have_text(f"时段 {m}月{d}日 08:30–17:30")
    person = item.get_by_test_id(f"cov-missed-person-{day.patrol_me['id']}")
    expect(person).to_have_text(day.patrol_me["display_name"])
    page.screenshot(path=str(artifacts_dir / "coverage-390-sheet.png"))

    # Acknowledge it: the comment is required, then the API has it.
    item.get_by_test_id("cov-ack-open").click()
    item.get_by_test_id("cov-ack-submit").click()
    expect(item.get_by_role("alert")).to_have_text("请填写说明")
    item.get_by_test_id("cov-ack-comment").fill("当日1栋停电，已安排补巡")
    item.get_by_test_id("cov-ack-submit").click()
    expect(item.get_by_test_id("cov-acked")).to_contain_text("已确认")
    acknowledged = day.manager.get(
        "/api/compliance/missed",
        params={
            "site": day.site["id"],
            "from": day.day.isoformat(),
            "to": day.day.isoformat(),
            "acknowledged": "true",
            "floor": used["untouched"],
        },
    ).json()["items"]
    assert [(a["id"], a["acknowledgement"]["comment"]) for a in acknowledged] == [
        (target["id"], "当日1栋停电，已安排补巡")
    ]
    assert acknowledged[0]["acknowledgement"]["by"]["name"]
    page.get_by_test_id("cov-sheet-close").click()
    expect(sheet).to_be_hidden()

    # A check made yesterday at 10:30 reaches the server only now (the phone was offline):
    # the partly-done floor turns on time once the map refreshes.
    partial = page.get_by_test_id(f"cov-cell-{used['partial']}")
    expect(partial).to_have_attribute("data-state", "missed")
    day.sync([(day.left_out, day.at(10, 30))])
    after = {r["key"]: r for r in day.report("floor")["rows"]}
    assert cell_state(after[used["partial"]]) == "ontime"
    page.get_by_test_id("cov-refresh").click()
    expect(partial).to_have_attribute("data-state", "ontime")
    assert_map_matches_api(page, day)

    # The person's day from the map's person list.
    page.get_by_test_id(f"cov-route-{day.patrol_me['id']}").click()
    expect(page.get_by_test_id("route-screen")).to_be_visible()
    stops = page.get_by_test_id("route-stop")
    route = day.manager.get(
        "/api/compliance/route",
        params={"site": day.site["id"], "day": day.day.isoformat(), "user": day.patrol_me["id"]},
    ).json()
    expect(stops).to_have_count(len(route["checks"]))
    assert len(route["checks"]) >= len(day.checks)
    shown = stops.evaluate_all("els => els.map(e => Number(e.dataset.checkpoint))")
    assert shown == [c["checkpoint"]["id"] for c in route["checks"]]
    mine = sorted(day.checks, key=lambda c: c["at"])
    ours = [cp for cp in shown if cp in {c["checkpoint"] for c in mine}]
    assert ours == [c["checkpoint"] for c in mine]
    long_gaps = page.locator(".route-gap.is-long")
    assert long_gaps.count() >= 1
    minutes = [int(m) for m in long_gaps.evaluate_all("els => els.map(e => e.dataset.minutes)")]
    assert 47 in minutes  # two minutes after the last check of the first floor, plus 45
    expect(page.get_by_test_id("route-person")).to_have_value(str(day.patrol_me["id"]))
    long_gaps.first.scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, -300)")
    page.screenshot(path=str(artifacts_dir / "route-390.png"))

    # Back on the map, a floor opens the floor view.
    page.go_back()
    page.get_by_test_id(f"cov-cell-{used['late']}").click()
    page.get_by_test_id("cov-floor-link").click()
    expect(page.locator("main")).to_have_attribute("data-screen", "floor")
    assert page.url.endswith(f"/app/floors/{used['late']}")
    context.close()


def test_morning_opens_yesterday_and_today_refreshes_itself(day, live_server, browser):
    """Opened in the morning with no period chosen, the map shows yesterday; in the afternoon,
    today, live: it asks the server again every minute without being touched."""
    today = datetime.now(SITE_TZ).date()
    context = browser.new_context(**PHONE)
    context.clock.install(time=datetime.combine(today, time(8, 0), SITE_TZ))
    page = context.new_page()
    login(page, live_server.url, "manager", day.password)
    page.goto(f"{live_server.url}/app/coverage")
    expect(page.get_by_test_id("cov-period-yesterday")).to_have_attribute("aria-pressed", "true")
    m, d = day.day.month, day.day.day
    expect(page.get_by_test_id("cov-range")).to_have_text(f"{m}月{d}日")
    assert "period=yesterday" in page.url
    assert_map_matches_api(page, day)

    context.clock.set_system_time(datetime.combine(today, time(14, 0), SITE_TZ))
    page.goto(f"{live_server.url}/app/coverage")
    expect(page.get_by_test_id("cov-period-today")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("cov-range")).to_contain_text("实时")
    expect(page.get_by_test_id("cov-map")).to_have_attribute("aria-busy", "false")
    floors = {row["key"]: row for row in day.report("floor", today)["rows"]}
    shown = page.eval_on_selector_all(
        ".cov-cell", "els => els.map(e => [e.dataset.floor, e.dataset.state])"
    )
    for floor, state in shown:
        assert state == cell_state(floors.get(int(floor) if floor else None)), floor
    with page.expect_request(
        lambda r: (
            "/api/compliance?" in r.url
            and "group_by=floor" in r.url
            and f"from={today.isoformat()}" in r.url
        )
    ):
        context.clock.fast_forward(61_000)

    # A chosen range: yesterday to yesterday is yesterday's map, and the link keeps it.
    page.get_by_test_id("cov-period-custom").click()
    page.get_by_test_id("cov-from").fill(day.day.isoformat())
    page.get_by_test_id("cov-to").fill(day.day.isoformat())
    page.get_by_test_id("cov-apply").click()
    expect(page.get_by_test_id("cov-range")).to_have_text(f"{m}月{d}日")
    assert f"from={day.day.isoformat()}&to={day.day.isoformat()}" in page.url
    assert_map_matches_api(page, day)
    context.close()

    # The dispatcher reads the same map and the missed rounds, but acknowledging is the manager's.
    context = browser.new_context(**PHONE)
    page = context.new_page()
    login(page, live_server.url, "dispatcher", day.password)
    page.goto(f"{live_server.url}/app/home")
    page.get_by_test_id("tile-coverage").click()
    page.get_by_test_id("cov-period-yesterday").click()
    assert_map_matches_api(page, day)
    page.get_by_test_id(f"cov-cell-{day.floors_used['untouched']}").click()
    expect(page.locator(".cov-missed-item").first).to_be_visible()
    expect(page.get_by_test_id("cov-ack-open")).to_have_count(0)
    context.close()
