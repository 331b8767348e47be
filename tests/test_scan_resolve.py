"""Resolving a scanned label: only genuine, current labels of the user's own sites resolve."""

import logging

import pytest

from qr.signing import label_url, sign
from server.tables.checkpoints import Checkpoint
from server.tables.inspections import Inspection

pytestmark = pytest.mark.api

CJK = range(0x4E00, 0xA000)


def _label(settings, site_code, code, version):
    signature = sign(settings.secret_key.encode("utf-8"), site_code, code, version)
    return label_url(settings.base_url, code, version, signature)


def _tamper(signature: str) -> str:
    return ("A" if signature[0] != "A" else "B") + signature[1:]


async def _resolve(client, text):
    return await client.post("/api/scan/resolve", json={"text": text})


async def _state():
    rows = await Checkpoint.select(Checkpoint.id, Checkpoint.label_version, Checkpoint.updated_at)
    return rows, await Inspection.count()


async def test_genuine_label_resolves(settings, make_site, make_user, login):
    site = await make_site()
    client = await login(await make_user("patrol", sites=[site.id]))
    response = await _resolve(client, "  " + _label(settings, site.code, "A-1-T2", 1) + "\n")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["source"] == "scan"
    checkpoint = body["checkpoint"]
    assert checkpoint["id"] == site.checkpoint_ids[2]
    assert checkpoint["code"] == "A-1-T2"
    assert checkpoint["site_id"] == site.id
    assert checkpoint["kind"] == "facility"
    assert checkpoint["name"] == "消火栓 2"
    assert checkpoint["building"]["name"] == "1栋"
    assert checkpoint["floor"]["name"] == "1F"
    assert checkpoint["label_version"] == 1


async def test_rejections(settings, make_site, make_user, login, caplog):
    mine, theirs = await make_site(), await make_site()
    # A code only the other site has.
    await Checkpoint.update({Checkpoint.code: "B-9-X"}).where(
        Checkpoint.id == theirs.checkpoint_ids[3]
    )
    # One of mine has been re-issued: version 1 is retired.
    await Checkpoint.update({Checkpoint.label_version: 3}).where(
        Checkpoint.id == mine.checkpoint_ids[1]
    )
    client = await login(await make_user("inspector", sites=[mine.id]))
    good = _label(settings, mine.code, "A-1-T0", 1)
    good_sig = good.rsplit("s=", 1)[1]
    cases = [
        ("unknown code", _label(settings, mine.code, "NOPE-1", 1), 404, "unknown_checkpoint"),
        (
            "another site's code",
            _label(settings, theirs.code, "B-9-X", 1),
            404,
            "unknown_checkpoint",
        ),
        (
            "another site's label, same code",
            _label(settings, theirs.code, "A-1-T0", 1),
            403,
            "bad_signature",
        ),
        ("revoked version", _label(settings, mine.code, "A-1-T1", 2), 409, "label_revoked"),
        ("tampered signature", good.replace(good_sig, _tamper(good_sig)), 403, "bad_signature"),
        ("tampered code", good.replace("/c/A-1-T0", "/c/A-1-T3"), 403, "bad_signature"),
        ("wrong version", good.replace("v=1", "v=2"), 403, "bad_signature"),
        (
            "forged old version",
            _label(settings, mine.code, "A-1-T1", 2).replace("v=2", "v=1"),
            403,
            "bad_signature",
        ),
        ("random URL", "https://example.com/products/123?ref=qr", 400, "not_our_label"),
        ("garbage", "\x00\x01 扫码失败 ###", 400, "not_our_label"),
        ("empty", "", 400, "not_our_label"),
    ]
    before = await _state()
    with caplog.at_level(logging.WARNING, logger="xunjian.labels"):
        for what, text, status, code in cases:
            response = await _resolve(client, text)
            assert response.status_code == status, (what, response.text)
            error = response.json()["error"]
            assert error["code"] == code, what
            assert any(ord(ch) in CJK for ch in error["message"]), (what, error["message"])
    assert await _state() == before  # nothing stored, nothing bumped
    revoked = [r for r in caplog.records if "revoked" in r.getMessage()]
    assert len(revoked) == 1
    assert "A-1-T1" in revoked[0].getMessage() and mine.code in revoked[0].getMessage()
    assert "version=2" in revoked[0].getMessage()


