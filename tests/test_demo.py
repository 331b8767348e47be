"""Reference data (departments, default checklists) and the demo site, against a real database.

The module gets a database of its own (``fresh_db``): an empty SQLite file, or a new PostgreSQL
database next to XUNJIAN_TEST_DATABASE_URL when that is set, so that counts are exact.
"""

from __future__ import annotations

import importlib
import os
import re
from collections import Counter
from dataclasses import asdict

import pytest
from pg_databases import drop_database, recreate_database

from server.settings import Settings

pytestmark = pytest.mark.api

DEMO_PASSWORD = "demo-pass-42"
CODE_SHAPE = re.compile(r"[A-Z0-9-]{1,12}")
SOURCE_SHAPE = re.compile(r"^00[0-4] \S")


@pytest.fixture(scope="module")
async def fresh_db(tmp_path_factory):
    """An empty, migrated database bound to every table for this module; the previous binding
    (e.g. the session app's engine) and environment are restored afterwards."""
    from piccolo.engine.postgres import PostgresEngine

    from server.db import all_tables, bind_engine, make_engine
    from server.migrate import migrate

    saved_engines = {table: table._meta._db for table in all_tables()}
    saved_env = {name: os.environ.get(name) for name in ("XUNJIAN_DATABASE_URL", "PICCOLO_CONF")}
    shared = os.environ.get("XUNJIAN_TEST_DATABASE_URL", "")
    if shared.startswith(("postgres://", "postgresql://")):
        url = f"{shared}_demo"
        await recreate_database(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('demo-db') / 'demo.sqlite3'}"
    await migrate(url)
    engine = make_engine(url)
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(min_size=1, max_size=4)
    bind_engine(engine)
    try:
        yield url
    finally:
        if isinstance(engine, PostgresEngine):
            await engine.close_connection_pool()
            await drop_database(url)
        for table, db in saved_engines.items():
            table._meta._db = db
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if saved_env["XUNJIAN_DATABASE_URL"] is not None:
            import server.piccolo_conf

            importlib.reload(server.piccolo_conf)


@pytest.fixture(scope="module")
def demo_settings(fresh_db, tmp_path_factory) -> Settings:
    return Settings(
        database_url=fresh_db,
        data_dir=tmp_path_factory.mktemp("demo-data"),
        secret_key="demo-test-key",
        base_url="http://testserver",
        timezone="Asia/Shanghai",
        demo_password=DEMO_PASSWORD,
    )


@pytest.fixture(scope="module")
async def demo(demo_settings):
    from server.demo import load_demo

    return await load_demo(demo_settings)


async def _reference_snapshot() -> dict[str, list[dict]]:
    from server.tables.accounts import Department
    from server.tables.checkpoints import ChecklistTemplate, TemplateItem

    return {
        "departments": await Department.select().order_by(Department.id),
        "templates": await ChecklistTemplate.select().order_by(ChecklistTemplate.id),
        "items": await TemplateItem.select().order_by(TemplateItem.id),
    }


async def _template(code: str) -> dict:
    from server.tables.checkpoints import ChecklistTemplate

    row = await ChecklistTemplate.select().where(ChecklistTemplate.code == code).first()
    assert row is not None, code
    return row


async def _department_codes() -> dict[int, str]:
    from server.tables.accounts import Department

    return {r["id"]: r["code"] for r in await Department.select(Department.id, Department.code)}


async def _items(code: str | None = None) -> list[dict]:
    """Template items with their department's code (looked up, not joined: the department table
    lives in another module)."""
    from server.tables.checkpoints import TemplateItem

    query = TemplateItem.select().order_by(TemplateItem.position)
    if code is not None:
        query = query.where(TemplateItem.template.code == code)
    departments = await _department_codes()
    return [item | {"department.code": departments.get(item["department"])} for item in await query]


# --- reference data ----------------------------------------------------------------------------


