"""Violations (违章) and rectification notices (整改通知).

Found on inspections: every failed item of a check on a ``renovation`` checkpoint opens a
violation, inside the sync batch's write transaction (``from_checks``, called by ``server/sync.py``
right after the work orders are raised), so a check and its notices are stored together or not at
all. One open violation per checkpoint and item (the partial unique index ``violation_open_item``):
a second sighting while it is open adds an event to it instead. The grade follows the item's
severity (critical / major → 重大 major, minor → 一般 general; DOMAIN §Owner violations), the
deadline too (``DEADLINE_DAYS``). The work order is the one ``raise_findings`` raised or joined for
the item (it already goes to the item's responsible department); the permit is the unit's open one.

Rectified by a later synced check of the same checkpoint in which the item passes (its
``reinspection``), or by hand (``reinspect``: the found department, the desk, a manager), or
cancelled by a manager. Records are kept 1 year (general) or 5 years (major) from the day found,
recomputed from the day closed (``keep_until``); ``purge_expired`` deletes closed ones after that
(the ``violation-purge`` background job, server/leader.py).

Exactly once: the hand-made steps store the phone's ``client_id`` on the event they record; the
same id and request again answers ``replayed``; the same id with another request is 409
``client_id_conflict``.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta

from server import renovation_flow as flow
from server.auth import CurrentUser
from server.calendars import site_zone
from server.db import write_transaction
from server.errors import ApiError
from server.exactly_once import INSERT_RACES, Outcome, already, checked_client_id, request_hash
from server.findings import bounded_raised_at
from server.inspections import photo_ref
from server.tables.accounts import Department, User
from server.tables.inspections import InspectionPhoto
from server.tables.renovations import RenovationPermit
from server.tables.sites import Site
from server.tables.violations import Violation, ViolationEvent
from server.tables.work_orders import WorkOrder, WorkOrderPhoto
from server.work_orders import check_photos

log = logging.getLogger("xunjian.violations")

#: Days to rectify, by the failed item's severity.
DEADLINE_DAYS: dict[str, int] = {"critical": 1, "major": 3, "minor": 7}
#: 重大 for critical and major items, 一般 for minor ones.
GRADE_OF: dict[str, str] = {"critical": "major", "major": "major", "minor": "general"}
#: How long a record is kept, in years, by grade (001 §3.6).
KEEP_YEARS: dict[str, int] = {"general": 1, "major": 5}
STATUSES = ("open", "rectified", "cancelled")
MAX_LIST = 500
MAX_NOTE = 2000


def _bad(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid_request", detail=[{"field": field, "message": message}])


def grade_of(severity: str) -> str:
    return GRADE_OF.get(severity, "general")


def deadline_for(found_at: datetime, severity: str) -> datetime:
    return found_at + timedelta(days=DEADLINE_DAYS.get(severity, DEADLINE_DAYS["minor"]))


def keep_until(day: date, grade: str) -> date:
    """The last day a record found (or closed) on ``day`` is kept: 1 or 5 years later (28
    February when the day is 29 February)."""
    years = KEEP_YEARS.get(grade, KEEP_YEARS["major"])
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def local_day(moment: datetime, timezone: str | None) -> date:
    return moment.astimezone(site_zone(timezone)).date()


# --- found on checks (inside the sync transaction) ---------------------------------------------


async def from_checks(
    accepted, *, user: CurrentUser, received_at: datetime
) -> dict[int, list[int]]:
    """Open violations for the failed items of the checks in ``accepted`` that are of renovation
    checkpoints, and rectify open ones whose item passed in a later check. ``accepted`` is the
    sync batch's list of accepted records (``record``, ``checkpoint`` row, ``template`` with its
    ``items``, ``device_time``). Must run inside the batch's write transaction, after the
    inspections and the work orders are stored. Returns {index in batch: [violation ids]}."""
    checks = [a for a in accepted if a.checkpoint["kind"] == "renovation"]
    if not checks:
        return {}
    checkpoint_ids = sorted({a.checkpoint["id"] for a in checks})
    site_ids = sorted({a.checkpoint["site"] for a in checks})
    zones = {
        row["id"]: row["timezone"]
        for row in await Site.select(Site.id, Site.timezone).where(Site.id.is_in(site_ids))
    }
    open_rows = await Violation.select(
        Violation.id,
        Violation.checkpoint,
        Violation.item_code,
        Violation.found_at,
        Violation.work_order,
        Violation.grade,
    ).where(Violation.checkpoint.is_in(checkpoint_ids) & (Violation.status == "open"))
    open_now: dict[tuple[int, str], dict] = {
        (row["checkpoint"], row["item_code"]): row for row in open_rows
    }
    orders = {
        (row["checkpoint"], row["item_code"]): row["id"]
        for row in await WorkOrder.select(
            WorkOrder.id, WorkOrder.checkpoint, WorkOrder.item_code
        ).where(
            WorkOrder.checkpoint.is_in(checkpoint_ids)
            & (WorkOrder.source == "inspection")
            & (WorkOrder.status != "closed")
        )
    }
    permits = {
        row["checkpoint"]: row["id"]
        for row in await RenovationPermit.select(
            RenovationPermit.id, RenovationPermit.checkpoint
        ).where(
            RenovationPermit.checkpoint.is_in(checkpoint_ids)
            & (RenovationPermit.status != "closed")
        )
    }
    found: dict[int, list[int]] = {}
    events: list[ViolationEvent] = []
    # In the order the checks were made: a failure then a pass in one batch opens and rectifies.
    for a in sorted(checks, key=lambda a: (a.device_time, str(a.record.id))):
        at = bounded_raised_at(a.device_time, received_at)
        checkpoint_id = a.checkpoint["id"]
        timezone = zones.get(a.checkpoint["site"])
        for item in a.record.items:
            key = (checkpoint_id, item.item)
            current = open_now.get(key)
            if item.result == "fail":
                if current is not None:
                    # Seen again while open: noted on the notice, no second violation. Its order
                    # is the item's open one (a new one when the first was closed meanwhile).
                    order = orders.get(key)
                    if order is not None and order != current["work_order"]:
                        await Violation.update(
                            {Violation.work_order: order, Violation.updated_at: received_at}
                        ).where(Violation.id == current["id"])
                        current["work_order"] = order
                    events.append(_event(current["id"], "seen", a, user, at, item.note))
                    found.setdefault(a.index, []).append(current["id"])
                    continue
                spec = a.template["items"][item.item]
                severity = spec["severity"] or "minor"
                grade = grade_of(severity)
                inserted = await Violation.insert(
                    Violation(
                        site=a.checkpoint["site"],
                        checkpoint=checkpoint_id,
                        permit=permits.get(checkpoint_id),
                        inspection=a.record.id,
                        item_code=item.item,
                        title=(spec["text_zh"] or item.item)[:200],
                        severity=severity,
                        grade=grade,
                        category="renovation",
                        found_by=user.id,
                        found_department=user.department_id,
                        found_at=at,
                        deadline=deadline_for(at, severity),
                        work_order=orders.get(key),
                        status="open",
                        note=item.note[:MAX_NOTE],
                        keep_until=keep_until(local_day(at, timezone), grade),
                        created_at=received_at,
                        updated_at=received_at,
                    )
                ).returning(Violation.id)
                violation_id = inserted[0]["id"]
                open_now[key] = {
                    "id": violation_id,
                    "found_at": at,
                    "work_order": orders.get(key),
                    "grade": grade,
                }
                events.append(_event(violation_id, "found", a, user, at, item.note))
                found.setdefault(a.index, []).append(violation_id)
            elif item.result == "pass" and current is not None and at > current["found_at"]:
                await Violation.update(
                    {
                        Violation.status: "rectified",
                        Violation.reinspection: a.record.id,
                        Violation.rectified_at: at,
                        Violation.closed_by: user.id,
                        Violation.keep_until: keep_until(local_day(at, timezone), current["grade"]),
                        Violation.updated_at: received_at,
                    }
                ).where((Violation.id == current["id"]) & (Violation.status == "open"))
                events.append(_event(current["id"], "rectified", a, user, at, item.note))
                del open_now[key]
    if events:
        await ViolationEvent.insert(*events)
    return found


def _event(violation_id: int, action: str, a, user: CurrentUser, at: datetime, note: str):
    return ViolationEvent(
        violation=violation_id,
        action=action,
        passed=None if action == "found" or action == "seen" else True,
        inspection=a.record.id,
        actor=user.id,
        at=at,
        note=(note or "")[:MAX_NOTE],
        photos=[],
    )


# --- reading ------------------------------------------------------------------------------------

_LIST_COLUMNS = (
    Violation.id,
    Violation.site,
    Violation.checkpoint,
    Violation.checkpoint.code.as_alias("checkpoint_code"),
    Violation.checkpoint.name.as_alias("checkpoint_name"),
    Violation.checkpoint.unit.as_alias("unit_id"),
    Violation.checkpoint.unit.number.as_alias("unit_number"),
    Violation.checkpoint.building.name.as_alias("building_name"),
    Violation.checkpoint.floor.name.as_alias("floor_name"),
    Violation.permit,
    Violation.inspection,
    Violation.item_code,
    Violation.title,
    Violation.severity,
    Violation.grade,
    Violation.category,
    Violation.found_by,
    Violation.found_department,
    Violation.found_at,
    Violation.deadline,
    Violation.work_order,
    Violation.work_order.status.as_alias("work_order_status"),
    Violation.status,
    Violation.reinspection,
    Violation.rectified_at,
    Violation.closed_by,
    Violation.note,
    Violation.keep_until,
    Violation.created_at,
    Violation.updated_at,
)


async def _people(ids) -> dict[int, dict]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = await User.select(User.id, User.display_name, User.username).where(User.id.is_in(wanted))
    return {
        r["id"]: {"id": r["id"], "display_name": r["display_name"] or r["username"]} for r in rows
    }


async def _departments(ids) -> dict[int, dict]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = await Department.select(
        Department.id, Department.code, Department.name_zh, Department.name_en
    ).where(Department.id.is_in(wanted))
    return {r["id"]: r for r in rows}


def _view(row: dict, people: dict, departments: dict, now: datetime) -> dict:
    return {
        "id": row["id"],
        "site_id": row["site"],
        "checkpoint": {
            "id": row["checkpoint"],
            "code": row["checkpoint_code"],
            "name": row["checkpoint_name"],
        },
        "unit": {
            "id": row["unit_id"],
            "number": row["unit_number"],
            "building": row["building_name"],
            "floor": row["floor_name"],
        },
        "permit_id": row["permit"],
        "inspection_id": str(row["inspection"]) if row["inspection"] else None,
        "item_code": row["item_code"],
        "title": row["title"],
        "severity": row["severity"],
        "grade": row["grade"],
        "category": row["category"],
        "found_by": people.get(row["found_by"]),
        "found_department": departments.get(row["found_department"]),
        "found_at": row["found_at"],
        "deadline": row["deadline"],
        "overdue": row["status"] == "open" and row["deadline"] < now,
        "work_order": (
            {"id": row["work_order"], "status": row["work_order_status"]}
            if row["work_order"]
            else None
        ),
        "status": row["status"],
        "reinspection_id": str(row["reinspection"]) if row["reinspection"] else None,
        "rectified_at": row["rectified_at"],
        "closed_by": people.get(row["closed_by"]),
        "note": row["note"],
        "keep_until": row["keep_until"].isoformat(),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


async def list_violations(
    user: CurrentUser,
    *,
    site: int | None = None,
    permit: int | None = None,
    status: str | None = None,
    checkpoint: int | None = None,
) -> list[dict]:
    """The violations of the user's sites (or of ``site``), newest first, at most 500."""
    query = Violation.select(*_LIST_COLUMNS)
    if site is not None:
        if not user.can_see_site(site):
            raise ApiError(404, "not_found")
        query = query.where(Violation.site == site)
    elif not user.is_admin:
        query = query.where(Violation.site.is_in(sorted(user.site_ids) or [0]))
    if status is not None:
        if status not in STATUSES:
            raise _bad("status", "unknown")
        query = query.where(Violation.status == status)
    if permit is not None:
        query = query.where(Violation.permit == permit)
    if checkpoint is not None:
        query = query.where(Violation.checkpoint == checkpoint)
    rows = await query.order_by(Violation.id, ascending=False).limit(MAX_LIST)
    people = await _people([r[k] for r in rows for k in ("found_by", "closed_by")])
    departments = await _departments([r["found_department"] for r in rows])
    now = datetime.now(UTC)
    return [_view(row, people, departments, now) for row in rows]


