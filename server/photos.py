"""The photo pipeline behind ``PUT /api/photos/{sha256}``, and reading photos back.

A photo's identity is the SHA-256 of the bytes the phone uploaded (the phone hashes before it
sends). The pipeline:

1. streams the body into a work file while hashing and counting: over ``photo_max_bytes`` it stops
   at once with 413 ``photo_too_large`` (a declared Content-Length over the limit is refused before
   anything is read);
2. checks the hash against the path (400 ``photo_hash_mismatch``);
3. sniffs the format from the magic bytes: JPEG, PNG or WebP, else 415 ``photo_not_image``;
4. reads the header only and refuses more than ``photo_max_pixels`` (413 ``photo_too_many_pixels``)
   before a single pixel is decoded;
5. decodes every byte (a truncated file is 400 ``photo_corrupt``), applies the EXIF orientation and
   drops all metadata (EXIF with GPS, XMP, IPTC, comments, appended pictures); the colour profile is
   kept;
6. writes the original as a JPEG and a thumbnail of at most 320 px, each published atomically in
   the ``PhotoStore``, and only then inserts the ``Photo`` row.

The original is re-encoded at quality 88, except for a JPEG that is already upright (no
orientation, or orientation 1, which is what the phone's canvas produces): its compressed image data
is copied as is and only the metadata segments are dropped. That is lossless (no second generation
of JPEG artefacts on evidence photos) and much cheaper. The thumbnail always comes from a reduced
decode (libjpeg's DCT scaling, Pillow's draft mode), so a 12 MP upload never becomes 36 MB of pixels.

Decoding and encoding run in a worker thread, at most two at a time, so the event loop keeps
serving other requests.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import anyio
import anyio.to_thread
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from server.auth import CurrentUser
from server.errors import ApiError
from server.settings import Settings
from server.storage import PhotoStore, photo_key, store_for, thumb_key
from server.tables.inspections import Photo

SHA256_PATTERN = r"^[0-9a-f]{64}$"
_SHA256 = re.compile(SHA256_PATTERN)
THUMB_EDGE = 320
JPEG_QUALITY = 88
FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
_ORIENTATION = 0x0112

_limiter: anyio.CapacityLimiter | None = None


def _decode_limiter() -> anyio.CapacityLimiter:
    # Decoding is CPU- and memory-bound; a burst of uploads queues instead of thrashing.
    global _limiter
    if _limiter is None:
        _limiter = anyio.CapacityLimiter(max(1, min(4, os.cpu_count() or 1)))
    return _limiter


class PhotoError(Exception):
    """A rejection found in the worker thread; turned into an ApiError on the way out."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code


# ---------------------------------------------------------------------------------------------
# Receiving


@dataclass
class Received:
    sha256: str
    size: int
    head: bytes
    path: Path | None  # None when the body was only hashed (the photo is already stored)