async def test_reference_data_is_idempotent(fresh_db):
    from server.reference import DEPARTMENTS, TEMPLATES, ensure_reference_data

    await ensure_reference_data()
    first = await _reference_snapshot()
    await ensure_reference_data()
    second = await _reference_snapshot()

    assert second == first  # every column of every row, updated_at included
    assert {d["code"] for d in first["departments"]} == set(DEPARTMENTS)
    assert len(first["templates"]) == len(TEMPLATES)
    assert len(first["items"]) == sum(len(t.items) for t in TEMPLATES)
    names = {d["code"]: d["name_zh"] for d in first["departments"]}
    assert names == {
        "engineering": "工程部",
        "security": "秩序部",
        "cleaning": "保洁绿化部",
        "customer_service": "客服中心",
    }


async def test_a_later_release_corrects_wording_and_keeps_local_items(fresh_db):
    from server.reference import ensure_reference_data
    from server.tables.checkpoints import ChecklistTemplate, TemplateItem

    await ensure_reference_data()
    template = await _template("vacant_unit")
    await TemplateItem.update(
        {TemplateItem.text_zh: "旧的措辞", TemplateItem.severity: "critical"}
    ).where((TemplateItem.template == template["id"]) & (TemplateItem.code == "power_off"))
    await ChecklistTemplate.update({ChecklistTemplate.name_zh: "改过的名字"}).where(
        ChecklistTemplate.id == template["id"]
    )
    local = TemplateItem(
        template=template["id"],
        position=99,
        code="local_extra",
        text_zh="本项目加的检查",
        text_en="A site's own check",
    )
    await local.save()

    await ensure_reference_data()

    after = await _template("vacant_unit")
    assert after["name_zh"] == "空置房巡查"
    assert after["updated_at"] > template["updated_at"]  # phones re-fetch the corrected template
    items = {item["code"]: item for item in await _items("vacant_unit")}
    assert items["power_off"]["text_zh"] == "已断电"
    assert items["power_off"]["severity"] == "major"
    assert items["local_extra"]["text_zh"] == "本项目加的检查"
    await TemplateItem.delete().where(TemplateItem.id == local.id)


async def test_every_item_is_traced_to_the_sops_and_owned_by_a_department(fresh_db):
    from server.reference import ensure_reference_data
    from server.tables.checkpoints import SEVERITIES, ChecklistTemplate

    await ensure_reference_data()
    items = await _items()
    assert items
    for item in items:
        assert SOURCE_SHAPE.match(item["source"]), item
        assert item["department.code"] in {
            "engineering",
            "security",
            "cleaning",
            "customer_service",
        }, item
        assert item["severity"] in SEVERITIES, item
        assert item["text_zh"] and item["text_en"], item
    # Every template has items, and item codes are unique within it.
    per_template = Counter(item["template"] for item in items)
    templates = await ChecklistTemplate.select(ChecklistTemplate.id)
    assert all(per_template[t["id"]] >= 3 for t in templates)
    assert len({(i["template"], i["code"]) for i in items}) == len(items)


async def test_vacant_unit_checklist_ends_with_the_key_rules_confirmations(fresh_db):
    from server.reference import ensure_reference_data

    await ensure_reference_data()
    items = await _items("vacant_unit")
    checks = {i["code"] for i in items if not i["is_confirmation"]}
    confirmations = [i for i in items if i["is_confirmation"]]
    assert {
        "no_leak",
        "no_damage",
        "doors_windows",
        "floor_drains",
        "no_mould",
        "no_pests",
        "no_intrusion",
    } <= checks
    assert [i["text_zh"] for i in confirmations] == [
        "已断电",
        "门窗已关闭",
        "已上锁",
        "钥匙已归还客服中心",
    ]
    assert all(i["source"] == "000 篇5 §1.2.3" for i in confirmations)
    # The confirmations close the visit: they come after every check.
    assert min(i["position"] for i in confirmations) > max(
        i["position"] for i in items if not i["is_confirmation"]
    )


async def test_signage_templates_offer_the_six_defect_types(fresh_db):
    import json

    from server.reference import SIGN_TYPES, ensure_reference_data, template_code_for

    await ensure_reference_data()
    for code in sorted({template_code_for("signage", t) for t in SIGN_TYPES}):
        template = await _template(code)
        assert template["kind"] == "signage"
        defects = json.loads(template["defect_types"])
        assert [d["zh"] for d in defects] == [
            "污染",
            "涂抹",
            "撕毁",
            "破损",
            "失去标识意义",
            "缺失",
        ]
        assert all(set(d) == {"code", "zh", "en"} for d in defects)
    assert template_code_for("signage", "evacuation_plan") == "signage.fire"
    assert template_code_for("signage", "high_voltage_sign") == "signage.equipment"
    assert template_code_for("signage", "floor_sign") == "signage"
    fire = await _items("signage.fire")
    assert {i["department.code"] for i in fire} == {"security"}