async def _visible(user: CurrentUser, violation_id: int) -> dict:
    row = await Violation.select().where(Violation.id == violation_id).first()
    if row is None or not user.can_see_site(row["site"]):
        raise ApiError(404, "not_found")
    return row


def _photo_list(value) -> list[str]:
    if isinstance(value, str):
        value = json.loads(value or "[]")
    return [str(v) for v in value or []]


async def get_violation(user: CurrentUser, violation_id: int) -> dict:
    """One violation with its rectification notice: the unit, owner and contractor, the item,
    the deadline, the photos of the finding check, the work order and the re-inspection."""
    await _visible(user, violation_id)
    row = await Violation.select(*_LIST_COLUMNS).where(Violation.id == violation_id).first()
    events = await (
        ViolationEvent.select()
        .where(ViolationEvent.violation == violation_id)
        .order_by(ViolationEvent.id)
    )
    people = await _people([row["found_by"], row["closed_by"], *[e["actor"] for e in events]])
    departments = await _departments([row["found_department"]])
    view = _view(row, people, departments, datetime.now(UTC))
    permit = None
    if row["permit"] is not None:
        permit = (
            await RenovationPermit.select(
                RenovationPermit.id,
                RenovationPermit.status,
                RenovationPermit.owner_name,
                RenovationPermit.contractor_company,
                RenovationPermit.contractor_person,
                RenovationPermit.contractor_phone,
                RenovationPermit.starts_on,
                RenovationPermit.ends_on,
            )
            .where(RenovationPermit.id == row["permit"])
            .first()
        )
    photos: list[str] = []
    if row["inspection"] is not None:
        photo_rows = await InspectionPhoto.select(
            InspectionPhoto.photo, InspectionPhoto.item_code
        ).where(
            (InspectionPhoto.inspection == row["inspection"])
            & InspectionPhoto.item_code.is_in([row["item_code"], ""])
        )
        # The item's own photos first, then the check's.
        photo_rows.sort(key=lambda p: p["item_code"] == "")
        photos = list(dict.fromkeys(p["photo"] for p in photo_rows))
    reinspection = None
    closing = next(
        (e for e in reversed(events) if e["action"] in ("rectified", "reinspect", "cancel")), None
    )
    if row["status"] == "rectified" and closing is not None:
        reinspection = {
            "inspection_id": str(row["reinspection"]) if row["reinspection"] else None,
            "at": row["rectified_at"],
            "by": people.get(closing["actor"]),
            "by_hand": row["reinspection"] is None,
            "note": closing["note"],
            "photos": [photo_ref(p) for p in _photo_list(closing["photos"])],
        }
    view.update(
        {
            "notice": {
                "unit": (
                    f"{row['building_name'] or ''}{row['unit_number'] or ''}"
                    or row["checkpoint_name"]
                ),
                "owner_name": permit["owner_name"] if permit else "",
                "contractor": (
                    {
                        "company": permit["contractor_company"],
                        "person": permit["contractor_person"],
                        "phone": permit["contractor_phone"],
                    }
                    if permit
                    else None
                ),
                "permit": (
                    {
                        "id": permit["id"],
                        "status": permit["status"],
                        "starts_on": permit["starts_on"].isoformat(),
                        "ends_on": permit["ends_on"].isoformat(),
                    }
                    if permit
                    else None
                ),
                "item": row["title"],
                "deadline": row["deadline"],
            },
            "photos": [photo_ref(p) for p in photos],
            "reinspection": reinspection,
            "events": [
                {
                    "id": e["id"],
                    "action": e["action"],
                    "passed": e["passed"],
                    "inspection_id": str(e["inspection"]) if e["inspection"] else None,
                    "actor": people.get(e["actor"]),
                    "at": e["at"],
                    "note": e["note"],
                    "photos": [photo_ref(p) for p in _photo_list(e["photos"])],
                }
                for e in events
            ],
        }
    )
    return view


