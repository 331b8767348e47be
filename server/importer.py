"""Import buildings, floors, units and checkpoints of a site from a CSV or XLSX file, all or nothing.

File format
-----------
One sheet (XLSX: the first sheet) or one CSV table. The header row is the first row that names both
a building and a floor column (rows above it, such as a title, are ignored). Headers are matched
without regard to case, spaces or a trailing unit in brackets (``面积(m²)``); Chinese and English
names are equivalent. Columns not listed here are ignored and named in the report.

=====================  =====================================  ===========================================
column                 header (中文 / English)                  value
=====================  =====================================  ===========================================
building   required    楼栋 / building                         name (``1栋``) or code (``A``) of the building
building_code          楼栋编码 / building_code                short code for a new building; default:
                                                               the name without 栋/幢/座/号楼 (``1栋`` → ``1``)
floor      required    楼层 / floor                            ``12F``, ``12``, ``12层``, ``B1``, ``-1``, ``地下1层``
unit                   房号 / unit                             unit number, e.g. ``1203``
status                 状态 / status                           入住/空置/装修中 or occupied/vacant/renovating
area_m2                面积 / area_m2                          number, m²
checkpoint_code        巡检点编码 / checkpoint_code            ``^[A-Z0-9][A-Z0-9-]{1,11}$`` (upper-cased first)
kind                   类型 / kind                             设施/空置房/标识/装修 or facility/vacant_unit/
                                                               signage/renovation
type_code              设施类型 / type_code                    facility or sign type code, e.g. ``hydrant``
name                   名称 / name                             name shown on the label and the phone
=====================  =====================================  ===========================================

A row defines a unit (``unit`` filled), a checkpoint (``checkpoint_code`` filled) or both; a checkpoint
on a row with a unit is attached to that unit. Vacant-unit and renovation checkpoints need a unit;
their name defaults to building + unit + kind. A new unit without a status is 空置 for a vacant-unit
checkpoint, 装修中 for a renovation checkpoint, otherwise 入住.

Buildings and floors are created when missing. Units are matched by floor + number, checkpoints by
site + code; matches are updated, the rest created. A checkpoint code already used at another building
or floor of the site is an error (a printed label must keep meaning one place). Templates come from
``server.reference.template_code_for(kind, type_code)`` when that exists, otherwise from
``ChecklistTemplate`` by kind and type code (then by kind alone); an existing checkpoint keeps its
template unless its kind or type changes.

Every row is checked before anything is written; any error and nothing is written. Errors carry the
row number as a spreadsheet shows it (header row included), the column, a stable code and a message
in Chinese and English. Limits: 5 MB, 20,000 data rows.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from server.db import write_transaction
from server.tables.checkpoints import CHECKPOINT_KINDS, ChecklistTemplate, Checkpoint
from server.tables.sites import UNIT_STATUSES, Building, Floor, Site, Unit

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
MAX_REPORTED_ERRORS = 500
INSERT_CHUNK = 200

CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,11}$")
BUILDING_CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,15}$")
TYPE_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")

COLUMNS: dict[str, tuple[str, ...]] = {
    "building": ("楼栋", "楼栋名称", "楼号", "building"),
    "building_code": ("楼栋编码", "楼栋代码", "building_code"),
    "floor": ("楼层", "floor"),
    "unit": ("房号", "房间号", "单元号", "unit", "unit_number"),
    "status": ("状态", "房屋状态", "status"),
    "area_m2": ("面积", "建筑面积", "area", "area_m2"),
    "checkpoint_code": ("巡检点编码", "巡检点编号", "编码", "checkpoint_code", "code"),
    "kind": ("类型", "巡检点类型", "kind"),
    "type_code": ("设施类型", "类型编码", "type_code", "type"),
    "name": ("名称", "巡检点名称", "name"),
}
COLUMN_ZH = {key: names[0] for key, names in COLUMNS.items()}

STATUS_VALUES = {
    "入住": "occupied",
    "已入住": "occupied",
    "自住": "occupied",
    "出租": "occupied",
    "occupied": "occupied",
    "空置": "vacant",
    "空置房": "vacant",
    "vacant": "vacant",
    "装修": "renovating",
    "装修中": "renovating",
    "renovating": "renovating",
}
KIND_VALUES = {
    "设施": "facility",
    "设施设备": "facility",
    "facility": "facility",
    "空置房": "vacant_unit",
    "空置": "vacant_unit",
    "vacant_unit": "vacant_unit",
    "标识": "signage",
    "标牌": "signage",
    "signage": "signage",
    "装修": "renovation",
    "装修单元": "renovation",
    "renovation": "renovation",
}
KIND_ZH = {"facility": "设施", "vacant_unit": "空置房", "signage": "标识", "renovation": "装修"}
UNIT_KINDS = ("vacant_unit", "renovation")
assert set(STATUS_VALUES.values()) == set(UNIT_STATUSES)
assert set(KIND_VALUES.values()) == set(CHECKPOINT_KINDS)

MESSAGES: dict[str, tuple[str, str]] = {
    "file_too_large": ("文件超过 5 MB", "The file is larger than 5 MB"),
    "too_many_rows": ("超过 20000 行", "More than 20,000 rows"),
    "unsupported_file": ("只支持 CSV 或 XLSX 文件", "Only CSV or XLSX files can be imported"),
    "old_excel": (
        "不支持旧版 .xls，请另存为 .xlsx 或 CSV",
        "Old .xls files are not supported; save as .xlsx or CSV",
    ),
    "bad_xlsx": ("无法读取该 XLSX 文件", "The XLSX file cannot be read"),
    "undecodable": (
        "无法识别 CSV 文件编码（支持 UTF-8 和 GB18030）",
        "The CSV encoding is not recognised (UTF-8 or GB18030)",
    ),
    "bad_csv": ("CSV 格式错误：{detail}", "The CSV is malformed: {detail}"),
    "no_header": (
        "找不到表头（需要“楼栋”和“楼层”列）",
        "No header row found (it needs building and floor columns)",
    ),
    "no_content_column": (
        "需要“房号”或“巡检点编码”列",
        "A unit or checkpoint_code column is needed",
    ),
    "duplicate_column": ("列重复：{detail}", "Column appears twice: {detail}"),
    "empty_file": ("文件中没有数据行", "The file has no data rows"),
    "site_not_found": ("项目不存在", "The site does not exist"),
    "required": ("必填", "Required"),
    "row_empty": (
        "该行既没有房号也没有巡检点编码",
        "The row has neither a unit nor a checkpoint code",
    ),
    "too_long": ("过长（最多 {detail} 个字符）", "Too long (at most {detail} characters)"),
    "bad_floor": ("楼层格式不对（如 12F、B1）", "Floor not understood (e.g. 12F, B1)"),
    "bad_status": ("状态应为 入住/空置/装修中", "Status must be occupied, vacant or renovating"),
    "bad_area": ("面积必须是正数", "Area must be a positive number"),
    "bad_code": (
        "编码格式不对（2-12 位大写字母、数字或 -，不以 - 开头）",
        "Code must be 2-12 of A-Z, 0-9 or -, not starting with -",
    ),
    "bad_kind": (
        "类型应为 设施/空置房/标识/装修",
        "Kind must be facility, vacant_unit, signage or renovation",
    ),
    "bad_type_code": (
        "设施类型编码只能含小写字母、数字、_ 和 -",
        "Type code may contain only a-z, 0-9, _ and -",
    ),
    "bad_building_code": (
        "楼栋编码格式不对（1-16 位大写字母、数字或 -）",
        "Building code must be 1-16 of A-Z, 0-9 or -",
    ),
    "building_code_needed": ("新楼栋需要填写楼栋编码", "A new building needs a building_code"),
    "building_name_conflict": (
        "楼栋“{detail}”已存在，但楼栋编码不同",
        "Building {detail} exists with a different building_code",
    ),
    "unit_needed": (
        "空置房和装修巡检点需要房号",
        "Vacant-unit and renovation checkpoints need a unit",
    ),
    "duplicate_code": ("巡检点编码与第 {detail} 行重复", "Checkpoint code repeats row {detail}"),
    "code_elsewhere": (
        "巡检点编码已用于本项目的其他位置（{detail}）",
        "Checkpoint code is already used elsewhere in this site ({detail})",
    ),
    "unit_conflict": (
        "与第 {detail} 行的同一房号信息不一致",
        "Disagrees with row {detail} about the same unit",
    ),
}


class ImportError_(msgspec.Struct, frozen=True):
    """One problem: ``row`` as a spreadsheet numbers it (0 = the file as a whole)."""

    row: int
    column: str
    code: str
    message_zh: str
    message_en: str


class ImportReport(msgspec.Struct):
    ok: bool
    rows: int = 0
    buildings_created: int = 0
    floors_created: int = 0
    units_created: int = 0
    units_updated: int = 0
    units_unchanged: int = 0
    checkpoints_created: int = 0
    checkpoints_updated: int = 0
    checkpoints_unchanged: int = 0
    checkpoints_without_template: int = 0
    ignored_columns: list[str] = msgspec.field(default_factory=list)
    error_count: int = 0
    errors: list[ImportError_] = msgspec.field(default_factory=list)


class _Errors:
    def __init__(self) -> None:
        self.items: list[ImportError_] = []
        self.count = 0

    def add(self, row: int, column: str, code: str, detail: Any = "") -> None:
        self.count += 1
        if len(self.items) < MAX_REPORTED_ERRORS:
            zh, en = MESSAGES[code]
            label = COLUMN_ZH.get(column, column)
            self.items.append(
                ImportError_(
                    row=row,
                    column=f"{label}/{column}" if column else "",
                    code=code,
                    message_zh=zh.format(detail=detail),
                    message_en=en.format(detail=detail),
                )
            )

    def report(self, **counts: Any) -> ImportReport:
        return ImportReport(ok=False, error_count=self.count, errors=self.items, **counts)


class _Invalid(Exception):
    def __init__(self, code: str, detail: Any = "") -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


# --- reading the file ----------------------------------------------------------------------------


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).strip()


def _decode_csv(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        encodings = ("utf-8-sig",)
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ("utf-16",)
    else:
        encodings = ("utf-8", "gb18030")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return text
    raise _Invalid("undecodable")


def _read_csv(data: bytes) -> list[list[str]]:
    text = _decode_csv(data)
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    rows: list[list[str]] = []
    try:
        for record in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True):
            rows.append([cell.strip() for cell in record])
            if len(rows) > MAX_ROWS + 20:
                raise _Invalid("too_many_rows")
    except csv.Error as exc:
        raise _Invalid("bad_csv", str(exc)) from None
    return rows


def _read_xlsx(data: bytes) -> list[list[str]]:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # zipfile, XML and openpyxl's own errors on a damaged file
        raise _Invalid("bad_xlsx") from None
    try:
        sheet = workbook.worksheets[0]
        rows: list[list[str]] = []
        for values in sheet.iter_rows(values_only=True, max_col=64):
            rows.append([_cell_text(v) for v in values])
            if len(rows) > MAX_ROWS + 20:
                raise _Invalid("too_many_rows")
        return rows
    finally:
        workbook.close()


def read_table(filename: str, data: bytes) -> list[list[str]]:
    """The file's cells as text, row by row. Raises ``_Invalid`` for file-level problems."""
    if len(data) > MAX_BYTES:
        raise _Invalid("file_too_large")
    suffix = filename.lower().rsplit(".", 1)[-1] if "." in filename else ""
    is_zip = data.startswith(b"PK\x03\x04")
    if suffix == "xls" or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise _Invalid("old_excel")
    if suffix == "xlsx":
        if not is_zip:
            raise _Invalid("bad_xlsx")
        return _read_xlsx(data)
    if suffix in ("csv", "txt", "tsv"):
        if is_zip:
            raise _Invalid("unsupported_file")
        return _read_csv(data)
    raise _Invalid("unsupported_file")


