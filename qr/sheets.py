"""Printable A4 label sheets for checkpoints: QR code, Chinese location and name, short code.

Each label carries, so that it works without the app's help:

* the QR code (4-module quiet zone, ECC level M; Q on plates, which live outdoors longer);
* a colour band naming the checkpoint kind in Chinese (never colour alone);
* the site / building / floor / unit on one line and the checkpoint name, wrapped and
  ellipsized to fit its cell;
* the short code in large bold type, for manual entry when the QR is damaged.

Pages are rendered one at a time (``render_pages`` is a generator) and ``write_pdf`` streams them
to the PDF as it goes, so memory stays flat however many labels are printed.

Chinese needs a real CJK font: ``find_cjk_font`` looks for one (Debian: fonts-noto-cjk) and raises
``FontNotFoundError`` rather than printing tofu boxes.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import unicodedata
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import qrcode
import qrcode.constants
from PIL import Image, ImageDraw, ImageFont

from qr.signing import CODE_RE

__all__ = [
    "KINDS",
    "LAYOUTS",
    "FontFace",
    "FontNotFoundError",
    "Label",
    "LabelDoesNotFitError",
    "LabelFonts",
    "Layout",
    "find_cjk_font",
    "render_pages",
    "write_pdf",
    "write_png",
]

Kind = Literal["facility", "vacant_unit", "signage", "renovation"]


@dataclass(frozen=True)
class KindStyle:
    name_zh: str
    colour: tuple[int, int, int]


#: Checkpoint kinds: the Chinese name printed in the band, and the band colour.
KINDS: dict[str, KindStyle] = {
    "facility": KindStyle("设施", (198, 40, 40)),  # red: fire and safety equipment
    "vacant_unit": KindStyle("空置房", (21, 101, 192)),  # blue
    "signage": KindStyle("标识", (46, 125, 50)),  # green
    "renovation": KindStyle("装修", (230, 81, 0)),  # orange
}


@dataclass(frozen=True)
class Label:
    """One printed label. ``url`` is what the QR encodes (see ``qr.signing.label_url``).

    ``site_name``, ``building``, ``floor`` and ``unit`` are display strings ("3栋", "5层",
    "502室"); empty ones are left out of the location line.
    """

    code: str
    version: int
    url: str
    site_name: str
    building: str
    floor: str
    unit: str | None
    name: str
    kind: Kind

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"unknown checkpoint kind {self.kind!r}; expected one of {list(KINDS)}"
            )
        if not CODE_RE.fullmatch(self.code):
            raise ValueError(f"invalid checkpoint code {self.code!r}")
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 0:
            raise ValueError(f"invalid label version {self.version!r}")
        if not self.url:
            raise ValueError("a label needs the URL its QR code encodes")


_MM_PER_INCH = 25.4
_ECC = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}
QUIET_ZONE_MODULES = 4
#: Smallest QR module printed, in mm; below this, phone cameras struggle at arm's length.
MIN_MODULE_MM = 0.4


@dataclass(frozen=True)
class Layout:
    """A sheet: a grid of ``cols`` x ``rows`` cells on a page, and how a cell is laid out.

    ``style="row"`` puts the QR left and the text right (small stickers); ``"column"`` puts a
    band on top, the QR in the middle and the text below (plates). Sizes are in mm and points;
    change any of them with ``dataclasses.replace(LAYOUTS["dense"], cols=4, ...)``.
    """

    cols: int
    rows: int
    style: Literal["row", "column"] = "row"
    ecc: Literal["L", "M", "Q", "H"] = "M"
    page_mm: tuple[float, float] = (210.0, 297.0)  # A4 portrait
    margin_mm: tuple[float, float] = (8.0, 10.5)  # (left and right, top and bottom)
    gutter_mm: float = 0.0  # space between cells
    padding_mm: float = 2.5  # inside each cell, around the text
    dpi: int = 300
    band_pt: float = 8.0
    location_pt: float = 7.5
    name_pt: float = 9.5
    code_pt: float = 18.0
    name_max_lines: int = 3

    def __post_init__(self) -> None:
        if self.cols < 1 or self.rows < 1:
            raise ValueError("a layout needs at least one column and one row")
        if self.style not in ("row", "column"):
            raise ValueError(f"unknown layout style {self.style!r}")
        if self.ecc not in _ECC:
            raise ValueError(f"unknown QR error-correction level {self.ecc!r}")
        if self.dpi < 72:
            raise ValueError("dpi must be at least 72")
        width, height = self.cell_mm
        if width < 25 or height < 20:
            raise ValueError(f"cells of {width:.1f} x {height:.1f} mm are too small for a label")

    @property
    def per_page(self) -> int:
        return self.cols * self.rows

    @property
    def cell_mm(self) -> tuple[float, float]:
        mx, my = self.margin_mm
        w = (self.page_mm[0] - 2 * mx - (self.cols - 1) * self.gutter_mm) / self.cols
        h = (self.page_mm[1] - 2 * my - (self.rows - 1) * self.gutter_mm) / self.rows
        return w, h

    def px(self, mm: float) -> int:
        return round(mm * self.dpi / _MM_PER_INCH)

    def pt_px(self, pt: float) -> int:
        return max(1, round(pt * self.dpi / 72))

    @property
    def page_px(self) -> tuple[int, int]:
        return self.px(self.page_mm[0]), self.px(self.page_mm[1])

    def cell_box(self, index: int) -> tuple[int, int, int, int]:
        """Pixel box (x0, y0, x1, y1) of cell ``index`` (row-major) on its page."""
        col, row = index % self.cols, index // self.cols
        w, h = self.cell_mm
        mx, my = self.margin_mm
        left = mx + col * (w + self.gutter_mm)
        top = my + row * (h + self.gutter_mm)
        return self.px(left), self.px(top), self.px(left + w), self.px(top + h)


LAYOUTS: dict[str, Layout] = {
    # 24 stickers a page, 64.7 x 34.5 mm: QR left, text right.
    "dense": Layout(cols=3, rows=8),
    # 6 plates a page, 97 x 92.3 mm: band, large QR (ECC Q), large code.
    "plate": Layout(
        cols=2,
        rows=3,
        style="column",
        ecc="Q",
        padding_mm=4.0,
        band_pt=14.0,
        location_pt=10.0,
        name_pt=13.0,
        code_pt=30.0,
        name_max_lines=2,
    ),
}


# --------------------------------------------------------------------------- fonts


class FontNotFoundError(RuntimeError):
    """No font that can draw Chinese was found."""


@dataclass(frozen=True)
class FontFace:
    path: str
    index: int = 0

    def at(self, px: int) -> ImageFont.FreeTypeFont:
        return _load_font(self.path, self.index, px)


@dataclass(frozen=True)
class LabelFonts:
    """``regular`` and ``bold`` draw Chinese; ``code`` draws the short code (a monospace face
    with a dotted zero when one is installed, so 0 and O differ)."""

    regular: FontFace
    bold: FontFace
    code: FontFace


_NOTO = "/usr/share/fonts/opentype/noto"
#: (regular, bold or None) CJK font files, best first. Debian/Ubuntu paths, then Fedora/Arch.
CJK_FONT_CANDIDATES: list[tuple[str, str | None]] = [
    (f"{_NOTO}/NotoSansCJK-Regular.ttc", f"{_NOTO}/NotoSansCJK-Bold.ttc"),
    (f"{_NOTO}/NotoSansCJKsc-Regular.otf", f"{_NOTO}/NotoSansCJKsc-Bold.otf"),
    ("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc", None),
    (
        "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/noto-cjk/NotoSansCJK-Bold.ttc",
    ),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", None),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", None),
]
#: Ask fontconfig as a last resort (the result is still checked for Chinese glyphs).
USE_FC_MATCH = True
#: Monospace bold faces for the code, with a zero that differs from the letter O.
CODE_FONT_CANDIDATES: list[str] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSansMono-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSansMono-Bold.ttf",
]
_CJK_PROBE = "巡检设施空置房标识装修栋层"
_INSTALL_HINT = (
    "No font with Chinese glyphs was found, so labels cannot be printed without tofu boxes. "
    "Install one: on Debian/Ubuntu `apt-get install fonts-noto-cjk` "
    "(or fonts-wqy-microhei); tried: "
)


@functools.lru_cache(maxsize=256)
def _load_font(path: str, index: int, px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, px, index=index)


@functools.lru_cache(maxsize=64)
def _notdef_mask(path: str, index: int) -> tuple[tuple[int, int], bytes]:
    mask = _load_font(path, index, 32).getmask("\U0010ffff")  # a noncharacter: never in a font
    return mask.size, bytes(mask)


@functools.lru_cache(maxsize=65536)
def _has_glyph(path: str, index: int, char: str) -> bool:
    """Whether the face draws ``char`` with a real glyph rather than .notdef (tofu)."""
    if char.isspace():
        return True
    mask = _load_font(path, index, 32).getmask(char)
    if mask.size[0] == 0 or mask.size[1] == 0 or not any(bytes(mask)):
        return False
    return (mask.size, bytes(mask)) != _notdef_mask(path, index)


def _draws(face: FontFace, text: str) -> bool:
    return all(_has_glyph(face.path, face.index, ch) for ch in text)


@functools.lru_cache(maxsize=32)
def _faces(path: str) -> tuple[FontFace, ...]:
    """The faces in a font file, Simplified Chinese (SC, proportional) first."""
    faces = []
    for index in range(32):
        try:
            family, _style = ImageFont.truetype(path, 16, index=index).getname()
        except OSError:
            break
        rank = (0 if " SC" in (family or "") else 1) + (2 if "Mono" in (family or "") else 0)
        faces.append((rank, index, FontFace(path, index)))
    return tuple(face for _, _, face in sorted(faces, key=lambda t: (t[0], t[1])))


def _fc_match() -> list[tuple[str, str | None]]:
    exe = shutil.which("fc-match")
    if not exe:
        return []
    found = []
    for pattern in (":lang=zh-cn", ":lang=zh"):
        try:
            out = subprocess.run(
                [exe, "-f", "%{file}", pattern], capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        if out:
            found.append((out, None))
    return found


def _first_cjk_face(path: str) -> FontFace | None:
    if not os.path.isfile(path):
        return None
    try:
        faces = _faces(path)
    except OSError:
        return None
    return next((face for face in faces if _draws(face, _CJK_PROBE)), None)


def find_cjk_font() -> LabelFonts:
    """Find fonts for labels; raise FontNotFoundError naming the package to install.

    Tries ``CJK_FONT_CANDIDATES`` in order, then fontconfig (``fc-match :lang=zh``). Every
    candidate must really draw Chinese (fontconfig happily answers DejaVu when no CJK font is
    installed), so a hit can never print tofu.
    """
    tried: list[str] = []

    def candidates() -> Iterator[tuple[str, str | None]]:
        yield from CJK_FONT_CANDIDATES
        if USE_FC_MATCH:  # only when no known path has a CJK font: it costs a subprocess
            yield from _fc_match()

    for regular_path, bold_path in candidates():
        tried.append(regular_path)
        regular = _first_cjk_face(regular_path)
        if regular is None:
            continue
        bold = (_first_cjk_face(bold_path) if bold_path else None) or regular
        code = next(
            (FontFace(p) for p in CODE_FONT_CANDIDATES if _first_face_drawing(p, "F-0123456789")),
            bold,
        )
        return LabelFonts(regular=regular, bold=bold, code=code)
    raise FontNotFoundError(_INSTALL_HINT + (", ".join(tried) or "(no candidates)"))


def _first_face_drawing(path: str, text: str) -> bool:
    if not os.path.isfile(path):
        return False
    try:
        return _draws(FontFace(path), text)
    except OSError:
        return False


# --------------------------------------------------------------------------- text


_CONTROL_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}
_TOKEN_RE = re.compile(r"[A-Za-z0-9_.#/+\-]+| +|.", re.DOTALL)
ELLIPSIS = "…"
_NO_LINE_START = set("，。、；：！？）」』】》〉…,.;:!?)]}%")


def _clean(text: str | None, face: FontFace) -> str:
    """One line of printable text: whitespace collapsed, control characters dropped, and any
    character the font cannot draw shown as '?' instead of a tofu box."""
    if not text:
        return ""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        if ch.isspace():
            if out and out[-1] != " ":
                out.append(" ")
        elif unicodedata.category(ch) in _CONTROL_CATEGORIES:
            continue
        else:
            out.append(ch if _has_glyph(face.path, face.index, ch) else "?")
    return "".join(out).strip()


@dataclass(frozen=True)
class _Metrics:
    ascent: int  # pixels above the baseline
    descent: int  # pixels below the baseline

    @property
    def height(self) -> int:
        return self.ascent + self.descent


@functools.lru_cache(maxsize=256)
def _metrics(path: str, index: int, px: int, probe: str) -> _Metrics:
    _, top, _, bottom = _load_font(path, index, px).getbbox(probe, anchor="ls")
    return _Metrics(ascent=max(0, -top), descent=max(0, bottom))


def _width(font: ImageFont.FreeTypeFont, text: str) -> float:
    return font.getlength(text)


def _ellipsize(text: str, font: ImageFont.FreeTypeFont, width: int) -> str:
    if _width(font, text) <= width:
        return text
    lo, hi = 0, len(text)  # the longest prefix that fits with an ellipsis
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _width(font, text[:mid].rstrip() + ELLIPSIS) <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + ELLIPSIS if lo or _width(font, ELLIPSIS) <= width else ""


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int, max_lines: int) -> list[str]:
    """Greedy wrap: Chinese breaks between any two characters, Latin words and numbers stay
    whole unless longer than a line. The last line is ellipsized if text remains."""
    if max_lines < 1 or not text:
        return []
    lines: list[str] = []
    line = ""
    tokens = _TOKEN_RE.findall(text)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not line and token.isspace():
            i += 1
            continue
        if _width(font, line + token) <= width:
            line += token
            i += 1
            continue
        if not line:  # a single token wider than the line: break it by characters
            cut = 1
            while cut < len(token) and _width(font, token[: cut + 1]) <= width:
                cut += 1
            line, tokens[i] = token[:cut], token[cut:]
        else:
            # Closing punctuation does not start a line (best effort: not through a run of
            # punctuation). Spaces before it are dropped if that is enough, else the
            # character before it comes along to the next line.
            j = i
            while j < len(tokens) and tokens[j].isspace():
                j += 1
            if j < len(tokens) and tokens[j][0] in _NO_LINE_START:
                kept = line.rstrip()
                if _width(font, kept + tokens[j]) <= width:
                    line = kept + tokens[j]
                    i = j + 1
                    continue
                if len(kept) > 1 and kept[-1] not in _NO_LINE_START:
                    tokens.insert(i, kept[-1])
                    line = kept[:-1]
        lines.append(line.rstrip())
        line = ""
        if len(lines) == max_lines:
            rest = "".join(tokens[i:]).strip()
            if rest:
                lines[-1] = _ellipsize(lines[-1] + rest, font, width)
            return lines
    if line.strip():
        lines.append(line.rstrip())
    return lines[:max_lines]


def _location(label: Label, face: FontFace, font: ImageFont.FreeTypeFont, width: int) -> str:
    """Site, building, floor and unit on one line. When too long, the site name (the same on
    every label of a sheet, usually) is shortened first, then the line's end."""
    site = _clean(label.site_name, face)
    rest = " ".join(
        part
        for part in (_clean(p, face) for p in (label.building, label.floor, label.unit))
        if part
    )
    full = f"{site} {rest}".strip()
    if _width(font, full) <= width or not site or not rest:
        return _ellipsize(full, font, width)
    if _width(font, f"{ELLIPSIS} {rest}") > width:
        return _ellipsize(rest, font, width)
    lo, hi = 0, len(site)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _width(font, f"{site[:mid]}{ELLIPSIS} {rest}") <= width:
            lo = mid
        else:
            hi = mid - 1
    return f"{site[:lo]}{ELLIPSIS} {rest}"


