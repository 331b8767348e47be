"""Photos in S3-compatible object storage (AWS S3, MinIO, Aliyun OSS, Tencent COS, ...).

The same ``PhotoStore`` protocol as local disk (server/storage.py), so the upload pipeline and the
photo routes do not change:

- Keys stay content-addressed: ``ab/cd/<sha256>.jpg`` becomes the object ``<prefix>/ab/cd/<sha256>.jpg``
  (prefix ``photos`` by default). A key's bytes never change once written.
- ``put_file`` is idempotent: it asks for the object first (HEAD) and uploads nothing when it is
  there. Two uploads racing past the HEAD write the same content under the same key, and an S3 PUT
  is atomic (a reader sees the old object or the new one, never half of one), so the race is
  harmless.
- ``put_file`` returns only once the object store has confirmed the whole object (a single PUT with
  Content-MD5, which the store checks against the bytes it received), so the pipeline's rule holds:
  the ``Photo`` row is written after both files are in place.
- The bucket stays private. Photos are read through the app (``open`` streams the object), behind
  the same access checks as photos on disk; no public ACL is set and no presigned URL handed out.

boto3 is synchronous. Every call here is made from a worker thread: the pipeline and the photo
routes already call the store through ``anyio.to_thread`` (streaming responses iterate in a thread
too), and ``check`` does it itself. The client is thread-safe and made once per configuration; its
connection pool is bounded (``MAX_CONNECTIONS``). boto3 was chosen over aiobotocore because it is
the best kept of the two (aiobotocore pins exact botocore versions and lags behind it) and the
store's protocol is synchronous anyway.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import ipaddress
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import anyio
import anyio.to_thread

from server.storage import LocalPhotoStore, valid_key

MAX_CONNECTIONS = 16
CHUNK = 1024 * 1024
SHA256_META = "sha256"  # x-amz-meta-sha256: SHA-256 of the stored bytes (verified by photos-to-s3)

_check_limiter: anyio.CapacityLimiter | None = None


@dataclass(frozen=True)
class S3Config:
    bucket: str
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key: str | None = None
    secret_key: str | None = field(default=None, repr=False)
    prefix: str = "photos"
    path_style: bool | None = None  # None: path style for an IP address or localhost only

    @classmethod
    def from_settings(cls, settings) -> S3Config:
        return cls(
            bucket=settings.s3_bucket,
            endpoint_url=settings.s3_url or None,
            region=settings.s3_region or "us-east-1",
            access_key=settings.s3_access_key or None,
            secret_key=settings.s3_secret_key or None,
            prefix=settings.s3_prefix,
            path_style=settings.s3_path_style,
        )


def uses_path_style(config: S3Config) -> bool:
    """``<url>/<bucket>/key`` or ``<bucket>.<host>/key``.

    botocore's own "auto" picks path style for every custom endpoint, which Aliyun OSS refuses
    (SecondLevelDomainForbidden); a bucket name cannot go in front of an IP address, though.
    """
    if config.path_style is not None:
        return config.path_style
    if not config.endpoint_url:
        return False
    host = urlsplit(config.endpoint_url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def make_client(config: S3Config):
    import boto3
    from botocore.config import Config

    # A session of its own: boto3's default session is not safe to share between threads.
    session = boto3.session.Session(
        aws_access_key_id=config.access_key,
        aws_secret_access_key=config.secret_key,
        region_name=config.region,
    )
    return session.client(
        "s3",
        endpoint_url=config.endpoint_url,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if uses_path_style(config) else "virtual"},
            retries={"max_attempts": 5, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
            max_pool_connections=MAX_CONNECTIONS,
            # Newer botocore adds CRC checksums (and chunked uploads) that several S3-compatible
            # stores refuse; Content-MD5, which every one of them checks, is sent instead.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None) or {}
    return response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def _is_missing(exc: Exception) -> bool:
    return _error_code(exc) in {"404", "NoSuchKey", "NotFound"} or _status(exc) == 404


def file_digests(path: Path) -> tuple[int, bytes, str]:
    """Size, MD5 (raw) and SHA-256 (hex) of a file, read once."""
    md5 = hashlib.md5(usedforsecurity=False)
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            size += len(chunk)
            md5.update(chunk)
            sha.update(chunk)
    return size, md5.digest(), sha.hexdigest()


class S3PhotoStore:
    """Photo files as objects in one private bucket; work files on local disk under ``work_root``."""

    def __init__(self, config: S3Config, work_root: Path, client=None) -> None:
        self.config = config
        self.bucket = config.bucket
        self.prefix = config.prefix.strip("/")
        self.client = client if client is not None else make_client(config)
        self._work = LocalPhotoStore(work_root)

    def __repr__(self) -> str:
        return f"S3PhotoStore(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def object_key(self, key: str) -> str:
        if not valid_key(key):
            raise ValueError(f"not a photo key: {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def work_dir(self) -> Path:
        return self._work.work_dir()

    def head(self, key: str) -> dict | None:
        """The object's HEAD answer, or None when there is no such object."""
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except Exception as exc:
            if _is_missing(exc):
                return None
            raise

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def upload(self, key: str, path: Path) -> str:
        """Write the file at ``path`` under ``key`` (one PUT, checked by Content-MD5); the file stays.

        Returns the SHA-256 of the bytes written.
        """
        size, md5, sha = file_digests(path)
        with open(path, "rb") as body:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.object_key(key),
                Body=body,
                ContentLength=size,
                ContentMD5=base64.b64encode(md5).decode("ascii"),
                ContentType="image/jpeg",
                Metadata={SHA256_META: sha},
            )
        return sha

    def put_file(self, key: str, tmp_path: Path) -> None:
        try:
            if not self.exists(key):
                self.upload(key, tmp_path)
        finally:
            Path(tmp_path).unlink(missing_ok=True)

    def open(self, key: str) -> BinaryIO:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))
        except Exception as exc:
            if _is_missing(exc):
                raise FileNotFoundError(key) from exc
            raise
        return answer["Body"]  # botocore's StreamingBody: read(n), close(), a context manager

    def local_path(self, key: str) -> Path | None:
        return None

    def check_sync(self) -> None:
        """Raise unless the bucket answers with these credentials."""
        self.client.head_bucket(Bucket=self.bucket)

    async def check(self) -> None:
        """For /healthz: raise unless the bucket answers (in a worker thread, a bounded few)."""
        global _check_limiter
        if _check_limiter is None:
            _check_limiter = anyio.CapacityLimiter(2)
        await anyio.to_thread.run_sync(self.check_sync, limiter=_check_limiter)


