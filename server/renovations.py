"""Renovations (装修) read and acted on: registering an application, the list, one permit with its
workers, hot-work permits, extensions and timeline, each step of the lifecycle, and the permit's
passes and extensions.

Who may take which step, and from which state, is ``server/renovation_flow.py``. Scoped like every
other read: a permit of a site the user is not a member of is 404, like one that does not exist.

Each write is one write transaction that re-reads the permit, changes it with a conditional UPDATE
(``WHERE status = <the status it was read in>``, and for a signature or the drawings review also
``WHERE <that column> IS NULL``) and records an event, so two people acting at once cannot both
move it: the second gets 409 ``renovation_changed``.

Issuing the permit turns the unit's status to ``renovating`` and makes (or re-activates) the
unit's renovation checkpoint (kind ``renovation``, code ``<building>-<unit>-ZX`` like the demo's,
the renovation template from ``server.reference.template_code_for``), so it appears in the phones'
catalogue and in the daily renovation plans; closing turns the unit back to what it was and
deactivates the checkpoint.

Exactly once: registering stores the phone's ``client_id`` on the permit; every other write stores
it on the event it records. A repeat of the same request answers ``replayed`` and stores nothing;
the same id with another request is 409 ``client_id_conflict``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from server import renovation_flow as flow
from server.auth import CurrentUser
from server.db import write_transaction
from server.errors import ApiError
from server.exactly_once import (
    INSERT_RACES,
    Outcome,
    already,
    checked_client_id,
    request_hash,
    time_key,
)
from server.reference import template_code_for
from server.site_rules import rules_for
from server.tables.accounts import Department, User
from server.tables.checkpoints import ChecklistTemplate, Checkpoint
from server.tables.renovations import (
    HotWorkPermit,
    RenovationAcceptance,
    RenovationEvent,
    RenovationExtension,
    RenovationPermit,
    RenovationSettlement,
    RenovationWorker,
)
from server.tables.sites import Floor, Unit
from server.work_orders import mask_phone

MAX_NOTE = 2000
# A permit's default months and a worker's pass deposit / fee are the site's rules
# (server/site_rules.py, GET/PUT /api/sites/{id}/renovation-rules).
RENOVATION_SUFFIX = "ZX"

#: The API's step names (one endpoint each) and the state machine's.
API_STEPS: dict[str, str] = {
    "submit-drawings": "submit_drawings",
    "approve-drawings": "approve_drawings",
    "reject-drawings": "reject_drawings",
    "fire-approval": "record_fire_approval",
    "sign": "sign",
    "issue": "issue",
    "start": "start",
    "accept-hidden-works": "accept_hidden_works",
    "complete": "complete",
    "accept-completion": "accept_completion",
    "settle-deposit": "settle_deposit",
    "close": "close",
}
EXTENSION_STEPS = ("review", "approve", "reject")

_SIGNATURE_COLUMNS = {
    flow.CUSTOMER_SERVICE: (RenovationPermit.cs_signed_by, RenovationPermit.cs_signed_at),
    flow.ENGINEERING: (
        RenovationPermit.engineering_signed_by,
        RenovationPermit.engineering_signed_at,
    ),
    flow.SECURITY: (RenovationPermit.security_signed_by, RenovationPermit.security_signed_at),
}


def _bad(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid_request", detail=[{"field": field, "message": message}])


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it has fewer days)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


async def _department_code(user: CurrentUser) -> str | None:
    if user.department_id is None:
        return None
    row = (
        await Department.select(Department.code).where(Department.id == user.department_id).first()
    )
    return row["code"] if row else None


async def actor_of(user: CurrentUser) -> flow.Actor:
    return flow.Actor(user.role, await _department_code(user))


def _device_time(device_time: datetime | None, now: datetime) -> datetime:
    if device_time is None:
        return now
    if device_time.tzinfo is None:
        raise ApiError(400, "bad_device_time")
    # A phone's clock may be off, but a step never counts from the future.
    return min(device_time.astimezone(UTC), now)


# --- reading ------------------------------------------------------------------------------------

_SUMMARY = (
    RenovationPermit.id,
    RenovationPermit.site,
    RenovationPermit.unit,
    RenovationPermit.unit.number.as_alias("unit_number"),
    RenovationPermit.unit.floor.as_alias("floor_id"),
    RenovationPermit.unit.floor.name.as_alias("floor_name"),
    RenovationPermit.unit.floor.building.as_alias("building_id"),
    RenovationPermit.unit.floor.building.name.as_alias("building_name"),
    RenovationPermit.unit.floor.building.code.as_alias("building_code"),
    RenovationPermit.site.timezone.as_alias("timezone"),
    RenovationPermit.owner_name,
    RenovationPermit.contractor_company,
    RenovationPermit.area_m2,
    RenovationPermit.starts_on,
    RenovationPermit.ends_on,
    RenovationPermit.status,
    RenovationPermit.checkpoint,
    RenovationPermit.created_at,
    RenovationPermit.updated_at,
)


def _today(timezone: str | None) -> date:
    try:
        zone = ZoneInfo(timezone or "Asia/Shanghai")
    except Exception:
        zone = ZoneInfo("Asia/Shanghai")
    return datetime.now(zone).date()


def _summary(row: dict) -> dict:
    active = row["status"] in flow.ACTIVE_STATUSES
    return {
        "id": row["id"],
        "site_id": row["site"],
        "unit": {
            "id": row["unit"],
            "number": row["unit_number"],
            "floor_id": row["floor_id"],
            "floor": row["floor_name"],
            "building_id": row["building_id"],
            "building": row["building_name"],
        },
        "owner_name": row["owner_name"],
        "contractor_company": row["contractor_company"],
        "area_m2": row["area_m2"],
        "starts_on": row["starts_on"].isoformat(),
        "ends_on": row["ends_on"].isoformat(),
        "days_left": (row["ends_on"] - _today(row["timezone"])).days if active else None,
        "status": row["status"],
        "checkpoint_id": row["checkpoint"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


async def list_permits(
    user: CurrentUser,
    *,
    site: int | None = None,
    status: str | None = None,
    building: int | None = None,
    floor: int | None = None,
) -> list[dict]:
    """The permits of the user's sites (or of ``site``), newest first, by status / building /
    floor."""
    query = RenovationPermit.select(*_SUMMARY)
    clauses = []
    if site is not None:
        if not user.can_see_site(site):
            raise ApiError(404, "not_found")
        clauses.append(RenovationPermit.site == site)
    elif not user.is_admin:
        clauses.append(RenovationPermit.site.is_in(sorted(user.site_ids) or [0]))
    if status is not None:
        if status not in flow.STATUSES:
            raise _bad("status", "unknown")
        clauses.append(RenovationPermit.status == status)
    if building is not None:
        clauses.append(RenovationPermit.unit.floor.building == building)
    if floor is not None:
        clauses.append(RenovationPermit.unit.floor == floor)
    for clause in clauses:
        query = query.where(clause)
    rows = await query.order_by(RenovationPermit.id, ascending=False).limit(500)
    return [_summary(row) for row in rows]


async def _visible(user: CurrentUser, permit_id: int) -> dict:
    row = await RenovationPermit.select().where(RenovationPermit.id == permit_id).first()
    if row is None or not user.can_see_site(row["site"]):
        raise ApiError(404, "not_found")
    return row


async def _people(ids) -> dict[int, dict]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = await User.select(User.id, User.display_name, User.username).where(User.id.is_in(wanted))
    return {
        r["id"]: {"id": r["id"], "display_name": r["display_name"] or r["username"]} for r in rows
    }


def _state(row: dict) -> flow.PermitState:
    signed = frozenset(d for d, (by, _at) in _SIGNATURE_COLUMNS.items() if row[by._meta.name])
    return flow.PermitState(
        status=row["status"],
        area_m2=row["area_m2"] or 0.0,
        drawings_approved=row["drawings_reviewed_at"] is not None,
        fire_approved=bool(row["fire_approval"]),
        signed=signed,
    )


async def _gated_state(row: dict) -> flow.PermitState:
    """The permit's state with what gates the acceptance and settlement steps: a passed joint
    acceptance round of each kind, and the manager's approved settlement statement."""
    passed = {
        r["kind"]
        for r in await RenovationAcceptance.select(RenovationAcceptance.kind).where(
            (RenovationAcceptance.permit == row["id"]) & (RenovationAcceptance.status == "passed")
        )
    }
    settled = await RenovationSettlement.exists().where(RenovationSettlement.permit == row["id"])
    state = _state(row)
    return flow.PermitState(
        **{
            **state.__dict__,
            "hidden_works_passed": "hidden_works" in passed,
            "completion_passed": "completion" in passed,
            "settlement_approved": settled,
        }
    )