def sniff(head: bytes) -> str | None:
    """The image format from its first bytes: "jpeg", "png", "webp" or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


async def receive(
    chunks: AsyncIterable[bytes], limit: int, content_length: int | None, work_dir: Path | None
) -> Received:
    """Stream the body into a new file in ``work_dir`` (or nowhere), hashing and counting bytes.

    Raises 413 photo_too_large as soon as more than ``limit`` bytes arrived (or were announced);
    the work file is removed on every failure.
    """
    if content_length is not None and content_length > limit:
        raise ApiError(413, "photo_too_large")
    hasher = hashlib.sha256()
    size = 0
    head = b""
    handle = None
    path: Path | None = None
    if work_dir is not None:
        fd, name = tempfile.mkstemp(dir=work_dir, prefix="upload-", suffix=".part")
        handle, path = os.fdopen(fd, "wb"), Path(name)
    try:
        async for chunk in chunks:
            if not chunk:
                continue
            size += len(chunk)
            if size > limit:
                raise ApiError(413, "photo_too_large")
            if len(head) < 16:
                head += chunk[: 16 - len(head)]
            hasher.update(chunk)
            if handle is not None:
                handle.write(chunk)
        if handle is not None:
            handle.close()
    except BaseException:
        if handle is not None:
            handle.close()
            path.unlink(missing_ok=True)
        raise
    return Received(hasher.hexdigest(), size, head, path)


# ---------------------------------------------------------------------------------------------
# Image work (runs in a worker thread)


@dataclass(frozen=True)
class Processed:
    width: int
    height: int
    original: Path
    thumb: Path
    byte_size: int


# In entropy-coded data 0xFF is followed by 0x00 (a stuffed byte), a restart marker (0xD0-D7) or
# 0xFF (fill); any other byte after 0xFF starts the next segment.
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")

_KEEP_APP = {
    0xE0: (b"JFIF\x00",),  # JFIF header (density); JFXX thumbnails are dropped
    0xE2: (b"ICC_PROFILE\x00",),  # colour profile; MPF (appended pictures) is dropped
    0xEE: (b"Adobe",),  # colour transform flag: needed to read CMYK/YCCK correctly
}


def strip_jpeg_metadata(data: bytes) -> bytes:
    """The same JPEG without EXIF, XMP, IPTC, comments and anything after the end of the image.

    Walks the marker segments; the entropy-coded data after each SOS is copied byte for byte, so
    the picture is untouched. Raises PhotoError(photo_corrupt) when the structure is broken.
    """
    return b"".join(_jpeg_parts_without_metadata(data))


def _jpeg_parts_without_metadata(data: bytes) -> list[bytes | memoryview]:
    n = len(data)
    view = memoryview(data)
    out: list[bytes | memoryview] = [b"\xff\xd8"]
    i = 2
    while True:
        if i + 1 >= n or data[i] != 0xFF:
            raise PhotoError(400, "photo_corrupt")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xD9:  # EOI: whatever follows (e.g. a phone's extra pictures) is dropped
            out.append(b"\xff\xd9")
            return out
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            out.append(view[i : i + 2])
            i += 2
            continue
        if i + 3 >= n:
            raise PhotoError(400, "photo_corrupt")
        end = i + 2 + int.from_bytes(data[i + 2 : i + 4], "big")
        if end > n:
            raise PhotoError(400, "photo_corrupt")
        if 0xE0 <= marker <= 0xEF or marker == 0xFE:
            prefixes = _KEEP_APP.get(marker, ())
            if any(data[i + 4 : end].startswith(p) for p in prefixes):
                out.append(view[i:end])
            i = end
            continue
        if marker != 0xDA:
            out.append(view[i:end])
            i = end
            continue
        # SOS: the scan header, then entropy-coded data up to the next real marker.
        found = _NEXT_MARKER.search(data, end)
        if found is None:
            raise PhotoError(400, "photo_corrupt")
        out.append(view[i : found.start()])
        i = found.start()


def _thumb_size(width: int, height: int, edge: int = THUMB_EDGE) -> tuple[int, int]:
    scale = min(1.0, edge / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _flatten(img: Image.Image) -> Image.Image:
    """RGB (or grey) pixels for a JPEG: transparency goes onto white."""
    if img.mode in ("RGB", "L"):
        return img
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        img.mode == "P" and "transparency" in img.info
    ):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")


def _save_jpeg(img: Image.Image, path: Path, icc: bytes | None, quality: int) -> None:
    img = _flatten(img)
    params = {"quality": quality, "optimize": quality < JPEG_QUALITY}  # small files only
    if icc:
        params["icc_profile"] = icc
    img.info = {}  # nothing from the source (comments, EXIF) may ride along
    img.save(path, "JPEG", **params)


def _write_parts(path: Path, parts: list[bytes | memoryview]) -> None:
    with open(path, "wb") as handle:
        handle.writelines(parts)


@contextmanager
def _decoding() -> Iterator[None]:
    """Pillow reports a damaged or incomplete file as any of several errors: photo_corrupt.

    Only reading is wrapped: a failure to write (a full disk) stays a server error.
    """
    try:
        yield
    except PhotoError:
        raise
    except Image.DecompressionBombError:
        # Pillow's own limit (twice Image.MAX_IMAGE_PIXELS), below ours if ours is set very high.
        raise PhotoError(413, "photo_too_many_pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise PhotoError(400, "photo_corrupt") from exc


def process_image(src: Path, fmt: str, max_pixels: int, work_dir: Path) -> Processed:
    """Decode, check, orient and re-encode one uploaded image into two work files."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay off")
    stem = src.name.removesuffix(".part")
    original = work_dir / f"{stem}.orig.jpg"
    thumb = work_dir / f"{stem}.thumb.jpg"
    done = False
    try:
        width, height = _process(src, fmt, max_pixels, original, thumb)
        done = True
    finally:
        if not done:
            original.unlink(missing_ok=True)
            thumb.unlink(missing_ok=True)
    return Processed(width, height, original, thumb, original.stat().st_size)