async def test_renovation_has_one_checklist_per_inspecting_department(fresh_db):
    from server.reference import ensure_reference_data, template_code_for
    from server.tables.checkpoints import ChecklistTemplate

    await ensure_reference_data()
    rows = await ChecklistTemplate.select(
        ChecklistTemplate.code, ChecklistTemplate.inspecting_department
    ).where(ChecklistTemplate.kind == "renovation")
    departments = await _department_codes()
    assert {r["code"]: departments[r["inspecting_department"]] for r in rows} == {
        "renovation.customer_service": "customer_service",
        "renovation.engineering": "engineering",
        "renovation.security": "security",
    }
    engineering = {i["code"] for i in await _items("renovation.engineering")}
    assert {
        "per_drawings",
        "no_structure_damage",
        "no_unapproved_change",
        "load_bearing",
        "shared_services",
        "facade_fittings",
        "floor_drains",
    } <= engineering
    security = {i["code"] for i in await _items("renovation.security")}
    assert {"extinguishers", "hot_work", "passes", "discipline", "hazards"} <= security
    service = {i["code"] for i in await _items("renovation.customer_service")}
    assert {"permit_posted", "protection", "noise_hours", "progress", "waste_cleared"} <= service
    assert template_code_for("renovation", "") == "renovation.customer_service"
    assert template_code_for("renovation", "", department="security") == "renovation.security"
    with pytest.raises(ValueError):
        template_code_for("renovation", "", department="cleaning")
    with pytest.raises(ValueError):
        template_code_for("parking_space", "")


async def test_every_catalogued_type_has_a_template_of_its_kind(fresh_db):
    from server.reference import (
        FACILITY_TYPES,
        SIGN_TYPES,
        ensure_reference_data,
        template_code_for,
    )

    await ensure_reference_data()
    for kind, types in (("facility", FACILITY_TYPES), ("signage", SIGN_TYPES)):
        for type_code, (zh, en) in types.items():
            assert zh and en
            template = await _template(template_code_for(kind, type_code))
            assert template["kind"] == kind
            if kind == "facility":
                assert template["type_code"] == type_code
    assert template_code_for("facility", "sauna") == "facility.generic"
    assert (await _template("facility.generic"))["kind"] == "facility"
    assert (await _template(template_code_for("vacant_unit", "")))["kind"] == "vacant_unit"


# --- the demo site -----------------------------------------------------------------------------


async def _site_id() -> int:
    from server.tables.sites import Site

    return (await Site.select(Site.id).where(Site.code == "DEMO").first())["id"]


async def _demo_snapshot() -> dict:
    from server.tables.accounts import SiteMembership, User
    from server.tables.checkpoints import Checkpoint
    from server.tables.sites import Building, Floor, Site, Unit

    site_id = await _site_id()
    codes = [
        r["code"]
        for r in await Checkpoint.select(Checkpoint.code).where(Checkpoint.site == site_id)
    ]
    return {
        "sites": await Site.count(),
        "buildings": await Building.count(),
        "floors": await Floor.count(),
        "units": await Unit.count(),
        "unit_statuses": sorted(
            (r["id"], r["status"]) for r in await Unit.select(Unit.id, Unit.status)
        ),
        "checkpoints": await Checkpoint.count(),
        "codes": sorted(codes),
        "users": await User.count(),
        "memberships": await SiteMembership.count(),
        "passwords": sorted(r["password"] for r in await User.select(User.password)),
    }


async def test_demo_load_is_idempotent(demo, demo_settings):
    from server.demo import load_demo

    first = await _demo_snapshot()
    again = await load_demo(demo_settings)
    second = await _demo_snapshot()

    assert second == first
    assert demo.created and not again.created
    assert asdict(again) | {"created": True} == asdict(demo)
    assert len(first["codes"]) == len(set(first["codes"]))
    assert all(CODE_SHAPE.fullmatch(code) for code in first["codes"])
    assert "翠湖花园" in str(again) and "DEMO" in str(again)


