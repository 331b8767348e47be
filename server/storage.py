"""Where photo files live: a small interface, and the local-disk implementation.

Keys are relative POSIX paths (``ab/cd/<sha256>.jpg``), content-addressed, so a file once written never
changes. ``put_file`` publishes a finished local file under a key atomically: a reader (or a crash)
sees either no file or the whole file, never half of one. Issue 8 adds an S3 store behind the same
protocol.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import time
from pathlib import Path
from typing import BinaryIO, Protocol

STALE_WORK_SECONDS = 24 * 3600
_swept: set[Path] = set()
_KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}(_t)?\.jpg$")


def valid_key(key: str) -> bool:
    """Whether ``key`` is a photo key (``ab/cd/<sha256>.jpg`` or ``..._t.jpg``)."""
    return bool(_KEY.match(key))


def photo_key(sha256: str) -> str:
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}.jpg"


def thumb_key(sha256: str) -> str:
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}_t.jpg"


class PhotoStore(Protocol):
    def put_file(self, key: str, tmp_path: Path) -> None:
        """Publish the finished file ``tmp_path`` under ``key`` (atomically); ``tmp_path`` is consumed."""

    def exists(self, key: str) -> bool: ...

    def open(self, key: str) -> BinaryIO:
        """The stored bytes for reading; FileNotFoundError when missing."""

    def local_path(self, key: str) -> Path | None:
        """A path on this machine to serve the file from directly, or None (then stream ``open``)."""

    def work_dir(self) -> Path:
        """A local directory for files being received or encoded, cleaned up by their writers."""

    async def check(self) -> None:
        """Raise (any exception, with a reason) when the store cannot take a new photo now; the
        health check (/healthz) calls it with a time limit."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalPhotoStore:
    """Files under ``root`` (``<data_dir>/photos``); work files under ``root/.incoming``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"not a photo key: {key!r}")
        return self.root / key

    def work_dir(self) -> Path:
        path = self.root / ".incoming"
        path.mkdir(parents=True, exist_ok=True)
        if path not in _swept:
            # Once per process: files a killed server left behind (uploads in flight).
            _swept.add(path)
            cutoff = time.time() - STALE_WORK_SECONDS
            for leftover in path.iterdir():
                with contextlib.suppress(OSError):
                    if leftover.stat().st_mtime < cutoff:
                        leftover.unlink()
        return path

    def put_file(self, key: str, tmp_path: Path) -> None:
        final = self._path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        # The temporary name sits in the destination directory, so the last step is a rename
        # within one directory: atomic on every POSIX file system.
        staged = final.parent / f".{final.name}.{secrets.token_hex(6)}.tmp"
        try:
            try:
                os.replace(tmp_path, staged)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                shutil.copyfile(tmp_path, staged)
                os.unlink(tmp_path)
            with open(staged, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(staged, final)
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
        _fsync_dir(final.parent)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def open(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    async def check(self) -> None:
        """The photos directory exists and a file can be written and removed in it."""
        import anyio.to_thread

        def probe() -> None:
            self.root.mkdir(parents=True, exist_ok=True)
            path = self.root / f".healthz.{secrets.token_hex(6)}"
            try:
                path.write_bytes(b"ok")
            finally:
                path.unlink(missing_ok=True)

        await anyio.to_thread.run_sync(probe)


def store_for(settings) -> PhotoStore:
    """The store the settings describe: a bucket (XUNJIAN_S3_BUCKET) or ``<data dir>/photos``."""
    if getattr(settings, "s3_bucket", ""):
        from server.storage_s3 import store_from_settings

        return store_from_settings(settings)
    return LocalPhotoStore(Path(settings.data_dir) / "photos")