def _process(src: Path, fmt: str, max_pixels: int, original: Path, thumb: Path) -> tuple[int, int]:
    with _decoding():
        img = Image.open(src, formats=[FORMATS[fmt]])
    with img:
        width, height = img.size
        if width * height > max_pixels:
            raise PhotoError(413, "photo_too_many_pixels")
        with _decoding():
            icc = img.info.get("icc_profile")
            orientation = img.getexif().get(_ORIENTATION, 1)
        if fmt == "jpeg" and orientation in (0, 1):
            # Already upright: keep the compressed picture, drop the metadata. The thumbnail comes
            # from a reduced decode, which still reads (and so checks) every byte of the file.
            with _decoding():
                img.draft("RGB", _thumb_size(width, height))
                img.load()
                stripped = _jpeg_parts_without_metadata(src.read_bytes())
            small = img.copy()
            small.thumbnail((THUMB_EDGE, THUMB_EDGE))
            _save_jpeg(small, thumb, icc, 85)
            _write_parts(original, stripped)
            return width, height
        with _decoding():
            img.load()
            upright = ImageOps.exif_transpose(img)
        size = upright.size
        _save_jpeg(upright, original, icc, JPEG_QUALITY)
        upright.thumbnail((THUMB_EDGE, THUMB_EDGE), Image.Resampling.LANCZOS, reducing_gap=2.0)
        _save_jpeg(upright, thumb, icc, 85)
        if upright is not img:
            upright.close()
        return size


# ---------------------------------------------------------------------------------------------
# The endpoint's work


@dataclass(frozen=True)
class StoredPhoto:
    sha256: str
    width: int
    height: int
    created: bool

    def body(self) -> dict:
        return {"sha256": self.sha256, "width": self.width, "height": self.height}


def check_sha256(sha256: str) -> str:
    if not _SHA256.match(sha256):
        raise ApiError(400, "invalid_request")
    return sha256


async def _existing(sha256: str) -> StoredPhoto | None:
    row = await Photo.select(Photo.width, Photo.height).where(Photo.sha256 == sha256).first()
    if row is None:
        return None
    return StoredPhoto(sha256, row["width"], row["height"], created=False)