async def test_demo_users_are_ensured_even_when_the_site_exists(demo, demo_settings):
    from server.demo import load_demo
    from server.tables.accounts import SiteMembership, User

    await User.delete().where(User.username == "dispatcher")
    before = await _demo_snapshot()
    assert before["users"] == 5

    summary = await load_demo(demo_settings)

    assert not summary.created
    assert "dispatcher" in summary.users
    user = await User.select(User.id, User.role).where(User.username == "dispatcher").first()
    assert user["role"] == "dispatcher"
    assert await SiteMembership.exists().where(
        (SiteMembership.user == user["id"]) & (SiteMembership.site == await _site_id())
    )
    after = await _demo_snapshot()
    assert after["checkpoints"] == before["checkpoints"]
    assert after["codes"] == before["codes"]


async def test_demo_buildings_floors_and_units(demo):
    from server.tables.sites import Building, Floor, Unit

    site_id = await _site_id()
    buildings = await Building.select().where(Building.site == site_id)
    assert len(buildings) == 3 == demo.buildings
    units = await Unit.select(
        Unit.id, Unit.status, Unit.number, Unit.floor.level, Unit.floor.building, Unit.vacant_since
    ).where(Unit.floor.building.site == site_id)
    for building in buildings:
        assert 18 <= building["floors_above"] <= 32
        levels = sorted(
            r["level"]
            for r in await Floor.select(Floor.level).where(Floor.building == building["id"])
        )
        assert levels == [-2, -1, *range(1, building["floors_above"] + 1)]
        per_floor = Counter(
            u["floor.level"] for u in units if u["floor.building"] == building["id"]
        )
        assert set(per_floor) == set(range(1, building["floors_above"] + 1))
        assert all(4 <= n <= 6 for n in per_floor.values())
    for unit in units:
        assert unit["number"].startswith(str(unit["floor.level"]))
        assert len(unit["number"]) == len(str(unit["floor.level"])) + 2
    statuses = Counter(u["status"] for u in units)
    assert 0.08 <= statuses["vacant"] / len(units) <= 0.12
    assert 2 <= statuses["renovating"] <= 3
    assert statuses["vacant"] + statuses["renovating"] + statuses["occupied"] == len(units)
    assert all(u["vacant_since"] is not None for u in units if u["status"] == "vacant")
    assert (demo.units, demo.vacant, demo.renovating) == (
        len(units),
        statuses["vacant"],
        statuses["renovating"],
    )


async def test_vacant_and_renovating_units_carry_their_own_checkpoint(demo):
    from server.tables.checkpoints import Checkpoint
    from server.tables.sites import Unit

    site_id = await _site_id()
    units = {
        u["id"]: u["status"]
        for u in await Unit.select(Unit.id, Unit.status).where(Unit.floor.building.site == site_id)
    }
    rows = await Checkpoint.select(Checkpoint.kind, Checkpoint.unit).where(
        (Checkpoint.site == site_id) & Checkpoint.kind.is_in(["vacant_unit", "renovation"])
    )
    by_kind = {"vacant_unit": Counter(), "renovation": Counter()}
    for row in rows:
        by_kind[row["kind"]][row["unit"]] += 1
    assert dict(by_kind["vacant_unit"]) == {u: 1 for u, s in units.items() if s == "vacant"}
    assert dict(by_kind["renovation"]) == {u: 1 for u, s in units.items() if s == "renovating"}


async def test_every_floor_has_a_floor_sign_and_an_extinguisher_cabinet(demo):
    from server.tables.checkpoints import Checkpoint
    from server.tables.sites import Floor

    site_id = await _site_id()
    floors = {f["id"] for f in await Floor.select(Floor.id).where(Floor.building.site == site_id)}
    assert len(floors) == demo.floors == 32 + 26 + 18 + 3 * 2
    rows = await Checkpoint.select(Checkpoint.floor, Checkpoint.type_code).where(
        (Checkpoint.site == site_id)
        & Checkpoint.type_code.is_in(["floor_sign", "extinguisher_cabinet", "lift_lobby"])
    )
    for type_code in ("floor_sign", "extinguisher_cabinet", "lift_lobby"):
        assert {r["floor"] for r in rows if r["type_code"] == type_code} == floors, type_code
    floor_signs = Counter(r["floor"] for r in rows if r["type_code"] == "floor_sign")
    assert set(floor_signs.values()) == {1}


