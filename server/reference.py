"""Reference data every deployment needs: the departments and the default checklist templates.

``ensure_reference_data()`` runs on every ``xunjian migrate``. It upserts by code, so running it
twice changes nothing and a later release can correct a template's wording; a template whose
definition changed gets a new ``updated_at`` so the phones' catalogue cursor picks it up. Items an
administrator added to a default template in the back office are left alone (never deleted).

Every checklist item names the SOP section it comes from (``source``, e.g. "002 篇5 §4.3.3"; the
numbers are the seed files under ``shared/seeds``, summarised in ``DOMAIN.md``).

Who must act when an item fails (``TemplateItem.department``, the department that gets the work
order) follows the nature of the remedy, the same way in every template:

- fire-fighting equipment readiness and escape routes kept clear (refill or replace an
  extinguisher, clear an obstruction, close a propped fire door, lock a roof door): **security
  秩序部**, which holds fire safety (003 §3.2.4 "保安部负责消防安全"; 001 §3.3.2);
- anything that needs a repair of the building or its services (water, electrics, lifts,
  door hardware, lighting, pumps): **engineering 工程部** (001 §4.3 repairs go to 工程部);
- dirt, litter, refuse, pests: **cleaning & landscaping 保洁绿化部** (003 §3.6);
- signs and notices, owners' behaviour, renovation follow-up with the owner: **customer service
  客服中心** (002 篇5 §3.2, 001 §3.5, 003 §3.2.4) — except fire signs (security) and signs on
  M&E equipment and plant rooms (engineering), which have their own signage templates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from server.db import write_transaction
from server.tables.accounts import Department
from server.tables.checkpoints import ChecklistTemplate, TemplateItem

# --- departments -------------------------------------------------------------------------------

ENGINEERING = "engineering"
SECURITY = "security"
CLEANING = "cleaning"
CUSTOMER_SERVICE = "customer_service"

DEPARTMENTS: dict[str, tuple[str, str]] = {
    ENGINEERING: ("工程部", "Engineering"),
    SECURITY: ("秩序部", "Security"),
    CLEANING: ("保洁绿化部", "Cleaning & landscaping"),
    CUSTOMER_SERVICE: ("客服中心", "Customer service"),
}

# --- catalogues --------------------------------------------------------------------------------

#: Facility types (设施设备) that carry a QR label: type_code → (Chinese, English).
FACILITY_TYPES: dict[str, tuple[str, str]] = {
    "extinguisher_cabinet": ("灭火器箱", "Fire extinguisher cabinet"),
    "hydrant": ("消火栓", "Fire hydrant"),
    "fire_door": ("防火门", "Fire door"),
    "stairwell": ("楼梯间/消防通道", "Stairwell / escape route"),
    "lift_lobby": ("电梯厅", "Lift lobby"),
    "corridor_lighting": ("走道照明", "Corridor lighting"),
    "shaft_room": ("管道井", "Service shaft"),
    "plant_room": ("设备机房", "Plant room"),
    "pump_room": ("水泵房", "Pump room"),
    "transformer_room": ("配电房", "Transformer / switch room"),
    "roof_door": ("天台门", "Roof door"),
    "carpark_entrance": ("车库出入口", "Car-park entrance"),
    "garbage_room": ("垃圾房", "Garbage room"),
    "bicycle_shed": ("自行车棚", "Bicycle shed"),
    "play_equipment": ("儿童游乐设施", "Play equipment"),
    "pool": ("游泳池", "Swimming pool"),
    "effect_lighting": ("效果照明", "Effect lighting"),
}

#: Required signs of 002 篇5 §4.1: type_code → (Chinese, English).
SIGN_TYPES: dict[str, tuple[str, str]] = {
    "room_name_sign": ("名称标识", "Room name sign"),  # §4.1.1
    "floor_sign": ("楼层标识", "Floor number sign"),  # §4.1.2
    "room_number_sign": ("房间编号标识", "Room number sign"),  # §4.1.3
    "roof_door_sign": ("天台重地,非请勿进", "Roof – authorised persons only"),  # §4.1.4
    "evacuation_plan": ("消防疏散示意图", "Fire evacuation plan"),  # §4.1.5
    "fire_lift_warning": (
        "如遇火警,请勿使用升降机",
        "In case of fire do not use the lift",
    ),  # §4.1.5
    "falling_objects_warning": ("高空抛物、手下留人", "Do not throw objects from height"),  # §4.1.6
    "fire_exit_sign": ("安全出口", "Fire exit sign"),  # §4.1.7
    "machine_room_sign": ("机房重地、非请勿进", "Machine room – authorised persons only"),  # §4.1.8
    "stacked_carpark_limits": (
        "限高限重限长限宽",
        "Stacked car park: height/weight/length/width limits",
    ),  # §4.1.9
    "carpark_limits": ("限高限速禁鸣", "Car park: height limit, speed limit, no horn"),  # §4.1.10
    "equipment_plate": ("设备标识牌", "Equipment plate"),  # §4.1.11
    "high_voltage_sign": ("高压危险,请勿靠近", "High voltage – keep away"),  # §4.1.12
    "no_fire_sign": ("严禁烟火", "No smoking or open flames"),  # §4.1.13
    "pool_slippery_sign": ("小心地滑", "Caution: slippery floor"),  # §4.1.14
    "pool_depth_sign": ("水深标识", "Water depth marking"),  # §4.1.14
}

#: Signage defect types of 002 篇5 §4.3.3, plus a missing sign.
SIGN_DEFECT_TYPES: list[dict[str, str]] = [
    {"code": "soiled", "zh": "污染", "en": "Soiled"},
    {"code": "defaced", "zh": "涂抹", "en": "Defaced"},
    {"code": "torn", "zh": "撕毁", "en": "Torn"},
    {"code": "broken", "zh": "破损", "en": "Broken"},
    {"code": "meaningless", "zh": "失去标识意义", "en": "No longer meaningful"},
    {"code": "missing", "zh": "缺失", "en": "Missing"},
]

# Fire signs are security's, signs on plant rooms and M&E equipment are engineering's.
_FIRE_SIGNS = frozenset({"evacuation_plan", "fire_lift_warning", "fire_exit_sign", "no_fire_sign"})
_EQUIPMENT_SIGNS = frozenset({"machine_room_sign", "high_voltage_sign", "equipment_plate"})

RENOVATION_DEPARTMENTS = (CUSTOMER_SERVICE, ENGINEERING, SECURITY)


def template_code_for(kind: str, type_code: str | None = "", department: str | None = None) -> str:
    """The default checklist template for a checkpoint of ``kind`` and ``type_code``.

    Renovation sites are inspected by three departments, each with its own list; ``department``
    picks one, and without it the customer-service list (the 管家's daily round) is the default.
    """
    type_code = type_code or ""
    if kind == "facility":
        return f"facility.{type_code}" if type_code in FACILITY_TYPES else "facility.generic"
    if kind == "signage":
        if type_code in _FIRE_SIGNS:
            return "signage.fire"
        if type_code in _EQUIPMENT_SIGNS:
            return "signage.equipment"
        return "signage"
    if kind == "vacant_unit":
        return "vacant_unit"
    if kind == "renovation":
        chosen = department or CUSTOMER_SERVICE
        if chosen not in RENOVATION_DEPARTMENTS:
            raise ValueError(f"no renovation checklist for department {chosen!r}")
        return f"renovation.{chosen}"
    raise ValueError(f"unknown checkpoint kind {kind!r}")


# --- template definitions ----------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    code: str
    text_zh: str
    text_en: str
    department: str
    severity: str = "minor"
    source: str = ""
    photo_required_on_fail: bool = True
    is_confirmation: bool = False


@dataclass(frozen=True)
class Template:
    code: str
    kind: str
    name_zh: str
    name_en: str
    items: tuple[Item, ...]
    type_code: str | None = None
    inspecting_department: str | None = None
    defect_types: tuple[dict[str, str], ...] = ()
    allow_gallery: bool = False


E, S, C, K = ENGINEERING, SECURITY, CLEANING, CUSTOMER_SERVICE
FIRE = "001 §3.3.2"  # fire-safety violations: blocked escapes, damaged fire equipment
PATROL = "001 §4.4"  # the 楼管员's daily check of public facilities
CLEAN_CYCLE = "003 §3.6.6"  # cleaning cycle of public areas


def _facility(type_code: str, *items: Item) -> Template:
    zh, en = FACILITY_TYPES[type_code]
    return Template(
        f"facility.{type_code}",
        "facility",
        f"{zh}巡检",
        f"{en} check",
        tuple(items),
        type_code=type_code,
    )


_NOT_BLOCKED = Item(
    "not_blocked",
    "周边无杂物堆放、无遮挡",
    "Nothing piled in front or blocking it",
    S,
    "major",
    f"{FIRE} a",
)

# Extinguisher and hydrant cabinets are cleaned on the same cycle.
_CABINET_CLEAN = Item(
    "clean",
    "箱体清洁,无积尘",
    "Cabinet clean, not dusty",
    C,
    "minor",
    CLEAN_CYCLE,
    photo_required_on_fail=False,
)

FACILITY_TEMPLATES: tuple[Template, ...] = (
    _facility(
        "extinguisher_cabinet",
        Item(
            "present",
            "灭火器在位,数量与配置相符",
            "Extinguishers in place, number as specified",
            S,
            "major",
            f"{FIRE} b",
        ),
        Item(
            "pressure",
            "压力表指针在绿区",
            "Pressure gauge needle in the green zone",
            S,
            "major",
            f"{FIRE} b",
        ),
        Item(
            "in_date",
            "灭火器在有效期内,检验标签齐全",
            "Extinguishers in date, inspection tag present",
            S,
            "minor",
            f"{FIRE} b",
        ),
        Item(
            "pin_hose",
            "保险销、铅封完好,喷管无老化破损",
            "Safety pin and seal intact, hose not cracked",
            S,
            "major",
            f"{FIRE} b",
        ),
        Item(
            "cabinet",
            "箱门开关灵活,玻璃、箱体完好",
            "Cabinet door opens freely, glass and body intact",
            E,
            "minor",
            PATROL,
        ),
        _NOT_BLOCKED,
        _CABINET_CLEAN,
    ),
    _facility(
        "hydrant",
        Item(
            "complete",
            "水带、水枪、接口齐全",
            "Hose, nozzle and coupling all present",
            S,
            "major",
            f"{FIRE} b",
        ),
        Item(
            "hose_state",
            "水带无霉变破损,盘卷整齐",
            "Hose not mouldy or torn, neatly rolled",
            S,
            "minor",
            f"{FIRE} b",
        ),
        Item(
            "valve", "栓阀无渗漏,开关灵活", "Valve not leaking and turns freely", E, "major", PATROL
        ),
        Item(
            "alarm_button",
            "消防卷盘、报警按钮完好",
            "Hose reel and fire-alarm button intact",
            E,
            "major",
            f"{FIRE} b",
        ),
        Item(
            "cabinet",
            "箱门开启灵活,玻璃完好",
            "Cabinet door opens freely, glass intact",
            E,
            "minor",
            PATROL,
        ),
        _NOT_BLOCKED,
        _CABINET_CLEAN,
    ),
    _facility(
        "fire_door",
        Item(
            "closed",
            "防火门保持常闭,未被撑开或锁死",
            "Fire door kept shut, not propped open or locked",
            S,
            "major",
            f"{FIRE} a",
        ),
        Item(
            "closer",
            "闭门器、顺序器正常,门能自行关严",
            "Door closer works; the door shuts fully by itself",
            E,
            "major",
            PATROL,
        ),
        Item(
            "leaf_frame",
            "门扇、门框、密封条完好无变形",
            "Leaf, frame and seals intact, not warped",
            E,
            "minor",
            PATROL,
        ),
        Item(
            "hardware",
            "推杠、把手、门锁完好",
            "Push bar, handle and lock intact",
            E,
            "minor",
            PATROL,
        ),
        Item(
            "route_clear",
            "门前后疏散通道畅通",
            "Escape route on both sides clear",
            S,
            "critical",
            f"{FIRE} a",
        ),
    ),
    _facility(
        "stairwell",
        Item(
            "clear",
            "楼梯及消防通道畅通,无堆放杂物",
            "Stairs and escape route clear, nothing piled",
            S,
            "critical",
            f"{FIRE} a",
        ),
        Item(
            "emergency_light",
            "应急照明、疏散指示灯正常",
            "Emergency lights and exit indicators work",
            E,
            "major",
            f"{FIRE} b",
        ),
        Item("handrail", "扶手、踏步完好", "Handrails and steps intact", E, "minor", PATROL),
        Item(
            "no_burning",
            "无焚烧香火、纸张等痕迹",
            "No traces of burning incense, paper or rubbish",
            S,
            "major",
            f"{FIRE} d",
        ),
        Item(
            "clean",
            "楼梯、扶手清洁",
            "Stairs and handrails clean",
            C,
            "minor",
            f"{CLEAN_CYCLE} 14",
            photo_required_on_fail=False,
        ),
    ),
    _facility(
        "lift_lobby",
        Item(
            "call_buttons",
            "呼梯按钮、楼层显示正常",
            "Call buttons and floor indicator work",
            E,
            "major",
            PATROL,
        ),
        Item(
            "landing_doors",
            "电梯层门无损坏,开关无异响",
            "Landing doors undamaged, no abnormal noise",
            E,
            "major",
            PATROL,
        ),
        Item("lighting", "电梯厅照明正常", "Lobby lighting works", E, "minor", PATROL),
        Item(
            "floor_clean",
            "地面无污迹、水迹、纸屑",
            "Floor free of stains, water and litter",
            C,
            "minor",
            "003 §3.6.5",
            photo_required_on_fail=False,
        ),
        Item(
            "no_private_items",
            "无私自堆放、吊挂杂物",
            "No private belongings piled or hung",
            K,
            "minor",
            "001 §3.3.3 c",
        ),
    ),
    _facility(
        "corridor_lighting",
        Item(
            "lamps_on",
            "灯具全部点亮,无闪烁",
            "All lamps light, none flickering",
            E,
            "minor",
            PATROL,
        ),
        Item("switches", "声控/感应开关正常", "Sound or motion switches work", E, "minor", PATROL),
        Item(
            "emergency_light",
            "应急照明灯测试正常",
            "Emergency light passes its test",
            E,
            "major",
            f"{FIRE} b",
        ),
        Item(
            "covers_clean",
            "灯罩完好,无积尘、蚊虫",
            "Covers intact, free of dust and insects",
            C,
            "minor",
            f"{CLEAN_CYCLE} 12",
            photo_required_on_fail=False,
        ),
    ),
    _facility(
        "shaft_room",
        Item("door_locked", "井门关闭上锁", "Shaft door shut and locked", S, "major", PATROL),
        Item("no_leak", "管道、阀门无渗漏", "Pipes and valves not leaking", E, "major", PATROL),
        Item("fire_stopping", "防火封堵完好", "Fire-stopping intact", E, "major", f"{FIRE} b"),
        Item(
            "no_storage", "井内无堆放杂物", "Nothing stored in the shaft", S, "major", f"{FIRE} a"
        ),
    ),
    _facility(
        "plant_room",
        Item(
            "door_locked",
            "机房门锁闭,无关人员未进入",
            "Door locked, no unauthorised entry",
            S,
            "major",
            "002 篇5 §4.1.8",
        ),
        Item(
            "running",
            "设备运行无异响、异味、报警",
            "Equipment runs without abnormal noise, smell or alarms",
            E,
            "critical",
            PATROL,
        ),
        Item(
            "log",
            "运行记录按时填写",
            "Operating log filled in on time",
            E,
            "minor",
            PATROL,
            photo_required_on_fail=False,
        ),
        Item("no_leak", "室内无漏水、积水", "No leaks or standing water", E, "major", PATROL),
        Item("ventilation", "通风、照明正常", "Ventilation and lighting work", E, "minor", PATROL),
        Item("extinguisher", "灭火器配置到位", "Extinguishers in place", S, "major", f"{FIRE} b"),
        Item("tidy", "室内整洁,无杂物堆放", "Tidy, nothing stored", E, "minor", PATROL),
    ),
    _facility(
        "pump_room",
        Item(
            "door_locked",
            "水泵房门锁闭,无关人员未进入",
            "Door locked, no unauthorised entry",
            S,
            "major",
            "002 篇5 §4.1.8",
        ),
        Item(
            "pumps",
            "水泵运行无异响、无异常振动",
            "Pumps run without abnormal noise or vibration",
            E,
            "critical",
            PATROL,
        ),
        Item(
            "fire_pump_auto",
            "消防泵处于自动状态",
            "Fire pumps set to automatic",
            E,
            "critical",
            f"{FIRE} b",
        ),
        Item("gauges", "压力表读数正常", "Pressure gauges read normal", E, "major", PATROL),
        Item("no_leak", "阀门、管道无渗漏", "Valves and pipes not leaking", E, "major", PATROL),
        Item(
            "sump",
            "集水坑排污泵正常,无积水",
            "Sump pump works, no standing water",
            E,
            "major",
            PATROL,
        ),
        Item(
            "log",
            "运行记录按时填写",
            "Operating log filled in on time",
            E,
            "minor",
            PATROL,
            photo_required_on_fail=False,
        ),
    ),
    _facility(
        "transformer_room",
        Item(
            "door_locked",
            "配电房门锁闭,无关人员未进入",
            "Door locked, no unauthorised entry",
            S,
            "major",
            "002 篇5 §4.1.12",
        ),
        Item(
            "running",
            "变压器、配电柜运行无异响、异味",
            "Transformers and switchgear run without noise or smell",
            E,
            "critical",
            PATROL,
        ),
        Item(
            "meters",
            "温度、电压、电流指示正常",
            "Temperature, voltage and current readings normal",
            E,
            "major",
            PATROL,
        ),
        Item(
            "safety_kit",
            "绝缘垫、绝缘手套、验电器齐全",
            "Insulating mats, gloves and tester present",
            E,
            "major",
            PATROL,
        ),
        Item(
            "rodent_board",
            "挡鼠板完好,无小动物进入痕迹",
            "Rodent boards intact, no sign of animals",
            E,
            "major",
            PATROL,
        ),
        Item("no_leak", "室内无漏水、积水", "No leaks or standing water", E, "critical", PATROL),
        Item("extinguisher", "灭火器配置到位", "Extinguishers in place", S, "major", f"{FIRE} b"),
    ),
    _facility(
        "roof_door",
        Item(
            "locked",
            "天台门关闭并按规定上锁",
            "Roof door shut and locked as required",
            S,
            "major",
            "002 篇5 §4.1.4",
        ),
        Item("door_lock", "门体、门锁完好", "Door and lock intact", E, "minor", PATROL),
        Item(
            "no_loitering",
            "天台无人员逗留",
            "No one loitering on the roof",
            S,
            "major",
            "001 §3.3.6",
        ),
        Item(
            "no_structures",
            "天台无杂物堆放、无乱搭乱建",
            "No clutter or unauthorised structures on the roof",
            K,
            "major",
            "001 §3.3.3 c",
        ),
        Item("drains", "天台排水口通畅", "Roof drains clear", C, "major", PATROL),
        Item("parapet", "女儿墙、栏杆完好", "Parapet and railings intact", E, "major", PATROL),
    ),
    _facility(
        "carpark_entrance",
        Item(
            "barrier", "道闸、车牌识别运行正常", "Barrier and plate reader work", E, "major", PATROL
        ),
        Item("ramp_lighting", "坡道照明正常", "Ramp lighting works", E, "minor", PATROL),
        Item(
            "drain_channel",
            "截水沟无杂物堵塞",
            "Drainage channel free of debris",
            C,
            "major",
            PATROL,
        ),
        Item(
            "flood_boards",
            "挡水板、防汛沙袋到位",
            "Flood boards and sandbags ready",
            E,
            "major",
            PATROL,
        ),
        Item(
            "parking_order",
            "出入口无违章停车",
            "No vehicles parked in the entrance",
            S,
            "minor",
            "001 §3.3.4 a",
        ),
    ),
    _facility(
        "garbage_room",
        Item(
            "cleared",
            "垃圾日产日清,无满溢",
            "Refuse cleared daily, nothing overflowing",
            C,
            "major",
            "003 §3.6.4 8",
        ),
        Item("bins", "垃圾桶完好、加盖", "Bins intact and lidded", C, "minor", "003 §3.6.5"),
        Item(
            "floor_smell",
            "地面无污水、无异味",
            "Floor free of dirty water and smell",
            C,
            "minor",
            "003 §3.6.5",
            photo_required_on_fail=False,
        ),
        Item(
            "pests",
            "按时消杀,无蚊蝇鼠蟑",
            "Pest control done, no flies, rats or cockroaches",
            C,
            "major",
            "002 篇5 §4.2.9",
        ),
        Item("fabric", "门、照明、排水完好", "Door, light and drain intact", E, "minor", PATROL),
    ),
    _facility(
        "bicycle_shed",
        Item(
            "orderly",
            "车辆摆放整齐,通道畅通",
            "Bicycles parked in order, aisle clear",
            S,
            "minor",
            "001 §3.3.4 a",
        ),
        Item("roof_light", "棚顶、照明完好", "Roof and lighting intact", E, "minor", PATROL),
        Item(
            "clean",
            "车棚清扫干净",
            "Shed swept clean",
            C,
            "minor",
            f"{CLEAN_CYCLE} 13",
            photo_required_on_fail=False,
        ),
    ),
    _facility(
        "play_equipment",
        Item(
            "sound",
            "设施稳固,无松动、锐边、破损",
            "Equipment firm: nothing loose, sharp or broken",
            E,
            "critical",
            PATROL,
        ),
        Item("surface", "地面软垫完好", "Safety surfacing intact", E, "major", PATROL),
        Item(
            "clean",
            "设施清洁",
            "Equipment clean",
            C,
            "minor",
            "003 §3.6.5",
            photo_required_on_fail=False,
        ),
        Item(
            "closed_sign",
            "暂停开放时挂有“暂停使用”标识",
            '"Out of service" sign hung while closed',
            K,
            "minor",
            "002 篇5 §4.2.6",
        ),
    ),
    _facility(
        "pool",
        Item("water", "池水清澈,水质达标", "Water clear and within standard", E, "major", PATROL),
        Item("lifesaving", "救生设备齐全", "Life-saving equipment present", S, "critical", PATROL),
        Item(
            "signs",
            "“小心地滑”及水深标识齐全",
            '"Caution: slippery" and depth markings present',
            K,
            "major",
            "002 篇5 §4.1.14",
        ),
        Item(
            "deck",
            "池边无积水、防滑完好",
            "Pool deck dry and non-slip",
            C,
            "minor",
            "002 篇5 §4.2.4",
        ),
        Item(
            "closed_sign",
            "暂停开放时挂有“暂停使用”标识",
            '"Out of service" sign hung while closed',
            K,
            "minor",
            "002 篇5 §4.2.6",
        ),
    ),
    _facility(
        "effect_lighting",
        Item(
            "on_schedule",
            "效果照明按规定时间开启、关闭",
            "Effect lighting switched on and off on schedule",
            E,
            "minor",
            "000 篇3 §1.5",
        ),
        Item("lamps", "灯具完好,无不亮", "Lamps intact, none out", E, "minor", "000 篇3 §1.5"),
        Item(
            "wiring",
            "线路、灯座无裸露破损",
            "No exposed or damaged wiring or fittings",
            E,
            "major",
            PATROL,
        ),
    ),
    Template(
        "facility.generic",
        "facility",
        "设施设备巡检",
        "Facility check",
        (
            Item("intact", "设施完好,无损坏", "Intact, not damaged", E, "minor", PATROL),
            Item("working", "运行正常", "Works as it should", E, "major", PATROL),
            Item("no_hazard", "周边无安全隐患", "No safety hazard around it", S, "major", PATROL),
            Item(
                "clean",
                "清洁,无积尘杂物",
                "Clean, free of dust and litter",
                C,
                "minor",
                "003 §3.6.5",
                photo_required_on_fail=False,
            ),
        ),
    ),
)


VACANT_SOURCE = "004 管家工作流程 §3"
KEYS = "000 篇5 §1.2.3"

VACANT_UNIT_TEMPLATE = Template(
    "vacant_unit",
    "vacant_unit",
    "空置房巡查",
    "Vacant unit check",
    (
        Item(
            "no_leak",
            "无漏水、渗水、积水",
            "No leaks, seepage or standing water",
            E,
            "major",
            VACANT_SOURCE,
        ),
        Item(
            "meters",
            "水表、电表无异常走字",
            "Water and power meters not running",
            E,
            "major",
            VACANT_SOURCE,
        ),
        Item(
            "no_damage",
            "墙面、地面、天花无损坏开裂",
            "Walls, floor and ceiling undamaged, no cracks",
            E,
            "minor",
            VACANT_SOURCE,
        ),
        Item(
            "doors_windows",
            "门窗、门锁完好",
            "Doors, windows and locks intact",
            E,
            "major",
            VACANT_SOURCE,
        ),
        Item(
            "floor_drains",
            "地漏通畅,地漏盖齐全",
            "Floor drains clear, covers in place",
            E,
            "minor",
            "001 §3.3.1 e",
        ),
        Item("no_mould", "无发霉、异味", "No mould or odour", C, "minor", VACANT_SOURCE),
        Item("no_pests", "无虫鼠", "No pests", C, "minor", VACANT_SOURCE),
        Item(
            "no_intrusion",
            "无人员进入痕迹,物品无丢失",
            "No sign of intrusion, nothing missing",
            S,
            "critical",
            VACANT_SOURCE,
        ),
        Item(
            "power_off",
            "已断电",
            "Power switched off",
            K,
            "major",
            KEYS,
            photo_required_on_fail=False,
            is_confirmation=True,
        ),
        Item(
            "closed",
            "门窗已关闭",
            "Doors and windows closed",
            K,
            "major",
            KEYS,
            photo_required_on_fail=False,
            is_confirmation=True,
        ),
        Item(
            "locked",
            "已上锁",
            "Unit locked",
            K,
            "major",
            KEYS,
            photo_required_on_fail=False,
            is_confirmation=True,
        ),
        Item(
            "keys_returned",
            "钥匙已归还客服中心",
            "Keys returned to customer service",
            K,
            "major",
            KEYS,
            photo_required_on_fail=False,
            is_confirmation=True,
        ),
    ),
)


def _signage(code: str, name_zh: str, name_en: str, department: str, severity: str) -> Template:
    return Template(
        code,
        "signage",
        name_zh,
        name_en,
        (
            Item(
                "present",
                "标识在位,未缺失",
                "Sign in place, not missing",
                department,
                severity,
                "002 篇5 §4.1",
            ),
            Item(
                "intact",
                "标识完好,未被污染、涂抹、撕毁或破损",
                "Sign clean and whole: not soiled, defaced, torn or broken",
                department,
                severity,
                "002 篇5 §4.3.3",
            ),
            Item(
                "meaningful",
                "标识内容正确,未失去标识意义",
                "Content still correct and meaningful",
                department,
                severity,
                "002 篇5 §4.3.3",
            ),
            Item(
                "mounted",
                "安装牢固,位置显眼",
                "Mounted securely where it is easily seen",
                department,
                "minor",
                "002 篇5 §3.2",
            ),
        ),
        defect_types=tuple(SIGN_DEFECT_TYPES),
    )


SIGNAGE_TEMPLATES: tuple[Template, ...] = (
    _signage("signage", "标识检查", "Sign check", CUSTOMER_SERVICE, "minor"),
    _signage("signage.fire", "消防标识检查", "Fire sign check", SECURITY, "major"),
    _signage(
        "signage.equipment",
        "设备标识检查",
        "Equipment and plant-room sign check",
        ENGINEERING,
        "major",
    ),
)

RENOVATION = "003 §3.2.4"
STANDARD = "003 §3.2.3"
VIOLATION = "001 §3.3.1"

RENOVATION_TEMPLATES: tuple[Template, ...] = (
    Template(
        "renovation.customer_service",
        "renovation",
        "装修巡查(客服)",
        "Renovation inspection (customer service)",
        (
            Item(
                "permit_posted",
                "施工许可证、二装问答、违章处罚规定已贴在单元门上",
                "Permit, Q&A sheet and penalty rules posted on the unit door",
                K,
                "minor",
                f"{RENOVATION} 4.1",
            ),
            Item(
                "protection",
                "公共区域及单元内成品保护到位",
                "Public areas and finished surfaces protected",
                K,
                "major",
                f"{RENOVATION} 4.1",
            ),
            Item(
                "public_facilities",
                "单元内外公共设施设备无损坏",
                "Public facilities inside and outside the unit undamaged",
                K,
                "major",
                f"{RENOVATION} 4.2 A",
            ),
            Item(
                "noise_hours",
                "无在禁止时段进行噪音施工",
                "No noisy work during forbidden hours",
                K,
                "minor",
                f"{RENOVATION} 4.2 A",
            ),
            Item(
                "progress",
                "施工进度与许可工期相符",
                "Progress in line with the permitted period",
                K,
                "minor",
                f"{RENOVATION} 4.2 A",
            ),
            Item(
                "waste_cleared",
                "施工垃圾及时清运,未堆放公共区域",
                "Construction waste cleared promptly, not left in public areas",
                K,
                "minor",
                f"{STANDARD} 5",
            ),
        ),
        inspecting_department=CUSTOMER_SERVICE,
    ),
    Template(
        "renovation.engineering",
        "renovation",
        "装修巡查(工程)",
        "Renovation inspection (engineering)",
        (
            Item(
                "per_drawings",
                "按审批图纸施工",
                "Work follows the approved drawings",
                E,
                "major",
                f"{RENOVATION} 4.2 B",
            ),
            Item(
                "no_structure_damage",
                "未对楼宇结构造成破坏",
                "No damage to the building structure",
                E,
                "critical",
                f"{RENOVATION} 4.2 B",
            ),
            Item(
                "no_unapproved_change",
                "未擅自改变结构、外观、用途及布局",
                "No unapproved change of structure, facade, use or layout",
                E,
                "critical",
                f"{VIOLATION} a",
            ),
            Item(
                "load_bearing",
                "未凿、拆承重墙、柱、梁、板",
                "Load-bearing walls, columns, beams and slabs not cut or removed",
                E,
                "critical",
                f"{VIOLATION} b",
            ),
            Item(
                "shared_services",
                "未擅自拆改供电、供水、供气、通讯、排水、消防等公用设施",
                "Shared power, water, gas, telecom, drainage and fire installations not altered",
                E,
                "critical",
                f"{VIOLATION} c",
            ),
            Item(
                "facade_fittings",
                "门窗未安装破坏外观的网、罩、牌",
                "No grilles, covers or signs spoiling the facade",
                E,
                "major",
                f"{VIOLATION} d",
            ),
            Item(
                "floor_drains",
                "地漏盖未拆除,未向地漏倾倒杂物",
                "Floor-drain covers in place, no waste in the drains",
                E,
                "major",
                f"{VIOLATION} e",
            ),
        ),
        inspecting_department=ENGINEERING,
    ),
    Template(
        "renovation.security",
        "renovation",
        "装修巡查(保安)",
        "Renovation inspection (security)",
        (
            Item(
                "extinguishers",
                "灭火器摆放位置、数量符合消防规范",
                "Extinguishers placed and numbered per fire code",
                S,
                "major",
                f"{STANDARD} 4",
            ),
            Item(
                "hot_work",
                "动火作业持有动火证",
                "Hot work only under a hot-work permit",
                S,
                "critical",
                f"{STANDARD} 2",
            ),
            Item(
                "passes",
                "施工人员全部持出入证",
                "Every worker carries a pass",
                S,
                "minor",
                f"{STANDARD} 2",
            ),
            Item(
                "discipline",
                "无打架斗殴及其他不文明行为",
                "No fights or other misconduct",
                S,
                "major",
                f"{STANDARD} 7",
            ),
            Item(
                "fire_escape",
                "未堵塞消防通道",
                "Fire escapes not blocked",
                S,
                "critical",
                f"{FIRE} a",
            ),
            Item(
                "hazards",
                "无乱拉电线、违规存放易燃物等安全隐患",
                "No other hazards such as loose wiring or stored flammables",
                S,
                "major",
                f"{RENOVATION} 4.2 C",
            ),
        ),
        inspecting_department=SECURITY,
    ),
)

TEMPLATES: tuple[Template, ...] = (
    *FACILITY_TEMPLATES,
    VACANT_UNIT_TEMPLATE,
    *SIGNAGE_TEMPLATES,
    *RENOVATION_TEMPLATES,
)


# --- upsert ------------------------------------------------------------------------------------


async def ensure_reference_data() -> None:
    """Create or correct departments and default templates. Running it twice changes nothing."""
    async with write_transaction(Department._meta.db):
        department_ids = await _ensure_departments()
        now = datetime.now(UTC)
        for template in TEMPLATES:
            await _ensure_template(template, department_ids, now)


async def _ensure_departments() -> dict[str, int]:
    rows = await Department.select(
        Department.id, Department.code, Department.name_zh, Department.name_en
    )
    existing = {row["code"]: row for row in rows}
    ids: dict[str, int] = {}
    for code, (name_zh, name_en) in DEPARTMENTS.items():
        row = existing.get(code)
        if row is None:
            inserted = await Department.insert(
                Department(code=code, name_zh=name_zh, name_en=name_en)
            ).returning(Department.id)
            ids[code] = inserted[0]["id"]
            continue
        if (row["name_zh"], row["name_en"]) != (name_zh, name_en):
            await Department.update(
                {Department.name_zh: name_zh, Department.name_en: name_en}
            ).where(Department.id == row["id"])
        ids[code] = row["id"]
    return ids


def _loaded_json(value) -> object:
    return json.loads(value) if isinstance(value, str | bytes) else value


async def _ensure_template(
    template: Template, department_ids: dict[str, int], now: datetime
) -> None:
    wanted = {
        "kind": template.kind,
        "type_code": template.type_code,
        "inspecting_department": (
            department_ids[template.inspecting_department]
            if template.inspecting_department
            else None
        ),
        "name_zh": template.name_zh,
        "name_en": template.name_en,
        "allow_gallery": template.allow_gallery,
        "defect_types": list(template.defect_types),
    }
    row = await ChecklistTemplate.select().where(ChecklistTemplate.code == template.code).first()
    changed = False
    if row is None:
        inserted = await ChecklistTemplate.insert(
            ChecklistTemplate(
                code=template.code,
                updated_at=now,
                **{
                    **wanted,
                    "defect_types": json.dumps(wanted["defect_types"], ensure_ascii=False),
                },
            )
        ).returning(ChecklistTemplate.id)
        template_id = inserted[0]["id"]
    else:
        template_id = row["id"]
        current = {key: row[key] for key in wanted}
        current["defect_types"] = _loaded_json(current["defect_types"])
        if current != wanted:
            changed = True

    existing_items = {
        item["code"]: item
        for item in await TemplateItem.select().where(TemplateItem.template == template_id)
    }
    new_items = []
    for position, item in enumerate(template.items):
        values = {
            "position": position,
            "text_zh": item.text_zh,
            "text_en": item.text_en,
            "department": department_ids[item.department],
            "photo_required_on_fail": item.photo_required_on_fail,
            "severity": item.severity,
            "is_confirmation": item.is_confirmation,
            "source": item.source,
        }
        current = existing_items.get(item.code)
        if current is None:
            new_items.append(TemplateItem(template=template_id, code=item.code, **values))
        elif any(current[key] != value for key, value in values.items()):
            await TemplateItem.update(
                {getattr(TemplateItem, key): value for key, value in values.items()}
            ).where(TemplateItem.id == current["id"])
            changed = True
    if new_items:
        await TemplateItem.insert(*new_items)
        changed = True

    if row is not None and changed:
        await ChecklistTemplate.update(
            {
                **{
                    getattr(ChecklistTemplate, key): value
                    for key, value in wanted.items()
                    if key != "defect_types"
                },
                ChecklistTemplate.defect_types: json.dumps(
                    wanted["defect_types"], ensure_ascii=False
                ),
                ChecklistTemplate.updated_at: now,
            }
        ).where(ChecklistTemplate.id == template_id)
