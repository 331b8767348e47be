"""Label sheets: every printed QR decodes (independent decoder) to a label that verifies."""

from __future__ import annotations

import dataclasses
import io
import re
from collections import Counter

import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops

from qr import sheets
from qr.sheets import (
    LAYOUTS,
    FontNotFoundError,
    Label,
    Layout,
    find_cjk_font,
    render_pages,
    write_pdf,
    write_png,
)
from qr.signing import label_url, parse_label, sign, verify

pytestmark = pytest.mark.unit

SECRET = b"test-deployment-secret"
BASE_URL = "https://xunjian.example.com.cn"
KIND_PREFIX = {"facility": "F", "vacant_unit": "V", "signage": "S", "renovation": "R"}
CHECKPOINTS = [
    ("facility", "东侧楼梯间消防栓"),
    ("facility", "地下车库B2层入口防火卷帘门及应急照明配电箱（双电源切换）"),
    ("vacant_unit", "空置房巡查：门窗、水电、地漏"),
    ("signage", "天台重地，非请勿进"),
    ("renovation", "二次装修现场 Phase-2 electrical works"),
    ("signage", "如遇火警，请勿使用升降机"),
    ("facility", "水泵房"),
    ("vacant_unit", "空置房"),
    ("signage", "高压危险，请勿靠近（环网柜）"),
    ("renovation", "装修单元"),
]


def make_label(i: int, kind: str, name: str, site: str = "YG") -> Label:
    code = f"{KIND_PREFIX[kind]}-{i:04d}"
    version = 1 + i % 3
    url = label_url(BASE_URL, code, version, sign(SECRET, site, code, version))
    unit = f"{i % 30 + 1}0{i % 4 + 1}室" if kind in ("vacant_unit", "renovation") else None
    return Label(
        code=code,
        version=version,
        url=url,
        site_name="阳光花园二期" if i % 2 else "阳光花园",
        building=f"{i % 6 + 1}栋",
        floor=f"{i % 30 + 1}层",
        unit=unit,
        name=name,
        kind=kind,
    )


@pytest.fixture(scope="module")
def labels() -> list[Label]:
    return [make_label(i, *CHECKPOINTS[i % len(CHECKPOINTS)]) for i in range(30)]


def decode_all(images: list[Image.Image]) -> list[zxingcpp.Barcode]:
    return [barcode for image in images for barcode in zxingcpp.read_barcodes(image)]


def assert_decodes_to(barcodes, labels: list[Label], ec_level: str) -> None:
    by_code = {label.code: label for label in labels}
    decoded = []
    for barcode in barcodes:
        assert barcode.format == zxingcpp.BarcodeFormat.QRCode
        assert barcode.ec_level == ec_level
        payload = parse_label(barcode.text)
        assert payload is not None, barcode.text
        label = by_code[payload.code]
        assert payload.version == label.version
        assert verify(SECRET, "YG", payload.code, payload.version, payload.signature)
        decoded.append(payload.code)
    # Every label printed exactly once, nothing else.
    assert Counter(decoded) == Counter(label.code for label in labels)


def test_dense_sheet_png_qrs_decode_and_verify(labels, tmp_path):
    paths = write_png(labels, LAYOUTS["dense"], tmp_path / "labels.png")
    assert [p.name for p in paths] == ["labels.png", "labels-2.png"]  # 24 a page
    images = [Image.open(p) for p in paths]
    assert all(image.size == (2480, 3508) for image in images)  # A4 at 300 dpi
    assert images[0].info["dpi"] == pytest.approx((300, 300), abs=0.01)
    per_page = [zxingcpp.read_barcodes(image) for image in images]
    assert [len(found) for found in per_page] == [24, 6]
    assert_decodes_to([b for found in per_page for b in found], labels, "M")


def test_plate_sheet_png_qrs_decode_and_verify(labels, tmp_path):
    paths = write_png(labels, LAYOUTS["plate"], tmp_path / "plates.png")
    assert len(paths) == 5  # 6 plates a page
    assert_decodes_to(decode_all([Image.open(p) for p in paths]), labels, "Q")