async def test_every_lift_lobby_has_an_evacuation_plan_and_fire_lift_warning(demo):
    from server.tables.checkpoints import Checkpoint

    site_id = await _site_id()
    rows = await Checkpoint.select(Checkpoint.floor, Checkpoint.type_code).where(
        (Checkpoint.site == site_id)
        & Checkpoint.type_code.is_in(["lift_lobby", "evacuation_plan", "fire_lift_warning"])
    )
    lobbies = {r["floor"] for r in rows if r["type_code"] == "lift_lobby"}
    assert len(lobbies) > 70
    for sign in ("evacuation_plan", "fire_lift_warning"):
        assert {r["floor"] for r in rows if r["type_code"] == sign} >= lobbies, sign


async def test_required_signs_of_plant_rooms_roofs_and_car_park(demo):
    from server.tables.checkpoints import Checkpoint

    site_id = await _site_id()
    rows = await Checkpoint.select(Checkpoint.floor, Checkpoint.type_code).where(
        Checkpoint.site == site_id
    )
    on_floor: dict[str, set] = {}
    for row in rows:
        on_floor.setdefault(row["type_code"], set()).add(row["floor"])
    assert len(on_floor["roof_door"]) == 3
    assert on_floor["roof_door_sign"] >= on_floor["roof_door"]
    assert on_floor["high_voltage_sign"] >= on_floor["transformer_room"]
    assert on_floor["carpark_limits"] >= on_floor["carpark_entrance"]
    assert on_floor["machine_room_sign"] >= on_floor["plant_room"] | on_floor["pump_room"]


async def test_checkpoints_have_templates_of_their_kind_and_plan_positions(demo):
    from server.reference import template_code_for
    from server.tables.checkpoints import CHECKPOINT_KINDS, Checkpoint

    site_id = await _site_id()
    rows = await Checkpoint.select(
        Checkpoint.code,
        Checkpoint.kind,
        Checkpoint.type_code,
        Checkpoint.name,
        Checkpoint.template.code,
        Checkpoint.template.kind,
        Checkpoint.plan_x,
        Checkpoint.plan_y,
        Checkpoint.updated_at,
    ).where(Checkpoint.site == site_id)
    assert len(rows) >= 2000
    assert sum(demo.checkpoints.values()) == len(rows)
    assert set(demo.checkpoints) == set(CHECKPOINT_KINDS)
    assert Counter(r["kind"] for r in rows) == Counter(demo.checkpoints)
    for row in rows:
        assert row["template.kind"] == row["kind"], row
        assert row["template.code"] == template_code_for(row["kind"], row["type_code"]), row
        assert 0 <= row["plan_x"] <= 1 and 0 <= row["plan_y"] <= 1, row
        assert row["name"] and row["updated_at"] is not None


async def test_one_demo_user_per_role_can_log_in(demo):
    from server.tables.accounts import ROLES, SiteMembership, User

    site_id = await _site_id()
    users = await User.select(
        User.id,
        User.username,
        User.role,
        User.display_name,
        User.email,
        User.active,
        User.admin,
        User.superuser,
        User.department.code,
    ).where(User.email.like("%@demo.invalid"))
    assert sorted(u["username"] for u in users) == sorted(
        ["patrol", "inspector", "dispatcher", "engineering", "manager", "admin"]
    )
    assert sorted(u["role"] for u in users) == sorted(ROLES)
    for user in users:
        assert user["active"]
        assert user["email"] == f"{user['username']}@demo.invalid"
        assert re.search(r"[\u4e00-\u9fff]", user["display_name"])
        assert (user["admin"], user["superuser"]) == (
            (True, True) if user["role"] == "admin" else (False, False)
        )
        assert await SiteMembership.exists().where(
            (SiteMembership.user == user["id"]) & (SiteMembership.site == site_id)
        )
        assert await User.login(user["username"], DEMO_PASSWORD) == user["id"]
    engineering = next(u for u in users if u["username"] == "engineering")
    assert (engineering["role"], engineering["department.code"]) == ("department", "engineering")
    assert await User.login("patrol", "not-the-password") is None