async def test_english_message(settings, make_site, make_user, login):
    site = await make_site()
    client = await login(await make_user("patrol", sites=[site.id]), language="en-GB")
    response = await _resolve(client, "hello")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "This is not one of our checkpoint labels"


async def test_same_code_in_two_sites_resolves_to_the_signed_one(
    settings, make_site, make_user, login
):
    first, second, third = await make_site(), await make_site(), await make_site()
    client = await login(await make_user("patrol", sites=[first.id, second.id]))
    for site in (first, second):
        response = await _resolve(client, _label(settings, site.code, "A-1-T1", 1))
        assert response.status_code == 200, response.text
        assert response.json()["checkpoint"]["site_id"] == site.id
        assert response.json()["checkpoint"]["id"] == site.checkpoint_ids[1]
    # The third site has the code too, but the user is not a member: its label is refused.
    response = await _resolve(client, _label(settings, third.code, "A-1-T1", 1))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "bad_signature"


async def test_inactive_checkpoint_is_unknown(settings, make_site, make_user, login):
    site = await make_site()
    await Checkpoint.update({Checkpoint.active: False}).where(
        Checkpoint.id == site.checkpoint_ids[0]
    )
    client = await login(await make_user("patrol", sites=[site.id]))
    response = await _resolve(client, _label(settings, site.code, "A-1-T0", 1))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_checkpoint"


async def test_body_must_be_text(make_user, make_site, login):
    site = await make_site()
    client = await login(await make_user("patrol", sites=[site.id]))
    response = await client.post("/api/scan/resolve", json={"url": "x"})
    assert response.status_code == 400


async def test_manual_entry_by_code(make_site, make_user, login):
    first, second, stranger = await make_site(), await make_site(), await make_site()
    await Checkpoint.update({Checkpoint.code: "ONLY-HERE"}).where(
        Checkpoint.id == first.checkpoint_ids[0]
    )
    await Checkpoint.update({Checkpoint.code: "THEIRS-1"}).where(
        Checkpoint.id == stranger.checkpoint_ids[0]
    )
    client = await login(await make_user("patrol", sites=[first.id, second.id]))

    response = await client.get("/api/checkpoints/by-code/only-here")  # typed in lower case
    assert response.status_code == 200, response.text
    assert response.json()["source"] == "manual"
    assert response.json()["checkpoint"]["id"] == first.checkpoint_ids[0]

    # In both of the user's sites: the phone must say which.
    response = await client.get("/api/checkpoints/by-code/A-1-T1")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "ambiguous_checkpoint"
    assert {d["site_id"] for d in response.json()["error"]["detail"]} == {first.id, second.id}
    response = await client.get("/api/checkpoints/by-code/A-1-T1", params={"site": second.id})
    assert response.status_code == 200
    assert response.json()["checkpoint"]["id"] == second.checkpoint_ids[1]

    for path, params in (
        ("/api/checkpoints/by-code/THEIRS-1", {}),
        ("/api/checkpoints/by-code/A-1-T1", {"site": stranger.id}),
        ("/api/checkpoints/by-code/NO-SUCH", {}),
        ("/api/checkpoints/by-code/%E4%B8%AD", {}),
    ):
        response = await client.get(path, params=params)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "unknown_checkpoint"


async def test_verify_label_against_one_site(settings, make_site):
    from server.errors import ApiError
    from server.labels import verify_label

    site, other = await make_site(), await make_site()
    signature = sign(settings.secret_key.encode("utf-8"), site.code, "A-1-T0", 1)
    for site_ref in (site.id, site.code):
        row = await verify_label(settings, site_ref, "A-1-T0", 1, signature)
        assert row["id"] == site.checkpoint_ids[0]
    await Checkpoint.update({Checkpoint.label_version: 2}).where(
        Checkpoint.id == site.checkpoint_ids[0]
    )
    for args, status, code in (
        ((site.id, "A-1-T0", 1, signature), 409, "label_revoked"),
        ((site.id, "A-1-T0", 1, _tamper(signature)), 403, "bad_signature"),
        ((other.code, "A-1-T0", 1, signature), 403, "bad_signature"),
        ((site.code, "ZZ-9", 1, signature), 404, "unknown_checkpoint"),
        (("NO-SUCH-SITE", "A-1-T0", 1, signature), 404, "unknown_checkpoint"),
    ):
        with pytest.raises(ApiError) as raised:
            await verify_label(settings, *args)
        assert (raised.value.status_code, raised.value.code) == (status, code), args