def test_pdf_has_the_right_pages_and_its_images_decode(labels, tmp_path):
    pypdf = pytest.importorskip("pypdf")
    buffer = io.BytesIO()
    assert write_pdf(labels, LAYOUTS["dense"], buffer) == 2
    reader = pypdf.PdfReader(io.BytesIO(buffer.getvalue()), strict=True)
    assert len(reader.pages) == 2
    for page in reader.pages:
        assert float(page.mediabox.width) == pytest.approx(595.28, abs=0.1)  # A4 in points
        assert float(page.mediabox.height) == pytest.approx(841.89, abs=0.1)
    images = [page.images[0].image for page in reader.pages]
    assert images[0].size == (2480, 3508)
    assert_decodes_to(decode_all(images), labels, "M")

    path = tmp_path / "plates.pdf"
    assert write_pdf(labels, LAYOUTS["plate"], path) == 5
    assert len(pypdf.PdfReader(path, strict=True).pages) == 5


def test_pdf_page_count_for_a_custom_layout(labels):
    pypdf = pytest.importorskip("pypdf")
    layout = dataclasses.replace(LAYOUTS["dense"], cols=2, rows=4, margin_mm=(12.0, 15.0))
    buffer = io.BytesIO()
    assert write_pdf(labels, layout, buffer) == 4  # 8 a page: 8 + 8 + 8 + 6
    assert len(pypdf.PdfReader(io.BytesIO(buffer.getvalue())).pages) == 4


def test_pdf_with_no_labels_is_a_valid_blank_page():
    pypdf = pytest.importorskip("pypdf")
    buffer = io.BytesIO()
    assert write_pdf([], LAYOUTS["dense"], buffer) == 0
    assert len(pypdf.PdfReader(io.BytesIO(buffer.getvalue()), strict=True).pages) == 1


def test_pages_are_rendered_lazily_and_the_pdf_is_streamed(labels):
    pulled = []
    written_when_pulled = []
    buffer = io.BytesIO()

    def source():
        for i in range(50):
            pulled.append(i)
            written_when_pulled.append(buffer.tell())
            yield make_label(i, "facility", "消防栓")

    pages = render_pages(source(), LAYOUTS["dense"])
    first = next(pages)
    assert isinstance(first, Image.Image)
    assert len(pulled) == 24  # one page's worth, not the whole source
    pages.close()

    pulled.clear()
    written_when_pulled.clear()
    assert write_pdf(source(), LAYOUTS["dense"], buffer) == 3
    # Page 1 went to the file before the first label of page 2 was even read.
    assert written_when_pulled[23] == 0
    assert written_when_pulled[24] > 0


def ink_bbox(page: Image.Image) -> tuple[int, int, int, int] | None:
    return ImageChops.difference(page, Image.new("RGB", page.size, "white")).getbbox()


@pytest.mark.parametrize("layout_name", ["dense", "plate"])
def test_long_text_and_long_codes_stay_inside_the_cell(layout_name, monkeypatch):
    monkeypatch.setattr(sheets, "_GUIDE", (255, 255, 255))  # hide cut guides: ink only
    layout = LAYOUTS[layout_name]
    code = "B3-" + "7" * 61  # the longest code allowed
    label = Label(
        code=code,
        version=123456,
        url=label_url(BASE_URL, code, 123456, sign(SECRET, "YG", code, 123456)),
        site_name="阳光花园国际社区二期北区物业服务中心" * 2,
        building="第十二栋B座",
        floor="地下二层夹层",
        unit="B2-1203室（东）",
        name="消防栓" * 60 + " supercalifragilisticexpialidocious" * 5,
        kind="renovation",
    )
    page = next(render_pages([label], layout))
    x0, y0, x1, y1 = layout.cell_box(0)
    left, top, right, bottom = ink_bbox(page)
    assert (left, top) >= (x0, y0) and (right, bottom) <= (x1, y1)
    # And the QR still decodes to the full code.
    (barcode,) = zxingcpp.read_barcodes(page)
    assert parse_label(barcode.text).code == code