async def put_photo(
    settings: Settings,
    user: CurrentUser,
    sha256: str,
    chunks: AsyncIterable[bytes],
    content_length: int | None,
    store: PhotoStore | None = None,
) -> StoredPhoto:
    """Receive, check and store one photo. Idempotent: the same photo again changes nothing."""
    check_sha256(sha256)
    store = store or store_for(settings)
    already = await _existing(sha256)
    work_dir = None if already else store.work_dir()
    received = await receive(chunks, settings.photo_max_bytes, content_length, work_dir)
    try:
        if received.sha256 != sha256:
            raise ApiError(400, "photo_hash_mismatch")
        if already:
            return already
        fmt = sniff(received.head)
        if fmt is None:
            raise ApiError(415, "photo_not_image")
        try:
            processed = await anyio.to_thread.run_sync(
                process_image,
                received.path,
                fmt,
                settings.photo_max_pixels,
                work_dir,
                limiter=_decode_limiter(),
            )
        except PhotoError as exc:
            raise ApiError(exc.status, exc.code) from None
        try:
            await anyio.to_thread.run_sync(store.put_file, photo_key(sha256), processed.original)
            await anyio.to_thread.run_sync(store.put_file, thumb_key(sha256), processed.thumb)
        finally:
            processed.original.unlink(missing_ok=True)
            processed.thumb.unlink(missing_ok=True)
    finally:
        if received.path is not None:
            received.path.unlink(missing_ok=True)
    # Both files are in place: only now may a row point at them. A concurrent upload of the same
    # photo wrote the same files and inserts the same row; the loser's insert does nothing.
    inserted = (
        await Photo.insert(
            Photo(
                sha256=sha256,
                content_type="image/jpeg",
                byte_size=processed.byte_size,
                width=processed.width,
                height=processed.height,
                path=photo_key(sha256),
                thumb_path=thumb_key(sha256),
                uploaded_by=user.id,
                created_at=datetime.now(UTC),
            )
        )
        .on_conflict(action="DO NOTHING")
        .returning(Photo.sha256)
    )
    return StoredPhoto(sha256, processed.width, processed.height, created=bool(inserted))


async def visible_photo(user: CurrentUser, sha256: str) -> dict:
    """The Photo row if ``user`` may see it, else 404 (the photo's existence is not disclosed).

    Allowed: admins, the uploader, anyone who can see a site with an inspection that references
    the photo, and anyone who can see a work order that carries it (its raise, a step's photos,
    the owner's signature; a department worker sees their department's orders and those they
    raised), and anyone who can see a site with a renovation permit that carries it (acceptance
    sign-offs, signatures, deductions). One query: the photo by its key, with the "who may see it"
    tests as EXISTS over indexes on the photo's hash.
    """
    if not _SHA256.match(sha256):
        raise ApiError(404, "not_found")
    sites = sorted(user.site_ids) if not user.is_admin else []
    args: list = []
    seen = "FALSE"
    if sites:
        marks = ", ".join("{}" for _ in sites)
        department_clause = ""
        department_args: list = []
        if user.role == "department":
            department_clause = ' AND (w."department" = {} OR w."raised_by" = {})'
            department_args = [user.department_id or 0, user.id]
        seen = (
            "(EXISTS (SELECT 1 FROM inspection_photo ip"
            ' JOIN inspection i ON i."id" = ip."inspection"'
            ' JOIN checkpoint c ON c."id" = i."checkpoint"'
            f' WHERE ip."photo" = p."sha256" AND c."site" IN ({marks}))'
            " OR EXISTS (SELECT 1 FROM work_order_photo wp"
            ' JOIN work_order w ON w."id" = wp."work_order"'
            f' WHERE wp."photo" = p."sha256" AND w."site" IN ({marks}){department_clause})'
            " OR EXISTS (SELECT 1 FROM renovation_photo rp"
            ' JOIN renovation_permit r ON r."id" = rp."permit"'
            f' WHERE rp."photo" = p."sha256" AND r."site" IN ({marks})))'
        )
        args = [*sites, *sites, *department_args, *sites]
    rows = await Photo.raw(
        'SELECT p."sha256", p."path", p."thumb_path", p."uploaded_by", '
        f'{seen} AS "seen" FROM photo p WHERE p."sha256" = {{}}',
        *args,
        sha256,
    )
    if not rows:
        raise ApiError(404, "not_found")
    row = rows[0]
    if user.is_admin or row["uploaded_by"] == user.id or row["seen"]:
        return {k: row[k] for k in ("sha256", "path", "thumb_path", "uploaded_by")}
    raise ApiError(404, "not_found")
