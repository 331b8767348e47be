"""Joint acceptance of a renovation (隐蔽工程验收 / 竣工验收), deductions (扣款) and the deposit
settlement (押金结算).

Acceptance happens in rounds. A round of ``hidden_works`` (while the permit is ``in_progress``)
needs the sign-off of 客服, 工程 and 保安; a round of ``completion`` (while ``completed``) needs the
three departments plus the owner and the contractor, who sign on the inspector's phone (a drawn
signature, stored as a photo, and their name). Each party signs a round once, passing or failing
it with the items to rectify. A round stays open until every party has signed; then it is
``passed`` when all passed, else ``failed`` — and the next round is the re-inspection. The round
that passes takes the permit's step (``accept_hidden_works`` / ``accept_completion``) in the same
transaction; the direct steps are refused (409 ``acceptance_not_passed``) without a passed round
(server/renovation_flow.py).

Deductions are amounts in fen with a reason and photos, added by 工程 or the desk while the permit
is ``completed`` or ``completion_accepted`` and withdrawn until the settlement is approved. The
statement takes them from the contractor's deposit first, then the owner's (``settle``); what
both deposits cannot cover is ``uncovered``; workers' pass deposits are refunded. The manager
approves it while ``completion_accepted``: the numbers are frozen and the permit's
``settle_deposit`` step taken in the same transaction (the direct step is 409
``settlement_not_approved`` without it).

Every write is one write transaction that records the permit's timeline event(s); the phone's
``client_id`` is stored on the first event, so a repeat answers ``replayed`` and stores nothing,
the same id with another request 409 ``client_id_conflict`` (as in server/renovations.py).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from server import renovation_flow as flow
from server.auth import CurrentUser
from server.db import write_transaction
from server.errors import ApiError
from server.exactly_once import (
    INSERT_RACES,
    already,
    checked_client_id,
    request_hash,
    time_key,
)
from server.inspections import photo_ref
from server.renovations import (
    MAX_NOTE,
    _device_time,
    _people,
    _visible,
    actor_of,
)
from server.tables.renovations import (
    AcceptanceSignoff,
    RenovationAcceptance,
    RenovationDeduction,
    RenovationEvent,
    RenovationPermit,
    RenovationPhoto,
    RenovationSettlement,
    RenovationWorker,
)
from server.work_orders import check_photos

HIDDEN_WORKS, COMPLETION = "hidden_works", "completion"
KINDS = (HIDDEN_WORKS, COMPLETION)
OWNER, CONTRACTOR = "owner", "contractor"
PARTIES: dict[str, tuple[str, ...]] = {
    HIDDEN_WORKS: flow.SIGNING_DEPARTMENTS,
    COMPLETION: (*flow.SIGNING_DEPARTMENTS, OWNER, CONTRACTOR),
}
ALL_PARTIES = PARTIES[COMPLETION]
#: The permit's state in which a round of each kind is held, and the step a passed round takes.
HELD_IN = {HIDDEN_WORKS: "in_progress", COMPLETION: "completed"}
STEP_OF = {HIDDEN_WORKS: "accept_hidden_works", COMPLETION: "accept_completion"}
DEDUCTION_STATUSES = frozenset({"completed", "completion_accepted"})
MAX_ITEMS = 50
MAX_ITEM_LENGTH = 200
MAX_AMOUNT = 2_000_000_000


def _bad(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid_request", detail=[{"field": field, "message": message}])


# --- pure rules ---------------------------------------------------------------------------------


def round_outcome(kind: str, signed: dict[str, bool]) -> str:
    """``open`` until every party of ``kind`` has signed; then ``passed`` if all passed, else
    ``failed`` (a failure does not end the round early: every party's items are collected)."""
    parties = PARTIES[kind]
    if any(p not in signed for p in parties):
        return "open"
    return "passed" if all(signed[p] for p in parties) else "failed"


def may_open(actor: flow.Actor) -> bool:
    """The desk or 工程 (engineering) call the parties together."""
    return flow.is_desk(actor) or flow.is_engineer(actor)


def may_sign_off(actor: flow.Actor, party: str) -> bool:
    """A department signs by its own staff (or a manager on its behalf); the owner and the
    contractor sign on the phone of whoever from the staff is there."""
    if party in flow.SIGNING_DEPARTMENTS:
        return flow.may_sign_for(actor, party)
    return party in (OWNER, CONTRACTOR)


def may_deduct(actor: flow.Actor) -> bool:
    return flow.is_engineer(actor) or flow.is_desk(actor)


@dataclass(frozen=True)
class Statement:
    contractor_deposit: int
    owner_deposit: int
    total: int
    from_contractor: int
    from_owner: int
    uncovered: int
    refund_contractor: int
    refund_owner: int
    pass_deposits_refund: int


def settle(
    contractor_deposit: int, owner_deposit: int, deductions: Sequence[int], pass_deposits: int = 0
) -> Statement:
    """The settlement: deductions come out of the contractor's deposit first, then the owner's;
    what neither covers is ``uncovered``; the rest of each deposit is refunded, and the workers'
    pass deposits in full. All in fen."""
    if contractor_deposit < 0 or owner_deposit < 0 or pass_deposits < 0:
        raise ValueError("negative deposit")
    if any(d <= 0 for d in deductions):
        raise ValueError("a deduction must be positive")
    total = sum(deductions)
    from_contractor = min(total, contractor_deposit)
    from_owner = min(total - from_contractor, owner_deposit)
    return Statement(
        contractor_deposit=contractor_deposit,
        owner_deposit=owner_deposit,
        total=total,
        from_contractor=from_contractor,
        from_owner=from_owner,
        uncovered=total - from_contractor - from_owner,
        refund_contractor=contractor_deposit - from_contractor,
        refund_owner=owner_deposit - from_owner,
        pass_deposits_refund=pass_deposits,
    )


# --- writing, exactly once ----------------------------------------------------------------------

Event = tuple[str, str, str, str]  # action, from status, to status, note


async def _run(
    user: CurrentUser,
    permit_id: int,
    kind: str,
    fields: dict,
    client_id: str | None,
    device_time: datetime | None,
    body: Callable[[dict, datetime], Awaitable[list[Event]]],
) -> bool:
    """Run ``body(permit_row, now)`` in one write transaction, exactly once under ``client_id``;
    it returns the timeline events to record (the first carries the client id). True when the
    request was a replay and nothing was stored."""
    client_id = checked_client_id(client_id)
    digest = request_hash(
        kind,
        {"user": user.id, "permit": permit_id, "device_time": time_key(device_time), **fields},
    )
    earlier = await already(RenovationEvent, client_id, digest, RenovationEvent.permit)
    if earlier is not None:
        if earlier["permit"] != permit_id:
            raise ApiError(409, "client_id_conflict")
        return True
    await _visible(user, permit_id)
    try:
        async with write_transaction(RenovationPermit._meta.db):
            if (
                await already(RenovationEvent, client_id, digest, RenovationEvent.permit)
                is not None
            ):
                return True
            row = await RenovationPermit.select().where(RenovationPermit.id == permit_id).first()
            now = datetime.now(UTC)
            events = await body(row, now)
            for index, (action, before, after, note) in enumerate(events):
                first = index == 0
                await RenovationEvent.insert(
                    RenovationEvent(
                        permit=permit_id,
                        action=action,
                        from_status=before,
                        to_status=after,
                        actor=user.id,
                        device_time=_device_time(device_time, now),
                        server_time=now,
                        note=note[:MAX_NOTE],
                        client_id=client_id if first else None,
                        body_hash=digest if client_id and first else "",
                    )
                )
    except INSERT_RACES:
        if await already(RenovationEvent, client_id, digest, RenovationEvent.permit) is not None:
            return True
        raise
    return False


async def _lock_permit(permit_id: int, statuses: frozenset[str] | set[str], now: datetime) -> None:
    """Touch the permit while it is in one of ``statuses`` (on PostgreSQL this holds its row until
    the transaction ends, so two writers on one permit take turns); else 409."""
    moved = (
        await RenovationPermit.update({RenovationPermit.updated_at: now})
        .where((RenovationPermit.id == permit_id) & RenovationPermit.status.is_in(sorted(statuses)))
        .returning(RenovationPermit.id)
    )
    if not moved:
        raise ApiError(409, "renovation_illegal_step")


async def _take_step(permit_id: int, step_name: str, now: datetime) -> Event:
    """The permit's step taken by the server (a passed round, an approved settlement)."""
    step = flow.STEPS[step_name]
    (before,) = step.from_statuses
    moved = (
        await RenovationPermit.update(
            {RenovationPermit.status: step.to_status, RenovationPermit.updated_at: now}
        )
        .where((RenovationPermit.id == permit_id) & (RenovationPermit.status == before))
        .returning(RenovationPermit.id)
    )
    if not moved:
        raise ApiError(409, "renovation_changed")
    return step_name, before, step.to_status, ""


async def _attach_photos(permit_id: int, photos: Sequence[str]) -> None:
    """Record the permit's photos, so whoever can see the permit's site can see them."""
    unique = list(dict.fromkeys(photos))
    if unique:
        await RenovationPhoto.insert(
            *[RenovationPhoto(permit=permit_id, photo=p) for p in unique]
        ).on_conflict(action="DO NOTHING")


def _json_list(value) -> list:
    if isinstance(value, str):
        value = json.loads(value or "[]")
    return list(value or [])


# --- acceptance ---------------------------------------------------------------------------------


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise _bad("kind", "hidden_works or completion")
    return kind


async def _round_views(rows: list[dict]) -> list[dict]:
    if not rows:
        return []
    signoffs = await (
        AcceptanceSignoff.select()
        .where(AcceptanceSignoff.acceptance.is_in([r["id"] for r in rows]))
        .order_by(AcceptanceSignoff.id)
    )
    people = await _people([r["opened_by"] for r in rows] + [s["signed_by"] for s in signoffs])
    by_round: dict[int, dict[str, dict]] = {}
    for s in signoffs:
        by_round.setdefault(s["acceptance"], {})[s["party"]] = s
    views = []
    for r in rows:
        signed = by_round.get(r["id"], {})
        parties = PARTIES.get(r["kind"], ())
        views.append(
            {
                "id": r["id"],
                "permit_id": r["permit"],
                "kind": r["kind"],
                "round": r["round"],
                "status": r["status"],
                "opened_by": people.get(r["opened_by"]),
                "opened_at": r["opened_at"],
                "closed_at": r["closed_at"],
                "parties": list(parties),
                "signoffs": {
                    party: (
                        {
                            "passed": s["passed"],
                            "items": _json_list(s["items"]),
                            "note": s["note"],
                            "signer_name": s["signer_name"],
                            "signature": photo_ref(s["signature"]) if s["signature"] else None,
                            "photos": [photo_ref(p) for p in _json_list(s["photos"])],
                            "by": people.get(s["signed_by"]),
                            "at": s["signed_at"],
                        }
                        if (s := signed.get(party))
                        else None
                    )
                    for party in parties
                },
                "to_rectify": [
                    {"party": party, "item": item}
                    for party in parties
                    if party in signed and not signed[party]["passed"]
                    for item in _json_list(signed[party]["items"])
                ],
            }
        )
    return views


async def list_acceptances(user: CurrentUser, permit_id: int, kind: str | None = None) -> list:
    """The permit's acceptance rounds (of ``kind``), by kind then round."""
    await _visible(user, permit_id)
    query = RenovationAcceptance.select().where(RenovationAcceptance.permit == permit_id)
    if kind is not None:
        query = query.where(RenovationAcceptance.kind == _check_kind(kind))
    rows = await query.order_by(RenovationAcceptance.kind).order_by(RenovationAcceptance.round)
    return await _round_views(rows)


async def get_acceptance(user: CurrentUser, permit_id: int, acceptance_id: int) -> dict:
    await _visible(user, permit_id)
    row = (
        await RenovationAcceptance.select()
        .where(
            (RenovationAcceptance.id == acceptance_id) & (RenovationAcceptance.permit == permit_id)
        )
        .first()
    )
    if row is None:
        raise ApiError(404, "not_found")
    return (await _round_views([row]))[0]


async def latest_round(permit_id: int, kind: str) -> int | None:
    row = (
        await RenovationAcceptance.select(RenovationAcceptance.id)
        .where((RenovationAcceptance.permit == permit_id) & (RenovationAcceptance.kind == kind))
        .order_by(RenovationAcceptance.round, ascending=False)
        .first()
    )
    return row["id"] if row else None


async def open_round(
    user: CurrentUser,
    permit_id: int,
    kind: str,
    *,
    client_id: str | None = None,
    device_time: datetime | None = None,
) -> tuple[int, bool]:
    """Open the next round of ``kind`` (the desk or 工程): the permit must be in_progress for
    hidden works, completed for completion; one open round per kind. Returns (round id,
    replayed)."""
    kind = _check_kind(kind)
    actor = await actor_of(user)
    opened: list[int] = []

    async def body(row: dict, now: datetime) -> list[Event]:
        if not may_open(actor):
            raise ApiError(403, "forbidden")
        if row["status"] != HELD_IN[kind]:
            raise ApiError(409, "renovation_illegal_step")
        await _lock_permit(permit_id, {HELD_IN[kind]}, now)
        rounds = await RenovationAcceptance.select(
            RenovationAcceptance.round, RenovationAcceptance.status
        ).where((RenovationAcceptance.permit == permit_id) & (RenovationAcceptance.kind == kind))
        if any(r["status"] == "open" for r in rounds):
            raise ApiError(409, "acceptance_open")
        number = max((r["round"] for r in rounds), default=0) + 1
        inserted = await RenovationAcceptance.insert(
            RenovationAcceptance(
                permit=permit_id,
                kind=kind,
                round=number,
                status="open",
                opened_by=user.id,
                opened_at=now,
            )
        ).returning(RenovationAcceptance.id)
        opened.append(inserted[0]["id"])
        return [("acceptance_open", row["status"], row["status"], f"{kind} #{number}")]

    try:
        replayed = await _run(
            user, permit_id, "acceptance_open", {"kind": kind}, client_id, device_time, body
        )
    except INSERT_RACES:
        # The one-open-round index: another person opened it at the same moment.
        raise ApiError(409, "acceptance_open") from None
    if replayed:
        return await latest_round(permit_id, kind) or 0, True
    return opened[0], False


async def sign_off(
    user: CurrentUser,
    permit_id: int,
    acceptance_id: int,
    *,
    party: str,
    passed: bool,
    items: Sequence[str] = (),
    note: str = "",
    name: str = "",
    signature: str | None = None,
    photos: Sequence[str] = (),
    client_id: str | None = None,
    device_time: datetime | None = None,
) -> bool:
    """One party's sign-off of an open round. When it is the last party's, the round closes:
    passed (and the permit's step taken) or failed (the items are to rectify; the next round is
    the re-inspection). Returns True for a replay."""
    if party not in ALL_PARTIES:
        raise _bad("party", "unknown")
    items = [i.strip()[:MAX_ITEM_LENGTH] for i in items if i.strip()]
    if len(items) > MAX_ITEMS:
        raise _bad("items", "too many")
    note, name = note.strip(), name.strip()
    signature = signature.lower() if signature else None
    photo_keys = list(dict.fromkeys(p.lower() for p in photos))
    actor = await actor_of(user)
    fields = {
        "acceptance": acceptance_id,
        "party": party,
        "passed": passed,
        "items": items,
        "note": note,
        "name": name,
        "signature": signature,
        "photos": photo_keys,
    }

    async def body(row: dict, now: datetime) -> list[Event]:
        acceptance = (
            await RenovationAcceptance.select()
            .where(
                (RenovationAcceptance.id == acceptance_id)
                & (RenovationAcceptance.permit == permit_id)
            )
            .first()
        )
        if acceptance is None:
            raise ApiError(404, "not_found")
        if party not in PARTIES[acceptance["kind"]]:
            raise _bad("party", "not a party of this acceptance")
        if not may_sign_off(actor, party):
            raise ApiError(403, "forbidden")
        if not passed and not items:
            raise ApiError(400, "items_required")
        if party in (OWNER, CONTRACTOR) and (not signature or not name):
            raise ApiError(400, "signature_required")
        # Hold the round (PostgreSQL: row lock) so the last two sign-offs cannot both miss the
        # other and leave it open.
        held = (
            await RenovationAcceptance.update({RenovationAcceptance.status: "open"})
            .where(
                (RenovationAcceptance.id == acceptance_id) & (RenovationAcceptance.status == "open")
            )
            .returning(RenovationAcceptance.id)
        )
        if not held:
            raise ApiError(409, "acceptance_closed")
        if row["status"] != HELD_IN[acceptance["kind"]]:
            raise ApiError(409, "renovation_illegal_step")
        done = await AcceptanceSignoff.select(
            AcceptanceSignoff.party, AcceptanceSignoff.passed
        ).where(AcceptanceSignoff.acceptance == acceptance_id)
        signed = {s["party"]: s["passed"] for s in done}
        if party in signed:
            raise ApiError(409, "already_signed_off")
        checked = await check_photos(photo_keys)
        if signature:
            await check_photos([signature])
        await AcceptanceSignoff.insert(
            AcceptanceSignoff(
                acceptance=acceptance_id,
                party=party,
                passed=passed,
                items=json.dumps(items, ensure_ascii=False),
                note=note[:MAX_NOTE],
                signer_name=name[:100],
                signature=signature,
                photos=json.dumps(checked),
                signed_by=user.id,
                signed_at=now,
                client_id=checked_client_id(client_id),
            )
        )
        await _attach_photos(permit_id, [*checked, *([signature] if signature else [])])
        signed[party] = passed
        kind = acceptance["kind"]
        text = f"{kind} #{acceptance['round']} {party} {'passed' if passed else 'failed'}"
        if items:
            text += ": " + "; ".join(items)
        events: list[Event] = [("acceptance_signoff", row["status"], row["status"], text)]
        outcome = round_outcome(kind, signed)
        if outcome != "open":
            await RenovationAcceptance.update(
                {RenovationAcceptance.status: outcome, RenovationAcceptance.closed_at: now}
            ).where(RenovationAcceptance.id == acceptance_id)
            events.append(
                (
                    f"acceptance_{outcome}",
                    row["status"],
                    row["status"],
                    f"{kind} #{acceptance['round']}",
                )
            )
            if outcome == "passed":
                events.append(await _take_step(permit_id, STEP_OF[kind], now))
        return events

    try:
        return await _run(
            user, permit_id, "acceptance_signoff", fields, client_id, device_time, body
        )
    except INSERT_RACES:
        # The one-sign-off-per-party index: the party signed at the same moment on another phone.
        raise ApiError(409, "already_signed_off") from None


# --- deductions and the settlement --------------------------------------------------------------


async def _header(permit_id: int) -> dict:
    row = (
        await RenovationPermit.select(
            RenovationPermit.id,
            RenovationPermit.status,
            RenovationPermit.owner_name,
            RenovationPermit.contractor_company,
            RenovationPermit.contractor_person,
            RenovationPermit.starts_on,
            RenovationPermit.ends_on,
            RenovationPermit.owner_deposit,
            RenovationPermit.contractor_deposit,
            RenovationPermit.unit.number.as_alias("unit_number"),
            RenovationPermit.unit.floor.name.as_alias("floor_name"),
            RenovationPermit.unit.floor.building.name.as_alias("building_name"),
            RenovationPermit.site.name.as_alias("site_name"),
        )
        .where(RenovationPermit.id == permit_id)
        .first()
    )
    return row


async def get_settlement(user: CurrentUser, permit_id: int) -> dict:
    """The settlement statement: as approved (frozen), or as it stands now."""
    await _visible(user, permit_id)
    head = await _header(permit_id)
    approved = (
        await RenovationSettlement.select().where(RenovationSettlement.permit == permit_id).first()
    )
    if approved is not None:
        deductions = _json_list(approved["deductions"])
        numbers = {k: approved[k] for k in Statement.__dataclass_fields__}
        people = await _people([approved["approved_by"], *(d.get("by") for d in deductions)])
    else:
        rows = await (
            RenovationDeduction.select()
            .where(
                (RenovationDeduction.permit == permit_id) & RenovationDeduction.deleted_at.is_null()
            )
            .order_by(RenovationDeduction.id)
        )
        deductions = [
            {
                "id": r["id"],
                "amount": r["amount"],
                "reason": r["reason"],
                "photos": _json_list(r["photos"]),
                "by": r["created_by"],
                "at": r["created_at"].isoformat(),
            }
            for r in rows
        ]
        passes = await RenovationWorker.select(RenovationWorker.pass_deposit).where(
            RenovationWorker.permit == permit_id
        )
        numbers = settle(
            head["contractor_deposit"],
            head["owner_deposit"],
            [d["amount"] for d in deductions],
            sum(p["pass_deposit"] for p in passes),
        ).__dict__
        people = await _people([d["by"] for d in deductions])
    return {
        "permit_id": permit_id,
        "status": head["status"],
        "site": head["site_name"],
        "unit": {
            "building": head["building_name"],
            "floor": head["floor_name"],
            "number": head["unit_number"],
        },
        "owner_name": head["owner_name"],
        "contractor": {
            "company": head["contractor_company"],
            "person": head["contractor_person"],
        },
        "starts_on": head["starts_on"].isoformat(),
        "ends_on": head["ends_on"].isoformat(),
        **numbers,
        "deductions": [
            {
                "id": d["id"],
                "amount": d["amount"],
                "reason": d["reason"],
                "photos": [photo_ref(p) for p in d["photos"]],
                "by": people.get(d["by"]),
                "at": d["at"],
            }
            for d in deductions
        ],
        "approved": approved is not None,
        "approved_by": people.get(approved["approved_by"]) if approved else None,
        "approved_at": approved["approved_at"] if approved else None,
        "editable": approved is None and head["status"] in DEDUCTION_STATUSES,
    }


async def add_deduction(
    user: CurrentUser,
    permit_id: int,
    *,
    amount: int,
    reason: str,
    photos: Sequence[str] = (),
    client_id: str | None = None,
    device_time: datetime | None = None,
) -> bool:
    """A deduction (工程 or the desk) while completed / completion_accepted, before approval."""
    reason = reason.strip()
    if amount <= 0 or amount > MAX_AMOUNT:
        raise _bad("amount", "fen, more than 0")
    if not reason:
        raise ApiError(400, "reason_required")
    photo_keys = list(dict.fromkeys(p.lower() for p in photos))
    actor = await actor_of(user)
    fields = {"amount": amount, "reason": reason, "photos": photo_keys}

    async def body(row: dict, now: datetime) -> list[Event]:
        if not may_deduct(actor):
            raise ApiError(403, "forbidden")
        if await RenovationSettlement.exists().where(RenovationSettlement.permit == permit_id):
            raise ApiError(409, "settlement_approved")
        if row["status"] not in DEDUCTION_STATUSES:
            raise ApiError(409, "renovation_illegal_step")
        await _lock_permit(permit_id, DEDUCTION_STATUSES, now)
        checked = await check_photos(photo_keys)
        inserted = await RenovationDeduction.insert(
            RenovationDeduction(
                permit=permit_id,
                amount=amount,
                reason=reason[:MAX_NOTE],
                photos=json.dumps(checked),
                created_by=user.id,
                created_at=now,
            )
        ).returning(RenovationDeduction.id)
        await _attach_photos(permit_id, checked)
        note = f"#{inserted[0]['id']} {amount} {reason}"
        return [("deduction", row["status"], row["status"], note)]

    return await _run(user, permit_id, "deduction", fields, client_id, device_time, body)


async def withdraw_deduction(user: CurrentUser, permit_id: int, deduction_id: int) -> bool:
    """Withdraw a deduction before the settlement is approved. Withdrawing it again answers
    True (a replay: nothing changed)."""
    actor = await actor_of(user)
    await _visible(user, permit_id)
    async with write_transaction(RenovationPermit._meta.db):
        row = (
            await RenovationDeduction.select()
            .where(
                (RenovationDeduction.id == deduction_id) & (RenovationDeduction.permit == permit_id)
            )
            .first()
        )
        if row is None:
            raise ApiError(404, "not_found")
        if not may_deduct(actor):
            raise ApiError(403, "forbidden")
        if row["deleted_at"] is not None:
            return True
        now = datetime.now(UTC)
        permit = (
            await RenovationPermit.select(RenovationPermit.status)
            .where(RenovationPermit.id == permit_id)
            .first()
        )
        if await RenovationSettlement.exists().where(RenovationSettlement.permit == permit_id):
            raise ApiError(409, "settlement_approved")
        await _lock_permit(permit_id, DEDUCTION_STATUSES, now)
        if await RenovationSettlement.exists().where(RenovationSettlement.permit == permit_id):
            raise ApiError(409, "settlement_approved")
        await RenovationDeduction.update(
            {RenovationDeduction.deleted_at: now, RenovationDeduction.deleted_by: user.id}
        ).where(RenovationDeduction.id == deduction_id)
        await RenovationEvent.insert(
            RenovationEvent(
                permit=permit_id,
                action="deduction_withdraw",
                from_status=permit["status"],
                to_status=permit["status"],
                actor=user.id,
                device_time=now,
                server_time=now,
                note=f"#{deduction_id} {row['amount']} {row['reason']}"[:MAX_NOTE],
            )
        )
    return False


async def approve_settlement(
    user: CurrentUser,
    permit_id: int,
    *,
    client_id: str | None = None,
    device_time: datetime | None = None,
) -> bool:
    """The manager approves the statement while completion_accepted: its numbers and deductions
    are stored as they are, and the permit's deposit is settled (``settle_deposit``)."""
    actor = await actor_of(user)

    async def body(row: dict, now: datetime) -> list[Event]:
        if actor.role not in flow.MANAGER_ROLES:
            raise ApiError(403, "forbidden")
        if row["status"] != "completion_accepted":
            raise ApiError(409, "renovation_illegal_step")
        if await RenovationSettlement.exists().where(RenovationSettlement.permit == permit_id):
            raise ApiError(409, "settlement_approved")
        step_event = await _take_step(permit_id, "settle_deposit", now)
        rows = await (
            RenovationDeduction.select()
            .where(
                (RenovationDeduction.permit == permit_id) & RenovationDeduction.deleted_at.is_null()
            )
            .order_by(RenovationDeduction.id)
        )
        passes = await RenovationWorker.select(RenovationWorker.pass_deposit).where(
            RenovationWorker.permit == permit_id
        )
        statement = settle(
            row["contractor_deposit"],
            row["owner_deposit"],
            [r["amount"] for r in rows],
            sum(p["pass_deposit"] for p in passes),
        )
        frozen = [
            {
                "id": r["id"],
                "amount": r["amount"],
                "reason": r["reason"],
                "photos": _json_list(r["photos"]),
                "by": r["created_by"],
                "at": r["created_at"].isoformat(),
            }
            for r in rows
        ]
        await RenovationSettlement.insert(
            RenovationSettlement(
                permit=permit_id,
                **statement.__dict__,
                deductions=json.dumps(frozen, ensure_ascii=False),
                approved_by=user.id,
                approved_at=now,
            )
        )
        note = (
            f"total {statement.total}; contractor {statement.from_contractor}; "
            f"owner {statement.from_owner}; uncovered {statement.uncovered}"
        )
        return [("settlement_approve", row["status"], row["status"], note), step_event]

    return await _run(user, permit_id, "settlement_approve", {}, client_id, device_time, body)


__all__ = [
    "ALL_PARTIES",
    "KINDS",
    "PARTIES",
    "Statement",
    "add_deduction",
    "approve_settlement",
    "get_acceptance",
    "get_settlement",
    "list_acceptances",
    "may_open",
    "may_sign_off",
    "open_round",
    "round_outcome",
    "settle",
    "sign_off",
    "withdraw_deduction",
]
