"""Benchmark: sync ingest through the real HTTP endpoint against a raw bulk insert of the same rows.

    python bench/bench_sync.py [--records 100000] [--batch 200]

* ``http``: ``xunjian serve`` (uvicorn) in a subprocess on a fresh SQLite database with the demo
  site; an httpx client logs in as the demo patrol and POSTs the records to ``/api/sync`` in
  batches, one after the other. Every record is a scanned, all-pass check of a facility
  checkpoint (signed label, ~6 items, no photos): the full path — session lookup, strict
  decoding, label verification, checklist validation, duplicate check, one write transaction
  per batch. The request bodies are encoded before the clock starts.
* ``raw``: the same rows (inspection + item_result) inserted with ``sqlite3.executemany`` into
  a copy of the same database, one transaction per batch of the same size, WAL mode like the
  server. No checks at all: the floor of what storing the rows costs.
* With ``XUNJIAN_BENCH_PG_URL`` (a database URL on a PostgreSQL cluster; two databases are
  created next to it, ``<name>_http`` and ``<name>_raw``): the same on PostgreSQL, the baseline
  being asyncpg's ``copy_records_to_table`` (COPY) per batch.

The ratio http/raw is the figure of merit (target ≥ 25 %). Prints a markdown section.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import msgspec

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from qr.signing import sign  # noqa: E402
from server.sync import INSPECTION_COLUMNS, ITEM_COLUMNS  # noqa: E402

SECRET = "bench-sync-secret"
PASSWORD = "bench-demo-pw"
ITEMS_WANTED = 6
CHINA = timezone(timedelta(hours=8))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(database_url: str, data_dir: Path, port: int) -> dict:
    return {
        **os.environ,
        "XUNJIAN_DATABASE_URL": database_url,
        "XUNJIAN_DATA_DIR": str(data_dir),
        "XUNJIAN_SECRET_KEY": SECRET,
        "XUNJIAN_BASE_URL": f"http://127.0.0.1:{port}",
        "XUNJIAN_DEMO_PASSWORD": PASSWORD,
    }


def _prepare(env: dict) -> None:
    for command in (["migrate"], ["demo"]):
        subprocess.run(
            [sys.executable, "-m", "server.cli", *command],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )


# --- what to send -------------------------------------------------------------------------------

_FIXTURE_SQL = (
    "SELECT c.id, c.code, c.label_version, c.template, s.id AS site, s.code AS site_code "
    "FROM checkpoint c JOIN site s ON s.id = c.site "
    "WHERE c.kind = 'facility' AND c.template IS NOT NULL AND c.active ORDER BY c.id"
)
_ITEMS_SQL = "SELECT template, code FROM template_item WHERE NOT is_confirmation ORDER BY id"
_CONFIRMATIONS_SQL = "SELECT template, code FROM template_item WHERE is_confirmation"
_USER_SQL = "SELECT id FROM xj_user WHERE username = 'patrol'"


def _shape(checkpoints: list[dict], items: list[tuple], confirmations: list[tuple]) -> dict:
    """The checkpoints whose checklist has about ITEMS_WANTED items (no confirmations)."""
    by_template: dict[int, list[str]] = {}
    for template, code in items:
        by_template.setdefault(template, []).append(code)
    for template, _ in confirmations:
        by_template.pop(template, None)
    best = min(
        {cp["template"] for cp in checkpoints if cp["template"] in by_template},
        key=lambda t: (abs(len(by_template[t]) - ITEMS_WANTED), t),
    )
    chosen = [cp for cp in checkpoints if cp["template"] == best]
    return {"checkpoints": chosen, "items": by_template[best]}


def _sqlite_fixture(path: Path) -> dict:
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    try:
        checkpoints = [dict(r) for r in db.execute(_FIXTURE_SQL)]
        items = [tuple(r) for r in db.execute(_ITEMS_SQL)]
        confirmations = [tuple(r) for r in db.execute(_CONFIRMATIONS_SQL)]
        user = db.execute(_USER_SQL).fetchone()[0]
    finally:
        db.close()
    return {**_shape(checkpoints, items, confirmations), "user": user}


async def _pg_fixture(url: str) -> dict:
    import asyncpg

    db = await asyncpg.connect(url)
    try:
        checkpoints = [dict(r) for r in await db.fetch(_FIXTURE_SQL)]
        items = [tuple(r) for r in await db.fetch(_ITEMS_SQL)]
        confirmations = [tuple(r) for r in await db.fetch(_CONFIRMATIONS_SQL)]
        user = await db.fetchval(_USER_SQL)
    finally:
        await db.close()
    return {**_shape(checkpoints, items, confirmations), "user": user}


def _records(fixture: dict, n: int) -> list[dict]:
    checkpoints, item_codes = fixture["checkpoints"], fixture["items"]
    secret = SECRET.encode()
    signatures = {
        cp["id"]: sign(secret, cp["site_code"], cp["code"], cp["label_version"])
        for cp in checkpoints
    }
    start = datetime.now(UTC).astimezone(CHINA) - timedelta(days=1)
    records = []
    for i in range(n):
        cp = checkpoints[i % len(checkpoints)]
        records.append(
            {
                "id": str(uuid.uuid4()),
                "checkpoint": cp["code"],
                "site": cp["site"],
                "version": cp["label_version"],
                "signature": signatures[cp["id"]],
                "source": "scan",
                "device_time": (start + timedelta(seconds=i)).isoformat(),
                "template": None,
                "items": [
                    {"item": code, "result": "pass", "note": "", "photos": []}
                    for code in item_codes
                ],
                "note": "",
                "photos": [],
            }
        )
    return records


def _rows(fixture: dict, records: list[dict]) -> tuple[list[tuple], list[tuple]]:
    """The rows the server stores for ``records``, for the raw baseline."""
    by_code = {cp["code"]: cp for cp in fixture["checkpoints"]}
    now = datetime.now(UTC)
    inspections, items = [], []
    for r in records:
        cp = by_code[r["checkpoint"]]
        device_time = datetime.fromisoformat(r["device_time"])
        inspections.append(
            (
                uuid.UUID(r["id"]),
                cp["id"],
                cp["template"],
                fixture["user"],
                device_time,
                now,
                "scan",
                r["version"],
                "",
                round((device_time - now).total_seconds()),
                hashlib.sha256(r["id"].encode()).hexdigest(),
            )
        )
        for item in r["items"]:
            items.append((uuid.UUID(r["id"]), item["item"], "pass", "", ""))
    return inspections, items


# --- the two ways in ----------------------------------------------------------------------------


def _http_run(env: dict, port: int, records: list[dict], batch: int) -> dict:
    bodies = [
        msgspec.json.encode({"records": records[i : i + batch]})
        for i in range(0, len(records), batch)
    ]
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "server.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)
        with httpx.Client(base_url=url, timeout=120) as client:
            login = client.post(
                "/api/auth/login", json={"username": "patrol", "password": PASSWORD}
            )
            login.raise_for_status()
            headers = {"content-type": "application/json"}
            accepted = 0
            cpu_before = _children_cpu(server.pid)
            started = time.perf_counter()
            for body in bodies:
                response = client.post("/api/sync", content=body, headers=headers)
                response.raise_for_status()
                accepted += sum(r["status"] == "accepted" for r in response.json()["results"])
            seconds = time.perf_counter() - started
            server_cpu = _children_cpu(server.pid) - cpu_before
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    if accepted != len(records):
        raise RuntimeError(f"only {accepted} of {len(records)} records were accepted")
    return {"seconds": seconds, "records": len(records), "server_cpu": server_cpu}


def _children_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _sqlite_raw(path: Path, fixture: dict, records: list[dict], batch: int) -> dict:
    import piccolo.engine.sqlite  # noqa: F401 (registers the same datetime/UUID adapters)

    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA foreign_keys=1")
    inspection_sql = (
        f"INSERT INTO inspection ({', '.join(INSPECTION_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(INSPECTION_COLUMNS))})"
    )
    item_sql = (
        f"INSERT INTO item_result ({', '.join(ITEM_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(ITEM_COLUMNS))})"
    )
    batches = [_rows(fixture, records[i : i + batch]) for i in range(0, len(records), batch)]
    cpu = time.process_time()
    started = time.perf_counter()
    for inspections, items in batches:
        db.execute("BEGIN IMMEDIATE")
        db.executemany(inspection_sql, inspections)
        db.executemany(item_sql, items)
        db.execute("COMMIT")
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    db.close()
    return {"seconds": seconds, "records": len(records), "cpu": cpu}


async def _pg_raw(url: str, fixture: dict, records: list[dict], batch: int) -> dict:
    import asyncpg

    batches = [_rows(fixture, records[i : i + batch]) for i in range(0, len(records), batch)]
    db = await asyncpg.connect(url)
    try:
        cpu = time.process_time()
        started = time.perf_counter()
        for inspections, items in batches:
            async with db.transaction():
                await db.copy_records_to_table(
                    "inspection", records=inspections, columns=list(INSPECTION_COLUMNS)
                )
                await db.copy_records_to_table(
                    "item_result", records=items, columns=list(ITEM_COLUMNS)
                )
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
    finally:
        await db.close()
    return {"seconds": seconds, "records": len(records), "cpu": cpu}


# --- runs ---------------------------------------------------------------------------------------


def run_sqlite(n: int, batch: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        tmp = Path(tmp)
        port = _free_port()
        database = tmp / "http.sqlite3"
        env = _env(f"sqlite:///{database}", tmp / "data", port)
        _prepare(env)
        raw_path = tmp / "raw.sqlite3"
        source, target = sqlite3.connect(database), sqlite3.connect(raw_path)
        source.backup(target)
        source.close()
        target.close()
        fixture = _sqlite_fixture(database)
        records = _records(fixture, n)
        http = _http_run(env, port, records, batch)
        raw = _sqlite_raw(raw_path, fixture, records, batch)
    return {"http": http, "raw": raw, "items": len(fixture["items"])}


def run_postgres(url: str, n: int, batch: int) -> dict:
    from pg_databases import drop_database, recreate_database

    base = url.rpartition("/")[0]
    name = url.rpartition("/")[2] or "xunjian_bench"
    http_url, raw_url = f"{base}/{name}_http", f"{base}/{name}_raw"
    with tempfile.TemporaryDirectory(prefix="bench-sync-pg-") as tmp:
        tmp = Path(tmp)
        port = _free_port()
        for db_url in (http_url, raw_url):
            asyncio.run(recreate_database(db_url))
            _prepare(_env(db_url, tmp / "data", port))
        try:
            fixture = asyncio.run(_pg_fixture(http_url))
            raw_fixture = asyncio.run(_pg_fixture(raw_url))
            records = _records(fixture, n)
            http = _http_run(_env(http_url, tmp / "data", port), port, records, batch)
            raw = asyncio.run(_pg_raw(raw_url, raw_fixture, records, batch))
        finally:
            for db_url in (http_url, raw_url):
                asyncio.run(drop_database(db_url))
    return {"http": http, "raw": raw, "items": len(fixture["items"])}


def run(records: int = 100_000, batch: int = 200, pg_url: str | None = None) -> dict:
    """Both engines when ``pg_url`` (or XUNJIAN_BENCH_PG_URL) is given, else SQLite only."""
    pg_url = pg_url or os.environ.get("XUNJIAN_BENCH_PG_URL")
    results = {"records": records, "batch": batch, "sqlite": run_sqlite(records, batch)}
    if pg_url:
        results["postgres"] = run_postgres(pg_url, records, batch)
    return results


def markdown(results: dict) -> str:
    lines = [
        f"Sync ingest: {results['records']:,} records (one facility checklist of "
        f"{results['sqlite']['items']} items, all pass, no photos) in batches of "
        f"{results['batch']}, POSTed one after the other to `/api/sync` on a real "
        f"`xunjian serve`, against a raw bulk insert of the same inspection + item rows "
        f"({os.cpu_count()} CPUs; the client runs on the same machine).\n",
        "| engine | way in | seconds | records/s | CPU s | ratio to raw |",
        "|---|---|---:|---:|---:|---:|",
    ]
    baselines = {"sqlite": "raw `sqlite3.executemany`", "postgres": "raw `COPY` (asyncpg)"}
    for engine in ("sqlite", "postgres"):
        if engine not in results:
            continue
        http, raw = results[engine]["http"], results[engine]["raw"]
        http_rate = http["records"] / http["seconds"]
        raw_rate = raw["records"] / raw["seconds"]
        lines.append(
            f"| {engine} | POST /api/sync | {http['seconds']:.1f} | {http_rate:,.0f} | "
            f"{http['server_cpu']:.1f} (server) | {http_rate / raw_rate:.0%} |"
        )
        lines.append(
            f"| {engine} | {baselines[engine]} | {raw['seconds']:.1f} | {raw_rate:,.0f} | "
            f"{raw['cpu']:.1f} (client) | 100% |"
        )
    if "postgres" not in results:
        lines.append("\n(PostgreSQL not measured: set XUNJIAN_BENCH_PG_URL.)")
    lines.append("\nTarget: POST /api/sync at ≥ 25 % of the raw insert rate.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()
    print(markdown(run(args.records, args.batch)))


if __name__ == "__main__":
    main()
