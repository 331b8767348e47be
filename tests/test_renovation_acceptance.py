"""Joint acceptance, deductions and the deposit settlement of a renovation permit
(server/renovation_acceptance.py): the settlement arithmetic as a table and as properties, a round
that fails and its re-inspection that passes and takes the permit's step, completion with the
owner's and contractor's signatures, the gated direct steps, deductions and the manager's
approval with frozen numbers, exactly once throughout."""

from __future__ import annotations

import hashlib
import io
import os
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.renovation_acceptance import round_outcome, settle

DEPARTMENTS = ("customer_service", "engineering", "security")


# --- the arithmetic -----------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(
    ("contractor", "owner", "deductions", "expected"),
    [
        # (total, from_contractor, from_owner, uncovered, refund_contractor, refund_owner)
        (500000, 200000, [], (0, 0, 0, 0, 500000, 200000)),
        (500000, 200000, [30000, 20000], (50000, 50000, 0, 0, 450000, 200000)),
        (500000, 200000, [500000], (500000, 500000, 0, 0, 0, 200000)),
        (500000, 200000, [300000, 300000], (600000, 500000, 100000, 0, 0, 100000)),
        (500000, 200000, [800000], (800000, 500000, 200000, 100000, 0, 0)),
        (0, 200000, [150000], (150000, 0, 150000, 0, 0, 50000)),
        (0, 0, [1], (1, 0, 0, 1, 0, 0)),
    ],
)
def test_deductions_come_from_the_contractor_first_then_the_owner(
    contractor, owner, deductions, expected
):
    s = settle(contractor, owner, deductions, pass_deposits=20000)
    got = (
        s.total,
        s.from_contractor,
        s.from_owner,
        s.uncovered,
        s.refund_contractor,
        s.refund_owner,
    )
    assert got == expected
    assert s.pass_deposits_refund == 20000


@pytest.mark.unit
@given(
    contractor=st.integers(0, 10**9),
    owner=st.integers(0, 10**9),
    deductions=st.lists(st.integers(1, 10**8), max_size=20),
)
def test_settlement_never_loses_or_makes_money(contractor, owner, deductions):
    s = settle(contractor, owner, deductions)
    assert s.total == sum(deductions) == s.from_contractor + s.from_owner + s.uncovered
    assert s.from_contractor + s.refund_contractor == contractor
    assert s.from_owner + s.refund_owner == owner
    assert min(s.from_contractor, s.from_owner, s.uncovered, s.refund_owner) >= 0
    # The owner pays only once the contractor's deposit is used up; nothing is uncovered while a
    # deposit is left.
    assert s.from_owner == 0 or s.refund_contractor == 0
    assert s.uncovered == 0 or (s.refund_contractor == 0 and s.refund_owner == 0)


@pytest.mark.unit
def test_a_round_is_decided_when_every_party_has_signed():
    three = dict.fromkeys(DEPARTMENTS, True)
    assert round_outcome("hidden_works", {"engineering": False}) == "open"
    assert round_outcome("hidden_works", three) == "passed"
    assert round_outcome("hidden_works", {**three, "security": False}) == "failed"
    assert round_outcome("completion", three) == "open"
    assert round_outcome("completion", {**three, "owner": True, "contractor": True}) == "passed"
    assert round_outcome("completion", {**three, "owner": True, "contractor": False}) == "failed"
    with pytest.raises(ValueError):
        settle(100, 100, [0])


# --- through the API ----------------------------------------------------------------------------


def _jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), tuple(os.urandom(3))).save(buffer, "JPEG")
    return buffer.getvalue()


async def _upload(client) -> str:
    body = _jpeg()
    sha = hashlib.sha256(body).hexdigest()
    response = await client.put(
        f"/api/photos/{sha}", content=body, headers={"Content-Type": "image/jpeg"}
    )
    assert response.status_code < 300, response.text
    return sha


