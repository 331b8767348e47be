"""Draw the app icons in web/icons/ with Pillow: the character 巡 in white on a blue square.

Run from the repository root (``.venv/bin/python scripts/make_icons.py``) and commit the PNGs;
the server never draws them. "any" icons use a rounded square edge to edge; maskable icons fill
the whole canvas and keep the mark inside the central 80% safe zone, because launchers cut them
into circles, squircles or teardrops. The Apple touch icon is opaque (iOS turns transparency black).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "web" / "icons"
FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
# Index of the Simplified Chinese face inside the collection (JP, KR, SC, TC, HK order).
FONT_INDEX_SC = 2
MARK = "巡"
BLUE = (11, 92, 173)  # #0b5cad, the primary colour in styles.css
WHITE = (255, 255, 255)
# Draw large and downsample: Pillow's shapes have no anti-aliasing of their own.
SUPERSAMPLE = 4


def draw_icon(size: int, *, maskable: bool, transparent_corners: bool) -> Image.Image:
    big = size * SUPERSAMPLE
    background = (0, 0, 0, 0) if transparent_corners else (*BLUE, 255)
    image = Image.new("RGBA", (big, big), background)
    draw = ImageDraw.Draw(image)
    if transparent_corners:
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=round(big * 0.22), fill=BLUE)
    # The glyph's share of the canvas: smaller for maskable icons (safe zone is a circle of 80%).
    glyph = big * (0.50 if maskable else 0.66)
    font = ImageFont.truetype(str(FONT), size=round(glyph), index=FONT_INDEX_SC)
    left, top, right, bottom = draw.textbbox((0, 0), MARK, font=font)
    x = (big - (right - left)) / 2 - left
    y = (big - (bottom - top)) / 2 - top
    draw.text((x, y), MARK, font=font, fill=WHITE)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    icons = {
        "icon-192.png": draw_icon(192, maskable=False, transparent_corners=True),
        "icon-512.png": draw_icon(512, maskable=False, transparent_corners=True),
        "maskable-192.png": draw_icon(192, maskable=True, transparent_corners=False),
        "maskable-512.png": draw_icon(512, maskable=True, transparent_corners=False),
        "apple-touch-icon.png": draw_icon(180, maskable=False, transparent_corners=False),
        "favicon-32.png": draw_icon(32, maskable=False, transparent_corners=True),
    }
    for name, image in icons.items():
        if name == "apple-touch-icon.png":
            image = image.convert("RGB")
        image.save(OUT / name, optimize=True)
        print(f"{OUT.relative_to(ROOT) / name} {image.size[0]}x{image.size[1]}")


if __name__ == "__main__":
    main()