class LabelDoesNotFitError(ValueError):
    """The layout's cells are too small for this label (a very long code)."""


def _fit_code(
    code: str, face: FontFace, max_px: int, width: int, max_height: int
) -> tuple[ImageFont.FreeTypeFont, list[str], _Metrics, int]:
    """The code in the largest size that fits on one line (down to a third), else wrapped
    by characters. Never ellipsized: the code is what people type in."""
    min_px = max(8, max_px // 3)
    px = max_px
    while True:
        font = face.at(px)
        if _width(font, code) <= width or px <= min_px:
            break
        px = max(min_px, int(px * 0.92))
    metrics = _metrics(face.path, face.index, px, "H0")
    line_h = round(metrics.height * 1.25)
    lines = [code]
    if _width(font, code) > width:  # wrap after hyphens where possible, else anywhere
        lines, line = [], ""
        for part in re.findall(r"[^-]*-|[^-]+", code):
            if line and _width(font, line + part) > width:
                lines.append(line)
                line = ""
            for ch in part:
                if line and _width(font, line + ch) > width:
                    lines.append(line)
                    line = ""
                line += ch
        lines.append(line)
    height = metrics.height + (len(lines) - 1) * line_h
    if height > max_height:
        raise LabelDoesNotFitError(f"code {code!r} does not fit a {width}px-wide label cell")
    return font, lines, metrics, line_h


# --------------------------------------------------------------------------- drawing


_INK = (17, 17, 17)
_INK_SOFT = (68, 68, 68)
_GUIDE = (180, 180, 180)
_WHITE = (255, 255, 255)
_CJK_PROBE_METRICS = "国Hgy"


def _qr_image(url: str, ecc: str, box_px: int) -> tuple[Image.Image, int]:
    """The QR of ``url`` (quiet zone included) at the largest whole-pixel module size that
    fits a ``box_px`` square, and that module size."""
    qr = qrcode.QRCode(error_correction=_ECC[ecc], border=QUIET_ZONE_MODULES, box_size=1)
    qr.add_data(url)
    qr.make(fit=True)
    matrix = qr.get_matrix()
    n = len(matrix)
    module = max(1, box_px // n)
    small = Image.frombytes(
        "L", (n, n), bytes(0 if dark else 255 for row in matrix for dark in row)
    )
    return small.resize((n * module, n * module), Image.Resampling.NEAREST), module


def _text_lines(
    draw: ImageDraw.ImageDraw,
    lines: list[str],
    font: ImageFont.FreeTypeFont,
    metrics: _Metrics,
    line_h: int,
    x: int,
    top: int,
    width: int,
    fill: tuple[int, int, int],
    align: str = "left",
) -> None:
    for n, line in enumerate(lines):
        baseline = top + metrics.ascent + n * line_h
        if align == "center":
            draw.text((x + width // 2, baseline), line, font=font, fill=fill, anchor="ms")
        else:
            draw.text((x, baseline), line, font=font, fill=fill, anchor="ls")


class _Renderer:
    def __init__(self, layout: Layout, fonts: LabelFonts) -> None:
        self.layout = layout
        self.fonts = fonts
        self.pad = layout.px(layout.padding_mm)
        self.min_module = max(1, layout.px(MIN_MODULE_MM))
        px = layout.pt_px
        self.band_px, self.loc_px, self.name_px, self.code_px = (
            px(layout.band_pt),
            px(layout.location_pt),
            px(layout.name_pt),
            px(layout.code_pt),
        )
        reg, bold = fonts.regular, fonts.bold
        self.loc_m = _metrics(reg.path, reg.index, self.loc_px, _CJK_PROBE_METRICS)
        self.name_m = _metrics(reg.path, reg.index, self.name_px, _CJK_PROBE_METRICS)
        self.band_m = _metrics(bold.path, bold.index, self.band_px, _CJK_PROBE_METRICS)
        self.band_h = round(self.band_m.height * 1.5)
        self.loc_lh = round(self.loc_m.height * 1.2)
        self.name_lh = round(self.name_m.height * 1.18)
        self.gap = max(2, round(self.name_px * 0.3))

    # A page ------------------------------------------------------------------
    def page(self, labels: list[Label]) -> Image.Image:
        page = Image.new("RGB", self.layout.page_px, _WHITE)
        draw = ImageDraw.Draw(page)
        for index, label in enumerate(labels):
            box = self.layout.cell_box(index)
            if self.layout.style == "row":
                self._row_cell(page, draw, label, box)
            else:
                self._column_cell(page, draw, label, box)
        self._cut_guides(draw, len(labels))
        return page

    def _cut_guides(self, draw: ImageDraw.ImageDraw, used: int) -> None:
        """Dashed light lines around every used cell, and solid ticks in the page margin at
        each cut position for a guillotine."""
        layout = self.layout
        dash = max(4, layout.px(1.5))
        tick = layout.px(3)
        width = max(1, layout.px(0.12))
        page_w, page_h = layout.page_px
        boxes = [layout.cell_box(i) for i in range(used)]
        segments: set[tuple[int, int, int, int]] = set()
        for x0, y0, x1, y1 in boxes:
            segments.update(
                {(x0, y0, x1, y0), (x0, y1, x1, y1), (x0, y0, x0, y1), (x1, y0, x1, y1)}
            )
        for x0, y0, x1, y1 in segments:
            if y0 == y1:
                for x in range(x0 - x0 % (2 * dash), x1, 2 * dash):
                    a, b = max(x, x0), min(x + dash, x1)
                    if a < b:
                        draw.line((a, y0, b, y0), fill=_GUIDE, width=width)
            else:
                for y in range(y0 - y0 % (2 * dash), y1, 2 * dash):
                    a, b = max(y, y0), min(y + dash, y1)
                    if a < b:
                        draw.line((x0, a, x0, b), fill=_GUIDE, width=width)
        xs = sorted({b[0] for b in boxes} | {b[2] for b in boxes})
        ys = sorted({b[1] for b in boxes} | {b[3] for b in boxes})
        if boxes:
            top, bottom = min(ys), max(ys)
            left, right = min(xs), max(xs)
            for x in xs:
                draw.line((x, max(0, top - tick - dash), x, top - dash), fill=_GUIDE, width=width)
                draw.line(
                    (x, bottom + dash, x, min(page_h, bottom + dash + tick)),
                    fill=_GUIDE,
                    width=width,
                )
            for y in ys:
                draw.line((max(0, left - tick - dash), y, left - dash, y), fill=_GUIDE, width=width)
                draw.line(
                    (right + dash, y, min(page_w, right + dash + tick), y), fill=_GUIDE, width=width
                )

    # Pieces ------------------------------------------------------------------
    def _band(self, draw: ImageDraw.ImageDraw, label: Label, x0: int, y0: int, x1: int) -> None:
        style = KINDS[label.kind]
        draw.rectangle((x0, y0, x1 - 1, y0 + self.band_h - 1), fill=style.colour)
        inset = max(2, round(self.band_px * 0.4))
        baseline = y0 + (self.band_h - self.band_m.height) // 2 + self.band_m.ascent
        bold = self.fonts.bold.at(self.band_px)
        draw.text((x0 + inset, baseline), style.name_zh, font=bold, fill=_WHITE, anchor="ls")
        version = f"v{label.version}"
        regular = self.fonts.regular.at(self.band_px)
        room = (x1 - x0) - 3 * inset - _width(bold, style.name_zh)
        if _width(regular, version) <= room:
            draw.text((x1 - inset, baseline), version, font=regular, fill=_WHITE, anchor="rs")

    def _texts(self, label: Label, width: int) -> tuple[str, str]:
        reg = self.fonts.regular
        location = _location(label, reg, reg.at(self.loc_px), width)
        return location, _clean(label.name, reg)

    def _place_qr(self, page: Image.Image, label: Label, x: int, y: int, box: int) -> None:
        """Centre the QR (quiet zone included) in a ``box`` square at (x, y)."""
        image, module = _qr_image(label.url, self.layout.ecc, box)
        if module < self.min_module:
            raise LabelDoesNotFitError(
                f"the QR of {label.code} would have {module}px modules; use bigger cells"
            )
        offset = (box - image.width) // 2
        page.paste(image, (x + offset, y + offset))

    # Row style: QR left, text column right ---------------------------------------
    def _row_cell(self, page, draw, label: Label, box: tuple[int, int, int, int]) -> None:
        x0, y0, x1, y1 = box
        w, h = x1 - x0, y1 - y0
        qr_pad = max(1, self.pad // 3)  # the QR's own quiet zone is the rest of the margin
        qr_box = min(h - 2 * qr_pad, int(w * 0.5))
        self._place_qr(page, label, x0 + qr_pad, y0 + (h - qr_box) // 2, qr_box)

        tx = x0 + qr_pad + qr_box
        tw = x1 - self.pad - tx
        top, bottom = y0 + self.pad, y1 - self.pad
        self._band(draw, label, tx, top, tx + tw)
        y = top + self.band_h + self.gap
        location, name = self._texts(label, tw)
        _text_lines(
            draw,
            [location],
            self.fonts.regular.at(self.loc_px),
            self.loc_m,
            self.loc_lh,
            tx,
            y,
            tw,
            _INK_SOFT,
        )
        y += self.loc_m.height + self.gap

        code_font, code_lines, code_m, code_lh = _fit_code(
            label.code,
            self.fonts.code,
            self.code_px,
            tw,
            bottom - y - self.name_m.height - self.gap,
        )
        code_h = code_m.height + (len(code_lines) - 1) * code_lh
        code_top = bottom - code_h
        room = code_top - self.gap - y
        max_lines = min(
            self.layout.name_max_lines, 1 + max(0, room - self.name_m.height) // self.name_lh
        )
        name_font = self.fonts.regular.at(self.name_px)
        lines = _wrap(name, name_font, tw, max_lines)
        _text_lines(draw, lines, name_font, self.name_m, self.name_lh, tx, y, tw, _INK)
        _text_lines(draw, code_lines, code_font, code_m, code_lh, tx, code_top, tw, (0, 0, 0))

    # Column style: band, QR, code, name, location -----------------------------------
    def _column_cell(self, page, draw, label: Label, box: tuple[int, int, int, int]) -> None:
        x0, y0, x1, y1 = box
        left, right, top, bottom = x0 + self.pad, x1 - self.pad, y0 + self.pad, y1 - self.pad
        tw = right - left
        self._band(draw, label, left, top, right)
        location, name = self._texts(label, tw)
        name_font = self.fonts.regular.at(self.name_px)
        # Text block from the bottom up: location, name lines (room for the maximum, so the
        # QRs of a sheet line up), code.
        loc_top = bottom - self.loc_m.height
        name_lines = _wrap(name, name_font, tw, self.layout.name_max_lines)
        name_block = self.name_m.height + (self.layout.name_max_lines - 1) * self.name_lh
        name_top = loc_top - self.gap - name_block
        code_font, code_lines, code_m, code_lh = _fit_code(
            label.code, self.fonts.code, self.code_px, tw, (name_top - top) // 3
        )
        code_h = code_m.height + (len(code_lines) - 1) * code_lh
        code_top = name_top - self.gap * 2 - code_h
        qr_top = top + self.band_h
        qr_box = min(tw, code_top - qr_top)
        self._place_qr(page, label, x0 + (x1 - x0 - qr_box) // 2, qr_top, qr_box)
        _text_lines(
            draw, code_lines, code_font, code_m, code_lh, left, code_top, tw, (0, 0, 0), "center"
        )
        # Centre the name lines actually used within their block.
        used = self.name_m.height + (len(name_lines) - 1) * self.name_lh if name_lines else 0
        _text_lines(
            draw,
            name_lines,
            name_font,
            self.name_m,
            self.name_lh,
            left,
            name_top + (name_block - used) // 2,
            tw,
            _INK,
            "center",
        )
        _text_lines(
            draw,
            [location],
            self.fonts.regular.at(self.loc_px),
            self.loc_m,
            self.loc_lh,
            left,
            loc_top,
            tw,
            _INK_SOFT,
            "center",
        )


def _chunks(labels: Iterable[Label], size: int) -> Iterator[list[Label]]:
    chunk: list[Label] = []
    for label in labels:
        chunk.append(label)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def render_pages(
    labels: Iterable[Label], layout: Layout, fonts: LabelFonts | None = None
) -> Iterator[Image.Image]:
    """Yield one RGB page image at a time, labels in order, row by row.

    ``labels`` may be any iterable (a generator over a database cursor is fine): it is read
    one page's worth at a time. Raises FontNotFoundError before any page if no CJK font exists.
    """
    renderer = _Renderer(layout, fonts or find_cjk_font())
    for chunk in _chunks(labels, layout.per_page):
        yield renderer.page(chunk)


# --------------------------------------------------------------------------- output


def write_png(labels: Iterable[Label], layout: Layout, path: str | os.PathLike[str]) -> list[Path]:
    """Write one PNG per page: ``labels.png``, ``labels-2.png``, ``labels-3.png``…

    The first page takes ``path`` itself; page n > 1 inserts ``-n`` before the suffix.
    Returns the written paths in page order (empty when there are no labels).
    """
    path = Path(path)
    written = []
    for number, page in enumerate(render_pages(labels, layout), start=1):
        target = path if number == 1 else path.with_name(f"{path.stem}-{number}{path.suffix}")
        page.save(target, "PNG", dpi=(layout.dpi, layout.dpi), compress_level=6)
        written.append(target)
    return written


def write_pdf(
    labels: Iterable[Label], layout: Layout, path_or_file: str | os.PathLike[str] | BinaryIO
) -> int:
    """Write the sheets as a multi-page PDF (page images at ``layout.dpi``, lossless).

    Pages are rendered and written one at a time, so peak memory does not grow with the
    number of labels. ``path_or_file`` is a path or a writable binary file (e.g. BytesIO);
    a file is not closed. Returns the number of pages.
    """
    if isinstance(path_or_file, str | os.PathLike):
        with open(path_or_file, "wb") as fp:
            return _write_pdf(labels, layout, fp)
    return _write_pdf(labels, layout, path_or_file)


def _write_pdf(labels: Iterable[Label], layout: Layout, fp: BinaryIO) -> int:
    pages = render_pages(labels, layout)  # fonts are checked before anything is written
    first = next(pages, None)
    writer = _PdfWriter(fp)
    count = 0
    if first is not None:
        writer.add_page(first, layout)
        count = 1
        del first
        for page in pages:
            writer.add_page(page, layout)
            count += 1
    writer.finish(layout)
    return count


class _PdfWriter:
    """A minimal streaming PDF writer: one full-page image per page.

    Each page is one lossless FlateDecode RGB image (JPEG would blur the QR modules' edges),
    written as soon as it is rendered, so only one page is held at a time. The page tree and
    cross-reference table are written at the end.
    """

    _CATALOG, _PAGES, _INFO = 1, 2, 3

    def __init__(self, fp: BinaryIO) -> None:
        self.fp = fp
        self.pos = 0
        self.offsets: dict[int, int] = {}
        self.kids: list[int] = []
        self.next_obj = 4
        self._write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")

    def _write(self, data: bytes) -> None:
        self.fp.write(data)
        self.pos += len(data)

    def _obj(self, num: int, body: bytes, stream: bytes | None = None) -> None:
        self.offsets[num] = self.pos
        self._write(b"%d 0 obj\n" % num)
        if stream is None:
            self._write(body + b"\nendobj\n")
        else:
            self._write(body[:-2] + b" /Length %d >>\nstream\n" % len(stream))
            self._write(stream)
            self._write(b"\nendstream\nendobj\n")

    def _alloc(self) -> int:
        self.next_obj += 1
        return self.next_obj - 1

    def add_page(self, image: Image.Image, layout: Layout) -> None:
        width, height = image.size
        if image.mode != "RGB":
            image = image.convert("RGB")
        data = _flate(image)
        image_num, content_num, page_num = self._alloc(), self._alloc(), self._alloc()
        self._obj(
            image_num,
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
            b"/BitsPerComponent 8 /Filter /FlateDecode >>" % (width, height),
            data,
        )
        pw, ph = (f"{v:.3f}".encode() for v in (width * 72 / layout.dpi, height * 72 / layout.dpi))
        content = b"q %s 0 0 %s 0 0 cm /Im0 Do Q" % (pw, ph)
        self._obj(content_num, b"<< >>", content)
        self._obj(
            page_num,
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %s %s] /Resources << /XObject "
            b"<< /Im0 %d 0 R >> >> /Contents %d 0 R >>"
            % (self._PAGES, pw, ph, image_num, content_num),
        )
        self.kids.append(page_num)

    def finish(self, layout: Layout) -> None:
        if not self.kids:  # a PDF needs at least one page: a blank one
            self.add_page(Image.new("RGB", layout.page_px, _WHITE), layout)
        kids = b" ".join(b"%d 0 R" % k for k in self.kids)
        self._obj(self._PAGES, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(self.kids)))
        self._obj(self._CATALOG, b"<< /Type /Catalog /Pages %d 0 R >>" % self._PAGES)
        self._obj(self._INFO, b"<< /Title (Xunjian checkpoint labels) /Producer (Xunjian) >>")
        xref = self.pos
        size = self.next_obj
        rows = [b"0000000000 65535 f \n"]
        rows += [b"%010d 00000 n \n" % self.offsets[num] for num in range(1, size)]
        self._write(b"xref\n0 %d\n" % size + b"".join(rows))
        self._write(
            b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (size, self._CATALOG, self._INFO, xref)
        )


def _flate(image: Image.Image, level: int = 3, strip_rows: int = 256) -> bytes:
    """``image``'s raw samples, zlib-compressed a strip at a time (no full-page copy).

    Level 3 is the sweet spot for label pages: as fast as level 1, and level 6 is three times
    slower for 18% less. (Pillow's PNG encoder is slower still: it tries every row filter.)
    """
    compressor = zlib.compressobj(level)
    parts = []
    width, height = image.size
    for top in range(0, height, strip_rows):
        strip = image.crop((0, top, width, min(height, top + strip_rows)))
        parts.append(compressor.compress(strip.tobytes()))
    parts.append(compressor.flush())
    return b"".join(parts)