@pytest.fixture
def permit_in_progress(make_site, make_user, login):
    """A permit of a fresh site's unit, issued and started (deposits 5000 元 contractor / 2000 元
    owner), and the people of the site."""

    async def make():
        site = await make_site(checkpoints=1)
        c = {}
        for name, role, department in (
            ("manager", "manager", None),
            ("kefu", "department", "customer_service"),
            ("engineer", "department", "engineering"),
            ("guard", "inspector", "security"),
            ("patrol", "patrol", "security"),
            ("dispatcher", "dispatcher", None),
        ):
            c[name] = await login(await make_user(role, [site.id], department))
        body = {
            "site": site.id,
            "unit": site.unit_id,
            "owner_name": "张三",
            "contractor_company": "好家装饰",
            "contractor_person": "李四",
            "starts_on": "2026-11-30",
            "owner_deposit": 200000,
            "contractor_deposit": 500000,
        }
        created = await c["kefu"].post("/api/renovations", json=body)
        assert created.status_code == 201, created.text
        permit_id = created.json()["id"]
        url = f"/api/renovations/{permit_id}"
        for name, extra in (
            ("submit-drawings", {}),
            ("approve-drawings", {}),
            *(("sign", {"department": d}) for d in DEPARTMENTS),
            ("issue", {}),
            ("start", {}),
        ):
            response = await c["manager"].post(f"{url}/{name}", json=extra)
            assert response.status_code == 200, response.text
        return site, c, permit_id

    return make


async def _permit_photos(permit_id: int) -> set[str]:
    """The photos recorded on the permit for visible_photo (server/photos.py)."""
    from server.tables.renovations import RenovationPhoto

    rows = await RenovationPhoto.select(RenovationPhoto.photo).where(
        RenovationPhoto.permit == permit_id
    )
    return {r["photo"] for r in rows}


async def _status(client, permit_id: int) -> str:
    return (await client.get(f"/api/renovations/{permit_id}")).json()["status"]