def _header_key(text: str) -> str:
    text = re.sub(r"[（(].*?[)）]", "", text.replace("\ufeff", ""))
    return re.sub(r"[\s*＊]", "", text).lower()


HEADER_LOOKUP = {_header_key(name): key for key, names in COLUMNS.items() for name in names}


def _find_header(rows: list[list[str]], errors: _Errors) -> tuple[int, dict[str, int], list[str]]:
    for index, row in enumerate(rows[:10]):
        keys = [HEADER_LOOKUP.get(_header_key(cell)) for cell in row]
        if "building" in keys and "floor" in keys:
            positions: dict[str, int] = {}
            ignored: list[str] = []
            for position, (cell, key) in enumerate(zip(row, keys, strict=True)):
                if key is None:
                    if cell:
                        ignored.append(cell)
                elif key in positions:
                    errors.add(index + 1, key, "duplicate_column", cell)
                else:
                    positions[key] = position
            if "unit" not in positions and "checkpoint_code" not in positions:
                errors.add(index + 1, "", "no_content_column")
            return index, positions, ignored
    raise _Invalid("no_header")


# --- checking rows -------------------------------------------------------------------------------


@dataclass
class Row:
    number: int
    building: str
    building_code: str | None
    level: int
    floor_name: str
    unit: str | None = None
    status: str | None = None
    area: float | None = None
    code: str | None = None
    kind: str | None = None
    type_code: str = ""
    name: str | None = None