async def open_counts(permit_ids: list[int]) -> dict[int, dict]:
    """{permit id: {"open": n, "overdue": m}} for every permit asked about (0s when none)."""
    counts = {pid: {"open": 0, "overdue": 0} for pid in permit_ids}
    if not permit_ids:
        return counts
    now = datetime.now(UTC)
    rows = await Violation.select(Violation.permit, Violation.deadline).where(
        Violation.permit.is_in(sorted(set(permit_ids))) & (Violation.status == "open")
    )
    for row in rows:
        entry = counts.setdefault(row["permit"], {"open": 0, "overdue": 0})
        entry["open"] += 1
        if row["deadline"] < now:
            entry["overdue"] += 1
    return counts


# --- by hand ------------------------------------------------------------------------------------


async def _actor(user: CurrentUser) -> flow.Actor:
    code = None
    if user.department_id is not None:
        row = (
            await Department.select(Department.code)
            .where(Department.id == user.department_id)
            .first()
        )
        code = row["code"] if row else None
    return flow.Actor(user.role, code)


def may_reinspect(user: CurrentUser, actor: flow.Actor, row: dict) -> bool:
    """The department that found it, the desk, a manager."""
    if flow.is_desk(actor):
        return True
    return (
        user.role in flow.DEPARTMENT_STAFF_ROLES
        and user.department_id is not None
        and user.department_id == row["found_department"]
    )