@pytest.mark.api
async def test_hidden_works_fails_then_passes_on_reinspection(permit_in_progress):
    _site, c, permit_id = await permit_in_progress()
    url = f"/api/renovations/{permit_id}"
    # The direct step waits for the joint acceptance.
    direct = await c["engineer"].post(f"{url}/accept-hidden-works", json={})
    assert direct.status_code == 409 and direct.json()["error"]["code"] == "acceptance_not_passed"
    # No completion round while the work is on.
    early = await c["kefu"].post(f"{url}/acceptances", json={"kind": "completion"})
    assert early.json()["error"]["code"] == "renovation_illegal_step"
    assert (
        await c["patrol"].post(f"{url}/acceptances", json={"kind": "hidden_works"})
    ).status_code == 403
    opening = {"kind": "hidden_works", "client_id": str(uuid.uuid4())}
    opened = await c["kefu"].post(f"{url}/acceptances", json=opening)
    assert opened.status_code == 201, opened.text
    round1 = opened.json()
    assert (round1["round"], round1["status"], round1["parties"]) == (1, "open", list(DEPARTMENTS))
    again = await c["kefu"].post(f"{url}/acceptances", json=opening)
    assert again.status_code == 200 and again.headers["X-Replayed"] == "1"
    assert again.json()["id"] == round1["id"]
    second = await c["engineer"].post(f"{url}/acceptances", json={"kind": "hidden_works"})
    assert second.status_code == 409 and second.json()["error"]["code"] == "acceptance_open"

    signoffs = f"{url}/acceptances/{round1['id']}/signoffs"
    # A department signs by its own people (or a manager); the guard cannot sign for 工程.
    wrong = await c["guard"].post(signoffs, json={"party": "engineering", "passed": True})
    assert wrong.status_code == 403
    # Failing needs the items to rectify.
    bare = await c["engineer"].post(signoffs, json={"party": "engineering", "passed": False})
    assert bare.status_code == 400 and bare.json()["error"]["code"] == "items_required"
    photo = await _upload(c["engineer"])
    failing = {
        "party": "engineering",
        "passed": False,
        "items": ["卫生间防水层未做闭水试验", "强电线管未穿管"],
        "note": "整改后复验",
        "photos": [photo],
        "client_id": str(uuid.uuid4()),
    }
    failed = await c["engineer"].post(signoffs, json=failing)
    assert failed.status_code == 201, failed.text
    assert failed.json()["status"] == "open"  # the others still sign
    assert await _permit_photos(permit_id) == {photo}
    replay = await c["engineer"].post(signoffs, json=failing)
    assert replay.status_code == 200 and replay.headers["X-Replayed"] == "1"
    conflict = await c["engineer"].post(signoffs, json={**failing, "note": "另一个"})
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "client_id_conflict"
    twice = await c["manager"].post(signoffs, json={"party": "engineering", "passed": True})
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_signed_off"
    # A party of completion only is not one of hidden works.
    owner = await c["kefu"].post(signoffs, json={"party": "owner", "passed": True})
    assert owner.status_code == 400
    await c["kefu"].post(signoffs, json={"party": "customer_service", "passed": True})
    closed = await c["guard"].post(signoffs, json={"party": "security", "passed": True})
    round1 = closed.json()
    assert round1["status"] == "failed" and round1["closed_at"]
    assert [r["item"] for r in round1["to_rectify"]] == failing["items"]
    assert round1["signoffs"]["engineering"]["photos"][0]["sha256"] == photo
    assert round1["signoffs"]["customer_service"]["passed"] is True
    assert await _status(c["kefu"], permit_id) == "in_progress"
    late = await c["manager"].post(signoffs, json={"party": "security", "passed": True})
    assert late.status_code == 409
    assert late.json()["error"]["code"] in ("acceptance_closed", "already_signed_off")

    # The re-inspection: round 2; all pass → the permit's step is taken with it.
    round2 = (await c["engineer"].post(f"{url}/acceptances", json={"kind": "hidden_works"})).json()
    assert round2["round"] == 2
    signoffs = f"{url}/acceptances/{round2['id']}/signoffs"
    for who, party in (("engineer", "engineering"), ("kefu", "customer_service")):
        response = await c[who].post(signoffs, json={"party": party, "passed": True})
        assert response.status_code == 201, response.text
    last = await c["manager"].post(signoffs, json={"party": "security", "passed": True})
    assert last.json()["status"] == "passed"
    permit = (await c["kefu"].get(url)).json()
    assert permit["status"] == "hidden_works_accepted"
    actions = [e["action"] for e in permit["timeline"]]
    assert actions[-3:] == ["acceptance_signoff", "acceptance_passed", "accept_hidden_works"]
    assert actions.count("acceptance_failed") == 1
    rounds = (await c["patrol"].get(f"{url}/acceptances?kind=hidden_works")).json()
    assert [(r["round"], r["status"]) for r in rounds] == [(1, "failed"), (2, "passed")]
    # Nothing more to accept.
    third = await c["kefu"].post(f"{url}/acceptances", json={"kind": "hidden_works"})
    assert third.status_code == 409


async def _pass_hidden_works(c, url: str) -> None:
    opened = (await c["kefu"].post(f"{url}/acceptances", json={"kind": "hidden_works"})).json()
    for party in DEPARTMENTS:
        response = await c["manager"].post(
            f"{url}/acceptances/{opened['id']}/signoffs", json={"party": party, "passed": True}
        )
        assert response.status_code == 201, response.text


@pytest.mark.api
async def test_completion_needs_the_owners_and_contractors_signatures(permit_in_progress):
    _site, c, permit_id = await permit_in_progress()
    url = f"/api/renovations/{permit_id}"
    await _pass_hidden_works(c, url)
    assert (await c["kefu"].post(f"{url}/complete", json={})).status_code == 200
    direct = await c["engineer"].post(f"{url}/accept-completion", json={})
    assert direct.json()["error"]["code"] == "acceptance_not_passed"
    opened = await c["engineer"].post(f"{url}/acceptances", json={"kind": "completion"})
    round1 = opened.json()
    assert round1["parties"] == [*DEPARTMENTS, "owner", "contractor"]
    signoffs = f"{url}/acceptances/{round1['id']}/signoffs"
    for party in DEPARTMENTS:
        await c["manager"].post(signoffs, json={"party": party, "passed": True})
    # The owner signs on the guard's phone: a drawn signature and the name, both required.
    unsigned = await c["guard"].post(
        signoffs, json={"party": "owner", "passed": True, "name": "张三"}
    )
    assert unsigned.status_code == 400
    assert unsigned.json()["error"]["code"] == "signature_required"
    missing = "0" * 64
    not_uploaded = await c["guard"].post(
        signoffs,
        json={"party": "owner", "passed": True, "name": "张三", "signature": missing},
    )
    assert not_uploaded.status_code == 409
    assert not_uploaded.json()["error"]["code"] == "missing_photo"
    signature = await _upload(c["guard"])
    owner = await c["guard"].post(
        signoffs,
        json={"party": "owner", "passed": True, "name": "张三", "signature": signature},
    )
    assert owner.status_code == 201, owner.text
    assert owner.json()["signoffs"]["owner"]["signer_name"] == "张三"
    assert owner.json()["signoffs"]["owner"]["signature"]["sha256"] == signature
    assert owner.json()["status"] == "open"
    assert await _permit_photos(permit_id) >= {signature}
    contractor_sig = await _upload(c["patrol"])
    done = await c["patrol"].post(
        signoffs,
        json={"party": "contractor", "passed": True, "name": "李四", "signature": contractor_sig},
    )
    assert done.json()["status"] == "passed"
    assert await _status(c["kefu"], permit_id) == "completion_accepted"


