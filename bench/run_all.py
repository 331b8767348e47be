"""Run every benchmark in bench/ and write their tables to bench/RESULTS.md.

    python bench/run_all.py [--only NAME]

Each benchmark measures its own baseline in the same run and reports ratios, because these
machines are noisy; absolute numbers are only context.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


def previous_sections() -> dict[str, str]:
    """The sections already in RESULTS.md, so ``--only`` replaces one and keeps the others."""
    path = HERE / "RESULTS.md"
    if not path.exists():
        return {}
    text = path.read_text(encoding="utf-8")
    sections = {}
    for match in re.finditer(r"^## (bench_\w+)(.*?)(?=^## bench_|\Z)", text, re.S | re.M):
        sections[match.group(1)] = f"## {match.group(1)}{match.group(2).rstrip()}\n"
    return sections


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", help="run only bench_<NAME>.py")
    args = parser.parse_args()
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if s.stem == f"bench_{args.only}"]
    sections = previous_sections()
    for script in scripts:
        print(f"==> {script.name}", flush=True)
        started = time.monotonic()
        result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
        elapsed = time.monotonic() - started
        print(result.stdout)
        if result.returncode != 0:
            print(result.stderr, file=sys.stderr)
            return result.returncode
        sections[script.stem] = (
            f"## {script.stem}\n\n{result.stdout.strip()}\n\n"
            f"(ran in {elapsed:.0f} s on {datetime.now(UTC):%Y-%m-%d})\n"
        )
    header = (
        "# Benchmark results\n\n"
        f"Written by `python bench/run_all.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}.\n"
        "Ratios compare against a baseline measured in the same run; each section says when it ran.\n\n"
    )
    (HERE / "RESULTS.md").write_text(
        header + "\n".join(sections[name] for name in sorted(sections)), encoding="utf-8"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
