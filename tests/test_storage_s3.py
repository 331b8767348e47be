"""Photos in S3-compatible object storage, against moto's S3 server started here (a free port).

An app of its own, built with the bucket settings, on the session's database: upload (201, then 200,
and one 201 out of concurrent identical uploads), objects under content-addressed keys in a private
bucket, originals and thumbnails read back through the app behind the usual access checks, and a
sync referencing the photo.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest
from conftest import free_port
from PIL import Image

from server.app import create_app
from server.storage import photo_key, store_for, thumb_key
from server.storage_s3 import SHA256_META, S3Config, S3PhotoStore, make_client
from server.tables.checkpoints import Checkpoint, TemplateItem
from server.tables.inspections import InspectionPhoto, Photo

pytestmark = pytest.mark.api

ACCESS, SECRET, REGION = "test-access-key", "test-secret-key-do-not-log", "cn-north-1"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def jpeg(size=(640, 480)) -> bytes:
    seed = uuid.uuid4().int % 50
    picture = Image.merge(
        "RGB",
        [Image.effect_noise(size, 20 + seed + i) for i in range(3)],
    )
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def bucket(s3_endpoint) -> str:
    name = f"xunjian-{uuid.uuid4().hex[:12]}"
    client = make_client(S3Config(name, s3_endpoint, REGION, ACCESS, SECRET, path_style=True))
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


@pytest.fixture(scope="module")
def s3_settings(settings, s3_endpoint, bucket, tmp_path_factory):
    return replace(
        settings,
        data_dir=tmp_path_factory.mktemp("s3-data"),
        s3_bucket=bucket,
        s3_url=s3_endpoint,
        s3_region=REGION,
        s3_access_key=ACCESS,
        s3_secret_key=SECRET,
        s3_prefix="photos",
        s3_path_style=True,
    )


@pytest.fixture(scope="module")
def s3_app(app, s3_settings):
    """A second app on the session's database (its engine is bound by the session app's lifespan)."""
    return create_app(s3_settings)


@pytest.fixture
async def s3_login(s3_app):
    clients: list[httpx.AsyncClient] = []

    async def do_login(user) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=s3_app, client=(f"10.77.0.{len(clients) + 1}", 4000))
        client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        clients.append(client)
        response = await client.post(
            "/api/auth/login", json={"username": user.username, "password": user.password}
        )
        assert response.status_code == 200, response.text
        return client

    yield do_login
    for client in clients:
        await client.aclose()


async def put(client, data: bytes):
    return await client.put(
        f"/api/photos/{sha(data)}", content=data, headers={"Content-Type": "image/jpeg"}
    )


def objects(store: S3PhotoStore) -> dict[str, int]:
    listing = store.client.list_objects_v2(Bucket=store.bucket)
    return {item["Key"]: item["Size"] for item in listing.get("Contents", [])}


async def test_settings_switch_the_store_and_hide_the_secret(s3_settings, settings):
    store = store_for(s3_settings)
    assert isinstance(store, S3PhotoStore) and store.local_path(photo_key("a" * 64)) is None
    assert store_for(s3_settings) is store  # one client (one connection pool) per configuration
    assert not isinstance(store_for(settings), S3PhotoStore)
    assert SECRET not in repr(s3_settings) and SECRET not in repr(store.config)
    assert SECRET not in repr(store)
    await store.check()
    broken = S3PhotoStore(replace(store.config, bucket="no-such-bucket-here"), s3_settings.data_dir)
    with pytest.raises(Exception):  # noqa: B017 - any error; /healthz reports it as unavailable
        await broken.check()


async def test_upload_read_back_and_access_checks(
    s3_settings, s3_login, make_site, make_user, s3_endpoint
):
    site = await make_site(checkpoints=1)
    other_site = await make_site(checkpoints=1)
    uploader = await make_user("patrol", sites=[site.id])
    outsider = await make_user("patrol", sites=[other_site.id])
    client = await s3_login(uploader)
    data = jpeg((1280, 960))
    digest = sha(data)

    first = await put(client, data)
    assert first.status_code == 201, first.text
    assert first.json() == {"sha256": digest, "width": 1280, "height": 960}
    store = store_for(s3_settings)
    stored = objects(store)
    original_key, thumb_object_key = f"photos/{photo_key(digest)}", f"photos/{thumb_key(digest)}"
    assert original_key == f"photos/{digest[:2]}/{digest[2:4]}/{digest}.jpg"
    assert thumb_object_key == f"photos/{digest[:2]}/{digest[2:4]}/{digest}_t.jpg"
    assert {original_key, thumb_object_key} <= set(stored)
    row = await Photo.select().where(Photo.sha256 == digest).first()
    assert (row["path"], row["thumb_path"]) == (photo_key(digest), thumb_key(digest))
    assert stored[original_key] == row["byte_size"]
    head = store.client.head_object(Bucket=store.bucket, Key=original_key)
    modified = head["LastModified"]
    assert head["ContentType"] == "image/jpeg"
    # No work files left behind on the local disk.
    assert [p for p in (s3_settings.data_dir / "photos").rglob("*") if p.is_file()] == []

    again = await put(client, data)
    assert again.status_code == 200 and again.json() == first.json()
    assert store.client.head_object(Bucket=store.bucket, Key=original_key)["LastModified"] == (
        modified
    )
    assert await Photo.count().where(Photo.sha256 == digest) == 1

    original = await client.get(f"/api/photos/{digest}")
    assert original.status_code == 200
    assert original.headers["content-type"] == "image/jpeg"
    assert original.headers["cache-control"] == "private, max-age=31536000, immutable"
    body = store.client.get_object(Bucket=store.bucket, Key=original_key)["Body"].read()
    assert original.content == body
    assert Image.open(io.BytesIO(original.content)).size == (1280, 960)
    thumb = await client.get(f"/api/photos/{digest}/thumb")
    assert thumb.status_code == 200
    assert Image.open(io.BytesIO(thumb.content)).size == (320, 240)

    stranger = await s3_login(outsider)
    for path in (f"/api/photos/{digest}", f"/api/photos/{digest}/thumb"):
        refused = await stranger.get(path)
        assert refused.status_code == 404
        assert refused.json()["error"]["code"] == "not_found"

    # The bucket is private: nothing granted to everyone, no bucket policy, and an anonymous
    # request to the store itself does not get the photo.
    for acl in (
        store.client.get_bucket_acl(Bucket=store.bucket),
        store.client.get_object_acl(Bucket=store.bucket, Key=original_key),
        store.client.get_object_acl(Bucket=store.bucket, Key=thumb_object_key),
    ):
        grantees = [grant["Grantee"].get("URI") for grant in acl["Grants"]]
        assert ALL_USERS not in grantees
    with pytest.raises(Exception, match="NoSuchBucketPolicy"):
        store.client.get_bucket_policy(Bucket=store.bucket)
    async with httpx.AsyncClient() as anonymous:
        public = await anonymous.get(f"{s3_endpoint}/{store.bucket}/{original_key}")
    assert public.status_code == 403, public.status_code

    # An object lost from the bucket is a clean 404, not a 200 cut off mid-stream.
    store.client.delete_object(Bucket=store.bucket, Key=thumb_object_key)
    lost = await client.get(f"/api/photos/{digest}/thumb")
    assert lost.status_code == 404, lost.status_code
    assert lost.json()["error"]["code"] == "not_found"
    assert (await client.get(f"/api/photos/{digest}")).status_code == 200


async def test_concurrent_identical_uploads_store_once(s3_settings, s3_login, make_site, make_user):
    site = await make_site(checkpoints=1)
    user = await make_user("patrol", sites=[site.id])
    clients = [await s3_login(user) for _ in range(4)]
    data = jpeg((800, 600))
    responses = await asyncio.gather(*(put(client, data) for client in clients))
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 201]
    assert {r.json()["sha256"] for r in responses} == {sha(data)}
    assert await Photo.count().where(Photo.sha256 == sha(data)) == 1
    digest = sha(data)
    keys = [k for k in objects(store_for(s3_settings)) if digest in k]
    assert sorted(keys) == sorted([f"photos/{photo_key(digest)}", f"photos/{thumb_key(digest)}"])


async def test_sync_referencing_the_photo_end_to_end(s3_settings, s3_login, make_site, make_user):
    site = await make_site(checkpoints=1)
    patrol = await make_user("patrol", sites=[site.id])
    colleague = await make_user("patrol", sites=[site.id])
    client = await s3_login(patrol)
    data = jpeg((600, 800))
    digest = sha(data)
    assert (await put(client, data)).status_code == 201

    checkpoint = await Checkpoint.select().where(Checkpoint.id == site.checkpoint_ids[0]).first()
    items = await TemplateItem.select(TemplateItem.code).where(
        TemplateItem.template == checkpoint["template"]
    )
    record_id = str(uuid.uuid4())
    record = {
        "id": record_id,
        "checkpoint": checkpoint["code"],
        "site": site.id,
        "version": None,
        "signature": None,
        "source": "manual",
        "device_time": datetime.now(UTC).isoformat(),
        "template": None,
        "items": [{"item": item["code"], "result": "pass"} for item in items],
        "note": "",
        "photos": [digest],
    }
    synced = await client.post("/api/sync", json={"records": [record]})
    assert synced.status_code == 200, synced.text
    (result,) = synced.json()["results"]
    assert result["status"] == "accepted", result
    assert await InspectionPhoto.select(InspectionPhoto.photo).where(
        InspectionPhoto.inspection == uuid.UUID(record_id)
    ) == [{"photo": digest}]
    # A colleague on the site (not the uploader) sees it through the inspection, from the bucket.
    mate = await s3_login(colleague)
    thumb = await mate.get(f"/api/photos/{digest}/thumb")
    assert thumb.status_code == 200
    assert Image.open(io.BytesIO(thumb.content)).size == (240, 320)


def test_put_file_is_idempotent_and_consumes_the_work_file(s3_endpoint, bucket, tmp_path):
    config = S3Config(bucket, s3_endpoint, REGION, ACCESS, SECRET, prefix="unit", path_style=True)
    store = S3PhotoStore(config, tmp_path / "photos")
    digest = sha(uuid.uuid4().bytes)
    key = photo_key(digest)
    assert not store.exists(key)
    with pytest.raises(FileNotFoundError):
        store.open(key)

    first = store.work_dir() / "first.jpg"
    first.write_bytes(b"first bytes")
    store.put_file(key, first)
    assert not first.exists() and store.exists(key)
    head = store.head(key)
    assert head["Metadata"][SHA256_META] == sha(b"first bytes")
    assert head["ContentLength"] == len(b"first bytes")

    # The same key again uploads nothing: the object keeps its bytes and its time.
    second = store.work_dir() / "second.jpg"
    second.write_bytes(b"other bytes, never written")
    store.put_file(key, second)
    assert not second.exists()
    with store.open(key) as body:
        assert body.read() == b"first bytes"
    assert store.head(key)["LastModified"] == head["LastModified"]
    assert store.head(key)["ETag"] == head["ETag"]
    assert list(objects(store)).count(f"unit/{key}") == 1

    with pytest.raises(ValueError):
        store.object_key("../../etc/passwd")


def test_photos_to_s3_copies_once_and_verifies(s3_endpoint, bucket, tmp_path, monkeypatch, capsys):
    from server import cli
    from server.storage import LocalPhotoStore

    local = LocalPhotoStore(tmp_path / "photos")
    files: dict[str, bytes] = {}
    for n in range(3):
        digest = sha(f"photo {n} {uuid.uuid4()}".encode())
        for key in (photo_key(digest), thumb_key(digest)):
            work = local.work_dir() / f"w{n}.jpg"
            files[key] = f"bytes of {key}".encode()
            work.write_bytes(files[key])
            local.put_file(key, work)
    (local.work_dir() / "upload-half.part").write_bytes(b"an upload in flight")
    prefix = f"migrated-{uuid.uuid4().hex[:8]}"
    for name, value in {
        "XUNJIAN_DATA_DIR": str(tmp_path),
        "XUNJIAN_SECRET_KEY": "test",
        "XUNJIAN_S3_BUCKET": bucket,
        "XUNJIAN_S3_URL": s3_endpoint,
        "XUNJIAN_S3_REGION": REGION,
        "XUNJIAN_S3_ACCESS_KEY": ACCESS,
        "XUNJIAN_S3_SECRET_KEY": SECRET,
        "XUNJIAN_S3_PREFIX": prefix,
        "XUNJIAN_S3_PATH_STYLE": "true",
    }.items():
        monkeypatch.setenv(name, value)

    assert cli.main(["photos-to-s3"]) == 0
    assert "copied 6, already in the bucket 0, hash mismatches 0" in capsys.readouterr().out
    store = S3PhotoStore(
        S3Config(bucket, s3_endpoint, REGION, ACCESS, SECRET, prefix=prefix, path_style=True),
        tmp_path / "unused",
    )
    assert {k.removeprefix(f"{prefix}/") for k in objects(store) if k.startswith(prefix)} == set(
        files
    )
    for key, data in files.items():
        with store.open(key) as body:
            assert body.read() == data
    assert all((tmp_path / "photos" / key).exists() for key in files)  # local files kept

    assert cli.main(["photos-to-s3"]) == 0
    assert "copied 0, already in the bucket 6, hash mismatches 0" in capsys.readouterr().out

    # Objects written by someone else (no hash in the metadata) are checked by their bytes: the
    # same bytes pass, different bytes of the same length are reported.
    damaged, rewritten = list(files)[:2]
    store.client.put_object(Bucket=bucket, Key=store.object_key(rewritten), Body=files[rewritten])
    assert cli.main(["photos-to-s3"]) == 0
    assert "already in the bucket 6, hash mismatches 0" in capsys.readouterr().out
    store.client.put_object(Bucket=bucket, Key=store.object_key(damaged), Body=files[damaged][::-1])
    assert cli.main(["photos-to-s3"]) == 1
    captured = capsys.readouterr()
    assert "hash mismatches 1" in captured.out and damaged in captured.err
    assert SECRET not in captured.out + captured.err


@pytest.mark.parametrize(
    ("url", "setting", "path_style"),
    [
        ("http://127.0.0.1:9000", "auto", True),
        ("http://localhost:9000", "", True),
        ("http://minio:9000", "true", True),
        ("https://oss-cn-hangzhou.aliyuncs.com", "auto", False),
        ("https://cos.ap-shanghai.myqcloud.com", "false", False),
        ("", "auto", False),
    ],
)
def test_bucket_addressing(tmp_path, url, setting, path_style):
    from server.settings import Settings
    from server.storage_s3 import uses_path_style

    env = {"XUNJIAN_DATA_DIR": str(tmp_path), "XUNJIAN_SECRET_KEY": "k", "XUNJIAN_S3_BUCKET": "b-1"}
    env |= {"XUNJIAN_S3_ACCESS_KEY": ACCESS, "XUNJIAN_S3_SECRET_KEY": SECRET}
    settings = Settings.from_env({**env, "XUNJIAN_S3_URL": url, "XUNJIAN_S3_PATH_STYLE": setting})
    config = S3Config.from_settings(settings)
    assert uses_path_style(config) is path_style
    url = make_client(config).generate_presigned_url(
        "get_object", Params={"Bucket": "b-1", "Key": "photos/x.jpg"}, ExpiresIn=60
    )
    assert ("/b-1/photos/x.jpg?" in url) is path_style
    assert ("://b-1." in url) is not path_style


def test_s3_settings_are_checked(tmp_path):
    from server.settings import Settings, SettingsError

    env = {"XUNJIAN_DATA_DIR": str(tmp_path), "XUNJIAN_SECRET_KEY": "k", "XUNJIAN_S3_BUCKET": "b-1"}
    for bad in (
        {"XUNJIAN_S3_URL": "minio:9000"},
        {"XUNJIAN_S3_BUCKET": "Not_A_Bucket"},
        {"XUNJIAN_S3_ACCESS_KEY": "only-the-id"},
        {"XUNJIAN_S3_PATH_STYLE": "sometimes"},
    ):
        with pytest.raises(SettingsError):
            Settings.from_env({**env, **bad})
    settings = Settings.from_env({**env, "XUNJIAN_S3_PREFIX": "/estate-1/photos/"})
    assert settings.s3_prefix == "estate-1/photos" and settings.s3_region == "us-east-1"
    assert settings.s3_path_style is None


async def test_healthz_checks_the_bucket(s3_app, s3_settings):
    missing = create_app(replace(s3_settings, s3_bucket=f"missing-{uuid.uuid4().hex[:8]}"))
    for application, status, storage in ((s3_app, 200, "ok"), (missing, 503, "unavailable")):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.get("/healthz")
        assert response.status_code == status, response.text
        assert response.json()["storage"] == storage
