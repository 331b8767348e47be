"""Benchmark: the photo upload pipeline on phone-sized 12 MP JPEGs, against a naive baseline.

    python bench/bench_photos.py [--n 200]

The photos (4000 x 3000, grain over a blurred scene, about 3 MB each at quality 92, EXIF with
GPS as a camera writes it) are generated once into bench/.cache/photos-12mp/ and reused.

Each run is a child process of its own, so peak memory (VmHWM) belongs to it alone; "work" is the peak minus the process's size just before the first photo (interpreter, Pillow).

* ``pipeline``: what the server does for ``PUT /api/photos/{sha256}`` minus HTTP and the
  database: ``server.photos.receive`` (stream in 64 KiB chunks, hash, count), hash check, format
  sniff, ``process_image`` (pixel limit, decode every byte, metadata stripped, thumbnail from a
  draft-mode decode), both files published through ``LocalPhotoStore.put_file`` (fsync, rename);
* ``pipeline, rotated``: the same photos tagged EXIF orientation 6 (a portrait shot as cameras
  store it), a quarter of them: these must be decoded in full, turned and re-encoded;
* ``baseline``: ``Image.open(); img.load(); img.thumbnail((320, 320)); img.save()`` per photo,
  reading the same files: a full decode, nothing stored but the thumbnail, no checks.

Prints a markdown table and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw, ImageFilter  # noqa: E402

CACHE = ROOT / "bench" / ".cache" / "photos-12mp"
SIZE = (4000, 3000)
QUALITY = 92
CHUNK = 64 * 1024
MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 50_000_000


def camera_exif(orientation: int) -> bytes:
    """EXIF as a phone writes it: make, model, orientation and a GPS position."""
    exif = Image.Exif()
    exif[0x010F] = "BenchPhone"
    exif[0x0110] = "BP-12"
    exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (31.0, 14.0, 1.5)
    gps[3], gps[4] = "E", (121.0, 28.0, 2.5)
    return exif.tobytes()


def generate(n: int) -> list[Path]:
    """The first ``n`` cached photos, making the missing ones (deterministic, seeded by index)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    paths = [CACHE / f"photo-{i:03d}.jpg" for i in range(n)]
    missing = [i for i, p in enumerate(paths) if not p.exists()]
    if not missing:
        return paths
    print(f"generating {len(missing)} photos into {CACHE} (once)", file=sys.stderr, flush=True)
    big = (SIZE[0] + 400, SIZE[1] + 300)
    rng = random.Random(12)
    grain = Image.merge("RGB", [Image.effect_noise(big, 18) for _ in range(3)])
    ramp = Image.linear_gradient("L").resize(big)
    scene = Image.merge(
        "RGB",
        [
            ramp,
            ramp.transpose(Image.Transpose.ROTATE_90).resize(big),
            ramp.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
        ],
    )
    draw = ImageDraw.Draw(scene)
    for _ in range(80):
        x, y, r = rng.randrange(big[0]), rng.randrange(big[1]), rng.randrange(40, 700)
        colour = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.5:
            draw.rectangle((x, y, x + r, y + int(r * rng.random())), fill=colour)
        else:
            draw.ellipse((x, y, x + r, y + r), fill=colour)
    base = Image.blend(scene.filter(ImageFilter.GaussianBlur(3)), grain, 0.35)
    exif = camera_exif(1)
    for i in missing:
        photo_rng = random.Random(i)
        x, y = photo_rng.randrange(400), photo_rng.randrange(300)
        img = base.crop((x, y, x + SIZE[0], y + SIZE[1]))
        draw = ImageDraw.Draw(img)
        for _ in range(6):  # every photo differs in content, not only in crop
            px, py, r = photo_rng.randrange(SIZE[0]), photo_rng.randrange(SIZE[1]), 300
            draw.ellipse(
                (px, py, px + r, py + r), fill=tuple(photo_rng.randrange(256) for _ in range(3))
            )
        tmp = paths[i].with_suffix(".tmp")
        img.save(tmp, "JPEG", quality=QUALITY, exif=exif)
        os.replace(tmp, paths[i])
    return paths


def _variant_bytes(path: Path, rotated: bool) -> bytes:
    data = path.read_bytes()
    if rotated:
        upright, turned = camera_exif(1), camera_exif(6)
        assert len(upright) == len(turned) and data.count(upright) == 1
        data = data.replace(upright, turned)
    return data


async def _chunks(data: bytes):
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]