FLOOR_RE = re.compile(r"^(?:(?P<below>B|-|地下)(?P<b>\d{1,3})|(?:F)?(?P<a>\d{1,3}))(?:F|层|楼)?$")


def parse_floor(text: str) -> tuple[int, str] | None:
    """``12F``/``12``/``12层`` → (12, "12F"); ``B1``/``-1``/``地下1层`` → (-1, "B1")."""
    match = FLOOR_RE.match(text.strip().upper())
    if not match:
        return None
    if match["b"] is not None:
        level = -int(match["b"])
        return (level, f"B{-level}") if level else None
    level = int(match["a"])
    return (level, f"{level}F") if level else None


def _default_building_code(name: str) -> str:
    return re.sub(r"(号楼|栋|幢|座|楼)$", "", name.strip()).upper()


def _check_row(number: int, cells: dict[str, str], errors: _Errors) -> Row | None:
    before = errors.count

    def text(key: str, limit: int) -> str:
        value = cells.get(key, "")
        if len(value) > limit:
            errors.add(number, key, "too_long", limit)
        return value

    building = text("building", 50)
    building_code = text("building_code", 16).upper() or None
    floor_text = text("floor", 20)
    unit = text("unit", 20) or None
    status_text = cells.get("status", "")
    area_text = cells.get("area_m2", "")
    code = cells.get("checkpoint_code", "").upper() or None
    kind_text = cells.get("kind", "")
    type_code = text("type_code", 48).lower()
    name = text("name", 100) or None

    if not building:
        errors.add(number, "building", "required")
    if building_code and not BUILDING_CODE_RE.match(building_code):
        errors.add(number, "building_code", "bad_building_code")
    floor = None
    if not floor_text:
        errors.add(number, "floor", "required")
    elif (floor := parse_floor(floor_text)) is None:
        errors.add(number, "floor", "bad_floor")
    if unit is None and code is None:
        errors.add(number, "", "row_empty")

    status = None
    if status_text:
        status = STATUS_VALUES.get(status_text.lower())
        if status is None:
            errors.add(number, "status", "bad_status")
    area = None
    if area_text:
        try:
            area = float(area_text.replace(",", ""))
        except ValueError:
            area = None
        if area is None or not (0 < area < 1_000_000):
            errors.add(number, "area_m2", "bad_area")

    kind = None
    if code is not None:
        if not CODE_RE.match(code):
            errors.add(number, "checkpoint_code", "bad_code")
        if not kind_text:
            errors.add(number, "kind", "required")
        elif (kind := KIND_VALUES.get(kind_text.lower())) is None:
            errors.add(number, "kind", "bad_kind")
        if type_code and not TYPE_CODE_RE.match(type_code):
            errors.add(number, "type_code", "bad_type_code")
        if kind in UNIT_KINDS and unit is None:
            errors.add(number, "unit", "unit_needed")
        if name is None and kind not in UNIT_KINDS:
            errors.add(number, "name", "required")

    if errors.count > before or floor is None:
        return None
    return Row(
        number,
        building,
        building_code,
        floor[0],
        floor[1],
        unit,
        status,
        area,
        code,
        kind,
        type_code,
        name,
    )