@dataclass
class CopyReport:
    copied: int = 0
    already: int = 0
    mismatched: list[str] = field(default_factory=list)


def _object_sha256(store: S3PhotoStore, key: str) -> str:
    digest = hashlib.sha256()
    with store.open(key) as body:
        while chunk := body.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_one(store: S3PhotoStore, root: Path, key: str) -> tuple[str, bool]:
    """("copied" | "already", verified) for one local file."""
    size, _, sha = file_digests(root / key)
    outcome = "already"
    head = store.head(key)
    if head is None:
        store.upload(key, root / key)
        outcome = "copied"
        head = store.head(key)
    if head is None or head.get("ContentLength") != size:
        return outcome, False
    stored = (head.get("Metadata") or {}).get(SHA256_META) or _object_sha256(store, key)
    return outcome, stored == sha


def copy_local_photos(root: Path, store: S3PhotoStore, threads: int = 8) -> CopyReport:
    """Copy every photo file under ``root`` into the bucket, once, and check each object's hash.

    Idempotent: objects already there are not written again, only verified (their SHA-256 from the
    metadata the store writes, or from their bytes). Local files are left in place.
    """
    keys = sorted(
        key
        for key in (p.relative_to(root).as_posix() for p in root.rglob("*.jpg") if p.is_file())
        if valid_key(key)
    )
    report = CopyReport()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for key, (outcome, verified) in zip(
            keys, pool.map(lambda k: _copy_one(store, root, k), keys), strict=True
        ):
            if outcome == "copied":
                report.copied += 1
            else:
                report.already += 1
            if not verified:
                report.mismatched.append(key)
    return report


@functools.lru_cache(maxsize=8)
def _cached_store(config: S3Config, work_root: Path) -> S3PhotoStore:
    return S3PhotoStore(config, work_root)


def store_from_settings(settings) -> S3PhotoStore:
    """One store (one client, one connection pool) per configuration for the process's life."""
    return _cached_store(S3Config.from_settings(settings), Path(settings.data_dir) / "photos")