def _peak_kib() -> int:
    """This process's peak resident size. Not ru_maxrss: Linux carries that over from the parent
    through fork and exec, and the parent held the generated pictures."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def child(run: str, paths: list[Path]) -> dict:
    from server.photos import process_image, receive, sniff
    from server.storage import LocalPhotoStore, photo_key, thumb_key

    rotated = run == "rotated"
    expected = [hashlib.sha256(_variant_bytes(p, rotated)).hexdigest() for p in paths]
    start_rss = _peak_kib()
    with tempfile.TemporaryDirectory(dir=CACHE.parent) as tmp:
        store = LocalPhotoStore(Path(tmp) / "photos")
        stored_bytes = 0
        cpu_before = time.process_time()
        started = time.perf_counter()
        for path, sha in zip(paths, expected, strict=True):
            if run == "baseline":
                with Image.open(path) as img:
                    img.load()
                    img.thumbnail((320, 320))
                    out = Path(tmp) / f"{path.stem}_t.jpg"
                    img.save(out, "JPEG")
                    stored_bytes += out.stat().st_size
                continue
            data = _variant_bytes(path, rotated)
            received = asyncio.run(receive(_chunks(data), MAX_BYTES, None, store.work_dir()))
            assert received.sha256 == sha and sniff(received.head) == "jpeg"
            done = process_image(received.path, "jpeg", MAX_PIXELS, store.work_dir())
            received.path.unlink()
            store.put_file(photo_key(sha), done.original)
            store.put_file(thumb_key(sha), done.thumb)
            stored_bytes += done.byte_size
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_before
    return {
        "photos": len(paths),
        "seconds": seconds,
        "cpu": cpu,
        "peak_kib": _peak_kib(),
        "start_kib": start_rss,
        "input_bytes": sum(p.stat().st_size for p in paths),
        "stored_bytes": stored_bytes,
    }


def measure(run: str, n: int) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", run, "--n", str(n)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if proc.returncode:
        sys.exit(f"{run} run failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


RUNS = (
    ("pipeline", "pipeline", 1),
    ("pipeline, rotated (EXIF orientation 6)", "rotated", 4),
    ("baseline: open, load, thumbnail, save", "baseline", 1),
)


def run(n: int = 200) -> dict:
    """Generate (or reuse) ``n`` photos and measure every run; the figures as a dict."""
    generate(n)
    results = {}
    for title, name, divisor in RUNS:
        count = max(1, n // divisor)
        results[name] = {"title": title, **measure(name, count)}
        print(f"done: {title}", file=sys.stderr, flush=True)
    pipeline, baseline = results["pipeline"], results["baseline"]
    rate = {k: r["photos"] / r["seconds"] for k, r in results.items()}
    cpu_rate = {k: r["photos"] / r["cpu"] for k, r in results.items()}
    results["ratios"] = {
        "speed": rate["pipeline"] / rate["baseline"],
        "speed_cpu": cpu_rate["pipeline"] / cpu_rate["baseline"],
        "speed_rotated": rate["rotated"] / rate["baseline"],
        "peak_memory": pipeline["peak_kib"] / baseline["peak_kib"],
        "work_memory": (pipeline["peak_kib"] - pipeline["start_kib"])
        / max(1, baseline["peak_kib"] - baseline["start_kib"]),
    }
    return results


def markdown(results: dict) -> str:
    lines = [
        f"Photo pipeline on 12 MP phone JPEGs ({SIZE[0]} x {SIZE[1]}, quality {QUALITY}, "
        f"EXIF with GPS), Python {sys.version.split()[0]}",
        f"({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end; one photo at "
        "a time, each run in its own process; CPU = user + system; peak = VmHWM, work = peak "
        "minus the size before the first photo)\n",
        "| run | photos | MB in | wall s | CPU s | photos/s | peak RSS (MiB) | work (MiB) "
        "| stored MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("pipeline", "rotated", "baseline"):
        r = results[name]
        lines.append(
            f"| {r['title']} | {r['photos']} | {r['input_bytes'] / 1e6:.0f} | {r['seconds']:.1f} "
            f"| {r['cpu']:.1f} | {r['photos'] / r['seconds']:.2f} | {r['peak_kib'] / 1024:.0f} "
            f"| {(r['peak_kib'] - r['start_kib']) / 1024:.0f} | {r['stored_bytes'] / 1e6:.1f} |"
        )
    ratios = results["ratios"]
    lines.append(
        f"\nPipeline vs baseline: **{ratios['speed']:.2f}x** photos/s by wall time (target 3x), "
        f"**{ratios['speed_cpu']:.2f}x** by CPU time (steadier on a shared machine); "
        f"rotated photos {ratios['speed_rotated']:.2f}x; peak memory "
        f"{ratios['peak_memory']:.2f}x, work memory {ratios['work_memory']:.2f}x."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200, help="number of photos (200)")
    parser.add_argument(
        "--child", choices=["pipeline", "rotated", "baseline"], help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, generate(args.n))))
        return
    print(markdown(run(args.n)))


if __name__ == "__main__":
    main()
