"""``xunjian backup`` and ``xunjian restore``: the database, the photos and the signing key in one
``.tar.gz``.

An archive holds:

- ``manifest.json``: format, app version, when, which database kind, the last migration applied,
  row counts of the main tables (taken in the same snapshot as the dump) and the photo count;
- the database: ``database.sqlite3`` (SQLite's online backup API: a consistent copy while the
  server keeps running) or ``database.pgdump`` (``pg_dump --format=custom`` from the snapshot
  the counts were read in);
- ``photos/``: the photo store's files (content-addressed, never changed once written). They are
  copied *after* the database snapshot: a photo is stored before any row refers to it, so every
  photo the snapshot refers to is in the archive;
- ``secret_key``: the key that signs the printed QR labels (without it every label would have to
  be printed again), when it lives in the data directory.

The archive is written 0600 next to its final name and renamed into place when complete.

``restore`` puts an archive into an empty database and data directory; it refuses ones holding
sites, users or photos unless ``--force`` (then the database is replaced wholesale). It needs the
same kind of database the backup came from (SQLite to SQLite, PostgreSQL to PostgreSQL).
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_NAME = "database.sqlite3"
PGDUMP_NAME = "database.pgdump"
#: Tables whose row counts go into the manifest (and are compared after a restore).
COUNTED = (
    "site",
    "building",
    "checkpoint",
    "xj_user",
    "inspection",
    "photo",
    "work_order",
    "work_order_event",
)


class BackupError(RuntimeError):
    """Something the person running the command must fix; the message says what (zh / en)."""


@dataclass(frozen=True)
class Manifest:
    data: dict

    @property
    def database(self) -> str:
        return self.data["database"]


def _app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("xunjian")
    except PackageNotFoundError:
        return "unknown"


def pg_tool(name: str) -> str:
    """``pg_dump`` / ``pg_restore`` on PATH, else from the highest /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[4]) if Path(p).parts[4].isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    raise BackupError(
        f"找不到 {name}：请安装 PostgreSQL 客户端（apt install postgresql-client）/ "
        f"{name} not found: install the PostgreSQL client tools (apt install postgresql-client)"
    )


def _sqlite_path(database_url: str) -> Path:
    return Path(database_url.removeprefix("sqlite:///"))


def _photo_files(photos: Path) -> list[Path]:
    if not photos.is_dir():
        return []
    return sorted(
        p
        for p in photos.rglob("*")
        if p.is_file()
        and ".incoming" not in p.relative_to(photos).parts
        and not p.name.startswith(".")
    )


# --- counts ----------------------------------------------------------------------------------------


def _sqlite_counts(conn: sqlite3.Connection) -> tuple[dict[str, int], str | None]:
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    counts = {
        t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in COUNTED if t in tables
    }
    migration = None
    if "migration" in tables:
        row = conn.execute("SELECT name FROM migration ORDER BY id DESC LIMIT 1").fetchone()
        migration = row[0] if row else None
    return counts, migration


async def _pg_counts(conn) -> tuple[dict[str, int], str | None]:
    tables = {
        r["table_name"]
        for r in await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
    }
    counts = {}
    for table in COUNTED:
        if table in tables:
            counts[table] = await conn.fetchval(f'SELECT count(*) FROM "{table}"')
    migration = None
    if "migration" in tables:
        migration = await conn.fetchval("SELECT name FROM migration ORDER BY id DESC LIMIT 1")
    return counts, migration


# --- backup ------------------------------------------------------------------------------------------


def _dump_sqlite(database_url: str, target: Path) -> tuple[dict[str, int], str | None]:
    source_path = _sqlite_path(database_url)
    if not source_path.exists():
        raise BackupError(f"数据库文件不存在 / no database file at {source_path}")
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
        return _sqlite_counts(copy)
    finally:
        copy.close()
        source.close()