def check_rows(rows: list[list[str]], errors: _Errors) -> tuple[list[Row], int, list[str]]:
    """Everything that can be checked without the database."""
    header_index, positions, ignored = _find_header(rows, errors)
    parsed: list[Row] = []
    data_rows = 0
    for index in range(header_index + 1, len(rows)):
        raw = rows[index]
        if not any(raw):
            continue
        data_rows += 1
        if data_rows > MAX_ROWS:
            raise _Invalid("too_many_rows")
        cells = {key: raw[pos] if pos < len(raw) else "" for key, pos in positions.items()}
        row = _check_row(index + 1, cells, errors)
        if row is not None:
            parsed.append(row)
    if data_rows == 0:
        raise _Invalid("empty_file")
    # Within the file: checkpoint codes once; one unit described one way.
    code_rows: dict[str, int] = {}
    units: dict[tuple[str, str, int, str], Row] = {}
    for row in parsed:
        if row.code is not None:
            if row.code in code_rows:
                errors.add(row.number, "checkpoint_code", "duplicate_code", code_rows[row.code])
            else:
                code_rows[row.code] = row.number
        if row.unit is not None:
            key = (row.building, row.building_code or "", row.level, row.unit)
            first = units.setdefault(key, row)
            if first is not row and (
                (row.status and first.status and row.status != first.status)
                or (row.area and first.area and row.area != first.area)
            ):
                errors.add(row.number, "unit", "unit_conflict", first.number)
            elif first is not row:
                first.status = first.status or row.status
                first.area = first.area or row.area
    return parsed, data_rows, ignored


