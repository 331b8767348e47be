"""Patrol records: the daily 综合巡视记录表 per person and per site, and the monthly summary per
building and per person — numbers against a hand-made day of synced checks, the XLSX files read
back with openpyxl, and who may read what."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import unique
from openpyxl import load_workbook

from qr.signing import sign
from server import labels
from server.patrol_records import DAILY_HEADERS, MONTHLY_HEADERS
from server.tables.accounts import Department
from server.tables.checkpoints import ChecklistTemplate, Checkpoint, TemplateItem

pytestmark = pytest.mark.api

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _yesterday():
    return datetime.now(UTC).astimezone(SHANGHAI).date() - timedelta(days=1)


async def _template() -> int:
    now = datetime.now(UTC)
    template = ChecklistTemplate(
        code=unique("rec-t-").lower(),
        kind="facility",
        name_zh="记录表",
        name_en="Rec",
        updated_at=now,
    )
    await template.save()
    engineering = (
        await Department.select(Department.id).where(Department.code == "engineering").first()
    )["id"]
    await TemplateItem.insert(
        TemplateItem(
            template=template.id,
            position=1,
            code="ok",
            text_zh="箱体完好",
            text_en="Cabinet intact",
            photo_required_on_fail=False,
            department=engineering,
        )
    )
    return template.id


def _record(settings, site, code: str, at: datetime, result: str = "pass", note: str = ""):
    return {
        "id": str(uuid.uuid4()),
        "checkpoint": code,
        "site": site.id,
        "version": 1,
        "signature": sign(labels.label_secret(settings), site.code, code, 1),
        "source": "scan",
        "device_time": at.isoformat(),
        "items": [{"item": "ok", "result": result, "note": note}],
    }


@pytest.fixture
async def day_of_checks(make_site, make_user, login, settings):
    """Yesterday at a 4-checkpoint site: a plan for ``patrol`` over T0–T2 (08:00–12:00, that day
    only); patrol checks T0 at 09:30 (pass) and T1 at 10:15 (fail: a work order), T2 is missed;
    ``other`` checks T3 (not planned) at 11:00."""
    site = await make_site(checkpoints=4)
    await Checkpoint.update({Checkpoint.template: await _template()}).where(
        Checkpoint.site == site.id
    )
    manager = await make_user("manager", sites=[site.id])
    patrol = await make_user("patrol", sites=[site.id])
    other = await make_user("patrol", sites=[site.id])
    desk = await login(manager)
    day = _yesterday()
    created = await desk.post(
        "/api/plans",
        json={
            "site": site.id,
            "name": "1栋每日巡视",
            "per": "day",
            "times": 1,
            "windows": [["08:00", "12:00"]],
            "grace_minutes": 30,
            "selection": {"checkpoints": site.checkpoint_ids[:3]},
            "assignees": [patrol.id],
            "starts_on": day.isoformat(),
            "ends_on": day.isoformat(),
        },
    )
    assert created.status_code == 201, created.text
    at = lambda h, m: datetime.combine(day, time(h, m), tzinfo=SHANGHAI)  # noqa: E731
    phone = await login(patrol)
    # Sent out of order: the record lists them by time.
    response = await phone.post(
        "/api/sync",
        json={
            "records": [
                _record(settings, site, "A-1-T1", at(10, 15), "fail", "门锁坏"),
                _record(settings, site, "A-1-T0", at(9, 30)),
            ]
        },
    )
    assert [r["status"] for r in response.json()["results"]] == ["accepted", "accepted"]
    other_phone = await login(other)
    response = await other_phone.post(
        "/api/sync", json={"records": [_record(settings, site, "A-1-T3", at(11, 0))]}
    )
    assert response.json()["results"][0]["status"] == "accepted"
    return site, day, manager, patrol, other, desk, phone, other_phone


async def test_a_persons_daily_record_lists_their_checks_in_time_order_with_rounds(day_of_checks):
    site, day, _, patrol, _, desk, phone, _ = day_of_checks
    params = {"site": site.id, "day": day.isoformat()}
    mine = (await phone.get("/api/patrol-records/daily", params=params)).json()
    assert mine["person"]["id"] == patrol.id  # a patrol's default: their own record
    assert [c["checkpoint"]["code"] for c in mine["checks"]] == ["A-1-T0", "A-1-T1"]
    assert [c["local_time"] for c in mine["checks"]] == ["09:30", "10:15"]
    first, second = mine["checks"]
    assert first["result"] == "pass" and first["failed_items"] == [] and first["work_orders"] == []
    assert first["building"]["name"] == "1栋" and first["floor"]["name"] == "1F"
    assert second["result"] == "fail"
    assert [(i["text"], i["note"]) for i in second["failed_items"]] == [("箱体完好", "门锁坏")]
    assert len(second["work_orders"]) == 1 and second["work_orders"][0]["title"]
    rounds = mine["rounds"]
    assert (rounds["expected"], rounds["done"], rounds["missed"], rounds["pending"]) == (3, 2, 1, 0)
    assert rounds["on_time_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert [(p["name"], p["expected"]) for p in mine["plans"]] == [("1栋每日巡视", 3)]
    assert mine["totals"] == {"checks": 2, "failed": 1, "work_orders": 1}

    # The desk reads the same record with ?user=, and the whole site without.
    same = (
        await desk.get("/api/patrol-records/daily", params={**params, "user": patrol.id})
    ).json()
    assert same["checks"] == mine["checks"] and same["rounds"] == mine["rounds"]
    whole = (await desk.get("/api/patrol-records/daily", params=params)).json()
    assert whole["person"] is None
    assert [c["checkpoint"]["code"] for c in whole["checks"]] == ["A-1-T0", "A-1-T1", "A-1-T3"]
    assert [c["inspector"]["id"] for c in whole["checks"]][:2] == [patrol.id, patrol.id]
    assert whole["rounds"]["expected"] == 3 and whole["totals"]["checks"] == 3

    # Another day is empty.
    before = (
        await desk.get(
            "/api/patrol-records/daily",
            params={"site": site.id, "day": (day - timedelta(days=1)).isoformat()},
        )
    ).json()
    assert before["checks"] == [] and before["rounds"]["expected"] == 0


async def test_orders_raised_by_hand_appear_in_that_days_record(day_of_checks):
    site, _, _, patrol, _, _, phone, _ = day_of_checks
    raised = await phone.post(
        "/api/work-orders", json={"site": site.id, "description": "楼道灯不亮"}
    )
    assert raised.status_code == 201, raised.text
    mine = (await phone.get("/api/patrol-records/daily", params={"site": site.id})).json()
    assert [o["id"] for o in mine["hand_orders"]] == [raised.json()["id"]]
    assert mine["hand_orders"][0]["raised_by"]["id"] == patrol.id
    assert mine["totals"]["work_orders"] == 1


async def test_who_may_read_which_record(day_of_checks, make_user, make_site, login):
    site, day, _, patrol, other, desk, phone, other_phone = day_of_checks
    params = {"site": site.id, "day": day.isoformat()}
    for path in ("/api/patrol-records/daily", "/api/patrol-records/daily.xlsx"):
        # A patrol cannot read another's record …
        response = await phone.get(path, params={**params, "user": other.id})
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "forbidden"
        # … but can name themselves.
        assert (await phone.get(path, params={**params, "user": patrol.id})).status_code == 200
    theirs = (await other_phone.get("/api/patrol-records/daily", params=params)).json()
    assert [c["checkpoint"]["code"] for c in theirs["checks"]] == ["A-1-T3"]
    assert theirs["rounds"]["expected"] == 0
    month = {"site": site.id, "month": day.strftime("%Y-%m")}
    for path in ("/api/patrol-records/monthly", "/api/patrol-records/monthly.xlsx"):
        assert (await phone.get(path, params=month)).status_code == 403
    inspector = await login(await make_user("inspector", sites=[site.id]))
    response = await inspector.get(
        "/api/patrol-records/daily", params={**params, "user": patrol.id}
    )
    assert response.status_code == 403
    dispatcher = await login(await make_user("dispatcher", sites=[site.id]))
    response = await dispatcher.get(
        "/api/patrol-records/daily", params={**params, "user": patrol.id}
    )
    assert response.status_code == 200 and len(response.json()["checks"]) == 2
    # Another site's manager: the site does not exist for them.
    elsewhere = await make_site(checkpoints=1)
    stranger = await login(await make_user("manager", sites=[elsewhere.id]))
    assert (await stranger.get("/api/patrol-records/daily", params=params)).status_code == 404
    assert (await stranger.get("/api/patrol-records/monthly", params=month)).status_code == 404
    # Unknown person, bad month.
    response = await desk.get("/api/patrol-records/daily", params={**params, "user": 2_000_000_000})
    assert response.status_code == 404
    response = await desk.get("/api/patrol-records/monthly", params={**month, "month": "2026-13"})
    assert response.status_code == 400


async def test_the_monthly_summary_by_building_and_by_person(day_of_checks):
    site, day, _, patrol, other, desk, _, _ = day_of_checks
    params = {"site": site.id, "month": day.strftime("%Y-%m")}
    by_building = (await desk.get("/api/patrol-records/monthly", params=params)).json()
    assert by_building["by"] == "building" and by_building["from"].endswith("-01")
    [row] = by_building["rows"]
    assert (row["key"], row["label"]) == (site.building_id, "1栋")
    assert (row["expected"], row["done"], row["late"], row["missed"]) == (3, 2, 0, 1)
    assert (row["checks"], row["failed_checks"], row["work_orders"]) == (3, 1, 1)
    assert row["on_time_rate"] == pytest.approx(0.6667)
    total = by_building["total"]
    assert (total["expected"], total["checks"], total["failed_checks"]) == (3, 3, 1)

    by_person = (
        await desk.get("/api/patrol-records/monthly", params={**params, "by": "person"})
    ).json()
    rows = {r["key"]: r for r in by_person["rows"]}
    assert set(rows) == {patrol.id, other.id}
    mine, theirs = rows[patrol.id], rows[other.id]
    assert (mine["expected"], mine["done"], mine["missed"]) == (3, 2, 1)
    assert (mine["checks"], mine["failed_checks"], mine["work_orders"]) == (2, 1, 1)
    assert (theirs["expected"], theirs["checks"], theirs["failed_checks"]) == (0, 1, 0)
    assert theirs["on_time_rate"] is None

    # A month without anything.
    empty = (
        await desk.get("/api/patrol-records/monthly", params={**params, "month": "2020-02"})
    ).json()
    assert empty["rows"] == [] and empty["to"] == "2020-02-29"


async def test_the_daily_record_as_xlsx_mirrors_the_paper_form(day_of_checks):
    site, day, _, patrol, _, desk, _, _ = day_of_checks
    response = await desk.get(
        "/api/patrol-records/daily.xlsx",
        params={"site": site.id, "day": day.isoformat(), "user": patrol.id},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in response.headers["content-disposition"]
    book = load_workbook(io.BytesIO(response.content))
    sheet = book["综合巡视记录表"]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][0] == "综合巡视记录表"
    assert "测试小区" in rows[1][0] and day.isoformat() in rows[1][0] and "测试patrol" in rows[1][0]
    assert "应巡 3 次" in rows[2][0] and "漏巡 1" in rows[2][0]
    assert rows[3][: len(DAILY_HEADERS)] == [title for title, _ in DAILY_HEADERS]
    first, second = rows[4], rows[5]
    assert first[:3] == [1, "09:30", "测试patrol"] and first[3] == "1栋 1F"
    assert first[4].startswith("A-1-T0") and first[5] == "合格"
    assert second[:2] == [2, "10:15"] and second[5] == "不合格"
    assert second[6] == "箱体完好(门锁坏)" and second[7].startswith("#")
    assert any(r and r[0] and str(r[0]).startswith("巡视人签字") for r in rows)
    assert sheet.page_setup.orientation == "landscape"
    assert int(sheet.page_setup.paperSize) == 9  # A4
    assert sheet.print_title_rows == "$1:$4"


async def test_the_monthly_summary_as_xlsx(day_of_checks):
    site, day, _, _, _, desk, _, _ = day_of_checks
    response = await desk.get(
        "/api/patrol-records/monthly.xlsx",
        params={"site": site.id, "month": day.strftime("%Y-%m"), "by": "person"},
    )
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][0] == "巡视月度汇总表(按人员)"
    assert rows[2][: len(MONTHLY_HEADERS) + 1] == ["人员", *MONTHLY_HEADERS]
    # Both patrols are called 测试patrol: ordered by name, then id (the planned one first).
    people = [r for r in rows[3:] if r and r[0] == "测试patrol"]
    assert [r[1:12] for r in people] == [
        [3, 2, 0, 0, 1, 0, "66.7%", 2, 1, 1],
        [0, 0, 0, 0, 0, 0, "—", 1, 0, 0],
    ]
    [total] = [r for r in rows if r and r[0] == "合计"]
    assert total[1] == 3 and total[8:11] == [3, 1, 1]
    assert sheet.page_setup.orientation == "landscape" and sheet.print_title_rows == "$1:$3"