def test_every_kind_band_has_its_colour_and_chinese_name():
    assert {k: s.name_zh for k, s in sheets.KINDS.items()} == {
        "facility": "设施",
        "vacant_unit": "空置房",
        "signage": "标识",
        "renovation": "装修",
    }
    layout = LAYOUTS["dense"]
    page = next(
        render_pages([make_label(i, kind, "名称") for i, kind in enumerate(sheets.KINDS)], layout)
    )
    for index, style in enumerate(sheets.KINDS.values()):
        x0, y0, x1, y1 = layout.cell_box(index)
        colours = {colour for _, colour in page.crop((x0, y0, x1, y1)).getcolors(1 << 20)}
        assert style.colour in colours


def test_unknown_kind_bad_code_or_version_is_refused():
    with pytest.raises(ValueError, match="kind"):
        dataclasses.replace(make_label(1, "facility", "x"), kind="boiler")
    with pytest.raises(ValueError, match="code"):
        dataclasses.replace(make_label(1, "facility", "x"), code="f 1")
    with pytest.raises(ValueError, match="version"):
        dataclasses.replace(make_label(1, "facility", "x"), version=-1)


def test_layouts_refuse_impossible_grids():
    with pytest.raises(ValueError):
        Layout(cols=0, rows=8)
    with pytest.raises(ValueError, match="too small"):
        Layout(cols=12, rows=30)


def test_characters_the_font_lacks_are_not_drawn_as_tofu():
    fonts = find_cjk_font()
    assert sheets._clean("消防栓\U0001f525\u200b A\tB\n", fonts.regular) == "消防栓? A B"


def test_cjk_font_is_found_and_draws_chinese():
    fonts = find_cjk_font()
    for face in (fonts.regular, fonts.bold):
        assert sheets._draws(face, "巡检空置房标识装修设施")
    assert sheets._draws(fonts.code, "F-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def test_missing_font_raises_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(sheets, "CJK_FONT_CANDIDATES", [(str(tmp_path / "none.ttc"), None)])
    monkeypatch.setattr(sheets, "USE_FC_MATCH", False)
    with pytest.raises(FontNotFoundError, match="fonts-noto-cjk"):
        find_cjk_font()
    # Nothing is written when there is no font: no half-made PDF for the download.
    buffer = io.BytesIO()
    with pytest.raises(FontNotFoundError):
        write_pdf([make_label(1, "facility", "消防栓")], LAYOUTS["dense"], buffer)
    assert buffer.getvalue() == b""


def test_a_font_without_chinese_glyphs_is_not_accepted(monkeypatch):
    # fontconfig answers a Latin font for :lang=zh when no CJK font is installed.
    latin = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    if not sheets.os.path.isfile(latin):
        pytest.skip("DejaVu Sans is not installed")
    monkeypatch.setattr(sheets, "CJK_FONT_CANDIDATES", [(latin, None)])
    monkeypatch.setattr(sheets, "_fc_match", lambda: [(latin, None)])
    with pytest.raises(FontNotFoundError, match="tofu"):
        find_cjk_font()


WRAP_ALPHABET = "消防栓空置房标识装修东侧楼梯间，。（）、 ABCxyz0123-_"


@settings(max_examples=80, deadline=None)
@given(
    text=st.text(alphabet=WRAP_ALPHABET, max_size=80),
    chars_wide=st.integers(min_value=2, max_value=30),
    max_lines=st.integers(min_value=1, max_value=4),
)
def test_wrapped_text_never_overflows(text, chars_wide, max_lines):
    font = find_cjk_font().regular.at(40)
    width = chars_wide * 40
    lines = sheets._wrap(text, font, width, max_lines)
    assert len(lines) <= max_lines
    assert all(font.getlength(line) <= width for line in lines)
    if not re.search(r"[，。、）] *[，。、）]", text):  # best effort through punctuation runs
        assert not any(line[0] in "，。、）" for line in lines[1:])
    if not any(sheets.ELLIPSIS in line for line in lines):  # nothing cut: nothing lost
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")
