"""Work orders (派工单) read and acted on: the dispatcher's board, one order with its timeline and
deadlines, each step of the lifecycle, and an order raised by hand.

Scoped like every other read: an order of a site the user is not a member of is 404, exactly like
one that does not exist. Department workers see only their own department's orders and those they
raised themselves (another department's order is 404 to them too); everyone else sees every order
of their sites.

Who may take which step, and from which status, is ``server/work_order_flow.py``; the deadlines
are ``server/sla.py``'s, on the site's calendar. Each step is one write transaction that re-reads
the order, moves it with a conditional UPDATE (``WHERE status = <the status it was read in>``) and
records the event, so two people acting at once cannot both move it: the second gets 409.

Calendar: weekends only, in the site's time zone (or the server's). Per-site holidays and make-up
working days (调休) have no table yet; ``calendar_for`` is the one place to add them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from server import sla
from server.auth import CurrentUser
from server.db import write_transaction
from server.errors import ApiError
from server.findings import bounded_raised_at
from server.inspections import photo_ref
from server.tables.accounts import Department
from server.tables.checkpoints import Checkpoint
from server.tables.inspections import InspectionPhoto, Photo
from server.tables.work_orders import WorkOrder, WorkOrderEvent, WorkOrderReport
from server.work_order_flow import ACTIONS, OPEN_STATUSES, Actor, OrderState, TransitionError, apply

PAGE_SIZE = 50
MAX_NOTE = 2000
MAX_PHOTOS = 10

#: The API's action names (one endpoint each) and the state machine's.
API_ACTIONS: dict[str, str] = {
    "dispatch": "dispatch",
    "redirect": "redirect",
    "accept": "accept",
    "report": "report",
    "defer": "defer",
    "resume": "resume",
    "verify": "verify",
    "reject": "reject",
    "close": "close",
    "comment": "comment",
    "sign-off": "sign_off",
    "follow-up": "follow_up",
}

# While an order is deferred its arrange/report deadlines give way to the "back within 2 working
# days" deadline: the deferral itself is the report the SOP asks for (§4.3.7, §4.3.11).
_SUPERSEDED_WHILE_DEFERRED = frozenset({"arrange", "report"})


def calendar_for(timezone: str | None, default_timezone: str) -> sla.WorkCalendar:
    for name in (timezone, default_timezone, "Asia/Shanghai"):
        if not name:
            continue
        try:
            ZoneInfo(name)
        except (KeyError, ValueError):
            continue
        return sla.WorkCalendar.of(name)
    raise AssertionError("unreachable")


def _is_department_worker(user: CurrentUser) -> bool:
    return user.role == "department"


def _scope(user: CurrentUser):
    """The where-clause of the orders ``user`` may see (None: all, admins)."""
    where = None
    if not user.is_admin:
        where = WorkOrder.site.is_in(sorted(user.site_ids) or [0])
    if _is_department_worker(user):
        # Their department's orders, and those they raised themselves.
        mine = (WorkOrder.department == (user.department_id or 0)) | (
            WorkOrder.raised_by == user.id
        )
        where = mine if where is None else where & mine
    return where


_COLUMNS = (
    WorkOrder.id,
    WorkOrder.site.id.as_alias("site_id"),
    WorkOrder.site.timezone.as_alias("timezone"),
    WorkOrder.checkpoint.id.as_alias("checkpoint_id"),
    WorkOrder.checkpoint.code.as_alias("checkpoint_code"),
    WorkOrder.checkpoint.name.as_alias("checkpoint_name"),
    WorkOrder.item_code,
    WorkOrder.department.id.as_alias("department_id"),
    WorkOrder.department.code.as_alias("department_code"),
    WorkOrder.source,
    WorkOrder.status,
    WorkOrder.severity,
    WorkOrder.title,
    WorkOrder.description,
    WorkOrder.raised_by.id.as_alias("raised_by_id"),
    WorkOrder.raised_by.display_name.as_alias("raised_by_name"),
    WorkOrder.raised_at,
    WorkOrder.created_at,
    WorkOrder.updated_at,
    WorkOrder.dispatched_at,
    WorkOrder.arranged_at,
    WorkOrder.reported_at,
    WorkOrder.deferred_at,
    WorkOrder.verified_at,
    WorkOrder.closed_at,
    WorkOrder.assignee.id.as_alias("assignee_id"),
    WorkOrder.assignee.display_name.as_alias("assignee_name"),
    WorkOrder.escalation_level,
    WorkOrder.owner_signed,
    WorkOrder.followed_up,
)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back what it was given; we only ever store UTC
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def deadlines_of(
    row: dict, returned_at: datetime | None, calendar: sla.WorkCalendar
) -> list[sla.Deadline]:
    return sla.step_deadlines(
        calendar,
        raised_at=_utc(row["raised_at"]),
        dispatched_at=_utc(row["dispatched_at"]),
        arranged_at=_utc(row["arranged_at"]),
        reported_at=_utc(row["reported_at"]),
        deferred_at=_utc(row["deferred_at"]),
        returned_at=returned_at,
    )


def _counting(row: dict, deadlines: list[sla.Deadline]) -> list[sla.Deadline]:
    """The deadlines that make an order overdue now (not the ones a deferral superseded)."""
    if row["status"] == "closed":
        return []
    if row["status"] == "deferred":
        return [d for d in deadlines if d.step not in _SUPERSEDED_WHILE_DEFERRED]
    return deadlines


def _deadline_view(deadline: sla.Deadline, now: datetime, tz: ZoneInfo) -> dict:
    breach = deadline.breach(now)
    return {
        "step": deadline.step,
        "due": deadline.due.astimezone(tz),
        "done_at": deadline.done_at.astimezone(tz) if deadline.done_at else None,
        "state": deadline.state(now),
        "breach_seconds": int(breach.total_seconds()) if breach is not None else None,
    }


async def _returned_at(rows: list[dict]) -> dict[int, datetime]:
    """When each deferred-then-returned order came back: its first resume or report after its
    latest deferral (one query for all ``rows``)."""
    ids = [r["id"] for r in rows if r["deferred_at"] is not None and r["status"] != "deferred"]
    if not ids:
        return {}
    deferred_at = {r["id"]: _utc(r["deferred_at"]) for r in rows}
    returned: dict[int, datetime] = {}
    for event in (
        await WorkOrderEvent.select(WorkOrderEvent.work_order, WorkOrderEvent.device_time)
        .where(
            WorkOrderEvent.work_order.is_in(ids) & WorkOrderEvent.action.is_in(["resume", "report"])
        )
        .order_by(WorkOrderEvent.id)
    ):
        order_id, at = event["work_order"], _utc(event["device_time"])
        if order_id not in returned and at >= deferred_at[order_id]:
            returned[order_id] = at
    return returned


def _summary(row: dict, deadlines: list[sla.Deadline], now: datetime, default_tz: str) -> dict:
    tz = calendar_for(row["timezone"], default_tz).timezone
    counting = _counting(row, deadlines)
    open_deadlines = [d for d in counting if d.done_at is None]
    next_due = min((d.due for d in open_deadlines), default=None)
    return {
        "id": row["id"],
        "site_id": row["site_id"],
        "checkpoint": (
            {
                "id": row["checkpoint_id"],
                "code": row["checkpoint_code"],
                "name": row["checkpoint_name"],
            }
            if row["checkpoint_id"] is not None
            else None
        ),
        "item_code": row["item_code"],
        "department": row["department_code"],
        "source": row["source"],
        "status": row["status"],
        "severity": row["severity"],
        "title": row["title"],
        "raised_at": _utc(row["raised_at"]).astimezone(tz),
        "next_due": next_due.astimezone(tz) if next_due else None,
        "overdue": any(d.state(now) == "overdue" for d in counting),
        "escalation_level": row["escalation_level"],
        "assignee": (
            {"id": row["assignee_id"], "display_name": row["assignee_name"]}
            if row["assignee_id"] is not None
            else None
        ),
    }


async def list_work_orders(
    user: CurrentUser,
    *,
    site: int | None = None,
    status: str | None = None,
    department: str | None = None,
    checkpoint: int | None = None,
    overdue: bool | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    default_timezone: str = "Asia/Shanghai",
    now: datetime | None = None,
) -> dict:
    """Orders of my sites, soonest deadline first (overdue first when filtered), newest first
    otherwise; ``department`` is a department code."""
    now = now or datetime.now(UTC)
    where = _scope(user)

    def narrow(clause):
        nonlocal where
        where = clause if where is None else where & clause

    if site is not None:
        if not user.can_see_site(site):
            raise ApiError(404, "not_found")
        narrow(WorkOrder.site == site)
    if status is not None:
        narrow(WorkOrder.status == status)
    if department is not None:
        narrow(WorkOrder.department.code == department)
    if checkpoint is not None:
        narrow(WorkOrder.checkpoint == checkpoint)
    if overdue:
        # Only open orders can be overdue.
        narrow(WorkOrder.status.is_in(sorted(OPEN_STATUSES)))

    query = WorkOrder.select(*_COLUMNS)
    if where is not None:
        query = query.where(where)
    query = query.order_by(WorkOrder.raised_at, ascending=False).order_by(
        WorkOrder.id, ascending=False
    )
    if overdue is None:
        count = WorkOrder.count()
        total = await (count.where(where) if where is not None else count)
        rows = await query.limit(page_size).offset((page - 1) * page_size)
        returned = await _returned_at(rows)
        items = [
            _summary(r, _deadlines(r, returned, default_timezone), now, default_timezone)
            for r in rows
        ]
    else:
        # Overdue-ness depends on the working-day calendar, so it is decided here, not in SQL.
        rows = await query
        returned = await _returned_at(rows)
        items = [
            _summary(r, _deadlines(r, returned, default_timezone), now, default_timezone)
            for r in rows
        ]
        items = [i for i in items if i["overdue"] == overdue]
        total = len(items)
        items = items[(page - 1) * page_size : page * page_size]
    return {"total": total, "page": page, "page_size": page_size, "items": items}


def _deadlines(row: dict, returned: dict[int, datetime], default_tz: str) -> list[sla.Deadline]:
    return deadlines_of(row, returned.get(row["id"]), calendar_for(row["timezone"], default_tz))


async def _visible_row(user: CurrentUser, order_id: int) -> dict:
    where = WorkOrder.id == order_id
    scope = _scope(user)
    if scope is not None:
        where &= scope
    row = await WorkOrder.select(*_COLUMNS).where(where).first()
    if row is None:
        raise ApiError(404, "not_found")
    return row


async def get_work_order(
    user: CurrentUser,
    order_id: int,
    *,
    default_timezone: str = "Asia/Shanghai",
    now: datetime | None = None,
) -> dict:
    """One order with its reports (and their photos), its events and its deadlines."""
    now = now or datetime.now(UTC)
    row = await _visible_row(user, order_id)
    calendar = calendar_for(row["timezone"], default_timezone)
    tz = calendar.timezone
    events = (
        await WorkOrderEvent.select(
            WorkOrderEvent.id,
            WorkOrderEvent.action,
            WorkOrderEvent.from_status,
            WorkOrderEvent.to_status,
            WorkOrderEvent.actor.id.as_alias("actor_id"),
            WorkOrderEvent.actor.display_name.as_alias("actor_name"),
            WorkOrderEvent.device_time,
            WorkOrderEvent.server_time,
            WorkOrderEvent.note,
            WorkOrderEvent.department.code.as_alias("department"),
            WorkOrderEvent.photos,
        )
        .where(WorkOrderEvent.work_order == order_id)
        .order_by(WorkOrderEvent.id)
    )
    reports = (
        await WorkOrderReport.select(
            WorkOrderReport.id,
            WorkOrderReport.inspection,
            WorkOrderReport.reporter.id.as_alias("reporter_id"),
            WorkOrderReport.reporter.display_name.as_alias("reporter_name"),
            WorkOrderReport.note,
            WorkOrderReport.reported_at,
        )
        .where(WorkOrderReport.work_order == order_id)
        .order_by(WorkOrderReport.id)
    )
    inspection_ids = [r["inspection"] for r in reports if r["inspection"] is not None]
    photos_of: dict[str, list[dict]] = {}
    if inspection_ids:
        for photo in (
            await InspectionPhoto.select(InspectionPhoto.inspection, InspectionPhoto.photo)
            .where(
                InspectionPhoto.inspection.is_in(inspection_ids)
                & (InspectionPhoto.item_code == row["item_code"])
            )
            .order_by(InspectionPhoto.id)
        ):
            photos_of.setdefault(str(photo["inspection"]), []).append(photo_ref(photo["photo"]))

    returned = await _returned_at([row])
    deadlines = deadlines_of(row, returned.get(row["id"]), calendar)
    order = _summary(row, deadlines, now, default_timezone)
    order.update(
        {
            "description": row["description"],
            "raised_by": (
                {"id": row["raised_by_id"], "display_name": row["raised_by_name"]}
                if row["raised_by_id"] is not None
                else None
            ),
            "created_at": _utc(row["created_at"]).astimezone(tz),
            "owner_signed": bool(row["owner_signed"]),
            "followed_up": bool(row["followed_up"]),
            "deadlines": [_deadline_view(d, now, tz) for d in deadlines],
            "events": [
                {
                    "id": e["id"],
                    "action": e["action"],
                    "from_status": e["from_status"],
                    "to_status": e["to_status"],
                    "actor": (
                        {"id": e["actor_id"], "display_name": e["actor_name"]}
                        if e["actor_id"] is not None
                        else None
                    ),
                    "device_time": _utc(e["device_time"]).astimezone(tz),
                    "server_time": _utc(e["server_time"]).astimezone(tz),
                    "note": e["note"],
                    "department": e["department"],
                    "photos": [photo_ref(sha) for sha in _photo_list(e["photos"])],
                }
                for e in events
            ],
            "reports": [
                {
                    "id": r["id"],
                    "inspection": str(r["inspection"]) if r["inspection"] is not None else None,
                    "reporter": (
                        {"id": r["reporter_id"], "display_name": r["reporter_name"]}
                        if r["reporter_id"] is not None
                        else None
                    ),
                    "note": r["note"],
                    "reported_at": _utc(r["reported_at"]).astimezone(tz),
                    "photos": photos_of.get(str(r["inspection"]), []),
                }
                for r in reports
            ],
        }
    )
    return order


def _photo_list(value) -> list[str]:
    if isinstance(value, str):
        value = json.loads(value or "[]")
    return [str(v) for v in value or []]


async def _check_photos(photos: list[str]) -> list[str]:
    unique = list(dict.fromkeys(p.lower() for p in photos))
    if len(unique) > MAX_PHOTOS:
        raise ApiError(400, "invalid_request", detail=[{"field": "photos", "message": "too many"}])
    if unique:
        found = {
            r["sha256"] for r in await Photo.select(Photo.sha256).where(Photo.sha256.is_in(unique))
        }
        missing = [p for p in unique if p not in found]
        if missing:
            raise ApiError(409, "missing_photo", detail=[{"photo": p} for p in missing])
    return unique


async def _department_id(code_or_id: str | int | None) -> int | None:
    if code_or_id is None or code_or_id == "":
        return None
    where = (
        Department.id == code_or_id
        if isinstance(code_or_id, int)
        else Department.code == str(code_or_id)
    )
    row = await Department.select(Department.id).where(where).first()
    if row is None:
        raise ApiError(400, "unknown_department")
    return row["id"]


def _step_time(device_time: datetime | None, created_at: datetime, now: datetime) -> datetime:
    if device_time is None:
        return now
    if device_time.tzinfo is None:
        raise ApiError(400, "bad_device_time")
    return sla.effective_time(device_time, created_at, now).astimezone(UTC)


def _changes(action: str, user: CurrentUser, at: datetime, department_id: int | None) -> dict:
    """The columns an action sets besides the status."""
    if action == "dispatch":
        return {WorkOrder.department: department_id, WorkOrder.dispatched_at: at}
    if action == "redirect":
        # The 24-hour dispatch clock is the desk's; the new department gets its own 2 h / 4 h.
        return {WorkOrder.department: department_id, WorkOrder.dispatched_at: at}
    if action == "accept":
        return {WorkOrder.arranged_at: at, WorkOrder.assignee: user.id}
    if action == "report":
        return {WorkOrder.reported_at: at}
    if action == "defer":
        # A new deferral starts a new 2-working-day clock and escalation from the bottom.
        return {WorkOrder.deferred_at: at, WorkOrder.escalation_level: 0}
    if action == "verify":
        return {WorkOrder.verified_at: at}
    if action == "reject":
        # Back to the department: its clock starts again from the rejection.
        return {
            WorkOrder.dispatched_at: at,
            WorkOrder.arranged_at: None,
            WorkOrder.reported_at: None,
            WorkOrder.verified_at: None,
            WorkOrder.assignee: None,
        }
    if action == "close":
        return {WorkOrder.closed_at: at}
    if action == "sign_off":
        return {WorkOrder.owner_signed: True}
    if action == "follow_up":
        return {WorkOrder.followed_up: True}
    return {}


async def act(
    user: CurrentUser,
    order_id: int,
    action: str,
    *,
    note: str = "",
    department: str | int | None = None,
    photos: list[str] = (),
    device_time: datetime | None = None,
    now: datetime | None = None,
) -> int:
    """Take one step on an order; returns the new event's id.

    Errors: 404 (no such order for this user), 400 unknown_action / reason_required /
    department_required / unknown_department / bad_device_time, 403 forbidden, 409
    illegal_transition / owner_sign_off_missing / follow_up_missing / missing_photo /
    order_changed (someone else moved the order at the same moment).
    """
    name = API_ACTIONS.get(action)
    if name is None or ACTIONS[name].actor == "system":
        raise ApiError(400, "unknown_action")
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise ApiError(400, "invalid_request", detail=[{"field": "note", "message": "too long"}])
    department_id = await _department_id(department)
    photo_list = await _check_photos(list(photos))
    engine = WorkOrder._meta.db
    async with write_transaction(engine):
        row = await _visible_row(user, order_id)
        state = OrderState(
            status=row["status"],
            department_id=row["department_id"],
            source=row["source"],
            owner_signed=bool(row["owner_signed"]),
            followed_up=bool(row["followed_up"]),
        )
        try:
            to_status = apply(
                state,
                name,
                Actor(user.role, user.department_id),
                reason=note,
                department_id=department_id,
            )
        except TransitionError as error:
            raise ApiError(error.status, error.code) from None
        received = now or datetime.now(UTC)
        at = _step_time(device_time, _utc(row["created_at"]), received)
        values = {WorkOrder.status: to_status, WorkOrder.updated_at: received}
        values.update(_changes(name, user, at, department_id))
        moved = (
            await WorkOrder.update(values)
            .where((WorkOrder.id == order_id) & (WorkOrder.status == row["status"]))
            .returning(WorkOrder.id)
        )
        if not moved:
            raise ApiError(409, "order_changed")
        inserted = await WorkOrderEvent.insert(
            WorkOrderEvent(
                work_order=order_id,
                action=name,
                from_status=row["status"],
                to_status=to_status,
                actor=user.id,
                device_time=at,
                server_time=received,
                note=note,
                department=department_id if name in ("dispatch", "redirect") else None,
                photos=photo_list,
            )
        ).returning(WorkOrderEvent.id)
    return inserted[0]["id"]


async def raise_work_order(
    user: CurrentUser,
    *,
    site: int,
    checkpoint: int | None = None,
    department: str | int | None = None,
    title: str = "",
    description: str,
    photos: list[str] = (),
    device_time: datetime | None = None,
    now: datetime | None = None,
) -> int:
    """An order raised by hand (source "manual") at a checkpoint or anywhere on the site; the
    photos and description go on its first event ("raise"). Returns the order's id."""
    if not user.can_see_site(site):
        raise ApiError(404, "not_found")
    description = description.strip()
    if not description:
        raise ApiError(
            400, "invalid_request", detail=[{"field": "description", "message": "required"}]
        )
    if len(description) > MAX_NOTE:
        raise ApiError(
            400, "invalid_request", detail=[{"field": "description", "message": "too long"}]
        )
    if checkpoint is not None:
        found = (
            await Checkpoint.select(Checkpoint.id)
            .where((Checkpoint.id == checkpoint) & (Checkpoint.site == site))
            .first()
        )
        if found is None:
            raise ApiError(400, "unknown_checkpoint")
    department_id = await _department_id(department)
    photo_list = await _check_photos(list(photos))
    received = now or datetime.now(UTC)
    if device_time is not None and device_time.tzinfo is None:
        raise ApiError(400, "bad_device_time")
    raised_at = bounded_raised_at(device_time or received, received).astimezone(UTC)
    title = (title.strip() or description.splitlines()[0])[:200]
    async with write_transaction(WorkOrder._meta.db):
        inserted = await WorkOrder.insert(
            WorkOrder(
                site=site,
                checkpoint=checkpoint,
                item_code="",
                department=department_id,
                source="manual",
                status="raised",
                title=title,
                description=description,
                raised_by=user.id,
                raised_at=raised_at,
                created_at=received,
                updated_at=received,
            )
        ).returning(WorkOrder.id)
        order_id = inserted[0]["id"]
        await WorkOrderEvent.insert(
            WorkOrderEvent(
                work_order=order_id,
                action="raise",
                from_status="",
                to_status="raised",
                actor=user.id,
                device_time=raised_at,
                server_time=received,
                note=description,
                department=department_id,
                photos=photo_list,
            )
        )
    return order_id


__all__ = [
    "API_ACTIONS",
    "act",
    "calendar_for",
    "deadlines_of",
    "get_work_order",
    "list_work_orders",
    "raise_work_order",
]
