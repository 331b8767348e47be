"""Benchmark: label sheets for N synthetic checkpoints, rendered to a PDF.

    python bench/bench_labels.py [--n 5000] [--layout dense]

Each measurement runs in its own child process so that peak memory (ru_maxrss) belongs to it
alone. Runs:

* ``labels``: ``qr.sheets.write_pdf`` for N labels (the real thing);
* ``labels, N/10``: the same for a tenth of the labels. Peak memory should be about the same:
  pages are rendered and written one at a time;
* ``baseline``: the same pages as bare ``qrcode.make()`` images pasted on a blank page, no
  text, bands or guides, written with the same PDF writer. The ratio shows what the label
  design costs on top of making the QR codes.

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from qr.sheets import KINDS, LAYOUTS, Label, Layout, write_pdf  # noqa: E402
from qr.signing import label_url, sign  # noqa: E402

SECRET = b"bench-secret-0123456789"
BASE_URL = "https://xunjian.example.com.cn"
SITES = ["阳光花园", "阳光花园二期", "翠湖天地", "滨江国际公寓", "锦绣华庭"]
PLACES = [
    "东侧楼梯间",
    "西侧电梯厅",
    "地下车库B1层",
    "地下车库B2层",
    "首层大堂",
    "屋面",
    "设备层",
    "走廊尽头",
]
FACILITIES = [
    "消防栓",
    "灭火器箱",
    "防火门",
    "应急照明",
    "排烟风机",
    "水泵房",
    "配电房",
    "安全出口指示灯",
    "防火卷帘门",
    "垃圾房",
    "电梯机房",
]
SIGNS = [
    "天台重地，非请勿进",
    "如遇火警，请勿使用升降机",
    "高空抛物、手下留人",
    "机房重地、非请勿进",
    "高压危险，请勿靠近",
    "严禁烟火",
    "小心地滑",
    "楼层指示牌",
    "疏散示意图",
]


def synthetic_labels(n: int, seed: int = 42) -> Iterator[Label]:
    rng = random.Random(seed)
    kinds = list(KINDS)
    for i in range(n):
        kind = rng.choices(kinds, weights=[5, 2, 3, 1])[0]
        building, floor = rng.randint(1, 24), rng.randint(-2, 33)
        floor_name = f"B{-floor}层" if floor < 0 else f"{floor or 1}层"
        unit = f"{max(floor, 1)}{rng.randint(1, 8):02d}室"
        if kind == "facility":
            name, unit_or_none = f"{rng.choice(PLACES)}{rng.choice(FACILITIES)}", None
        elif kind == "signage":
            name, unit_or_none = f"{rng.choice(PLACES)}：{rng.choice(SIGNS)}", None
        elif kind == "vacant_unit":
            name, unit_or_none = f"空置房 {unit}", unit
        else:
            name, unit_or_none = f"装修单元 {unit}（施工许可证 第{rng.randint(1, 999)}号）", unit
        code = f"{'FVSR'[kinds.index(kind)]}{building:02d}-{i:05d}"
        version = rng.randint(1, 3)
        yield Label(
            code=code,
            version=version,
            url=label_url(BASE_URL, code, version, sign(SECRET, "SITE01", code, version)),
            site_name=rng.choice(SITES),
            building=f"{building}栋",
            floor=floor_name,
            unit=unit_or_none,
            name=name,
            kind=kind,
        )


def baseline_pdf(labels: Iterator[Label], layout: Layout, path: Path) -> int:
    """Bare qrcode.make() images pasted on blank pages, through the same PDF writer."""
    import qrcode
    from PIL import Image

    from qr.sheets import _PdfWriter

    with open(path, "wb") as fp:
        writer = _PdfWriter(fp)
        page, count = None, 0
        for i, label in enumerate(labels):
            slot = i % layout.per_page
            if slot == 0:
                if page is not None:
                    writer.add_page(page, layout)
                page = Image.new("RGB", layout.page_px, "white")
                count += 1
            x0, y0, _, _ = layout.cell_box(slot)
            page.paste(qrcode.make(label.url, box_size=8).get_image(), (x0, y0))
        if page is not None:
            writer.add_page(page, layout)
        writer.finish(layout)
    return count


def child(run: str, n: int, layout_name: str) -> None:
    layout = LAYOUTS[layout_name]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "labels.pdf"
        before = resource.getrusage(resource.RUSAGE_SELF)
        cpu_before = before.ru_utime + before.ru_stime
        start = time.perf_counter()
        if run == "baseline":
            pages = baseline_pdf(synthetic_labels(n), layout, path)
        else:
            pages = write_pdf(synthetic_labels(n), layout, path)
        seconds = time.perf_counter() - start
        size = path.stat().st_size
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result = {
        "pages": pages,
        "seconds": seconds,
        "cpu": usage.ru_utime + usage.ru_stime - cpu_before,
        "peak_kib": usage.ru_maxrss,  # KiB on Linux
        "bytes": size,
    }
    print(json.dumps(result))


def measure(run: str, n: int, layout_name: str) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", run, "--n", str(n), "--layout", layout_name],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    if proc.returncode:
        sys.exit(f"{run} run failed:\n{proc.stderr}")
    out = proc.stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="number of checkpoints (5000)")
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="dense")
    parser.add_argument("--child", choices=["labels", "baseline"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.n, args.layout)
        return

    small = max(1, args.n // 10)
    runs = [
        (f"labels ({args.layout})", "labels", args.n),
        (f"labels ({args.layout}), n/10", "labels", small),
        ("baseline: bare qrcode.make() pasted", "baseline", args.n),
    ]
    results = {}
    for title, run, n in runs:
        results[title] = (n, measure(run, n, args.layout))
        print(f"done: {title}", file=sys.stderr)

    print(
        f"Label sheets, layout `{args.layout}`, {args.n} checkpoints, Python {sys.version.split()[0]}"
    )
    print(
        f"({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end; each run "
        "in its own process; CPU = user + system time; peak = ru_maxrss)\n"
    )
    print(
        "| run | labels | pages | wall s | CPU s | pages/s (wall) | pages/s (CPU) "
        "| peak RSS (MiB) | PDF (MiB) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for title, (n, r) in results.items():
        print(
            f"| {title} | {n} | {r['pages']} | {r['seconds']:.1f} | {r['cpu']:.1f} | "
            f"{r['pages'] / r['seconds']:.2f} | {r['pages'] / r['cpu']:.2f} | "
            f"{r['peak_kib'] / 1024:.0f} | {r['bytes'] / 2**20:.1f} |"
        )
    full = results[runs[0][0]][1]
    base = results[runs[2][0]][1]
    part = results[runs[1][0]][1]
    print(
        f"\nLabels vs baseline: {full['seconds'] / base['seconds']:.2f}x wall time, "
        f"{full['cpu'] / base['cpu']:.2f}x CPU time; "
        f"peak memory, {args.n} vs {small} labels: {full['peak_kib'] / part['peak_kib']:.2f}x"
    )


if __name__ == "__main__":
    main()
