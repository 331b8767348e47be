"""The phone's cost: what the app shell weighs on the wire, gzipped.

    python bench/bench_shell.py

Reads the service worker's SHELL list (what a phone downloads and keeps on first visit), maps
each URL to its file, and sums the JavaScript and CSS gzipped at level 6 (what a proxy or the
server would send). The QR decoders (jsQR, zxing-wasm) are counted apart: the budget of
200 KB excludes them. Icons and the manifest are listed for context only.

Prints a markdown table.
"""

from __future__ import annotations

import gzip
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_BYTES = 200 * 1024
DECODERS = ("/vendor/jsqr/", "/vendor/zxing-wasm/")


def shell_urls() -> list[str]:
    source = (ROOT / "web" / "sw.js").read_text(encoding="utf-8")
    block = re.search(r"const SHELL = \[(.*?)\];", source, re.S)
    if block is None:
        raise SystemExit("SHELL list not found in web/sw.js")
    return re.findall(r'"([^"]+)"', block.group(1))


def file_for(url: str) -> Path:
    if url == "/":
        return ROOT / "web" / "index.html"
    if url == "/manifest.webmanifest":
        return ROOT / "web" / "manifest.webmanifest"
    if url.startswith("/static/"):
        return ROOT / "web" / url.removeprefix("/static/")
    if url.startswith("/vendor/"):
        return ROOT / "node_modules" / url.removeprefix("/vendor/")
    raise SystemExit(f"no file known for shell URL {url}")


def gzipped_size(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=6))


def main() -> None:
    rows = []
    for url in shell_urls():
        path = file_for(url)
        if not path.exists():
            raise SystemExit(f"{url}: {path} is missing (run npm ci?)")
        kind = (
            "decoder"
            if url.startswith(DECODERS)
            else "code"
            if path.suffix in {".js", ".mjs", ".css", ".html"}
            else "other"
        )
        rows.append((url, kind, path.stat().st_size, gzipped_size(path)))
    code = [r for r in rows if r[1] == "code"]
    code_gz = sum(r[3] for r in code)
    code_raw = sum(r[2] for r in code)
    decoder_gz = sum(r[3] for r in rows if r[1] == "decoder")
    print("| shell part | files | raw KB | gzipped KB |")
    print("|---|---:|---:|---:|")
    print(
        f"| JS, CSS, HTML (budgeted) | {len(code)} | {code_raw / 1024:.1f} | {code_gz / 1024:.1f} |"
    )
    print(
        f"| QR decoder (not budgeted) | {sum(1 for r in rows if r[1] == 'decoder')} | "
        f"{sum(r[2] for r in rows if r[1] == 'decoder') / 1024:.1f} | {decoder_gz / 1024:.1f} |"
    )
    print(
        f"| icons, manifest | {sum(1 for r in rows if r[1] == 'other')} | "
        f"{sum(r[2] for r in rows if r[1] == 'other') / 1024:.1f} | "
        f"{sum(r[3] for r in rows if r[1] == 'other') / 1024:.1f} |"
    )
    print()
    print(
        f"Budgeted shell: **{code_gz / 1024:.1f} KB gzipped** of a {BUDGET_BYTES // 1024} KB budget "
        f"({code_gz / BUDGET_BYTES:.0%} of it)."
    )
    print()
    print(
        "Largest budgeted files (gzipped KB): "
        + ", ".join(
            f"`{url}` {gz / 1024:.1f}" for url, _, _, gz in sorted(code, key=lambda r: -r[3])[:5]
        )
    )
    if code_gz > BUDGET_BYTES:
        sys.exit(f"shell is {code_gz} bytes gzipped, over the {BUDGET_BYTES} byte budget")


if __name__ == "__main__":
    main()