async def _write(user, violation_id, kind, fields, client_id, body) -> Outcome:
    client_id = checked_client_id(client_id)
    digest = request_hash(kind, {"user": user.id, "violation": violation_id, **fields})
    earlier = await already(ViolationEvent, client_id, digest, ViolationEvent.violation)
    if earlier is not None:
        if earlier["violation"] != violation_id:
            raise ApiError(409, "client_id_conflict")
        return Outcome(violation_id, replayed=True)
    await _visible(user, violation_id)
    try:
        async with write_transaction(Violation._meta.db):
            if await already(ViolationEvent, client_id, digest) is not None:
                return Outcome(violation_id, replayed=True)
            row = await Violation.select().where(Violation.id == violation_id).first()
            now = datetime.now(UTC)
            event = await body(row, now)
            event.client_id = client_id
            event.body_hash = digest if client_id else ""
            await ViolationEvent.insert(event)
    except INSERT_RACES:
        if await already(ViolationEvent, client_id, digest) is not None:
            return Outcome(violation_id, replayed=True)
        raise
    except ApiError as error:
        # The same request sent twice at once (the outbox retrying one still in flight): on
        # PostgreSQL the second waits on the row, then finds it no longer open. It is a replay.
        if (
            error.code == "violation_not_open"
            and await already(ViolationEvent, client_id, digest) is not None
        ):
            return Outcome(violation_id, replayed=True)
        raise
    return Outcome(violation_id)