def last4(id_number: str) -> str:
    """An ID number as shown on screens: its last four characters only."""
    return "*" * max(len(id_number) - 4, 0) + id_number[-4:]


async def get_permit(user: CurrentUser, permit_id: int) -> dict:
    """One permit in full: owner and contractor, deposits, drawings review, fire approval,
    signatures, workers (ID numbers masked to the last 4), hot-work permits, extensions, timeline."""
    await _visible(user, permit_id)
    row = (
        await RenovationPermit.select(
            *_SUMMARY,
            RenovationPermit.owner_phone,
            RenovationPermit.contractor_licence,
            RenovationPermit.contractor_qualification,
            RenovationPermit.contractor_person,
            RenovationPermit.contractor_phone,
            RenovationPermit.owner_deposit,
            RenovationPermit.contractor_deposit,
            RenovationPermit.drawings_reviewer,
            RenovationPermit.drawings_reviewed_at,
            RenovationPermit.fire_approval,
            RenovationPermit.fire_approval_reference,
            *[c for pair in _SIGNATURE_COLUMNS.values() for c in pair],
        )
        .where(RenovationPermit.id == permit_id)
        .first()
    )
    workers = await (
        RenovationWorker.select()
        .where(RenovationWorker.permit == permit_id)
        .order_by(RenovationWorker.id)
    )
    hot_work = await (
        HotWorkPermit.select().where(HotWorkPermit.permit == permit_id).order_by(HotWorkPermit.id)
    )
    extensions = await (
        RenovationExtension.select()
        .where(RenovationExtension.permit == permit_id)
        .order_by(RenovationExtension.id)
    )
    events = await (
        RenovationEvent.select()
        .where(RenovationEvent.permit == permit_id)
        .order_by(RenovationEvent.id)
    )
    people = await _people(
        [row["drawings_reviewer"]]
        + [row[by._meta.name] for by, _ in _SIGNATURE_COLUMNS.values()]
        + [h["approved_by"] for h in hot_work]
        + [x[k] for x in extensions for k in ("requested_by", "reviewed_by", "approved_by")]
        + [e["actor"] for e in events]
    )
    sees_phones = flow.is_desk(await actor_of(user)) or user.is_admin
    view = _summary(row)
    view.update(
        {
            "owner_phone": row["owner_phone"] if sees_phones else mask_phone(row["owner_phone"]),
            "contractor": {
                "company": row["contractor_company"],
                "licence": row["contractor_licence"],
                "qualification": row["contractor_qualification"],
                "person": row["contractor_person"],
                "phone": row["contractor_phone"],
            },
            "owner_deposit": row["owner_deposit"],
            "contractor_deposit": row["contractor_deposit"],
            "drawings": {
                "reviewer": people.get(row["drawings_reviewer"]),
                "reviewed_at": row["drawings_reviewed_at"],
            },
            "fire_approval": {
                "required": (row["area_m2"] or 0) > flow.FIRE_APPROVAL_AREA_M2,
                "approved": bool(row["fire_approval"]),
                "reference": row["fire_approval_reference"],
            },
            "signatures": {
                department: {"by": people.get(row[by._meta.name]), "at": row[at._meta.name]}
                for department, (by, at) in _SIGNATURE_COLUMNS.items()
            },
            "workers": [
                {
                    "id": w["id"],
                    "name": w["name"],
                    "id_number": last4(w["id_number"]),
                    "pass_number": w["pass_number"],
                    "valid_until": w["valid_until"].isoformat(),
                    "pass_deposit": w["pass_deposit"],
                    "pass_fee": w["pass_fee"],
                }
                for w in workers
            ],
            "hot_work": [
                {
                    "id": h["id"],
                    "starts_on": h["starts_on"].isoformat(),
                    "ends_on": h["ends_on"].isoformat(),
                    "location": h["location"],
                    "approved_by": people.get(h["approved_by"]),
                }
                for h in hot_work
            ],
            "extensions": [
                {
                    "id": x["id"],
                    "requested_until": x["requested_until"].isoformat(),
                    "reason": x["reason"],
                    "fee": x["fee"],
                    "status": x["status"],
                    "requested_by": people.get(x["requested_by"]),
                    "requested_at": x["requested_at"],
                    "reviewed_by": people.get(x["reviewed_by"]),
                    "reviewed_at": x["reviewed_at"],
                    "approved_by": people.get(x["approved_by"]),
                    "approved_at": x["approved_at"],
                    "note": x["note"],
                }
                for x in extensions
            ],
            "timeline": [
                {
                    "id": e["id"],
                    "action": e["action"],
                    "from_status": e["from_status"],
                    "to_status": e["to_status"],
                    "actor": people.get(e["actor"]),
                    "device_time": e["device_time"],
                    "server_time": e["server_time"],
                    "note": e["note"],
                }
                for e in events
            ],
        }
    )
    return view


