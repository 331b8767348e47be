"""``xunjian backup`` / ``xunjian restore`` round trip, as an operator runs them (the CLI), on the
test database (SQLite or PostgreSQL): a site, an inspection with a photo and a work order come back
identical, photo bytes and all, into a fresh database and data directory."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
import uuid
from datetime import UTC, datetime

import pytest
from conftest import ROOT
from pg_databases import drop_database, recreate_database

pytestmark = pytest.mark.api


def _jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), tuple(os.urandom(3))).save(buffer, "JPEG")
    return buffer.getvalue()


def _cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


async def _rows(url: str, sql: str) -> list[dict]:
    """Rows as plain dicts, read straight from the database (not through the app's engine)."""
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute(sql).fetchall()]
        finally:
            conn.close()
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return [dict(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


@pytest.fixture
async def target(database_url, tmp_path):
    """An empty database and data directory of the same kind as the test database."""
    data = tmp_path / "restored"
    if database_url.startswith("postgres"):
        url = database_url.rpartition("/")[0] + "/xunjian_restore_test"
        await recreate_database(url)
        yield url, data
        await drop_database(url)
    else:
        yield f"sqlite:///{data / 'xunjian.sqlite3'}", data


async def test_backup_and_restore_round_trip(
    settings, make_site, make_user, login, target, tmp_path
):
    from server.tables.accounts import Department
    from server.tables.inspections import Inspection, InspectionPhoto
    from server.tables.work_orders import WorkOrder

    site = await make_site(checkpoints=2)
    patrol = await make_user("patrol", sites=[site.id])
    client = await login(patrol)
    body = _jpeg()
    sha = hashlib.sha256(body).hexdigest()
    uploaded = await client.put(
        f"/api/photos/{sha}", content=body, headers={"Content-Type": "image/jpeg"}
    )
    assert uploaded.status_code < 300, uploaded.text
    now = datetime.now(UTC)
    inspection_id = uuid.uuid4()
    await Inspection.insert(
        Inspection(
            id=inspection_id,
            checkpoint=site.checkpoint_ids[0],
            inspector=patrol.id,
            device_time=now,
            received_at=now,
            source="scan",
            body_hash="0" * 64,
        )
    )
    await InspectionPhoto.insert(InspectionPhoto(inspection=inspection_id, photo=sha))
    engineering = (
        await Department.select(Department.id).where(Department.code == "engineering").first()
    )["id"]
    order_id = (
        await WorkOrder.insert(
            WorkOrder(
                site=site.id,
                checkpoint=site.checkpoint_ids[0],
                department=engineering,
                source="inspection",
                status="raised",
                title="消防栓箱门损坏",
                raised_by=patrol.id,
                raised_at=now,
                created_at=now,
                updated_at=now,
            )
        ).returning(WorkOrder.id)
    )[0]["id"]
    (settings.data_dir / "secret_key").write_text("the-label-signing-key")

    source_env = {
        "XUNJIAN_DATABASE_URL": settings.database_url,
        "XUNJIAN_DATA_DIR": str(settings.data_dir),
    }
    archive = tmp_path / "nightly" / "backup.tar.gz"
    made = _cli(source_env, "backup", "--output", str(archive))
    assert made.returncode == 0, made.stderr
    assert archive.stat().st_mode & 0o077 == 0
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())
    kind = "postgresql" if settings.is_postgres else "sqlite"
    assert manifest["database"] == kind
    assert manifest["migration"] and manifest["version"]
    assert manifest["counts"]["site"] >= 1 and manifest["counts"]["work_order"] >= 1
    assert f"photos/{sha[:2]}/{sha[2:4]}/{sha}.jpg" in names
    assert f"photos/{sha[:2]}/{sha[2:4]}/{sha}_t.jpg" in names
    assert manifest["photos"] == sum(n.startswith("photos/") for n in names)
    assert ("database.pgdump" if settings.is_postgres else "database.sqlite3") in names

    url, data = target
    target_env = {"XUNJIAN_DATABASE_URL": url, "XUNJIAN_DATA_DIR": str(data)}
    restored = _cli(target_env, "restore", str(archive))
    assert restored.returncode == 0, restored.stderr

    queries = [
        f"SELECT * FROM site WHERE id = {site.id}",
        f"SELECT * FROM checkpoint WHERE site = {site.id} ORDER BY id",
        f"SELECT * FROM inspection WHERE id = '{inspection_id}'",
        f"SELECT * FROM inspection_photo WHERE inspection = '{inspection_id}'",
        f"SELECT * FROM photo WHERE sha256 = '{sha}'",
        f"SELECT * FROM work_order WHERE id = {order_id}",
        f"SELECT id, username, password, role FROM xj_user WHERE id = {patrol.id}",
        "SELECT name FROM migration ORDER BY id",
    ]
    for sql in queries:
        before = await _rows(settings.database_url, sql)
        assert before, sql
        assert await _rows(url, sql) == before, sql
    for key in (f"{sha[:2]}/{sha[2:4]}/{sha}.jpg", f"{sha[:2]}/{sha[2:4]}/{sha}_t.jpg"):
        assert (data / "photos" / key).read_bytes() == (
            settings.data_dir / "photos" / key
        ).read_bytes()
    assert (data / "photos" / f"{sha[:2]}/{sha[2:4]}/{sha}.jpg").read_bytes() == body
    assert (data / "secret_key").read_text() == "the-label-signing-key"
    assert (data / "secret_key").stat().st_mode & 0o077 == 0

    # Now the target holds data: a second restore is refused, and --force replaces it.
    again = _cli(target_env, "restore", str(archive))
    assert again.returncode == 1
    assert "--force" in again.stderr and "已有数据" in again.stderr
    forced = _cli(target_env, "restore", "--force", str(archive))
    assert forced.returncode == 0, forced.stderr
    assert await _rows(url, queries[5]) == await _rows(settings.database_url, queries[5])


async def test_restore_refuses_a_file_that_is_not_a_backup(settings, tmp_path):
    bogus = tmp_path / "bogus.tar.gz"
    with tarfile.open(bogus, "w:gz") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    result = _cli(
        {
            "XUNJIAN_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
            "XUNJIAN_DATA_DIR": str(tmp_path / "d"),
        },
        "restore",
        str(bogus),
    )
    assert result.returncode == 1
    assert "not a Xunjian backup" in result.stderr


async def test_restore_refuses_another_kind_of_database(settings, tmp_path):
    from server.backup import backup

    if settings.is_postgres:
        pytest.skip("the SQLite side of this check runs on SQLite")
    archive, _ = backup(settings, tmp_path / "b.tar.gz")
    result = _cli(
        {
            "XUNJIAN_DATABASE_URL": "postgres://postgres@127.0.0.1:1/nothing",
            "XUNJIAN_DATA_DIR": str(tmp_path / "d"),
        },
        "restore",
        str(archive),
    )
    assert result.returncode == 1
    assert "same kind of database" in result.stderr