async def _timezone(site_id: int) -> str | None:
    row = await Site.select(Site.timezone).where(Site.id == site_id).first()
    return row["timezone"] if row else None


async def reinspect(
    user: CurrentUser,
    violation_id: int,
    *,
    passed: bool,
    note: str = "",
    photos: list[str] = (),
    client_id: str | None = None,
) -> Outcome:
    """A re-inspection on the spot: passed → rectified; not passed → stays open (noted)."""
    note = note.strip()
    actor = await _actor(user)
    photo_keys = list(dict.fromkeys(p.lower() for p in photos))
    fields = {"passed": bool(passed), "note": note, "photos": photo_keys}

    async def body(row: dict, now: datetime) -> ViolationEvent:
        if not may_reinspect(user, actor, row):
            raise ApiError(403, "forbidden")
        if row["status"] != "open":
            raise ApiError(409, "violation_not_open")
        checked = await check_photos(photo_keys)
        if passed:
            day = local_day(now, await _timezone(row["site"]))
            moved = (
                await Violation.update(
                    {
                        Violation.status: "rectified",
                        Violation.rectified_at: now,
                        Violation.closed_by: user.id,
                        Violation.keep_until: keep_until(day, row["grade"]),
                        Violation.updated_at: now,
                    }
                )
                .where((Violation.id == violation_id) & (Violation.status == "open"))
                .returning(Violation.id)
            )
            if not moved:
                raise ApiError(409, "violation_not_open")
        else:
            await Violation.update({Violation.updated_at: now}).where(Violation.id == violation_id)
        if checked and row["work_order"] is not None:
            # Whoever can see the order can see the re-inspection's photos (server/photos.py).
            await WorkOrderPhoto.insert(
                *[WorkOrderPhoto(work_order=row["work_order"], photo=p) for p in checked]
            ).on_conflict(action="DO NOTHING")
        return ViolationEvent(
            violation=violation_id,
            action="reinspect",
            passed=bool(passed),
            actor=user.id,
            at=now,
            note=note[:MAX_NOTE],
            photos=checked,
        )

    return await _write(user, violation_id, "violation:reinspect", fields, client_id, body)


