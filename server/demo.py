"""The demo site 翠湖花园 (code DEMO) and one demo user per role, loaded by ``xunjian demo``.

A realistic 小区: three high-rise buildings with two basement levels of car park, units on every
floor (about one in ten vacant, three under renovation) and the checkpoints a property-management
office would label: the fire equipment, fire doors, stairwells, lift lobby, lighting and service
shafts of every floor, the plant rooms, roof doors and car-park entrances, the signs 002 篇5 §4.1
requires, the vacant units and the renovation sites — about two thousand checkpoints.

Idempotent: the site is built in one transaction that is skipped when a site with code DEMO exists;
the demo users (and their membership of the site) are ensured on every run, never overwritten.
Everything random comes from ``random.Random(SEED)``, so every installation gets the same demo.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from server.db import write_transaction
from server.reference import FACILITY_TYPES, SIGN_TYPES, ensure_reference_data, template_code_for
from server.settings import Settings
from server.tables.accounts import Department, SiteMembership, User
from server.tables.checkpoints import CHECKPOINT_KINDS, ChecklistTemplate, Checkpoint
from server.tables.sites import Building, Floor, Site, Unit

SITE_CODE = "DEMO"
SITE_NAME = "翠湖花园"
SITE_ADDRESS = "翠湖路 88 号(演示数据)"
SEED = 20240501
VACANT_SHARE = 0.10
RENOVATIONS = 3
CHUNK = 250

# code, name, floors above ground, units a floor
BUILDINGS: tuple[tuple[str, str, int, int], ...] = (
    ("1", "1栋", 32, 4),
    ("2", "2栋", 26, 6),
    ("3", "3栋", 18, 5),
)
BASEMENT_LEVELS = 2  # B1, B2: the shared underground car park

# Unit floor areas (m²) by position on the floor, per building.
UNIT_AREAS = {
    "1": (128.6, 96.4, 96.4, 128.6),
    "2": (89.5, 118.2, 76.3, 76.3, 118.2, 89.5),
    "3": (143.8, 108.5, 88.9, 108.5, 143.8),
}

# Short, typable code letters per type (pinyin initials); unique across facilities and signs.
ABBREVIATIONS: dict[str, str] = {
    # facilities
    "extinguisher_cabinet": "MH",
    "hydrant": "XH",
    "fire_door": "FM",
    "stairwell": "LT",
    "lift_lobby": "DT",
    "corridor_lighting": "ZM",
    "shaft_room": "GJ",
    "plant_room": "JF",
    "pump_room": "SB",
    "transformer_room": "PD",
    "roof_door": "TM",
    "carpark_entrance": "CK",
    "garbage_room": "LJ",
    "bicycle_shed": "DC",
    "play_equipment": "YL",
    "pool": "YC",
    "effect_lighting": "XG",
    # signs
    "room_name_sign": "MC",
    "floor_sign": "LC",
    "room_number_sign": "FH",
    "roof_door_sign": "TT",
    "evacuation_plan": "SS",
    "fire_lift_warning": "HJ",
    "falling_objects_warning": "GK",
    "fire_exit_sign": "AQ",
    "machine_room_sign": "JB",
    "stacked_carpark_limits": "JX",
    "carpark_limits": "XS",
    "equipment_plate": "SP",
    "high_voltage_sign": "GY",
    "no_fire_sign": "YH",
    "pool_slippery_sign": "HD",
    "pool_depth_sign": "SD",
}
VACANT_SUFFIX = "KZ"  # 空置
RENOVATION_SUFFIX = "ZX"  # 装修

# username, role, display name, department code
DEMO_USERS: tuple[tuple[str, str, str, str | None], ...] = (
    ("patrol", "patrol", "王晓明(楼管员)", "customer_service"),
    ("inspector", "inspector", "李建国(秩序部巡查)", "security"),
    ("dispatcher", "dispatcher", "陈静(信息处理员)", "customer_service"),
    ("engineering", "department", "赵志强(工程部)", "engineering"),
    ("manager", "manager", "刘芳(客服主管)", "customer_service"),
    ("admin", "admin", "周敏(系统管理员)", "customer_service"),
)


@dataclass
class DemoSummary:
    site_code: str
    site_name: str
    created: bool
    buildings: int
    floors: int
    units: int
    vacant: int
    renovating: int
    checkpoints: dict[str, int] = field(default_factory=dict)
    users: list[str] = field(default_factory=list)

    @property
    def checkpoint_total(self) -> int:
        return sum(self.checkpoints.values())

    def __str__(self) -> str:
        kinds = ", ".join(f"{kind} {n}" for kind, n in self.checkpoints.items())
        state = "新建 created" if self.created else "已存在 already present"
        return (
            f"{self.site_name} ({self.site_code}, {state}): {self.buildings} 栋 buildings, "
            f"{self.floors} 层 floors, {self.units} 户 units ({self.vacant} 空置 vacant, "
            f"{self.renovating} 装修 renovating), {self.checkpoint_total} 巡检点 checkpoints "
            f"({kinds}); users: {', '.join(self.users)}"
        )


async def load_demo(settings: Settings) -> DemoSummary:
    """Load the demo site and users. Running it again changes nothing."""
    User._validate_password(settings.demo_password)  # fail before writing anything
    await ensure_reference_data()
    created = False
    async with write_transaction(Site._meta.db):
        site = await Site.select(Site.id).where(Site.code == SITE_CODE).first()
        if site is None:
            site_id = await _build_site(settings)
            created = True
        else:
            site_id = site["id"]
        await _ensure_users(settings, site_id)
    await _ensure_permits(site_id, settings)
    await _ensure_plans(site_id, settings)
    return await _summarise(site_id, created)


# --- the site ----------------------------------------------------------------------------------


@dataclass
class _Spot:
    """One checkpoint to be made, before ids are known."""

    code: str
    kind: str
    type_code: str
    name: str
    x: float
    y: float
    building: int | None = None
    floor: int | None = None
    unit: int | None = None


async def _build_site(settings: Settings) -> int:
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    rng = random.Random(SEED)

    site_id = (
        await Site.insert(
            Site(
                code=SITE_CODE,
                name=SITE_NAME,
                timezone=settings.timezone,
                address=SITE_ADDRESS,
                created_at=now,
            )
        ).returning(Site.id)
    )[0]["id"]

    await Building.insert(
        *[
            Building(
                site=site_id,
                code=code,
                name=name,
                floors_above=above,
                floors_below=BASEMENT_LEVELS,
                sort_order=order,
            )
            for order, (code, name, above, _units) in enumerate(BUILDINGS)
        ]
    )
    building_ids = {
        row["code"]: row["id"]
        for row in await Building.select(Building.id, Building.code).where(Building.site == site_id)
    }

    floors = [
        Floor(building=building_ids[code], level=level, name=_floor_name(level))
        for code, _name, above, _units in BUILDINGS
        for level in _levels(above)
    ]
    await _insert_chunked(Floor, floors)
    floor_ids = {
        (row["building"], row["level"]): row["id"]
        for row in await Floor.select(Floor.id, Floor.building, Floor.level).where(
            Floor.building.is_in(list(building_ids.values()))
        )
    }

    # Units, with about one in ten vacant and a few under renovation.
    unit_keys = [
        (code, level, position)
        for code, _name, above, per_floor in BUILDINGS
        for level in range(1, above + 1)
        for position in range(1, per_floor + 1)
    ]
    unit_index = {key: i for i, key in enumerate(unit_keys)}
    vacant = set(rng.sample(range(len(unit_keys)), round(len(unit_keys) * VACANT_SHARE)))
    occupied = [i for i in range(len(unit_keys)) if i not in vacant]
    renovating = set(rng.sample(occupied, RENOVATIONS))
    units = []
    for index, (code, level, position) in enumerate(unit_keys):
        status = (
            "vacant" if index in vacant else "renovating" if index in renovating else "occupied"
        )
        units.append(
            Unit(
                floor=floor_ids[(building_ids[code], level)],
                number=_unit_number(level, position),
                status=status,
                area_m2=UNIT_AREAS[code][position - 1],
                vacant_since=today - timedelta(days=rng.randint(20, 500))
                if status == "vacant"
                else None,
            )
        )
    await _insert_chunked(Unit, units)
    unit_rows = await Unit.select(Unit.id, Unit.floor, Unit.number, Unit.status).where(
        Unit.floor.is_in(list(floor_ids.values()))
    )
    unit_ids = {(row["floor"], row["number"]): row["id"] for row in unit_rows}

    spots: list[_Spot] = []
    for code, name, above, per_floor in BUILDINGS:
        building_id = building_ids[code]
        for level in _levels(above):
            floor_id = floor_ids[(building_id, level)]
            floor_spots = _floor_spots(code, name, level, above, per_floor)
            for spot in floor_spots:
                spot.building, spot.floor = building_id, floor_id
            spots.extend(floor_spots)
        for level in range(1, above + 1):
            floor_id = floor_ids[(building_id, level)]
            for position in range(1, per_floor + 1):
                number = _unit_number(level, position)
                unit_id = unit_ids[(floor_id, number)]
                index = unit_index[(code, level, position)]
                if index in vacant:
                    kind, suffix, label = "vacant_unit", VACANT_SUFFIX, "空置房"
                elif index in renovating:
                    kind, suffix, label = "renovation", RENOVATION_SUFFIX, "装修单元"
                else:
                    continue
                x, y = _unit_position(position, per_floor)
                spots.append(
                    _Spot(
                        f"{code}-{number}-{suffix}",
                        kind,
                        "",
                        f"{name}{number} {label}",
                        x,
                        y,
                        building_id,
                        floor_id,
                        unit_id,
                    )
                )
    spots.extend(_site_spots())

    template_ids = {
        row["code"]: row["id"]
        for row in await ChecklistTemplate.select(ChecklistTemplate.id, ChecklistTemplate.code)
    }
    await _insert_chunked(
        Checkpoint,
        [
            Checkpoint(
                site=site_id,
                code=spot.code,
                kind=spot.kind,
                type_code=spot.type_code,
                name=spot.name,
                building=spot.building,
                floor=spot.floor,
                unit=spot.unit,
                template=template_ids[template_code_for(spot.kind, spot.type_code)],
                plan_x=round(spot.x, 3),
                plan_y=round(spot.y, 3),
                updated_at=now,
            )
            for spot in spots
        ],
    )
    return site_id


def _levels(above: int) -> list[int]:
    return [*range(-BASEMENT_LEVELS, 0), *range(1, above + 1)]


def _floor_name(level: int) -> str:
    return f"B{-level}" if level < 0 else f"{level}F"


def _floor_token(level: int) -> str:
    return f"B{-level}" if level < 0 else str(level)


def _unit_number(level: int, position: int) -> str:
    return f"{level}{position:02d}"


def _unit_position(position: int, per_floor: int) -> tuple[float, float]:
    """Units line both sides of the corridor: odd positions north, even positions south."""
    per_side = (per_floor + 1) // 2
    slot = (position - 1) // 2
    x = 0.2 + 0.6 * (slot + 0.5) / per_side
    return x, 0.15 if position % 2 else 0.85


class _FloorPlan:
    """Collects the checkpoints of one floor with running numbers per type."""

    def __init__(
        self, building_code: str, building_name: str, level: int, prefix: str | None = None
    ):
        self.prefix = prefix or f"{building_code}-{_floor_token(level)}"
        self.place = f"{building_name}{_floor_name(level)}" if prefix is None else ""
        self.counts: dict[str, int] = {}
        self.spots: list[_Spot] = []

    def add(self, type_code: str, x: float, y: float, label: str = "") -> None:
        kind = "facility" if type_code in FACILITY_TYPES else "signage"
        type_zh = (FACILITY_TYPES if kind == "facility" else SIGN_TYPES)[type_code][0]
        n = self.counts[type_code] = self.counts.get(type_code, 0) + 1
        name = f"{self.place} {type_zh}".strip() if not label else f"{self.place} {label}".strip()
        code = f"{self.prefix}-{ABBREVIATIONS[type_code]}{n}"
        self.spots.append(_Spot(code, kind, type_code, name, x, y))


def _floor_spots(code: str, name: str, level: int, top: int, per_floor: int) -> list[_Spot]:
    plan = _FloorPlan(code, name, level)
    # Two stairwells at the ends of the corridor, each behind a fire door with an exit sign.
    for side, x, door_x in (("西", 0.05, 0.12), ("东", 0.95, 0.88)):
        plan.add("stairwell", x, 0.5, f"{side}侧楼梯间")
        plan.add("fire_door", door_x, 0.5, f"{side}侧防火门")
        plan.add("fire_exit_sign", door_x, 0.42, f"{side}侧安全出口标识")
    # The lift lobby in the middle, with its required signs (002 篇5 §4.1.2, §4.1.5).
    plan.add("lift_lobby", 0.5, 0.5)
    plan.add("floor_sign", 0.5, 0.6)
    plan.add("evacuation_plan", 0.45, 0.42)
    plan.add("fire_lift_warning", 0.55, 0.42, "电梯厅“如遇火警,请勿使用升降机”")
    # Fire equipment along the corridor.
    cabinets = (0.25, 0.75) if level > 0 else (0.2, 0.4, 0.6, 0.8)
    for i, x in enumerate(cabinets):
        plan.add("extinguisher_cabinet", x, 0.56, f"灭火器箱 {i + 1}号")
    for i, x in enumerate((0.28, 0.72)):
        plan.add("hydrant", x, 0.44, f"消火栓 {i + 1}号")
    wings = ("西侧走道照明", "东侧走道照明") if level > 0 else ("车库照明(西区)", "车库照明(东区)")
    for label, x in zip(wings, (0.3, 0.7), strict=True):
        plan.add("corridor_lighting", x, 0.5, label)

    if level > 0:
        for label, x in (("强电井", 0.4), ("水管井", 0.6)):
            plan.add("shaft_room", x, 0.36, label)
            plan.add("room_name_sign", x, 0.32, f"{label}名称标识")
        for position in range(1, per_floor + 1):
            x, y = _unit_position(position, per_floor)
            number = _unit_number(level, position)
            plan.add("room_number_sign", x, 0.28 if y < 0.5 else 0.72, f"{number} 房号牌")
    if level == 1:
        plan.add("garbage_room", 0.9, 0.8, "垃圾房")
        plan.add("room_name_sign", 0.9, 0.74, "垃圾房名称标识")
    if level == top:
        # The roof is reached from the top floor: roof door, lift machine room, terrace warning.
        plan.add("roof_door", 0.95, 0.3, "天台门")
        plan.add("roof_door_sign", 0.95, 0.24, "天台门“天台重地,非请勿进”")
        plan.add("plant_room", 0.5, 0.25, "屋顶电梯机房")
        plan.add("machine_room_sign", 0.46, 0.2, "电梯机房“机房重地、非请勿进”")
        plan.add("equipment_plate", 0.54, 0.2, "电梯曳引机设备标识牌")
        plan.add("falling_objects_warning", 0.9, 0.2, "天台“高空抛物、手下留人”")
    _add_basement_rooms(plan, code, level)
    return plan.spots


def _add_basement_rooms(plan: _FloorPlan, code: str, level: int) -> None:
    if level >= 0:
        return
    if level == -1 and code in ("1", "3"):
        # The car-park ramps come down at 1栋 and 3栋 (002 篇5 §4.1.7, §4.1.10).
        plan.add("carpark_entrance", 0.03, 0.85, "地下车库出入口")
        plan.add("carpark_limits", 0.06, 0.78, "车库入口限高限速禁鸣标识")
        plan.add("fire_exit_sign", 0.06, 0.9, "地下室出入口消防标识")
    if (code, level) == ("1", -2):
        plan.add("pump_room", 0.2, 0.2, "水泵房")
        plan.add("room_name_sign", 0.2, 0.3, "水泵房名称标识")
        plan.add("machine_room_sign", 0.25, 0.3, "水泵房“机房重地、非请勿进”")
        for label, x in (("生活水泵", 0.12), ("消防泵", 0.2), ("喷淋泵", 0.28)):
            plan.add("equipment_plate", x, 0.12, f"{label}设备标识牌")
    if (code, level) == ("2", -1):
        plan.add("transformer_room", 0.2, 0.2, "配电房")
        plan.add("room_name_sign", 0.2, 0.3, "配电房名称标识")
        plan.add("machine_room_sign", 0.25, 0.3, "配电房“机房重地、非请勿进”")
        for i, x in enumerate((0.12, 0.2)):
            plan.add("high_voltage_sign", x, 0.1, f"{i + 1}#变压器“高压危险,请勿靠近”")
        plan.add("high_voltage_sign", 0.28, 0.1, "环网柜“高压危险,请勿靠近”")
        plan.add("equipment_plate", 0.3, 0.16, "低压配电柜设备标识牌")
        plan.add("room_name_sign", 0.8, 0.3, "物业仓库名称标识")
        plan.add("no_fire_sign", 0.8, 0.24, "仓库门“严禁烟火”")
    if (code, level) == ("2", -2):
        plan.add("stacked_carpark_limits", 0.5, 0.85, "机械车位入口限高限重限长限宽标识")
    if (code, level) == ("3", -1):
        plan.add("plant_room", 0.8, 0.2, "柴油发电机房")
        plan.add("room_name_sign", 0.8, 0.3, "发电机房名称标识")
        plan.add("machine_room_sign", 0.75, 0.3, "发电机房“机房重地、非请勿进”")
        plan.add("equipment_plate", 0.85, 0.12, "柴油发电机组设备标识牌")
        plan.add("no_fire_sign", 0.7, 0.24, "发电机房“严禁烟火”")
    if (code, level) == ("3", -2):
        plan.add("plant_room", 0.8, 0.2, "排烟风机房")
        plan.add("machine_room_sign", 0.75, 0.3, "排烟风机房“机房重地、非请勿进”")
        plan.add("equipment_plate", 0.85, 0.12, "排烟风机设备标识牌")


def _site_spots() -> list[_Spot]:
    """The grounds, on the site plan rather than a floor plan."""
    plan = _FloorPlan("", "", 0, prefix="S")
    for label, x, y in (
        ("南大门景观灯", 0.5, 0.95),
        ("中心花园灯带", 0.5, 0.5),
        ("楼体泛光照明", 0.2, 0.3),
    ):
        plan.add("effect_lighting", x, y, label)
    plan.add("play_equipment", 0.4, 0.6, "儿童游乐区滑梯组合")
    plan.add("play_equipment", 0.6, 0.6, "健身器材区")
    plan.add("bicycle_shed", 0.1, 0.8, "北区自行车棚")
    plan.add("bicycle_shed", 0.9, 0.8, "南区自行车棚")
    plan.add("pool", 0.7, 0.4, "会所游泳池")
    plan.add("pool_slippery_sign", 0.66, 0.36, "泳池“小心地滑”标识")
    plan.add("pool_depth_sign", 0.74, 0.36, "泳池水深标识")
    plan.add("garbage_room", 0.95, 0.1, "垃圾收集站")
    plan.add("room_name_sign", 0.45, 0.9, "物业服务中心名称标识")
    plan.add("room_name_sign", 0.75, 0.45, "会所健身房名称标识")
    return plan.spots


async def _insert_chunked(table, rows: list) -> None:
    for start in range(0, len(rows), CHUNK):
        await table.insert(*rows[start : start + CHUNK])


# --- users -------------------------------------------------------------------------------------


async def _ensure_users(settings: Settings, site_id: int) -> None:
    departments = {
        row["code"]: row["id"] for row in await Department.select(Department.id, Department.code)
    }
    for username, role, display_name, department in DEMO_USERS:
        row = await User.select(User.id).where(User.username == username).first()
        if row is None:
            user = await User.create_user(
                username=username,
                password=settings.demo_password,
                email=f"{username}@demo.invalid",
                display_name=display_name,
                role=role,
                department=departments.get(department) if department else None,
                active=True,
                admin=role == "admin",
                superuser=role == "admin",
            )
            user_id = user.id
        else:
            user_id = row["id"]
        member = await SiteMembership.exists().where(
            (SiteMembership.user == user_id) & (SiteMembership.site == site_id)
        )
        if not member:
            await SiteMembership.insert(SiteMembership(user=user_id, site=site_id))


# --- patrol plans ------------------------------------------------------------------------------

# The plans of DOMAIN.md "Patrol rounds" and "Renovation management", each made once (by name):
# (name, per, times, windows, selection, assignee usernames, role, department code).
# Selection: building codes / (building code, level) floors / kinds / facility and sign types.
DEMO_PLANS: tuple[tuple, ...] = (
    # The 楼管员's daily round of the public facilities of their building (001 §4.4).
    (
        "王晓明 1栋每日巡视",
        "day",
        1,
        [("08:30", "17:30")],
        {"buildings": ["1"], "kinds": ["facility"]},
        ("patrol",),
        None,
        None,
    ),
    # Supervisors' rounds: at least 4 a day over the key points (003 §3.6.8).
    (
        "秩序部领班巡查(每日4次)",
        "day",
        4,
        [],
        {
            "types": [
                "carpark_entrance",
                "plant_room",
                "pump_room",
                "transformer_room",
                "roof_door",
            ]
        },
        (),
        "inspector",
        "security",
    ),
    # The 客服 department's spot check, at least once a day (003 §3.6.8).
    (
        "客服主管每日抽查",
        "day",
        1,
        [("09:00", "18:00")],
        {"floors": [("1", 1), ("2", 1), ("3", 1)], "types": ["lift_lobby", "garbage_room"]},
        ("manager",),
        None,
        None,
    ),
    # Vacant units, weekly (004 管家工作流程 §3).
    ("空置房每周巡查", "week", 1, [], {"kinds": ["vacant_unit"]}, (), "patrol", None),
    # Signage, monthly (002 篇5 §4.3).
    ("标识每月检查", "month", 1, [], {"kinds": ["signage"]}, (), "patrol", None),
    # Every active renovation, daily, by each of the three departments (003 §3.2.4).
    (
        "装修巡查(客服)",
        "day",
        1,
        [("08:00", "18:00")],
        {"kinds": ["renovation"]},
        (),
        "patrol",
        "customer_service",
    ),
    (
        "装修巡查(工程)",
        "day",
        1,
        [("08:00", "18:00")],
        {"kinds": ["renovation"]},
        (),
        None,
        "engineering",
    ),
    (
        "装修巡查(保安)",
        "day",
        1,
        [("08:00", "18:00")],
        {"kinds": ["renovation"]},
        (),
        "inspector",
        "security",
    ),
)


async def _ensure_plans(site_id: int, settings: Settings) -> None:
    """The demo's patrol plans, made once each; daily ones start yesterday, weekly ones this
    Monday, monthly ones on the 1st, so the coverage map has rounds from the first morning."""
    from server import plans
    from server.tables.plans import PatrolPlan

    today = datetime.now(UTC).astimezone(ZoneInfo(settings.timezone)).date()
    starts = {
        "day": today - timedelta(days=1),
        "week": today - timedelta(days=today.weekday()),
        "month": today.replace(day=1),
    }
    existing = {
        row["name"]
        for row in await PatrolPlan.select(PatrolPlan.name).where(PatrolPlan.site == site_id)
    }
    buildings = {
        row["code"]: row["id"]
        for row in await Building.select(Building.id, Building.code).where(Building.site == site_id)
    }
    floors = {
        (row["building.code"], row["level"]): row["id"]
        for row in await Floor.select(Floor.id, Floor.level, Floor.building.code).where(
            Floor.building.site == site_id
        )
    }
    admin = await User.select(User.id).where(User.username == "admin").first()
    for name, per, times, windows, selection, usernames, role, department in DEMO_PLANS:
        if name in existing:
            continue
        users = await User.select(User.id).where(User.username.is_in(list(usernames) or [""]))
        data = plans.PlanIn(
            site=site_id,
            name=name,
            per=per,
            times=times,
            windows=[tuple(w) for w in windows],
            selection=plans.SelectionIn(
                buildings=[buildings[c] for c in selection.get("buildings", [])],
                floors=[floors[f] for f in selection.get("floors", [])],
                kinds=selection.get("kinds", []),
                types=selection.get("types", []),
            ),
            assignees=[row["id"] for row in users],
            role=role,
            department=department,
            starts_on=starts[per],
        )
        row, checkpoint_ids = await plans.validated(data)
        await plans.insert_plan(row, checkpoint_ids, created_by=admin["id"] if admin else None)


# --- renovation permits -------------------------------------------------------------------------

# The permits of the three renovating units and one application, (state, owner, owner's phone,
# contractor company, licence, qualification, person, phone, days since work started). Every
# name, number and company is made up.
DEMO_PERMITS: tuple[tuple[str, str, str, str, str, str, str, str, int], ...] = (
    (
        "in_progress",
        "孙丽华",
        "13801234567",
        "安居装饰工程有限公司",
        "91440300MA5DEMO01X",
        "建筑装修装饰工程专业承包二级",
        "黄师傅",
        "13912345678",
        20,
    ),
    (
        "permit_issued",
        "何建平",
        "13702345678",
        "匠心家装有限公司",
        "91440300MA5DEMO02Y",
        "建筑装修装饰工程专业承包二级",
        "吴工",
        "13623456789",
        -1,
    ),
    (
        "hidden_works_accepted",
        "郑美玲",
        "13503456789",
        "美家居室内装饰有限公司",
        "91440300MA5DEMO03Z",
        "建筑装修装饰工程专业承包一级",
        "钱经理",
        "13334567890",
        45,
    ),
    (
        "drawings_review",
        "冯志远",
        "13204567890",
        "安居装饰工程有限公司",
        "91440300MA5DEMO01X",
        "建筑装修装饰工程专业承包二级",
        "黄师傅",
        "13912345678",
        -7,
    ),
)
# Workers' passes of the permit in progress: (name, ID number, pass number, days valid from today,
# None = to the permit's end). The second pass runs out tomorrow.
DEMO_WORKERS = (
    ("黄大勇", "44030419800101123X", "ZX-0001", None),
    ("林小强", "440304199205206518", "ZX-0002", 1),
)
#: Deposits in fen: the owner's 2 000 元, the contractor's 5 000 元.
DEMO_OWNER_DEPOSIT, DEMO_CONTRACTOR_DEPOSIT = 200_000, 500_000


async def _ensure_permits(site_id: int, settings: Settings) -> None:
    """Renovation permits for the three renovating units, taken through the permit's real steps
    by the demo's desk, engineer and guard (so every state, timeline and checkpoint is what the
    app itself would make): one in progress with two workers (one pass running out tomorrow) and
    a hot-work permit valid today, one issued, one past its joint hidden-works acceptance; and
    one application under drawings review on a vacant unit. Made once: skipped when the site has
    any permit."""
    from server import renovation_acceptance as acceptance
    from server import renovations
    from server.auth import CurrentUser
    from server.tables.renovations import RenovationPermit

    if await RenovationPermit.exists().where(RenovationPermit.site == site_id):
        return
    today = datetime.now(UTC).astimezone(ZoneInfo(settings.timezone)).date()
    people = {
        row["username"]: CurrentUser(
            id=row["id"],
            username=row["username"],
            display_name=row["display_name"],
            role=row["role"],
            department_id=row["department"],
            site_ids=frozenset({site_id}),
            session_id=0,
        )
        for row in await User.select(
            User.id, User.username, User.display_name, User.role, User.department
        ).where(User.username.is_in(["dispatcher", "engineering", "inspector"]))
    }
    desk, engineer, guard = people["dispatcher"], people["engineering"], people["inspector"]
    in_site = Unit.floor.building.site == site_id
    renovating = await (
        Unit.select(Unit.id, Unit.area_m2)
        .where(in_site & (Unit.status == "renovating"))
        .order_by(Unit.id)
    )
    vacant = await (
        Unit.select(Unit.id, Unit.area_m2)
        .where(in_site & (Unit.status == "vacant"))
        .order_by(Unit.id)
        .first()
    )
    units = [*renovating[:3], vacant]
    # One transaction for all of them (each step's own transaction joins it): a demo either has
    # its permits or none, and the load stays quick (one commit, not one per step).
    async with write_transaction(RenovationPermit._meta.db):
        for unit, permit in zip(units, DEMO_PERMITS, strict=False):
            if unit is None:
                continue
            state, owner, owner_phone, company, licence, qualification, person, phone, days = permit
            made = await renovations.create_permit(
                desk,
                site=site_id,
                unit=unit["id"],
                owner_name=owner,
                owner_phone=owner_phone,
                contractor_company=company,
                contractor_licence=licence,
                contractor_qualification=qualification,
                contractor_person=person,
                contractor_phone=phone,
                area_m2=unit["area_m2"] or 0.0,
                starts_on=today - timedelta(days=days),
                owner_deposit=DEMO_OWNER_DEPOSIT,
                contractor_deposit=DEMO_CONTRACTOR_DEPOSIT,
            )
            permit_id = made.id
            await renovations.step(desk, permit_id, "submit-drawings")
            if state == "drawings_review":
                continue
            await renovations.step(engineer, permit_id, "approve-drawings")
            for signer, department in (
                (desk, "customer_service"),
                (engineer, "engineering"),
                (guard, "security"),
            ):
                await renovations.step(signer, permit_id, "sign", department=department)
            await renovations.step(desk, permit_id, "issue")
            if state == "permit_issued":
                continue
            await renovations.step(desk, permit_id, "start")
            if state == "in_progress":
                for name, id_number, pass_number, valid_days in DEMO_WORKERS:
                    await renovations.add_worker(
                        desk,
                        permit_id,
                        name=name,
                        id_number=id_number,
                        pass_number=pass_number,
                        valid_until=(
                            None if valid_days is None else today + timedelta(days=valid_days)
                        ),
                    )
                await renovations.add_hot_work(
                    guard,
                    permit_id,
                    starts_on=today,
                    ends_on=today + timedelta(days=1),
                    location="厨房燃气管道改线焊接",
                )
                continue
            # Hidden works: the joint acceptance of 客服, 工程 and 保安 passes in its first round.
            round_id, _replayed = await acceptance.open_round(
                engineer, permit_id, acceptance.HIDDEN_WORKS
            )
            for signer, party in (
                (desk, "customer_service"),
                (engineer, "engineering"),
                (guard, "security"),
            ):
                await acceptance.sign_off(
                    signer,
                    permit_id,
                    round_id,
                    party=party,
                    passed=True,
                    note="水电隐蔽工程验收合格",
                )


# --- summary -----------------------------------------------------------------------------------


async def _summarise(site_id: int, created: bool) -> DemoSummary:
    site = await Site.select(Site.code, Site.name).where(Site.id == site_id).first()
    in_site = Unit.floor.building.site == site_id
    by_kind = {}
    for kind in CHECKPOINT_KINDS:
        by_kind[kind] = await Checkpoint.count().where(
            (Checkpoint.site == site_id) & (Checkpoint.kind == kind)
        )
    members = await SiteMembership.select(SiteMembership.user.username).where(
        (SiteMembership.site == site_id)
        & SiteMembership.user.username.is_in([u[0] for u in DEMO_USERS])
    )
    return DemoSummary(
        site_code=site["code"],
        site_name=site["name"],
        created=created,
        buildings=await Building.count().where(Building.site == site_id),
        floors=await Floor.count().where(Floor.building.site == site_id),
        units=await Unit.count().where(in_site),
        vacant=await Unit.count().where(in_site & (Unit.status == "vacant")),
        renovating=await Unit.count().where(in_site & (Unit.status == "renovating")),
        checkpoints=by_kind,
        users=sorted(row["user.username"] for row in members),
    )
