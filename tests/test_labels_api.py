"""Label sheets over the API and the CLI, checked end to end: the printed QR codes decode and
resolve to the right checkpoints; a re-issued label retires the old one."""

import asyncio
import glob
import io
import os
import sys
import tempfile
from datetime import UTC, datetime

import pypdf
import pytest
import zxingcpp
from conftest import ROOT
from PIL import Image

from qr.sheets import LAYOUTS, write_png
from server import labels
from server.tables.checkpoints import Checkpoint
from server.tables.sites import Building, Floor, Unit

pytestmark = pytest.mark.api


async def _estate(make_site):
    """make_site's building A (1栋, 1F, 4 checkpoints) plus a 12F of 10 checkpoints (one on a
    unit) and a building B (2栋) with two on its B1."""
    site = await make_site(checkpoints=4)
    now = datetime.now(UTC)
    f12 = Floor(building=site.building_id, level=12, name="12F")
    await f12.save()
    unit = Unit(floor=f12.id, number="1203", status="vacant")
    await unit.save()
    b = Building(site=site.id, code="B", name="2栋", sort_order=1)
    await b.save()
    b1 = Floor(building=b.id, level=-1, name="B1")
    await b1.save()
    rows = [
        Checkpoint(
            site=site.id,
            code=f"A-12-{i:02d}",
            kind="vacant_unit" if i == 3 else "facility",
            name=f"十二层设施 {i}",
            building=site.building_id,
            floor=f12.id,
            unit=unit.id if i == 3 else None,
            updated_at=now,
        )
        for i in range(10, 0, -1)  # inserted out of order on purpose
    ] + [
        Checkpoint(
            site=site.id,
            code=f"B-B1-{i}",
            kind="signage",
            name=f"地下标识 {i}",
            building=b.id,
            floor=b1.id,
            updated_at=now,
        )
        for i in (2, 1)
    ]
    await Checkpoint.insert(*rows)
    return site, f12.id, b.id


def _pdf_pages(content: bytes) -> list:
    return pypdf.PdfReader(io.BytesIO(content)).pages


def _decode(image: Image.Image) -> list[str]:
    return sorted(r.text for r in zxingcpp.read_barcodes(image))


def _leftover_temp_files() -> set[str]:
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "xunjian-labels-*")))


async def test_manager_downloads_the_sheet(make_site, make_user, login):
    site, _, _ = await _estate(make_site)
    client = await login(await make_user("manager", sites=[site.id]))
    before = _leftover_temp_files()
    response = await client.get(f"/api/sites/{site.id}/labels.pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment") and f"labels-{site.code}.pdf" in disposition
    assert response.content.startswith(b"%PDF")
    assert len(_pdf_pages(response.content)) == 1  # 16 labels, 24 a page
    assert _leftover_temp_files() <= before  # the temp file is gone once sent

    # 10 labels on 12F, plates (6 a page): 2 pages, named after the building and the floor.
    building_a = site.building_id
    floors = (await client.get(f"/api/sites/{site.id}/buildings")).json()
    f12 = next(f["id"] for b in floors for f in b["floors"] if f["name"] == "12F")
    response = await client.get(
        f"/api/sites/{site.id}/labels.pdf",
        params={"building": building_a, "floor": f12, "layout": "plate"},
    )
    assert response.status_code == 200, response.text
    assert f"labels-{site.code}-A-12F.pdf" in response.headers["content-disposition"]
    pages = _pdf_pages(response.content)
    assert len(pages) == 2
    # The PDF's page images carry exactly the 12F labels.
    decoded = []
    for page in pages:
        decoded += _decode(page.images[0].image)
    assert len(decoded) == 10
    assert all(f"/c/A-12-{i:02d}?v=1&s=" in " ".join(decoded) for i in range(1, 11))

    response = await client.get(f"/api/sites/{site.id}/labels.pdf", params={"kind": "signage"})
    assert response.status_code == 200
    assert "B-B1-1" in " ".join(_decode(_pdf_pages(response.content)[0].images[0].image))