async def cancel(
    user: CurrentUser, violation_id: int, *, note: str, client_id: str | None = None
) -> Outcome:
    """A manager withdraws a violation (recorded in error, say); the reason is required."""
    note = note.strip()
    if user.role not in flow.MANAGER_ROLES:
        await _visible(user, violation_id)
        raise ApiError(403, "forbidden")
    if not note:
        raise ApiError(400, "reason_required")

    async def body(row: dict, now: datetime) -> ViolationEvent:
        if row["status"] != "open":
            raise ApiError(409, "violation_not_open")
        day = local_day(now, await _timezone(row["site"]))
        moved = (
            await Violation.update(
                {
                    Violation.status: "cancelled",
                    Violation.closed_by: user.id,
                    Violation.keep_until: keep_until(day, row["grade"]),
                    Violation.updated_at: now,
                }
            )
            .where((Violation.id == violation_id) & (Violation.status == "open"))
            .returning(Violation.id)
        )
        if not moved:
            raise ApiError(409, "violation_not_open")
        return ViolationEvent(
            violation=violation_id, action="cancel", actor=user.id, at=now, note=note[:MAX_NOTE]
        )

    return await _write(user, violation_id, "violation:cancel", {"note": note}, client_id, body)


# --- retention ----------------------------------------------------------------------------------


async def purge_expired(now: datetime | None = None) -> int:
    """Delete closed (rectified or cancelled) violations kept past their ``keep_until``; open ones
    are never deleted. "Today" is the earliest calendar day anywhere (UTC−12), so a record is
    never deleted before its last day has ended in its site's zone. Returns how many."""
    now = now or datetime.now(UTC)
    today = (now.astimezone(UTC) - timedelta(hours=12)).date()
    deleted = (
        await Violation.delete()
        .where((Violation.keep_until < today) & (Violation.status != "open"))
        .returning(Violation.id)
    )
    if deleted:
        log.info("purged %s violations past their retention", len(deleted))
    return len(deleted)


__all__ = [
    "DEADLINE_DAYS",
    "Outcome",
    "cancel",
    "deadline_for",
    "from_checks",
    "get_violation",
    "grade_of",
    "keep_until",
    "list_violations",
    "open_counts",
    "purge_expired",
    "reinspect",
]