@pytest.mark.api
async def test_deductions_and_the_managers_settlement(permit_in_progress):
    _site, c, permit_id = await permit_in_progress()
    url = f"/api/renovations/{permit_id}"
    worker = await c["kefu"].post(
        f"{url}/workers", json={"name": "王五", "id_number": "310101199001011234"}
    )
    assert worker.status_code == 201
    early = await c["engineer"].post(f"{url}/deductions", json={"amount": 100, "reason": "x"})
    assert early.status_code == 409
    await _pass_hidden_works(c, url)
    await c["kefu"].post(f"{url}/complete", json={})

    photo = await _upload(c["engineer"])
    body = {
        "amount": 300000,
        "reason": "损坏公共走道地砖",
        "photos": [photo],
        "client_id": str(uuid.uuid4()),
    }
    assert (await c["patrol"].post(f"{url}/deductions", json=body)).status_code == 403
    zero = await c["engineer"].post(f"{url}/deductions", json={"amount": 0, "reason": "x"})
    assert zero.status_code == 400
    added = await c["engineer"].post(f"{url}/deductions", json=body)
    assert added.status_code == 201, added.text
    replay = await c["engineer"].post(f"{url}/deductions", json=body)
    assert replay.status_code == 200 and replay.headers["X-Replayed"] == "1"
    assert len(replay.json()["deductions"]) == 1
    await c["kefu"].post(f"{url}/deductions", json={"amount": 300000, "reason": "垃圾未清运"})
    mistake = (
        await c["kefu"].post(f"{url}/deductions", json={"amount": 5000, "reason": "录错"})
    ).json()
    wrong = mistake["deductions"][-1]["id"]
    withdrawn = await c["kefu"].delete(f"{url}/deductions/{wrong}")
    assert withdrawn.status_code == 200
    again = await c["kefu"].delete(f"{url}/deductions/{wrong}")
    assert again.status_code == 200 and again.headers["X-Replayed"] == "1"

    assert photo in await _permit_photos(permit_id)
    statement = (await c["patrol"].get(f"{url}/settlement")).json()
    assert [d["amount"] for d in statement["deductions"]] == [300000, 300000]
    assert statement["deductions"][0]["photos"][0]["sha256"] == photo
    # The evidence is shown to the site's people, not only to the engineer who took it.
    for name in ("manager", "patrol"):
        assert (await c[name].get(f"/api/photos/{photo}")).status_code == 200
    assert (statement["contractor_deposit"], statement["owner_deposit"]) == (500000, 200000)
    assert statement["total"] == 600000
    assert (statement["from_contractor"], statement["from_owner"]) == (500000, 100000)
    assert (statement["refund_contractor"], statement["refund_owner"]) == (0, 100000)
    assert statement["uncovered"] == 0 and statement["pass_deposits_refund"] == 10000
    assert statement["approved"] is False and statement["unit"]["number"] == "101"

    # Approval waits for the completion acceptance; the direct step waits for the approval.
    not_yet = await c["manager"].post(f"{url}/settlement/approve", json={})
    assert not_yet.json()["error"]["code"] == "renovation_illegal_step"
    opened = (await c["kefu"].post(f"{url}/acceptances", json={"kind": "completion"})).json()
    signature = await _upload(c["kefu"])
    for party in (*DEPARTMENTS, "owner", "contractor"):
        response = await c["manager"].post(
            f"{url}/acceptances/{opened['id']}/signoffs",
            json={"party": party, "passed": True, "name": "签字人", "signature": signature},
        )
        assert response.status_code == 201, response.text
    direct = await c["manager"].post(f"{url}/settle-deposit", json={})
    assert direct.json()["error"]["code"] == "settlement_not_approved"
    assert (await c["kefu"].post(f"{url}/settlement/approve", json={})).status_code == 403
    approving = {"client_id": str(uuid.uuid4())}
    approved = await c["manager"].post(f"{url}/settlement/approve", json=approving)
    assert approved.status_code == 200, approved.text
    frozen = approved.json()
    assert frozen["approved"] and frozen["approved_by"] and frozen["status"] == "deposit_settled"
    assert frozen["from_owner"] == 100000 and len(frozen["deductions"]) == 2
    replayed = await c["manager"].post(f"{url}/settlement/approve", json=approving)
    assert replayed.headers.get("X-Replayed") == "1"
    # Frozen: no more deductions, none withdrawn.
    late = await c["engineer"].post(f"{url}/deductions", json={"amount": 100, "reason": "迟到"})
    assert late.status_code == 409 and late.json()["error"]["code"] == "settlement_approved"
    first = frozen["deductions"][0]["id"]
    locked = await c["kefu"].delete(f"{url}/deductions/{first}")
    assert locked.status_code == 409 and locked.json()["error"]["code"] == "settlement_approved"
    permit = (await c["kefu"].get(url)).json()
    assert [e["action"] for e in permit["timeline"]][-2:] == [
        "settlement_approve",
        "settle_deposit",
    ]
    assert (await c["kefu"].post(f"{url}/close", json={})).json()["status"] == "closed"