async def _dump_postgres(database_url: str, target: Path) -> tuple[dict[str, int], str | None]:
    import asyncpg

    pg_dump = pg_tool("pg_dump")
    conn = await asyncpg.connect(database_url)
    try:
        # The counts and the dump see the same moment: pg_dump joins this transaction's snapshot.
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            counts, migration = await _pg_counts(conn)
            process = await asyncio.create_subprocess_exec(
                pg_dump,
                "--format=custom",
                "--no-owner",
                "--no-acl",
                f"--snapshot={snapshot}",
                f"--file={target}",
                f"--dbname={database_url}",
                stderr=subprocess.PIPE,
            )
            _, stderr = await process.communicate()
            if process.returncode != 0:
                raise BackupError(f"pg_dump 失败 / pg_dump failed: {stderr.decode().strip()}")
    finally:
        await conn.close()
    return counts, migration


def backup(settings, output: Path | None = None) -> tuple[Path, dict]:
    """Write the archive; returns its path and manifest."""
    now = datetime.now(UTC)
    if output is None:
        output = Path.cwd() / f"xunjian-backup-{now:%Y%m%d-%H%M%S}.tar.gz"
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    data_dir = Path(settings.data_dir)
    photos = data_dir / "photos"
    with tempfile.TemporaryDirectory(prefix="xunjian-backup-") as tmp:
        tmp_dir = Path(tmp)
        if settings.is_postgres:
            db_name = PGDUMP_NAME
            counts, migration = asyncio.run(
                _dump_postgres(settings.database_url, tmp_dir / db_name)
            )
        else:
            db_name = SQLITE_NAME
            counts, migration = _dump_sqlite(settings.database_url, tmp_dir / db_name)
        files = _photo_files(photos)
        secret = data_dir / "secret_key"
        manifest = {
            "format": FORMAT,
            "app": "xunjian",
            "version": _app_version(),
            "created_at": now.isoformat(),
            "database": "postgresql" if settings.is_postgres else "sqlite",
            "migration": migration,
            "counts": counts,
            "photos": len(files),
            "secret_key": secret.is_file(),
        }
        (tmp_dir / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
        partial = output.with_name(f".{output.name}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as archive:
                archive.add(tmp_dir / MANIFEST, MANIFEST)
                archive.add(tmp_dir / db_name, db_name)
                if secret.is_file():
                    archive.add(secret, "secret_key")
                for path in files:
                    archive.add(path, f"photos/{path.relative_to(photos).as_posix()}")
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(partial, output)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return output, manifest


# --- restore -----------------------------------------------------------------------------------------


def read_manifest(archive: tarfile.TarFile) -> Manifest:
    try:
        member = archive.getmember(MANIFEST)
    except KeyError:
        raise BackupError("不是巡检备份文件 / not a Xunjian backup (no manifest.json)") from None
    data = json.loads(archive.extractfile(member).read())
    if data.get("app") != "xunjian" or data.get("format") != FORMAT:
        raise BackupError(f"无法识别的备份格式 / unknown backup format {data.get('format')!r}")
    return Manifest(data)


def _sqlite_is_empty(path: Path) -> bool:
    if not path.exists():
        return True
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        counts, _ = _sqlite_counts(conn)
    finally:
        conn.close()
    return not counts.get("site") and not counts.get("xj_user")


async def _pg_is_empty(database_url: str) -> bool:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        counts, _ = await _pg_counts(conn)
    finally:
        await conn.close()
    return not counts.get("site") and not counts.get("xj_user")


def _restore_sqlite(database_url: str, dump: Path) -> None:
    target = _sqlite_path(database_url)
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{dump}?mode=ro", uri=True)
    destination = sqlite3.connect(target, timeout=30)
    try:
        # The backup API replaces every page of the destination, WAL and all.
        source.backup(destination)
    finally:
        destination.close()
        source.close()


async def _restore_postgres(database_url: str, dump: Path) -> None:
    import asyncpg

    pg_restore = pg_tool("pg_restore")
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()
    process = await asyncio.create_subprocess_exec(
        pg_restore,
        "--no-owner",
        "--no-acl",
        "--exit-on-error",
        "--single-transaction",
        f"--dbname={database_url}",
        str(dump),
        stderr=subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    if process.returncode != 0:
        raise BackupError(f"pg_restore 失败 / pg_restore failed: {stderr.decode().strip()}")


def _current_counts(settings) -> dict[str, int]:
    if settings.is_postgres:
        import asyncpg

        async def counts():
            conn = await asyncpg.connect(settings.database_url)
            try:
                return (await _pg_counts(conn))[0]
            finally:
                await conn.close()

        return asyncio.run(counts())
    conn = sqlite3.connect(_sqlite_path(settings.database_url))
    try:
        return _sqlite_counts(conn)[0]
    finally:
        conn.close()


def restore(settings, archive_path: Path, force: bool = False) -> dict:
    """Restore the archive into the settings' database and data directory; returns the manifest.
    Raises BackupError (with a message for the person) when it cannot or must not."""
    archive_path = Path(archive_path)
    if not archive_path.is_file():
        raise BackupError(f"找不到备份文件 / no such file: {archive_path}")
    data_dir = Path(settings.data_dir)
    photos = data_dir / "photos"
    with tarfile.open(archive_path, "r:gz") as archive:
        manifest = read_manifest(archive)
        kind = "postgresql" if settings.is_postgres else "sqlite"
        if manifest.database != kind:
            raise BackupError(
                f"备份来自 {manifest.database}，目标数据库是 {kind}：只能恢复到同类数据库 / "
                f"the backup is of a {manifest.database} database and the target is {kind}: "
                "restore into the same kind of database"
            )
        if not force:
            empty = (
                asyncio.run(_pg_is_empty(settings.database_url))
                if settings.is_postgres
                else _sqlite_is_empty(_sqlite_path(settings.database_url))
            )
            if not empty or _photo_files(photos):
                raise BackupError(
                    "目标数据库或数据目录中已有数据；确认要覆盖请加 --force / "
                    "the target database or data directory already holds data; "
                    "add --force to replace it"
                )
        with tempfile.TemporaryDirectory(prefix="xunjian-restore-") as tmp:
            tmp_dir = Path(tmp)
            db_name = PGDUMP_NAME if settings.is_postgres else SQLITE_NAME
            archive.extract(db_name, tmp_dir, filter="data")
            if settings.is_postgres:
                asyncio.run(_restore_postgres(settings.database_url, tmp_dir / db_name))
            else:
                _restore_sqlite(settings.database_url, tmp_dir / db_name)
        photos.mkdir(parents=True, exist_ok=True)
        for member in archive.getmembers():
            if member.isfile() and member.name.startswith("photos/"):
                relative = member.name.removeprefix("photos/")
                final = photos / relative
                if ".." in Path(relative).parts or not final.resolve().is_relative_to(
                    photos.resolve()
                ):
                    raise BackupError(
                        f"备份中有可疑路径 / unsafe path in the backup: {member.name}"
                    )
                final.parent.mkdir(parents=True, exist_ok=True)
                staged = final.with_name(f".{final.name}.restoring")
                with archive.extractfile(member) as source, open(staged, "wb") as handle:
                    shutil.copyfileobj(source, handle)
                os.replace(staged, final)
            elif member.name == "secret_key" and member.isfile():
                data_dir.mkdir(parents=True, exist_ok=True)
                secret = data_dir / "secret_key"
                with contextlib.suppress(FileNotFoundError):
                    secret.unlink()
                fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as handle, archive.extractfile(member) as source:
                    handle.write(source.read())
    restored = _current_counts(settings)
    expected = manifest.data["counts"]
    if restored != expected:
        raise BackupError(
            f"恢复后的行数与备份不符 / row counts after restore differ: {restored} != {expected}"
        )
    return manifest.data


__all__ = ["BackupError", "backup", "pg_tool", "read_manifest", "restore"]
