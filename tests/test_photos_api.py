"""PUT /api/photos/{sha256} and reading photos back, against the real app and database."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import struct
import uuid
import zlib
from datetime import UTC, datetime

import pytest
from PIL import Image

from server.tables.inspections import Inspection, InspectionPhoto, Photo

pytestmark = pytest.mark.api

STORED = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}(_t)?\.jpg$")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def noisy(size: tuple[int, int], seed: int | None = None) -> Image.Image:
    """A picture with real detail (noise over a gradient), different every call."""
    seed = uuid.uuid4().int % 1000 if seed is None else seed
    bands = [
        Image.blend(
            Image.linear_gradient("L").resize(size).rotate(90 * i + seed % 90, expand=False),
            Image.effect_noise(size, 30 + i * 5 + seed % 7),
            0.4,
        )
        for i in range(3)
    ]
    return Image.merge("RGB", bands)


def jpeg(size=(400, 300), exif=None, **params) -> bytes:
    buffer = io.BytesIO()
    noisy(size).save(buffer, "JPEG", quality=90, exif=exif or b"", **params)
    return buffer.getvalue()


def gps_exif(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "TestPhone"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (31.0, 14.0, 1.5)
    gps[3] = "E"
    gps[4] = (121.0, 28.0, 2.5)
    return exif.tobytes()


def photo_files(settings) -> list[str]:
    root = settings.data_dir / "photos"
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def assert_no_work_files(settings) -> None:
    leftovers = [f for f in photo_files(settings) if not STORED.match(f)]
    assert leftovers == []


async def put(client, data: bytes, digest: str | None = None, **kwargs):
    return await client.put(
        f"/api/photos/{digest or sha(data)}",
        content=data,
        headers={"Content-Type": "image/jpeg", **kwargs.pop("headers", {})},
        **kwargs,
    )


@pytest.fixture
async def patrol(make_site, make_user, login):
    site = await make_site(checkpoints=1)
    user = await make_user("patrol", sites=[site.id])
    return site, user, await login(user)


async def test_upload_stores_then_repeat_is_200(patrol, settings):
    _, user, client = patrol
    data = jpeg((1600, 1200))
    digest = sha(data)
    first = await put(client, data)
    assert first.status_code == 201, first.text
    assert first.json() == {"sha256": digest, "width": 1600, "height": 1200}
    row = await Photo.select().where(Photo.sha256 == digest).first()
    assert row["uploaded_by"] == user.id and row["content_type"] == "image/jpeg"
    assert (row["width"], row["height"]) == (1600, 1200)
    root = settings.data_dir / "photos"
    assert row["path"] == f"{digest[:2]}/{digest[2:4]}/{digest}.jpg"
    assert row["thumb_path"] == f"{digest[:2]}/{digest[2:4]}/{digest}_t.jpg"
    assert (root / row["path"]).stat().st_size == row["byte_size"]
    with Image.open(root / row["thumb_path"]) as thumb:
        assert thumb.format == "JPEG" and max(thumb.size) == 320 and thumb.size == (320, 240)
    before = (root / row["path"]).stat().st_mtime_ns

    again = await put(client, data)
    assert again.status_code == 200 and again.json() == first.json()
    assert await Photo.count().where(Photo.sha256 == digest) == 1
    assert (root / row["path"]).stat().st_mtime_ns == before

    original = await client.get(f"/api/photos/{digest}")
    assert original.status_code == 200
    assert original.headers["content-type"] == "image/jpeg"
    assert original.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert Image.open(io.BytesIO(original.content)).size == (1600, 1200)
    thumb = await client.get(f"/api/photos/{digest}/thumb")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert thumb.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert Image.open(io.BytesIO(thumb.content)).size == (320, 240)
    assert_no_work_files(settings)


async def test_hash_mismatch_stores_nothing(patrol, settings):
    _, _, client = patrol
    data = jpeg()
    wrong = sha(data + b"x")
    response = await put(client, data, wrong)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "photo_hash_mismatch"
    assert await Photo.count().where(Photo.sha256.is_in([wrong, sha(data)])) == 0
    assert not any(wrong in f or sha(data) in f for f in photo_files(settings))
    assert_no_work_files(settings)


async def test_path_must_be_a_lowercase_sha256(patrol):
    _, _, client = patrol
    data = jpeg((40, 30))
    for bad in (sha(data).upper(), sha(data)[:63], "z" * 64):
        response = await put(client, data, bad)
        assert response.status_code == 400, bad
        assert response.json()["error"]["code"] == "invalid_request"


async def test_english_message(make_site, make_user, login):
    site = await make_site(checkpoints=1)
    client = await login(await make_user("patrol", sites=[site.id]), language="en")
    data = jpeg((40, 30))
    response = await put(client, data, sha(b"other"))
    assert response.json()["error"] == {
        "code": "photo_hash_mismatch",
        "message": "The photo does not match its hash; upload it again",
    }
    zh = await put(client, data, sha(b"other"), headers={"Accept-Language": "zh-CN"})
    assert zh.json()["error"]["message"] == "照片校验失败（内容与编号不符），请重新上传"


class CountingBody:
    """A request body of ``total`` bytes that records how much of it the server pulled."""

    def __init__(self, total: int, chunk: int = 1024 * 1024) -> None:
        self.total, self.chunk, self.sent = total, chunk, 0

    async def __aiter__(self):
        while self.sent < self.total:
            size = min(self.chunk, self.total - self.sent)
            self.sent += size
            yield b"\xff\xd8\xff" + bytes(size - 3)


async def test_50_mb_body_is_refused_while_streaming(patrol, settings):
    _, _, client = patrol
    limit = settings.photo_max_bytes
    digest = "ab" * 32
    # Chunked (no Content-Length): stopped once the limit is passed, not after 50 MB.
    body = CountingBody(50 * 1024 * 1024)
    response = await client.put(
        f"/api/photos/{digest}", content=body, headers={"Content-Type": "image/jpeg"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "photo_too_large"
    assert body.sent <= limit + body.chunk
    # A Content-Length over the limit is refused before a byte is read.
    body = CountingBody(50 * 1024 * 1024)
    response = await client.put(
        f"/api/photos/{digest}",
        content=body,
        headers={"Content-Type": "image/jpeg", "Content-Length": str(50 * 1024 * 1024)},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "photo_too_large"
    assert body.sent <= body.chunk
    assert await Photo.count().where(Photo.sha256 == digest) == 0
    assert_no_work_files(settings)


async def test_not_an_image_is_415(patrol, settings):
    _, _, client = patrol
    for data in (b"%PDF-1.4\n" + bytes(2000), b"GIF89a" + bytes(100), b""):
        response = await put(client, data)
        assert response.status_code == 415, data[:8]
        assert response.json()["error"]["code"] == "photo_not_image"
        assert await Photo.count().where(Photo.sha256 == sha(data)) == 0
    assert_no_work_files(settings)


@pytest.mark.parametrize("orientation", [1, 6])
async def test_truncated_jpeg_is_corrupt(orientation, patrol, settings):
    _, _, client = patrol
    whole = jpeg((800, 600), exif=gps_exif(orientation))
    for data in (whole[: len(whole) * 2 // 3], whole[:400]):
        response = await put(client, data)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "photo_corrupt"
        assert await Photo.count().where(Photo.sha256 == sha(data)) == 0
    assert_no_work_files(settings)


def png_declaring(width: int, height: int) -> bytes:
    """A valid, small PNG of a huge all-black 1-bit image (zeros compress ~1000:1)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    compressor = zlib.compressobj(9)
    row = bytes(1 + (width + 7) // 8)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("size", [(20000, 20000), (8000, 7000)])
async def test_decompression_bomb_is_413(size, patrol, settings):
    _, _, client = patrol
    data = png_declaring(*size)
    assert len(data) < settings.photo_max_bytes
    response = await put(client, data, headers={"Content-Type": "image/png"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "photo_too_many_pixels"
    assert await Photo.count().where(Photo.sha256 == sha(data)) == 0
    assert_no_work_files(settings)


def two_colour_jpeg(exif: bytes) -> bytes:
    """120 x 80 as stored by the camera: left half red, right half blue."""
    img = Image.new("RGB", (120, 80), (220, 0, 0))
    img.paste((0, 0, 220), (60, 0, 120, 80))
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=95, exif=exif)
    return buffer.getvalue()


def assert_clean(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as img:
        assert dict(img.getexif()) == {}
        assert "exif" not in img.info and "xmp" not in img.info
    assert b"Exif\x00\x00" not in data and b"TestPhone" not in data
    assert b"ns.adobe.com/xap" not in data


async def test_exif_orientation_applied_and_gps_stripped(patrol, settings):
    _, _, client = patrol
    data = two_colour_jpeg(gps_exif(orientation=6))
    assert b"TestPhone" in data
    response = await put(client, data)
    assert response.status_code == 201, response.text
    # Orientation 6: shown rotated a quarter turn clockwise, so the stored picture is portrait
    # with the camera's left (red) half on top.
    assert response.json()["width"] == 80 and response.json()["height"] == 120
    stored = (await client.get(f"/api/photos/{sha(data)}")).content
    assert_clean(stored)
    with Image.open(io.BytesIO(stored)) as img:
        assert img.size == (80, 120)
        top, bottom = img.getpixel((40, 20)), img.getpixel((40, 100))
    assert top[0] > 150 and top[2] < 80, top
    assert bottom[2] > 150 and bottom[0] < 80, bottom
    thumb = (await client.get(f"/api/photos/{sha(data)}/thumb")).content
    assert_clean(thumb)
    assert Image.open(io.BytesIO(thumb)).size == (80, 120)


async def test_upright_jpeg_keeps_its_pixels_and_loses_its_metadata(patrol, settings):
    _, _, client = patrol
    buffer = io.BytesIO()
    picture = noisy((640, 480))
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://ns.adobe.com/xap/1.0/"/></x:xmpmeta>'
    picture.save(buffer, "JPEG", quality=85, exif=gps_exif(1), xmp=xmp, comment=b"TestPhone")
    # Phones append extra pictures after the end of the image (MPF); they must go too.
    data = buffer.getvalue() + jpeg((64, 48), exif=gps_exif(1))
    response = await put(client, data)
    assert response.status_code == 201, response.text
    stored = (await client.get(f"/api/photos/{sha(data)}")).content
    assert_clean(stored)
    assert stored.count(b"\xff\xd9") >= 1 and stored.endswith(b"\xff\xd9")
    # Lossless: the same pixels as the upload, decoded.
    with Image.open(io.BytesIO(data)) as before, Image.open(io.BytesIO(stored)) as after:
        assert after.size == before.size == (640, 480)
        assert after.tobytes() == before.tobytes()


@pytest.mark.parametrize(
    "params", [{"progressive": True}, {"restart_marker_rows": 1}], ids=["progressive", "restarts"]
)
async def test_upright_jpeg_of_several_scans_or_with_restart_markers(params, patrol):
    _, _, client = patrol
    buffer = io.BytesIO()
    noisy((480, 360)).save(buffer, "JPEG", quality=90, exif=gps_exif(1), **params)
    data = buffer.getvalue()
    if "progressive" in params:
        assert data.count(b"\xff\xda") > 1  # several scans
    else:
        assert b"\xff\xd0" in data  # restart markers inside the image data
    response = await put(client, data)
    assert response.status_code == 201, response.text
    stored = (await client.get(f"/api/photos/{sha(data)}")).content
    assert_clean(stored)
    with Image.open(io.BytesIO(data)) as before, Image.open(io.BytesIO(stored)) as after:
        assert after.tobytes() == before.tobytes()


async def test_multi_picture_jpeg_keeps_only_the_first_picture(patrol):
    _, _, client = patrol
    buffer = io.BytesIO()
    first = noisy((400, 300))
    first.save(buffer, "MPO", save_all=True, append_images=[noisy((160, 120))])
    data = buffer.getvalue()
    assert Image.open(io.BytesIO(data)).n_frames == 2
    response = await put(client, data)
    assert response.status_code == 201 and response.json()["width"] == 400
    stored = (await client.get(f"/api/photos/{sha(data)}")).content
    assert b"MPF\x00" not in stored and len(stored) < len(data)
    with Image.open(io.BytesIO(stored)) as img, Image.open(io.BytesIO(data)) as upload:
        assert img.format == "JPEG" and img.tobytes() == upload.tobytes()


async def test_png_with_transparency_and_webp(patrol, settings):
    _, _, client = patrol
    rgba = Image.new("RGBA", (500, 250), (0, 0, 0, 0))
    rgba.paste((0, 128, 0, 255), (0, 0, 250, 250))
    buffer = io.BytesIO()
    rgba.save(buffer, "PNG")
    png = buffer.getvalue()
    response = await put(client, png, headers={"Content-Type": "image/png"})
    assert response.status_code == 201 and response.json()["width"] == 500
    with Image.open(io.BytesIO((await client.get(f"/api/photos/{sha(png)}")).content)) as img:
        assert img.format == "JPEG" and img.mode == "RGB"
        assert img.getpixel((400, 100))[0] > 240  # transparent became white
        assert img.getpixel((100, 100))[1] > 100  # green stays green
    buffer = io.BytesIO()
    noisy((300, 200)).save(buffer, "WEBP", quality=80)
    webp = buffer.getvalue()
    response = await put(client, webp, headers={"Content-Type": "image/webp"})
    assert response.status_code == 201 and response.json()["height"] == 200
    thumb = (await client.get(f"/api/photos/{sha(webp)}/thumb")).content
    assert Image.open(io.BytesIO(thumb)).format == "JPEG"


async def test_concurrent_uploads_of_one_photo(patrol, settings):
    _, _, client = patrol
    data = jpeg((1200, 900))
    responses = await asyncio.gather(*(put(client, data) for _ in range(4)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1 and set(statuses) <= {200, 201}, statuses
    assert all(r.json()["sha256"] == sha(data) for r in responses)
    assert await Photo.count().where(Photo.sha256 == sha(data)) == 1
    assert_no_work_files(settings)


async def test_who_may_read_a_photo(make_site, make_user, login):
    mine, theirs = await make_site(checkpoints=1), await make_site(checkpoints=1)
    uploader = await make_user("patrol", sites=[mine.id])
    colleague = await make_user("manager", sites=[mine.id])
    stranger = await make_user("manager", sites=[theirs.id])
    admin = await make_user("admin")
    data = jpeg((200, 150))
    digest = sha(data)
    assert (await put(await login(uploader), data)).status_code == 201

    async def status(user, suffix=""):
        client = await login(user)
        return (await client.get(f"/api/photos/{digest}{suffix}")).status_code

    # Not yet part of any check: only the uploader (and admins) see it.
    assert await status(uploader) == 200
    assert await status(admin) == 200
    assert await status(colleague) == 404
    now = datetime.now(UTC)
    inspection = uuid.uuid4()
    await Inspection.insert(
        Inspection(
            id=inspection,
            checkpoint=mine.checkpoint_ids[0],
            inspector=uploader.id,
            device_time=now,
            received_at=now,
            source="scan",
            body_hash="0" * 64,
        )
    )
    await InspectionPhoto.insert(InspectionPhoto(inspection=inspection, photo=digest))
    assert await status(colleague) == 200
    assert await status(colleague, "/thumb") == 200
    for suffix in ("", "/thumb"):
        assert await status(stranger, suffix) == 404
    unknown = await (await login(stranger)).get(f"/api/photos/{'0' * 64}")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"


def test_work_files_of_a_killed_server_are_swept(tmp_path):
    import os
    import time

    from server import storage

    store = storage.LocalPhotoStore(tmp_path / "photos")
    work = tmp_path / "photos" / ".incoming"
    work.mkdir(parents=True)
    old, fresh = work / "upload-old.part", work / "upload-new.part"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    stale = time.time() - storage.STALE_WORK_SECONDS - 60
    os.utime(old, (stale, stale))
    assert store.work_dir() == work
    assert not old.exists() and fresh.exists()  # an upload in flight keeps its file


async def test_documented_in_the_openapi_schema(make_client):
    schema = (await make_client().get("/schema/openapi.json")).json()
    upload = schema["paths"]["/api/photos/{sha256}"]["put"]
    assert upload["requestBody"]["content"]["image/jpeg"]["schema"] == {
        "type": "string",
        "format": "binary",
    }
    assert {"200", "201", "400", "413", "415"} <= set(upload["responses"])
    for path in ("/api/photos/{sha256}", "/api/photos/{sha256}/thumb"):
        operation = schema["paths"][path]["put" if path.endswith("}") else "get"]
        (param,) = [p for p in operation["parameters"] if p["name"] == "sha256"]
        assert param["in"] == "path" and param["schema"]["pattern"] == "^[0-9a-f]{64}$"
        assert "image/jpeg" in schema["paths"][path]["get"]["responses"]["200"]["content"]