# --- templates -----------------------------------------------------------------------------------


def _reference_resolver():
    try:
        from server.reference import template_code_for
    except ImportError:
        return None
    return template_code_for


async def _template_picker():
    templates = await ChecklistTemplate.select(
        ChecklistTemplate.id,
        ChecklistTemplate.code,
        ChecklistTemplate.kind,
        ChecklistTemplate.type_code,
    ).order_by(ChecklistTemplate.id)
    by_code = {t["code"]: t["id"] for t in templates}
    code_for = _reference_resolver()
    cache: dict[tuple[str, str], int | None] = {}

    def pick(kind: str, type_code: str) -> int | None:
        key = (kind, type_code)
        if key not in cache:
            chosen = None
            if code_for is not None:
                code = code_for(kind, type_code)
                chosen = by_code.get(code) if code else None
            if chosen is None:
                exact = [
                    t
                    for t in templates
                    if t["kind"] == kind and (t["type_code"] or "") == type_code
                ]
                generic = [t for t in templates if t["kind"] == kind and not t["type_code"]]
                chosen = (exact or generic or [{"id": None}])[0]["id"]
            cache[key] = chosen
        return cache[key]

    return pick


# --- the import ----------------------------------------------------------------------------------


async def import_rows(site_id: int, filename: str, data: bytes) -> ImportReport:
    """Check the whole file, then write all of it in one transaction — or nothing."""
    errors = _Errors()
    try:
        table = read_table(filename, data)
        rows, data_rows, ignored = check_rows(table, errors)
    except _Invalid as problem:
        errors.add(0, "", problem.code, problem.detail)
        return errors.report()
    if errors.count:
        return errors.report(rows=data_rows, ignored_columns=ignored)
    engine = Site._meta.db
    async with write_transaction(engine):
        report = await _apply(site_id, rows, errors)
    report.rows = data_rows
    report.ignored_columns = ignored
    return report


