"""Importing a building's units and checkpoints from CSV/XLSX: formats, row errors, all-or-nothing,
idempotent re-import. Runs against the test database (SQLite file or PostgreSQL)."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime

import openpyxl
import pytest
from piccolo.engine.postgres import PostgresEngine

from server.db import all_tables, bind_engine, make_engine
from server.importer import MAX_BYTES, MAX_ROWS, import_rows, parse_floor
from server.tables.checkpoints import ChecklistTemplate, Checkpoint
from server.tables.sites import Building, Floor, Site, Unit

pytestmark = pytest.mark.api


@pytest.fixture(scope="module")
async def import_db(migrated):
    """Tables bound to an engine on the migrated test database; the previous binding comes back
    afterwards, so the app fixture's engine is not disturbed."""
    engine = make_engine(migrated)
    saved = {table: table._meta._db for table in all_tables()}
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(min_size=1, max_size=4)
    bind_engine(engine)
    # Every kind has at least a generic template, whether or not reference data is loaded.
    for kind in ("facility", "vacant_unit", "signage", "renovation"):
        if not await ChecklistTemplate.exists().where(ChecklistTemplate.kind == kind):
            await ChecklistTemplate.insert(
                ChecklistTemplate(
                    code=f"TEST-{kind}-{uuid.uuid4().hex[:6]}",
                    kind=kind,
                    name_zh=f"测试{kind}",
                    name_en=f"test {kind}",
                    updated_at=datetime.now(UTC),
                )
            )
    yield engine
    for table, db in saved.items():
        table._meta._db = db
    if isinstance(engine, PostgresEngine):
        await engine.close_connection_pool()


@pytest.fixture
async def site(import_db) -> int:
    row = await Site.insert(
        Site(
            code=f"IMP{uuid.uuid4().hex[:8]}".upper(),
            name="导入测试小区",
            created_at=datetime.now(UTC),
        )
    )
    return row[0]["id"]


CHINESE_CSV = """楼栋,楼层,房号,状态,面积(m²),巡检点编码,类型,设施类型,名称
1栋,12F,1201,空置,89.5,A-12-V01,空置房,,
1栋,12F,1202,入住,95,,,,
1栋,12F,,,,A-12-H1,设施,hydrant,12F 消火栓
1栋,B1,,,,A-B1-P1,设施,pump,B1 水泵房
1栋,B1,,,,a-b1-s1,标识,fire_exit,B1 安全出口标识
"""

ENGLISH_CSV = """building,floor,unit,status,area_m2,checkpoint_code,kind,type_code,name
2栋,3,301,vacant,70,B-3-V1,vacant_unit,,
2栋,3,302,renovating,,B-3-R1,renovation,,3F renovation
2栋,-1,,,,B-B1-H1,facility,hydrant,B1 hydrant
"""


async def _state(site_id: int) -> dict:
    buildings = await Building.select().where(Building.site == site_id)
    floors = await Floor.select().where(Floor.building.site == site_id).order_by(Floor.level)
    units = await Unit.select().where(Unit.floor.building.site == site_id).order_by(Unit.number)
    checkpoints = (
        await Checkpoint.select().where(Checkpoint.site == site_id).order_by(Checkpoint.code)
    )
    return {"buildings": buildings, "floors": floors, "units": units, "checkpoints": checkpoints}


async def _empty(site_id: int) -> bool:
    state = await _state(site_id)
    return not any(state.values())


def _errors(report) -> set[tuple[int, str, str]]:
    return {(e.row, e.column.split("/")[-1], e.code) for e in report.errors}


async def test_csv_utf8_bom_with_chinese_headers(site):
    report = await import_rows(site, "units.csv", b"\xef\xbb\xbf" + CHINESE_CSV.encode())
    assert report.ok, report.errors
    assert (report.rows, report.buildings_created, report.floors_created) == (5, 1, 2)
    assert (report.units_created, report.checkpoints_created) == (2, 4)

    state = await _state(site)
    [building] = state["buildings"]
    assert (building["code"], building["name"]) == ("1", "1栋")
    assert (building["floors_above"], building["floors_below"]) == (12, 1)
    assert [(f["level"], f["name"]) for f in state["floors"]] == [(-1, "B1"), (12, "12F")]
    units = {u["number"]: u for u in state["units"]}
    assert units["1201"]["status"] == "vacant" and units["1201"]["area_m2"] == 89.5
    assert units["1202"]["status"] == "occupied" and units["1202"]["area_m2"] == 95
    checkpoints = {c["code"]: c for c in state["checkpoints"]}
    assert set(checkpoints) == {"A-12-V01", "A-12-H1", "A-B1-P1", "A-B1-S1"}  # upper-cased
    vacant = checkpoints["A-12-V01"]
    assert vacant["kind"] == "vacant_unit" and vacant["unit"] == units["1201"]["id"]
    assert vacant["name"] == "1栋 1201 空置房"
    assert checkpoints["A-B1-S1"]["kind"] == "signage"
    assert checkpoints["A-B1-S1"]["type_code"] == "fire_exit"
    b1 = next(f["id"] for f in state["floors"] if f["level"] == -1)
    assert checkpoints["A-B1-P1"]["floor"] == b1 and checkpoints["A-B1-P1"]["unit"] is None
    for checkpoint in checkpoints.values():
        assert checkpoint["updated_at"] is not None
        template = (
            await ChecklistTemplate.select(ChecklistTemplate.kind)
            .where(ChecklistTemplate.id == checkpoint["template"])
            .first()
        )
        assert template is not None and template["kind"] == checkpoint["kind"]


