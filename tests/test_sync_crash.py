"""The server is killed (SIGKILL) in the middle of a sync and restarted: every record is still
stored exactly once, and right after the kill a batch is either all there or not there at all.

A real ``xunjian serve`` on its own SQLite database with the demo site, driven over HTTP.
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from conftest import demo_server

from qr.signing import sign

pytestmark = pytest.mark.api

SECRET = "crash-test-secret"
BATCH = 500


@pytest.fixture
def server(tmp_path):
    database = tmp_path / "crash.sqlite3"
    live = demo_server(f"sqlite:///{database}", tmp_path / "data", SECRET, "crash-demo-pw")
    live.start()
    yield live, database
    live.stop()


def _checklists(database: Path) -> list[dict]:
    """The demo's facility checkpoints with their checklist items (read straight from the file)."""
    db = sqlite3.connect(database)
    try:
        rows = db.execute(
            "SELECT c.code, c.label_version, s.code, c.template, s.id FROM checkpoint c "
            "JOIN site s ON s.id = c.site WHERE c.kind = 'facility' AND c.template IS NOT NULL "
            "AND c.active ORDER BY c.id LIMIT 50"
        ).fetchall()
        items = {}
        for template, code, required in db.execute(
            "SELECT template, code, photo_required_on_fail FROM template_item"
        ):
            items.setdefault(template, []).append((code, bool(required)))
    finally:
        db.close()
    return [
        {"code": code, "version": version, "site_code": site_code, "site": site, "items": items[t]}
        for code, version, site_code, t, site in rows
    ]


def _batch(checkpoints: list[dict]) -> list[dict]:
    when = datetime.now(UTC).astimezone(timezone(timedelta(hours=8)))
    records = []
    for i in range(BATCH):
        cp = checkpoints[i % len(checkpoints)]
        items = [{"item": code, "result": "pass"} for code, _ in cp["items"]]
        if i % 50 == 0:
            # Now and then a failed item that needs no photo: findings are part of the batch.
            for item, (_, required) in zip(items, cp["items"], strict=True):
                if not required:
                    item.update(result="fail", note="损坏")
                    break
        records.append(
            {
                "id": str(uuid.uuid4()),
                "checkpoint": cp["code"],
                "site": cp["site"],
                "version": cp["version"],
                "signature": sign(SECRET.encode(), cp["site_code"], cp["code"], cp["version"]),
                "source": "scan",
                "device_time": (when + timedelta(seconds=i)).isoformat(),
                "items": items,
                "note": f"第{i}条",
            }
        )
    return records


def _stored(database: Path, records: list[dict]) -> int:
    db = sqlite3.connect(database)
    try:
        marks = ",".join("?" * len(records))
        return db.execute(
            f"SELECT count(*) FROM inspection WHERE id IN ({marks})", [r["id"] for r in records]
        ).fetchone()[0]
    finally:
        db.close()


def _login(url: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=60)
    response = client.post(
        "/api/auth/login", json={"username": "patrol", "password": "crash-demo-pw"}
    )
    assert response.status_code == 200, response.text
    return client


def test_sigkill_in_the_middle_of_a_sync(server):
    live, database = server
    checkpoints = _checklists(database)
    assert checkpoints
    client = _login(live.url)

    # How long one batch takes here, to aim the kills inside it.
    warm = _batch(checkpoints)
    started = time.monotonic()
    response = client.post("/api/sync", json={"records": warm})
    duration = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert {r["status"] for r in response.json()["results"]} == {"accepted"}

    interrupted = 0
    fractions = (0.15, 0.4, 0.65, 0.9, 1.2)
    for fraction in fractions:
        records = _batch(checkpoints)
        outcome: dict = {}

        def send(records=records, outcome=outcome):
            try:
                outcome["response"] = client.post("/api/sync", json={"records": records})
            except httpx.HTTPError as error:
                outcome["error"] = error

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(duration * fraction)
        live.process.send_signal(signal.SIGKILL)
        live.process.wait()
        sender.join(30)
        if "error" in outcome:
            interrupted += 1

        # Right after the kill: the batch is all there or not there at all, never half.
        before = _stored(database, records)
        assert before in (0, BATCH), (fraction, before)
        print(
            f"kill at {fraction:.2f} of {duration:.2f} s: in flight={'error' in outcome}, stored={before}"
        )

        live.start()
        again = client.post("/api/sync", json={"records": records})
        assert again.status_code == 200, again.text
        results = again.json()["results"]
        assert [r["id"] for r in results] == [r["id"] for r in records]
        expected = "duplicate" if before == BATCH else "accepted"
        assert {r["status"] for r in results} == {expected}, (fraction, before)
        assert _stored(database, records) == BATCH

        # And once more: nothing doubles.
        third = client.post("/api/sync", json={"records": records})
        assert {r["status"] for r in third.json()["results"]} == {"duplicate"}
        assert _stored(database, records) == BATCH

    # At least one kill landed while the request was in flight (else this proved nothing).
    assert interrupted >= 1
    db = sqlite3.connect(database)
    try:
        # Each failed item raised one order per checkpoint item, joined by the later failures.
        orders = db.execute(
            "SELECT count(*), count(DISTINCT checkpoint || ':' || item_code) FROM work_order "
            "WHERE source = 'inspection'"
        ).fetchone()
        assert orders[0] == orders[1] and orders[0] > 0
        reports = db.execute("SELECT count(*) FROM work_order_report").fetchone()[0]
        # One report per failed item: the warm-up batch and each killed one, each stored once.
        assert reports == (1 + len(fractions)) * (BATCH // 50)
    finally:
        db.close()
    client.close()