@pytest.mark.api
async def test_other_sites_do_not_see_the_acceptance(
    permit_in_progress, make_site, make_user, login
):
    _site, _c, permit_id = await permit_in_progress()
    other = await make_site(checkpoints=0)
    stranger = await login(await make_user("manager", [other.id]))
    url = f"/api/renovations/{permit_id}"
    assert (await stranger.get(f"{url}/acceptances")).status_code == 404
    assert (await stranger.get(f"{url}/settlement")).status_code == 404
    opened = await stranger.post(f"{url}/acceptances", json={"kind": "hidden_works"})
    assert opened.status_code == 404


@pytest.mark.api
async def test_the_last_two_sign_offs_at_once_close_the_round_once(permit_in_progress):
    import asyncio

    _site, c, permit_id = await permit_in_progress()
    url = f"/api/renovations/{permit_id}"
    opened = (await c["kefu"].post(f"{url}/acceptances", json={"kind": "hidden_works"})).json()
    signoffs = f"{url}/acceptances/{opened['id']}/signoffs"
    await c["engineer"].post(signoffs, json={"party": "engineering", "passed": True})
    answers = await asyncio.gather(
        c["kefu"].post(signoffs, json={"party": "customer_service", "passed": True}),
        c["guard"].post(signoffs, json={"party": "security", "passed": True}),
    )
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    permit = (await c["kefu"].get(url)).json()
    assert permit["status"] == "hidden_works_accepted"
    actions = [e["action"] for e in permit["timeline"]]
    assert actions.count("acceptance_passed") == 1 and actions.count("accept_hidden_works") == 1
    rounds = (await c["kefu"].get(f"{url}/acceptances")).json()
    assert [r["status"] for r in rounds] == ["passed"]
    # Two desks opening the completion round at once make one round.
    await c["kefu"].post(f"{url}/complete", json={})
    opened = await asyncio.gather(
        c["kefu"].post(f"{url}/acceptances", json={"kind": "completion"}),
        c["engineer"].post(f"{url}/acceptances", json={"kind": "completion"}),
    )
    assert sorted(a.status_code for a in opened) == [201, 409]
    assert len((await c["kefu"].get(f"{url}/acceptances?kind=completion")).json()) == 1