# --- registering --------------------------------------------------------------------------------


async def create_permit(
    user: CurrentUser,
    *,
    site: int,
    unit: int,
    owner_name: str,
    owner_phone: str = "",
    contractor_company: str = "",
    contractor_licence: str = "",
    contractor_qualification: str = "",
    contractor_person: str = "",
    contractor_phone: str = "",
    area_m2: float = 0.0,
    starts_on: date,
    ends_on: date | None = None,
    owner_deposit: int = 0,
    contractor_deposit: int = 0,
    client_id: str | None = None,
    device_time: datetime | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Register an application (state ``applied``) for a unit of the site: the desk only. A unit
    holds one open permit at a time (409 ``renovation_exists``)."""
    if not user.can_see_site(site):
        raise ApiError(404, "not_found")
    if not flow.may_register(await actor_of(user)):
        raise ApiError(403, "forbidden")
    owner_name = owner_name.strip()
    if not owner_name:
        raise _bad("owner_name", "required")
    if area_m2 < 0 or owner_deposit < 0 or contractor_deposit < 0:
        raise _bad("area_m2", "negative")
    requested_end = ends_on
    # No end date: the site's rule (renovation_months, 3 by default).
    ends_on = ends_on or add_months(starts_on, (await rules_for(site)).renovation_months)
    if ends_on <= starts_on:
        raise _bad("ends_on", "not after starts_on")
    client_id = checked_client_id(client_id)
    fields = {
        "user": user.id,
        "site": site,
        "unit": unit,
        "owner": [owner_name, owner_phone.strip()],
        "contractor": [
            contractor_company.strip(),
            contractor_licence.strip(),
            contractor_qualification.strip(),
            contractor_person.strip(),
            contractor_phone.strip(),
        ],
        "area_m2": area_m2,
        # As asked: a replay is the same request even if the site's months changed meanwhile.
        "period": [starts_on.isoformat(), requested_end.isoformat() if requested_end else None],
        "deposits": [owner_deposit, contractor_deposit],
        "device_time": time_key(device_time),
    }
    digest = request_hash("renovation", fields)
    earlier = await already(RenovationPermit, client_id, digest)
    if earlier is not None:
        return Outcome(earlier["id"], replayed=True)
    found = (
        await Unit.select(Unit.id)
        .where((Unit.id == unit) & (Unit.floor.building.site == site))
        .first()
    )
    if found is None:
        raise _bad("unit", "not a unit of this site")
    received = now or datetime.now(UTC)
    try:
        async with write_transaction(RenovationPermit._meta.db):
            earlier = await already(RenovationPermit, client_id, digest)
            if earlier is not None:
                return Outcome(earlier["id"], replayed=True)
            open_one = await RenovationPermit.exists().where(
                (RenovationPermit.unit == unit) & (RenovationPermit.status != "closed")
            )
            if open_one:
                # On PostgreSQL the open permit may be this very request's twin, committed between
                # the check above and this one.
                earlier = await already(RenovationPermit, client_id, digest)
                if earlier is not None:
                    return Outcome(earlier["id"], replayed=True)
                raise ApiError(409, "renovation_exists")
            inserted = await RenovationPermit.insert(
                RenovationPermit(
                    site=site,
                    unit=unit,
                    owner_name=owner_name[:100],
                    owner_phone=owner_phone.strip()[:32],
                    contractor_company=contractor_company.strip()[:200],
                    contractor_licence=contractor_licence.strip()[:64],
                    contractor_qualification=contractor_qualification.strip()[:100],
                    contractor_person=contractor_person.strip()[:100],
                    contractor_phone=contractor_phone.strip()[:32],
                    area_m2=float(area_m2),
                    starts_on=starts_on,
                    ends_on=ends_on,
                    owner_deposit=owner_deposit,
                    contractor_deposit=contractor_deposit,
                    status="applied",
                    created_by=user.id,
                    client_id=client_id,
                    body_hash=digest if client_id else "",
                    created_at=received,
                    updated_at=received,
                )
            ).returning(RenovationPermit.id)
            permit_id = inserted[0]["id"]
            await RenovationEvent.insert(
                RenovationEvent(
                    permit=permit_id,
                    action="apply",
                    from_status="",
                    to_status="applied",
                    actor=user.id,
                    device_time=_device_time(device_time, received),
                    server_time=received,
                    note="",
                )
            )
    except INSERT_RACES:
        earlier = await already(RenovationPermit, client_id, digest)
        if earlier is not None:
            return Outcome(earlier["id"], replayed=True)
        if await RenovationPermit.exists().where(
            (RenovationPermit.unit == unit) & (RenovationPermit.status != "closed")
        ):
            # The one-open-permit index: another desk registered the unit at the same moment.
            raise ApiError(409, "renovation_exists") from None
        raise
    return Outcome(permit_id)


# --- the unit and its checkpoint ----------------------------------------------------------------


async def _open_checkpoint(permit: dict, now: datetime) -> int:
    """Make (or re-activate) the unit's renovation checkpoint; the unit is now renovating."""
    unit = (
        await Unit.select(
            Unit.id,
            Unit.number,
            Unit.status,
            Unit.floor,
            Unit.floor.building.as_alias("building_id"),
            Unit.floor.building.code.as_alias("building_code"),
            Unit.floor.building.name.as_alias("building_name"),
        )
        .where(Unit.id == permit["unit"])
        .first()
    )
    existing = (
        await Checkpoint.select(Checkpoint.id)
        .where((Checkpoint.unit == unit["id"]) & (Checkpoint.kind == "renovation"))
        .order_by(Checkpoint.id)
        .first()
    )
    if existing is not None:
        checkpoint_id = existing["id"]
        await Checkpoint.update({Checkpoint.active: True, Checkpoint.updated_at: now}).where(
            Checkpoint.id == checkpoint_id
        )
    else:
        template = (
            await ChecklistTemplate.select(ChecklistTemplate.id)
            .where(ChecklistTemplate.code == template_code_for("renovation"))
            .first()
        )
        code = f"{unit['building_code']}-{unit['number']}-{RENOVATION_SUFFIX}"[:24]
        taken = await Checkpoint.exists().where(
            (Checkpoint.site == permit["site"]) & (Checkpoint.code == code)
        )
        if taken:
            code = f"{code[:17]}-{permit['id']}"[:24]
        inserted = await Checkpoint.insert(
            Checkpoint(
                site=permit["site"],
                code=code,
                kind="renovation",
                type_code="",
                name=f"{unit['building_name']}{unit['number']} 装修单元"[:100],
                building=unit["building_id"],
                floor=unit["floor"],
                unit=unit["id"],
                template=template["id"] if template else None,
                updated_at=now,
            )
        ).returning(Checkpoint.id)
        checkpoint_id = inserted[0]["id"]
    await Unit.update({Unit.status: "renovating"}).where(Unit.id == unit["id"])
    await RenovationPermit.update(
        {
            RenovationPermit.checkpoint: checkpoint_id,
            RenovationPermit.unit_status_before: (
                unit["status"] if unit["status"] != "renovating" else "occupied"
            ),
        }
    ).where(RenovationPermit.id == permit["id"])
    # The unit joins the site's renovation plans from today: its three departments' rounds are
    # due from today, never before the permit (same transaction).
    from server import plans

    await plans.join_checkpoint(checkpoint_id, await _site_today(permit["site"]), now)
    return checkpoint_id


async def _site_today(site_id: int) -> date:
    from server.tables.sites import Site

    row = await Site.select(Site.timezone).where(Site.id == site_id).first()
    return _today(row["timezone"] if row else None)


async def _close_checkpoint(permit: dict, now: datetime) -> None:
    """The unit goes back to what it was; its renovation checkpoint is deactivated."""
    if permit["checkpoint"] is not None:
        await Checkpoint.update({Checkpoint.active: False, Checkpoint.updated_at: now}).where(
            Checkpoint.id == permit["checkpoint"]
        )
        # It leaves the renovation plans: yesterday was its last expected day (a closed unit's
        # checkpoint is off the phones, so today's round could only be missed).
        from datetime import timedelta

        from server import plans

        last_day = await _site_today(permit["site"]) - timedelta(days=1)
        await plans.leave_checkpoint(permit["checkpoint"], last_day)
    await Unit.update({Unit.status: permit["unit_status_before"] or "occupied"}).where(
        (Unit.id == permit["unit"]) & (Unit.status == "renovating")
    )


# --- steps --------------------------------------------------------------------------------------


async def _write(
    user: CurrentUser,
    permit_id: int,
    kind: str,
    fields: dict,
    client_id: str | None,
    body,
) -> Outcome:
    """Run ``body(permit_row, now, event_fields)`` in one write transaction, exactly once under
    ``client_id``; ``body`` returns the event to record (action, from, to, note)."""
    client_id = checked_client_id(client_id)
    digest = request_hash(kind, {"user": user.id, "permit": permit_id, **fields})
    earlier = await already(RenovationEvent, client_id, digest, RenovationEvent.permit)
    if earlier is not None:
        if earlier["permit"] != permit_id:
            raise ApiError(409, "client_id_conflict")
        return Outcome(permit_id, replayed=True)
    await _visible(user, permit_id)
    try:
        async with write_transaction(RenovationPermit._meta.db):
            earlier = await already(RenovationEvent, client_id, digest, RenovationEvent.permit)
            if earlier is not None:
                return Outcome(permit_id, replayed=True)
            row = await RenovationPermit.select().where(RenovationPermit.id == permit_id).first()
            now = datetime.now(UTC)
            action, from_status, to_status, note, device_time = await body(row, now)
            await RenovationEvent.insert(
                RenovationEvent(
                    permit=permit_id,
                    action=action,
                    from_status=from_status,
                    to_status=to_status,
                    actor=user.id,
                    device_time=_device_time(device_time, now),
                    server_time=now,
                    note=note[:MAX_NOTE],
                    client_id=client_id,
                    body_hash=digest if client_id else "",
                )
            )
    except INSERT_RACES:
        earlier = await already(RenovationEvent, client_id, digest, RenovationEvent.permit)
        if earlier is not None:
            return Outcome(permit_id, replayed=True)
        raise
    return Outcome(permit_id)


async def _changed(query) -> None:
    """Run a conditional UPDATE; none matched means someone moved the permit first."""
    rows = await query.returning(RenovationPermit.id)
    if not rows:
        raise ApiError(409, "renovation_changed")


async def step(
    user: CurrentUser,
    permit_id: int,
    api_step: str,
    *,
    note: str = "",
    department: str | None = None,
    reference: str = "",
    device_time: datetime | None = None,
    client_id: str | None = None,
) -> Outcome:
    """One step of the lifecycle (``API_STEPS``); 409 with a code when it is not possible."""
    step_name = API_STEPS.get(api_step)
    if step_name is None:
        raise ApiError(400, "unknown_action")
    actor = await actor_of(user)
    fields = {
        "step": step_name,
        "note": note.strip(),
        "department": department,
        "reference": reference.strip(),
        "device_time": time_key(device_time),
    }

    async def body(row: dict, now: datetime):
        try:
            after = flow.apply(
                await _gated_state(row),
                step_name,
                actor,
                reason=note,
                department=department,
                reference=reference,
            )
        except flow.TransitionError as error:
            raise ApiError(error.status, error.code) from error
        before = row["status"]
        changes: dict = {RenovationPermit.updated_at: now}
        where = (RenovationPermit.id == permit_id) & (RenovationPermit.status == before)
        if step_name == "approve_drawings":
            changes[RenovationPermit.drawings_reviewer] = user.id
            changes[RenovationPermit.drawings_reviewed_at] = now
            where = where & RenovationPermit.drawings_reviewed_at.is_null()
        elif step_name == "reject_drawings":
            changes[RenovationPermit.drawings_reviewer] = None
            changes[RenovationPermit.drawings_reviewed_at] = None
            for by, at in _SIGNATURE_COLUMNS.values():
                changes[by] = None
                changes[at] = None
        elif step_name == "record_fire_approval":
            changes[RenovationPermit.fire_approval] = True
            changes[RenovationPermit.fire_approval_reference] = reference.strip()[:100]
        elif step_name == "sign":
            by, at = _SIGNATURE_COLUMNS[department]
            changes[by] = user.id
            changes[at] = now
            where = where & by.is_null()
        if after.status != before:
            changes[RenovationPermit.status] = after.status
        await _changed(RenovationPermit.update(changes).where(where))
        if step_name == "issue":
            await _open_checkpoint(row, now)
        elif step_name == "close":
            fresh = await RenovationPermit.select().where(RenovationPermit.id == permit_id).first()
            await _close_checkpoint(fresh, now)
        text = note.strip()
        if step_name == "sign":
            text = department or ""
        elif step_name == "record_fire_approval":
            text = reference.strip()
        return step_name, before, after.status, text, device_time

    return await _write(user, permit_id, f"step:{step_name}", fields, client_id, body)


# --- workers, hot work, extensions --------------------------------------------------------------


async def add_worker(
    user: CurrentUser,
    permit_id: int,
    *,
    name: str,
    id_number: str,
    pass_number: str = "",
    valid_until: date | None = None,
    pass_deposit: int | None = None,
    pass_fee: int | None = None,
    client_id: str | None = None,
) -> Outcome:
    """A worker's pass (出入证), by the desk; valid until the permit's end by default, its deposit
    and fee the site's (``site_rules``: 100 元 / 5 元 unless the site says otherwise) when not
    given."""
    name, id_number = name.strip(), id_number.strip().upper()
    if not name:
        raise _bad("name", "required")
    if len(id_number) < 4:
        raise _bad("id_number", "too short")
    if (pass_deposit is not None and pass_deposit < 0) or (pass_fee is not None and pass_fee < 0):
        raise _bad("pass_deposit", "negative")
    actor = await actor_of(user)
    fields = {
        "name": name,
        "id_number": id_number,
        "pass_number": pass_number.strip(),
        "valid_until": valid_until.isoformat() if valid_until else None,
        "money": [pass_deposit, pass_fee],
    }

    async def body(row: dict, now: datetime):
        if not flow.is_desk(actor):
            raise ApiError(403, "forbidden")
        if row["status"] not in flow.PASS_STATUSES:
            raise ApiError(409, "renovation_illegal_step")
        rules = await rules_for(row["site"])
        await RenovationWorker.insert(
            RenovationWorker(
                permit=permit_id,
                name=name[:50],
                id_number=id_number[:32],
                pass_number=pass_number.strip()[:32],
                valid_until=valid_until or row["ends_on"],
                pass_deposit=rules.pass_deposit if pass_deposit is None else pass_deposit,
                pass_fee=rules.pass_fee if pass_fee is None else pass_fee,
                created_at=now,
            )
        )
        await _touch(permit_id, now)
        return "add_worker", row["status"], row["status"], f"{name} {last4(id_number)}", None

    return await _write(user, permit_id, "worker", fields, client_id, body)


async def _touch(permit_id: int, now: datetime) -> None:
    await RenovationPermit.update({RenovationPermit.updated_at: now}).where(
        RenovationPermit.id == permit_id
    )


async def add_hot_work(
    user: CurrentUser,
    permit_id: int,
    *,
    starts_on: date,
    ends_on: date,
    location: str = "",
    client_id: str | None = None,
) -> Outcome:
    """A hot-work permit (动火证), approved by 保安 or a manager, within the permit's period."""
    if ends_on < starts_on:
        raise _bad("ends_on", "before starts_on")
    actor = await actor_of(user)
    fields = {"period": [starts_on.isoformat(), ends_on.isoformat()], "location": location.strip()}

    async def body(row: dict, now: datetime):
        if not flow.may_approve_hot_work(actor):
            raise ApiError(403, "forbidden")
        if row["status"] not in flow.PASS_STATUSES:
            raise ApiError(409, "renovation_illegal_step")
        if starts_on < row["starts_on"] or ends_on > row["ends_on"]:
            raise ApiError(409, "outside_permit_period")
        await HotWorkPermit.insert(
            HotWorkPermit(
                permit=permit_id,
                starts_on=starts_on,
                ends_on=ends_on,
                location=location.strip()[:200],
                approved_by=user.id,
                created_at=now,
            )
        )
        await _touch(permit_id, now)
        note = f"{starts_on.isoformat()}..{ends_on.isoformat()} {location.strip()}".strip()
        return "hot_work", row["status"], row["status"], note, None

    return await _write(user, permit_id, "hot_work", fields, client_id, body)


async def request_extension(
    user: CurrentUser,
    permit_id: int,
    *,
    requested_until: date,
    reason: str,
    fee: int = 0,
    client_id: str | None = None,
) -> Outcome:
    """An extension request (装修延期), by the desk, while the work is on; one open at a time."""
    reason = reason.strip()
    if not reason:
        raise ApiError(400, "reason_required")
    if fee < 0:
        raise _bad("fee", "negative")
    actor = await actor_of(user)
    fields = {"until": requested_until.isoformat(), "reason": reason, "fee": fee}

    async def body(row: dict, now: datetime):
        if not flow.is_desk(actor):
            raise ApiError(403, "forbidden")
        if row["status"] not in flow.EXTENSION_STATUSES:
            raise ApiError(409, "renovation_illegal_step")
        if requested_until <= row["ends_on"]:
            raise _bad("requested_until", "not after the permit's end")
        pending = await RenovationExtension.exists().where(
            (RenovationExtension.permit == permit_id)
            & RenovationExtension.status.is_in(["requested", "reviewed"])
        )
        if pending:
            raise ApiError(409, "extension_pending")
        await RenovationExtension.insert(
            RenovationExtension(
                permit=permit_id,
                requested_until=requested_until,
                reason=reason[:MAX_NOTE],
                fee=fee,
                status="requested",
                requested_by=user.id,
                requested_at=now,
            )
        )
        await _touch(permit_id, now)
        return "extension_request", row["status"], row["status"], reason, None

    return await _write(user, permit_id, "extension", fields, client_id, body)


async def act_on_extension(
    user: CurrentUser,
    permit_id: int,
    extension_id: int,
    extension_step: str,
    *,
    note: str = "",
    client_id: str | None = None,
) -> Outcome:
    """工程 reviews, the manager approves (the permit's end moves to the requested date); either
    rejects with the reason."""
    if extension_step not in EXTENSION_STEPS:
        raise ApiError(400, "unknown_action")
    actor = await actor_of(user)
    fields = {"extension": extension_id, "step": extension_step, "note": note.strip()}

    async def body(row: dict, now: datetime):
        extension = (
            await RenovationExtension.select()
            .where(
                (RenovationExtension.id == extension_id) & (RenovationExtension.permit == permit_id)
            )
            .first()
        )
        if extension is None:
            raise ApiError(404, "not_found")
        try:
            after = flow.apply_extension(extension["status"], extension_step, actor, reason=note)
        except flow.TransitionError as error:
            raise ApiError(error.status, error.code) from error
        changes: dict = {RenovationExtension.status: after}
        if extension_step == "review":
            changes[RenovationExtension.reviewed_by] = user.id
            changes[RenovationExtension.reviewed_at] = now
        elif extension_step == "approve":
            changes[RenovationExtension.approved_by] = user.id
            changes[RenovationExtension.approved_at] = now
        if note.strip():
            changes[RenovationExtension.note] = note.strip()[:MAX_NOTE]
        moved = (
            await RenovationExtension.update(changes)
            .where(
                (RenovationExtension.id == extension_id)
                & (RenovationExtension.status == extension["status"])
            )
            .returning(RenovationExtension.id)
        )
        if not moved:
            raise ApiError(409, "renovation_changed")
        permit_changes: dict = {RenovationPermit.updated_at: now}
        if after == "approved":
            permit_changes[RenovationPermit.ends_on] = extension["requested_until"]
        await RenovationPermit.update(permit_changes).where(RenovationPermit.id == permit_id)
        text = f"#{extension_id} {extension['requested_until'].isoformat()} {note.strip()}"
        return f"extension_{extension_step}", row["status"], row["status"], text.strip(), None

    return await _write(user, permit_id, "extension_step", fields, client_id, body)


__all__ = [
    "API_STEPS",
    "EXTENSION_STEPS",
    "Outcome",
    "act_on_extension",
    "add_hot_work",
    "add_months",
    "add_worker",
    "create_permit",
    "get_permit",
    "last4",
    "list_permits",
    "request_extension",
    "step",
]


async def floor_units(user: CurrentUser, floor_id: int) -> list[dict]:
    """The active units of a floor of the user's sites (others: 404), by number, each with the
    permit not yet closed on it (the registration form's unit picker)."""
    floor = await (
        Floor.select(Floor.id, Floor.building.site.as_alias("site"))
        .where(Floor.id == floor_id)
        .first()
    )
    if floor is None or not user.can_see_site(floor["site"]):
        raise ApiError(404, "not_found")
    units = await Unit.select(Unit.id, Unit.number, Unit.status).where(
        (Unit.floor == floor_id) & (Unit.active == True)  # noqa: E712
    )
    open_permits = {}
    if units:
        rows = await RenovationPermit.select(
            RenovationPermit.id, RenovationPermit.unit, RenovationPermit.status
        ).where(
            RenovationPermit.unit.is_in([u["id"] for u in units])
            & (RenovationPermit.status != "closed")
        )
        open_permits = {row["unit"]: row for row in rows}
    out = []
    for unit in sorted(units, key=lambda u: (len(u["number"]), u["number"])):
        permit = open_permits.get(unit["id"])
        out.append(
            {
                "id": unit["id"],
                "number": unit["number"],
                "status": unit["status"],
                "permit_id": permit["id"] if permit else None,
                "permit_status": permit["status"] if permit else None,
            }
        )
    return out