async def test_who_may_print(make_site, make_user, login):
    site, other = await make_site(), await make_site()
    patrol = await login(await make_user("patrol", sites=[site.id]))
    response = await patrol.get(f"/api/sites/{site.id}/labels.pdf")
    assert response.status_code == 403
    response = await patrol.post(f"/api/checkpoints/{site.checkpoint_ids[0]}/reissue-label")
    assert response.status_code == 403

    manager = await login(await make_user("manager", sites=[site.id]))
    for response in (
        await manager.get(f"/api/sites/{other.id}/labels.pdf"),
        await manager.get(
            f"/api/sites/{site.id}/labels.pdf", params={"building": other.building_id}
        ),
        await manager.get(f"/api/sites/{site.id}/labels.pdf", params={"floor": other.floor_id}),
        await manager.post(f"/api/checkpoints/{other.checkpoint_ids[0]}/reissue-label"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    # The other site's label was not bumped by the refused re-issue.
    row = (
        await Checkpoint.select(Checkpoint.label_version)
        .where(Checkpoint.id == other.checkpoint_ids[0])
        .first()
    )
    assert row["label_version"] == 1


async def test_empty_and_oversized_requests(make_site, make_user, login, monkeypatch):
    site = await make_site(checkpoints=4)
    client = await login(await make_user("manager", sites=[site.id]))
    response = await client.get(f"/api/sites/{site.id}/labels.pdf", params={"kind": "signage"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "no_labels"
    assert "标签" in response.json()["error"]["message"]
    response = await client.get(f"/api/sites/{site.id}/labels.pdf", params={"layout": "huge"})
    assert response.status_code == 400

    monkeypatch.setattr(labels, "MAX_LABELS_PER_REQUEST", 3)
    response = await client.get(f"/api/sites/{site.id}/labels.pdf")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "too_many_labels"
    assert error["detail"] == {"count": 4, "max": 3}
    assert labels.MAX_LABELS_PER_REQUEST == 3
    monkeypatch.undo()
    assert labels.MAX_LABELS_PER_REQUEST == 3000


async def test_labels_for_order_and_content(settings, make_site):
    site, f12, building_b = await _estate(make_site)
    everything = await labels.labels_for(settings, site.id)
    assert [label.code for label in everything] == (
        [f"A-1-T{i}" for i in range(4)]
        + [f"A-12-{i:02d}" for i in range(1, 11)]
        + ["B-B1-1", "B-B1-2"]
    )
    floor = await labels.labels_for(settings, site.id, floor=f12)
    assert len(floor) == 10
    unit_label = next(label for label in floor if label.code == "A-12-03")
    assert (unit_label.site_name, unit_label.building, unit_label.floor) == (
        "测试小区",
        "1栋",
        "12F",
    )
    assert unit_label.unit == "1203室" and unit_label.kind == "vacant_unit"
    assert [x.code for x in await labels.labels_for(settings, site.id, building=building_b)] == [
        "B-B1-1",
        "B-B1-2",
    ]
    assert len(await labels.labels_for(settings, site.id, kind="signage")) == 2
    # Retired checkpoints get no labels.
    await Checkpoint.update({Checkpoint.active: False}).where(Checkpoint.code == "A-12-01")
    assert len(await labels.labels_for(settings, site.id, floor=f12)) == 9


async def test_every_printed_label_scans_to_its_checkpoint(
    settings, make_site, make_user, login, tmp_path
):
    site, f12, _ = await _estate(make_site)
    floor_labels = await labels.labels_for(settings, site.id, floor=f12)
    pages = write_png(floor_labels, LAYOUTS["dense"], tmp_path / "floor.png")
    assert len(pages) == 1
    decoded = _decode(Image.open(pages[0]))
    assert decoded == sorted(label.url for label in floor_labels)

    ids = {
        row["code"]: row["id"]
        for row in await Checkpoint.select(Checkpoint.id, Checkpoint.code).where(
            Checkpoint.floor == f12
        )
    }
    client = await login(await make_user("patrol", sites=[site.id]))
    for text in decoded:
        response = await client.post("/api/scan/resolve", json={"text": text})
        assert response.status_code == 200, response.text
        checkpoint = response.json()["checkpoint"]
        assert checkpoint["id"] == ids[checkpoint["code"]]
        assert f"/c/{checkpoint['code']}?" in text
        assert checkpoint["floor"]["name"] == "12F"


async def test_reissue_retires_the_old_label(settings, make_site, make_user, login):
    site = await make_site(checkpoints=2)
    checkpoint_id = site.checkpoint_ids[1]
    (old,) = await labels.labels_for(settings, site.id, checkpoint_ids=[checkpoint_id])
    before = (
        await Checkpoint.select(Checkpoint.updated_at).where(Checkpoint.id == checkpoint_id).first()
    )

    manager = await login(await make_user("manager", sites=[site.id]))
    response = await manager.post(f"/api/checkpoints/{checkpoint_id}/reissue-label")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert "attachment" in response.headers["content-disposition"]
    assert "label-A-1-T1-v2.pdf" in response.headers["content-disposition"]
    pages = _pdf_pages(response.content)
    assert len(pages) == 1
    (new_url,) = _decode(pages[0].images[0].image)
    assert "/c/A-1-T1?v=2&s=" in new_url and new_url != old.url

    row = (
        await Checkpoint.select(Checkpoint.label_version, Checkpoint.updated_at)
        .where(Checkpoint.id == checkpoint_id)
        .first()
    )
    assert row["label_version"] == 2
    assert row["updated_at"] > before["updated_at"]

    patrol = await login(await make_user("patrol", sites=[site.id]))
    response = await patrol.post("/api/scan/resolve", json={"text": old.url})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "label_revoked"
    response = await patrol.post("/api/scan/resolve", json={"text": new_url})
    assert response.status_code == 200
    assert response.json()["checkpoint"]["label_version"] == 2
    # The sibling checkpoint's label is untouched.
    (sibling,) = await labels.labels_for(settings, site.id, checkpoint_ids=[site.checkpoint_ids[0]])
    assert sibling.version == 1
    response = await patrol.post("/api/scan/resolve", json={"text": sibling.url})
    assert response.status_code == 200


async def _cli(settings, *args):
    env = {
        **os.environ,
        "XUNJIAN_DATABASE_URL": settings.database_url,
        "XUNJIAN_DATA_DIR": str(settings.data_dir),
        "XUNJIAN_SECRET_KEY": settings.secret_key,
        "XUNJIAN_BASE_URL": settings.base_url,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        "labels",
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return process.returncode, out.decode(), err.decode()


async def test_cli_writes_pdf_and_png(settings, make_site, make_user, login, tmp_path):
    site, _, _ = await _estate(make_site)
    code, out, err = await _cli(
        settings,
        "--site",
        site.code,
        "--building",
        "1栋",
        "--floor",
        "12F",
        "-o",
        str(tmp_path / "f12.pdf"),
    )
    assert code == 0, err
    assert "10 labels, 1 pages" in out
    content = (tmp_path / "f12.pdf").read_bytes()
    assert len(_pdf_pages(content)) == 1
    decoded = _decode(_pdf_pages(content)[0].images[0].image)
    assert len(decoded) == 10

    # Building by code, plates as PNGs: 2 signs in building B's B1 → one page.
    code, out, err = await _cli(
        settings,
        "--site",
        site.code,
        "--building",
        "B",
        "--floor",
        "B1",
        "--layout",
        "plate",
        "-o",
        str(tmp_path / "b1.png"),
    )
    assert code == 0, err
    assert "2 labels, 1 pages" in out
    (url,) = [u for u in _decode(Image.open(tmp_path / "b1.png")) if "/c/B-B1-1?" in u]
    client = await login(await make_user("patrol", sites=[site.id]))
    response = await client.post("/api/scan/resolve", json={"text": url})
    assert response.status_code == 200
    assert response.json()["checkpoint"]["code"] == "B-B1-1"

    # Whole site into PNGs: 16 dense labels on one page.
    code, out, err = await _cli(settings, "--site", site.code, "-o", str(tmp_path / "all.png"))
    assert code == 0, err
    assert "16 labels" in out


async def test_cli_errors(settings, make_site, tmp_path):
    site = await make_site()
    target = str(tmp_path / "x.pdf")
    for args, expected in (
        (["--site", "NO-SUCH-SITE"], "unknown site"),
        (["--site", site.code, "--building", "9栋"], "unknown building"),
        (["--site", site.code, "--floor", "99F"], "unknown floor"),
        (["--site", site.code, "--kind", "signage"], "no checkpoints"),
        ([], "sites exist"),  # the test database has many sites
    ):
        code, _, err = await _cli(settings, *args, "-o", target)
        assert code == 2, (args, err)
        assert expected in err, (args, err)
    code, _, err = await _cli(settings, "--site", site.code, "-o", str(tmp_path / "x.svg"))
    assert code == 2 and ".pdf" in err
    assert not os.path.exists(target)


async def test_a_demo_floor_prints_and_every_label_scans(settings, make_user, login, tmp_path):
    """The demo site's 1栋 12F (facilities and signage): render the sheet, decode each label with
    an independent decoder, and have the server accept each one as the right checkpoint."""
    from server.demo import load_demo
    from server.tables.sites import Building, Floor, Site

    await load_demo(settings)  # idempotent: the browser tests' server uses the same demo
    site = await Site.select(Site.id).where(Site.code == "DEMO").first()
    building = (
        await Building.select(Building.id)
        .where((Building.site == site["id"]) & (Building.name == "1栋"))
        .first()
    )
    floor = (
        await Floor.select(Floor.id)
        .where((Floor.building == building["id"]) & (Floor.name == "12F"))
        .first()
    )
    floor_labels = await labels.labels_for(settings, site["id"], floor=floor["id"])
    assert len(floor_labels) >= 20  # extinguisher, hydrant, fire doors, lobby, signs, units…
    pages = write_png(floor_labels, LAYOUTS["dense"], tmp_path / "demo-12f.png")
    decoded = [text for page in pages for text in _decode(Image.open(page))]
    assert sorted(decoded) == sorted(label.url for label in floor_labels)

    client = await login(await make_user("patrol", sites=[site["id"]]))
    for text in decoded:
        response = await client.post("/api/scan/resolve", json={"text": text})
        assert response.status_code == 200, response.text
        assert response.json()["checkpoint"]["floor"]["name"] == "12F"