async def _apply(site_id: int, rows: list[Row], errors: _Errors) -> ImportReport:
    """Inside the write transaction: check against the database, then write."""
    if not await Site.exists().where(Site.id == site_id):
        errors.add(0, "", "site_not_found")
        return errors.report()
    now = datetime.now(UTC)

    # Buildings: match by code (explicit or the name without 栋), else by name; new ones planned.
    buildings = await Building.select(
        Building.id, Building.code, Building.name, Building.floors_above, Building.floors_below
    ).where(Building.site == site_id)
    by_code = {b["code"].upper(): b for b in buildings}
    by_name = {b["name"]: b for b in buildings}
    new_buildings: dict[str, dict] = {}  # code -> planned row
    building_of: dict[int, dict] = {}  # row number -> building dict (existing or planned)
    for row in rows:
        found = None
        if row.building_code:
            found = by_code.get(row.building_code) or new_buildings.get(row.building_code)
            named = by_name.get(row.building)
            if found is None and named is not None:
                errors.add(row.number, "building_code", "building_name_conflict", row.building)
                continue
        else:
            found = by_name.get(row.building) or by_code.get(row.building.upper())
            if found is None:
                code = _default_building_code(row.building)
                planned = new_buildings.get(code)
                if planned is not None and planned["name"] == row.building:
                    found = planned
                elif planned is not None or not BUILDING_CODE_RE.match(code):
                    errors.add(row.number, "building_code", "building_code_needed")
                    continue
                else:
                    row.building_code = code
        if found is None:
            code = row.building_code or ""
            found = new_buildings.setdefault(
                code,
                {
                    "id": None,
                    "code": code,
                    "name": row.building,
                    "floors_above": 0,
                    "floors_below": 0,
                },
            )
        building_of[row.number] = found

    # Checkpoint codes already used elsewhere in the site.
    existing_cps = {
        c["code"]: c
        for c in await Checkpoint.select(
            Checkpoint.id,
            Checkpoint.code,
            Checkpoint.kind,
            Checkpoint.type_code,
            Checkpoint.name,
            Checkpoint.building,
            Checkpoint.floor,
            Checkpoint.unit,
            Checkpoint.template,
            Checkpoint.active,
        ).where(Checkpoint.site == site_id)
    }
    existing_ids = [b["id"] for b in buildings]
    floors = (
        await Floor.select(Floor.id, Floor.building, Floor.level, Floor.name).where(
            Floor.building.is_in(existing_ids)
        )
        if existing_ids
        else []
    )
    floor_by_key = {(f["building"], f["level"]): f for f in floors}
    floor_names = {f["id"]: f["name"] for f in floors}
    building_names = {b["id"]: b["name"] for b in buildings}
    units = (
        await Unit.select(
            Unit.id, Unit.floor, Unit.number, Unit.status, Unit.area_m2, Unit.active
        ).where(Unit.floor.is_in([f["id"] for f in floors]))
        if floors
        else []
    )
    unit_by_key = {(u["floor"], u["number"]): u for u in units}
    unit_numbers = {u["id"]: u["number"] for u in units}

    for row in rows:
        if row.code is None or row.number not in building_of:
            continue
        existing = existing_cps.get(row.code)
        if existing is None:
            continue
        building = building_of[row.number]
        floor = floor_by_key.get((building["id"], row.level)) if building["id"] else None
        unit = unit_by_key.get((floor["id"], row.unit)) if floor and row.unit else None
        same_place = (
            building["id"] is not None
            and existing["building"] == building["id"]
            and floor is not None
            and existing["floor"] == floor["id"]
            and (
                existing["unit"] is None
                or row.unit is None
                or (unit is not None and existing["unit"] == unit["id"])
            )
        )
        if not same_place:
            where = (
                " ".join(
                    filter(
                        None,
                        (
                            building_names.get(existing["building"], ""),
                            floor_names.get(existing["floor"], ""),
                            unit_numbers.get(existing["unit"], ""),
                        ),
                    )
                )
                or "-"
            )
            errors.add(row.number, "checkpoint_code", "code_elsewhere", where)
    if errors.count:
        return errors.report()

    report = ImportReport(ok=True)

    # Write buildings and floors.
    for planned in new_buildings.values():
        levels = [r.level for r in rows if building_of.get(r.number) is planned]
        inserted = await Building.insert(
            Building(
                site=site_id,
                code=planned["code"],
                name=planned["name"],
                floors_above=max([lv for lv in levels if lv > 0], default=1),
                floors_below=-min([lv for lv in levels if lv < 0], default=0),
                sort_order=len(buildings) + report.buildings_created,
            )
        )
        planned["id"] = inserted[0]["id"]
        report.buildings_created += 1
    for building in buildings:
        levels = [r.level for r in rows if building_of.get(r.number) is building]
        above = max([lv for lv in levels if lv > 0], default=0)
        below = -min([lv for lv in levels if lv < 0], default=0)
        if above > building["floors_above"] or below > building["floors_below"]:
            await Building.update(
                {
                    Building.floors_above: max(above, building["floors_above"]),
                    Building.floors_below: max(below, building["floors_below"]),
                }
            ).where(Building.id == building["id"])

    floor_id: dict[tuple[int, int], int] = {k: f["id"] for k, f in floor_by_key.items()}
    for row in rows:
        key = (building_of[row.number]["id"], row.level)
        if key not in floor_id:
            inserted = await Floor.insert(
                Floor(building=key[0], level=row.level, name=row.floor_name)
            )
            floor_id[key] = inserted[0]["id"]
            report.floors_created += 1

    # Units.
    unit_id: dict[tuple[int, str], int] = {k: u["id"] for k, u in unit_by_key.items()}
    new_units: dict[tuple[int, str], Unit] = {}
    seen_units: set[tuple[int, str]] = set()
    for row in rows:
        if row.unit is None:
            continue
        key = (floor_id[(building_of[row.number]["id"], row.level)], row.unit)
        if key in seen_units:
            continue
        seen_units.add(key)
        existing = unit_by_key.get(key)
        if existing is None:
            status = row.status or {"vacant_unit": "vacant", "renovation": "renovating"}.get(
                row.kind or "", "occupied"
            )
            new_units[key] = Unit(
                floor=key[0], number=row.unit, status=status, area_m2=row.area, active=True
            )
            continue
        changes: dict = {}
        if row.status and row.status != existing["status"]:
            changes[Unit.status] = row.status
            if row.status != "vacant":
                changes[Unit.vacant_since] = None
        if row.area is not None and row.area != existing["area_m2"]:
            changes[Unit.area_m2] = row.area
        if not existing["active"]:
            changes[Unit.active] = True
        if changes:
            await Unit.update(changes).where(Unit.id == existing["id"])
            report.units_updated += 1
        else:
            report.units_unchanged += 1
    keys = list(new_units)
    for start in range(0, len(keys), INSERT_CHUNK):
        chunk = keys[start : start + INSERT_CHUNK]
        inserted = await Unit.insert(*[new_units[k] for k in chunk])
        for key, result in zip(chunk, inserted, strict=True):
            unit_id[key] = result["id"]
    report.units_created = len(keys)

    # Checkpoints.
    pick_template = await _template_picker()
    new_cps: list[Checkpoint] = []
    for row in rows:
        if row.code is None:
            continue
        building = building_of[row.number]
        floor = floor_id[(building["id"], row.level)]
        unit = unit_id[(floor, row.unit)] if row.unit is not None else None
        kind = row.kind or "facility"
        name = row.name or f"{building['name']} {row.unit} {KIND_ZH[kind]}"
        existing = existing_cps.get(row.code)
        if existing is None:
            template = pick_template(kind, row.type_code)
            report.checkpoints_without_template += template is None
            new_cps.append(
                Checkpoint(
                    site=site_id,
                    code=row.code,
                    kind=kind,
                    type_code=row.type_code,
                    name=name,
                    building=building["id"],
                    floor=floor,
                    unit=unit,
                    template=template,
                    active=True,
                    updated_at=now,
                )
            )
            continue
        wanted = {
            Checkpoint.kind: kind,
            Checkpoint.type_code: row.type_code,
            Checkpoint.name: name,
            Checkpoint.unit: unit if unit is not None else existing["unit"],
            Checkpoint.active: True,
        }
        if (kind, row.type_code) != (existing["kind"], existing["type_code"]) or (
            existing["template"] is None
        ):
            wanted[Checkpoint.template] = pick_template(kind, row.type_code)
        changes = {col: value for col, value in wanted.items() if existing[col._meta.name] != value}
        template_now = changes.get(Checkpoint.template, existing["template"])
        report.checkpoints_without_template += template_now is None
        if changes:
            changes[Checkpoint.updated_at] = now
            await Checkpoint.update(changes).where(Checkpoint.id == existing["id"])
            report.checkpoints_updated += 1
        else:
            report.checkpoints_unchanged += 1
    for start in range(0, len(new_cps), INSERT_CHUNK):
        await Checkpoint.insert(*new_cps[start : start + INSERT_CHUNK])
    report.checkpoints_created = len(new_cps)
    return report