async def test_csv_gb18030_from_chinese_excel(site):
    data = CHINESE_CSV.replace("\n", "\r\n").encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    report = await import_rows(site, "导出.CSV", data)
    assert report.ok, report.errors
    assert (report.units_created, report.checkpoints_created) == (2, 4)
    names = {c["code"]: c["name"] for c in (await _state(site))["checkpoints"]}
    assert names["A-B1-P1"] == "B1 水泵房"


async def test_csv_with_english_headers_and_plain_utf8(site):
    report = await import_rows(site, "units.csv", ENGLISH_CSV.encode())
    assert report.ok, report.errors
    state = await _state(site)
    assert [(f["level"], f["name"]) for f in state["floors"]] == [(-1, "B1"), (3, "3F")]
    units = {u["number"]: u["status"] for u in state["units"]}
    assert units == {"301": "vacant", "302": "renovating"}
    kinds = {c["code"]: c["kind"] for c in state["checkpoints"]}
    assert kinds == {"B-3-V1": "vacant_unit", "B-3-R1": "renovation", "B-B1-H1": "facility"}


def _xlsx(rows: list[list]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def test_xlsx_with_title_row_numbers_and_mixed_headers(site):
    data = _xlsx(
        [
            ["某某小区 巡检点导入表"],
            [
                "楼栋",
                "楼栋编码",
                "Floor",
                "房号",
                "Status",
                "面积",
                "巡检点编码",
                "kind",
                "设施类型",
                "名称",
                "备注",
            ],
            ["3号楼", "C", 5, 501, "空置", 88.0, "C-5-V1", "空置房", None, None, "钥匙在前台"],
            ["3号楼", "C", "5F", 502, "occupied", 101.25, None, None, None, None, None],
            ["3号楼", "C", "B2", None, None, None, "C-B2-H1", "设施", "hydrant", "B2 消火栓", None],
        ]
    )
    report = await import_rows(site, "导入.xlsx", data)
    assert report.ok, report.errors
    assert report.ignored_columns == ["备注"]
    state = await _state(site)
    [building] = state["buildings"]
    assert (building["code"], building["name"], building["floors_below"]) == ("C", "3号楼", 2)
    assert {u["number"]: u["area_m2"] for u in state["units"]} == {"501": 88.0, "502": 101.25}
    assert [c["code"] for c in state["checkpoints"]] == ["C-5-V1", "C-B2-H1"]


async def test_any_bad_row_is_reported_and_nothing_is_written(site):
    csv_text = (
        "楼栋,楼层,房号,状态,面积,巡检点编码,类型,设施类型,名称\n"
        "1栋,12F,1201,空置,89.5,A-12-V01,空置房,,\n"  # 2: fine
        "1栋,12F,1202,待售,abc,,,,\n"  # 3: bad status, bad area
        "1栋,12F,,,,A-12-H1,灯具,,灯\n"  # 4: unknown kind
        "1栋,12F,,,,A-12-V01,设施,hydrant,重复\n"  # 5: duplicate of row 2
        "1栋,12F,,,,-BAD,设施,hydrant,坏编码\n"  # 6: code pattern
        "1栋,,1203,入住,,,,,\n"  # 7: floor missing
        "1栋,12F,,,,A-12-X1,设施,hydrant,\n"  # 8: name missing
        "1栋,12F,,,,A-12-V09,空置房,,\n"  # 9: vacant unit without unit
        ",12F,1204,,,,,,\n"  # 10: building missing
        "1栋,ZZ,1205,,,,,,\n"  # 11: floor not understood
    )
    report = await import_rows(site, "bad.csv", csv_text.encode())
    assert not report.ok
    assert _errors(report) >= {
        (3, "status", "bad_status"),
        (3, "area_m2", "bad_area"),
        (4, "kind", "bad_kind"),
        (5, "checkpoint_code", "duplicate_code"),
        (6, "checkpoint_code", "bad_code"),
        (7, "floor", "required"),
        (8, "name", "required"),
        (9, "unit", "unit_needed"),
        (10, "building", "required"),
        (11, "floor", "bad_floor"),
    }
    assert not any(e.row == 2 for e in report.errors)
    duplicate = next(e for e in report.errors if e.code == "duplicate_code")
    assert "2" in duplicate.message_zh and "2" in duplicate.message_en
    assert duplicate.column == "巡检点编码/checkpoint_code"
    assert report.error_count == len(report.errors)
    assert await _empty(site)


async def test_code_already_used_elsewhere_in_the_site_writes_nothing(site):
    assert (await import_rows(site, "a.csv", CHINESE_CSV.encode())).ok
    before = await _state(site)
    moved = (
        "楼栋,楼层,房号,状态,巡检点编码,类型,名称\n"
        "1栋,12F,1299,空置,,,\n"  # would be new
        "1栋,11F,,,A-12-H1,设施,挪到11楼的消火栓\n"  # same code, other floor
    )
    report = await import_rows(site, "b.csv", moved.encode())
    assert not report.ok
    [error] = report.errors
    assert (error.row, error.code) == (3, "code_elsewhere")
    assert "1栋 12F" in error.message_zh
    assert await _state(site) == before


async def test_reimport_is_idempotent(site):
    first = await import_rows(site, "units.csv", CHINESE_CSV.encode())
    state = await _state(site)
    second = await import_rows(site, "units.csv", CHINESE_CSV.encode())
    assert second.ok, second.errors
    assert (second.buildings_created, second.floors_created) == (0, 0)
    assert (second.units_created, second.units_updated, second.units_unchanged) == (
        0,
        0,
        first.units_created,
    )
    assert (
        second.checkpoints_created,
        second.checkpoints_updated,
        second.checkpoints_unchanged,
    ) == (0, 0, first.checkpoints_created)
    assert await _state(site) == state  # no duplicates, nothing touched (updated_at included)


async def test_reimport_updates_unit_status_and_changed_checkpoints(site):
    assert (await import_rows(site, "units.csv", CHINESE_CSV.encode())).ok
    before = {c["code"]: c for c in (await _state(site))["checkpoints"]}
    changed = CHINESE_CSV.replace("1栋,12F,1202,入住,95", "1栋,12F,1202,装修中,95").replace(
        "12F 消火栓", "12F 东侧消火栓"
    )
    report = await import_rows(site, "units.csv", changed.encode("gb18030"))
    assert report.ok, report.errors
    assert (report.units_updated, report.units_unchanged, report.units_created) == (1, 1, 0)
    assert (report.checkpoints_updated, report.checkpoints_unchanged) == (1, 3)
    state = await _state(site)
    assert {u["number"]: u["status"] for u in state["units"]} == {
        "1201": "vacant",
        "1202": "renovating",
    }
    after = {c["code"]: c for c in state["checkpoints"]}
    assert after["A-12-H1"]["name"] == "12F 东侧消火栓"
    assert after["A-12-H1"]["updated_at"] > before["A-12-H1"]["updated_at"]
    assert after["A-B1-P1"]["updated_at"] == before["A-B1-P1"]["updated_at"]
    assert len(after) == 4


async def test_existing_building_is_matched_by_name_and_code(site):
    assert (await import_rows(site, "a.csv", CHINESE_CSV.encode())).ok
    more = "楼栋,楼栋编码,楼层,房号,状态\n1栋,,13F,1301,空置\n1,,13F,1302,入住\n"
    report = await import_rows(site, "b.csv", more.encode())
    assert report.ok, report.errors
    assert (report.buildings_created, report.floors_created, report.units_created) == (0, 1, 2)
    [building] = (await _state(site))["buildings"]
    assert building["floors_above"] == 13


@pytest.mark.parametrize(
    ("filename", "data", "code"),
    [
        ("units.pdf", b"%PDF-1.4", "unsupported_file"),
        ("units.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "old_excel"),
        ("units.xlsx", b"PK\x03\x04 not really a workbook", "bad_xlsx"),
        ("units.xlsx", "楼栋,楼层\n".encode(), "bad_xlsx"),
        ("units.csv", b"\x80\x81\xff\xfe\x80 not text", "undecodable"),
        ("units.csv", "名称,备注\n消火栓,无\n".encode(), "no_header"),
        ("units.csv", "楼栋,楼层,房号\n".encode(), "empty_file"),
        ("units.csv", b"x" * (MAX_BYTES + 1), "file_too_large"),
    ],
)
async def test_file_level_errors(site, filename, data, code):
    report = await import_rows(site, filename, data)
    assert not report.ok
    assert [(e.row, e.code) for e in report.errors] == [(0, code)]
    assert report.errors[0].message_zh and report.errors[0].message_en
    assert await _empty(site)


async def test_row_limit(site):
    rows = "".join(f"1栋,2F,{n}\n" for n in range(MAX_ROWS + 1))
    report = await import_rows(site, "big.csv", ("楼栋,楼层,房号\n" + rows).encode())
    assert [e.code for e in report.errors] == ["too_many_rows"]
    assert await _empty(site)


async def test_unknown_site_is_refused(import_db):
    report = await import_rows(2_000_000_000, "a.csv", CHINESE_CSV.encode())
    assert [e.code for e in report.errors] == ["site_not_found"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12F", (12, "12F")),
        ("12", (12, "12F")),
        ("12层", (12, "12F")),
        ("f3", (3, "3F")),
        ("B1", (-1, "B1")),
        ("b2", (-2, "B2")),
        ("-1", (-1, "B1")),
        ("地下1层", (-1, "B1")),
        ("0", None),
        ("B0", None),
        ("RF", None),
        ("十二层", None),
        ("", None),
    ],
)
def test_parse_floor(text, expected):
    assert parse_floor(text) == expected
