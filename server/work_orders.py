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

Calendars: each site's own working-day calendar (weekends, holidays and make-up working days 调休,
in the site's time zone), from ``server.calendars.calendars_for``.

Exactly once: a raise or a step may carry the phone's ``client_id`` (a UUID). It is stored with the
SHA-256 of the request's canonical form (unique index), so a repeat of the same request answers
``replayed`` and stores nothing, and the same id with another request is 409
``client_id_conflict``. Two identical requests at the same moment: on SQLite writers queue (the
second finds the first's row); on PostgreSQL the second fails on the unique index or on the
order's changed status, and then finds the first's row.

``WorkOrder.due_at`` is the soonest open deadline (UTC, null when nothing is due), stored so that
the board and the department queue sort and page in SQL. It is written on raise, on every step,
by findings and by escalation, and ``refresh_due`` recomputes a site's open orders when its
calendar changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from piccolo.query import OrderByRaw
from piccolo.query.functions.aggregate import Count

from server import sla
from server.auth import CurrentUser
from server.calendars import calendars_for, valid_timezone
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
from server.findings import bounded_raised_at, due_when_raised
from server.inspections import photo_ref
from server.tables.accounts import Department
from server.tables.checkpoints import Checkpoint
from server.tables.inspections import InspectionPhoto, Photo
from server.tables.work_orders import (
    SATISFACTION,
    WorkOrder,
    WorkOrderEvent,
    WorkOrderPhoto,
    WorkOrderReport,
)
from server.work_order_flow import (
    ACTIONS,
    DESK_ROLES,
    OPEN_STATUSES,
    Actor,
    OrderState,
    TransitionError,
    apply,
)

PAGE_SIZE = 50
MAX_NOTE = 2000
MAX_PHOTOS = 10
SORTS = ("newest", "deadline", "overdue")
SOURCES_BY_HAND = ("manual", "owner")

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


# The steps whose deadline is open in each status (a closed, verified or reported order waits on
# nobody's clock but the desk's, which has none).
_OPEN_STEPS: dict[str, frozenset[str]] = {
    "raised": frozenset({"dispatch"}),
    "dispatched": frozenset({"arrange", "report"}),
    "arranged": frozenset({"report"}),
    "deferred": frozenset({"return"}),
}


def calendar_for(timezone: str | None, default_timezone: str) -> sla.WorkCalendar:
    """A weekends-only calendar in ``timezone`` (or the default): for callers without a site."""
    return sla.WorkCalendar.of(valid_timezone(timezone, default_timezone))


async def site_calendars(
    site_ids: Iterable[int], default_timezone: str
) -> dict[int, sla.WorkCalendar]:
    """Each site's own working-day calendar (holidays and 调休 included)."""
    return await calendars_for(site_ids, default_timezone)


def _calendar(calendars: dict[int, sla.WorkCalendar], row: dict, default_tz: str):
    found = calendars.get(row["site_id"])
    return found if found is not None else calendar_for(row.get("timezone"), default_tz)


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
    WorkOrder.due_at,
    WorkOrder.owner_unit,
)

# What the detail adds to the board's columns.
_DETAIL_COLUMNS = (
    WorkOrder.owner_name,
    WorkOrder.owner_phone,
    WorkOrder.signature,
    WorkOrder.owner_absent,
    WorkOrder.satisfaction,
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


def open_deadlines(status: str, deadlines: list[sla.Deadline]) -> list[sla.Deadline]:
    """The deadlines still running for an order in ``status``: what makes it overdue, and what
    its ``due_at`` is the soonest of. While deferred, the 2-working-day return deadline replaces
    the arrange/report ones (the deferral itself is the report the SOP asks for, §4.3.7)."""
    steps = _OPEN_STEPS.get(status, frozenset())
    return [d for d in deadlines if d.step in steps and d.done_at is None]


def soonest_due(row: dict, calendar: sla.WorkCalendar) -> datetime | None:
    """``WorkOrder.due_at`` for an order in the state ``row`` describes (UTC, None if nothing is
    due). ``row`` needs status, raised_at and the step times."""
    due = min(
        (d.due for d in open_deadlines(row["status"], deadlines_of(row, None, calendar))),
        default=None,
    )
    return due.astimezone(UTC) if due is not None else None


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


def _summary(
    row: dict, deadlines: list[sla.Deadline], now: datetime, calendar: sla.WorkCalendar
) -> dict:
    tz = calendar.timezone
    running = open_deadlines(row["status"], deadlines)
    next_due = min((d.due for d in running), default=None)
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
        "due_at": next_due.astimezone(UTC) if next_due else None,
        "overdue": any(d.state(now) == "overdue" for d in running),
        "escalation_level": row["escalation_level"],
        "owner_unit": row["owner_unit"] or None,
        "assignee": (
            {"id": row["assignee_id"], "display_name": row["assignee_name"]}
            if row["assignee_id"] is not None
            else None
        ),
    }


def _due_order(query):
    """Soonest deadline first, orders with nothing due last, newest first among equals. Spelled
    out (not NULLS LAST, which SQLite cannot read from an index) to match the index
    work_order_site_deadline on both engines."""
    return (
        query.order_by(OrderByRaw('"work_order"."due_at" IS NULL'))
        .order_by(WorkOrder.due_at)
        .order_by(WorkOrder.id, ascending=False)
    )


def _board_filter(
    user: CurrentUser,
    now: datetime,
    *,
    site: int | None = None,
    status: str | None = None,
    department: str | None = None,
    checkpoint: int | None = None,
    overdue: bool | None = None,
    source: str | None = None,
    open_: bool | None = None,
    assignee: str | None = None,
):
    """The WHERE clause of the board's filters within what ``user`` may see (None: no clause)."""
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
    if source is not None:
        narrow(WorkOrder.source == source)
    if open_ is True:
        narrow(WorkOrder.status != "closed")
    elif open_ is False:
        narrow(WorkOrder.status == "closed")
    if assignee is not None:
        if assignee != "me":
            raise ApiError(
                400, "invalid_request", detail=[{"field": "assignee", "message": "only 'me'"}]
            )
        narrow(WorkOrder.assignee == user.id)
    if overdue is True:
        # Only open orders have a due_at (nothing is due on a reported, verified or closed one).
        narrow(WorkOrder.due_at < now)
    elif overdue is False:
        narrow(WorkOrder.due_at.is_null() | (WorkOrder.due_at >= now))

    return where


async def list_work_orders(
    user: CurrentUser,
    *,
    site: int | None = None,
    status: str | None = None,
    department: str | None = None,
    checkpoint: int | None = None,
    overdue: bool | None = None,
    source: str | None = None,
    open_: bool | None = None,
    assignee: str | None = None,
    sort: str = "newest",
    page: int = 1,
    page_size: int = PAGE_SIZE,
    default_timezone: str = "Asia/Shanghai",
    now: datetime | None = None,
) -> dict:
    """Orders of my sites, one page, filtered and sorted in SQL on the stored ``due_at``.

    ``sort``: ``newest`` (raised last first, the default); ``deadline`` (soonest deadline first,
    orders with nothing due last: the department queue); ``overdue`` (the board: overdue orders
    first, most overdue first, then the rest by deadline; since an overdue order's deadline is
    before every other's this is the deadline order). ``department`` is a department code;
    ``assignee="me"`` narrows to orders I accepted; ``open_`` to open (not closed) orders
    (False: closed ones).
    """
    if sort not in SORTS:
        raise ApiError(400, "invalid_request", detail=[{"field": "sort", "message": "unknown"}])
    now = now or datetime.now(UTC)
    where = _board_filter(
        user,
        now,
        site=site,
        status=status,
        department=department,
        checkpoint=checkpoint,
        overdue=overdue,
        source=source,
        open_=open_,
        assignee=assignee,
    )

    query = WorkOrder.select(*_COLUMNS)
    if where is not None:
        query = query.where(where)
    if sort == "newest":
        query = query.order_by(WorkOrder.raised_at, ascending=False).order_by(
            WorkOrder.id, ascending=False
        )
    else:
        query = _due_order(query)
    count = WorkOrder.count()
    total = await (count.where(where) if where is not None else count)
    rows = await query.limit(page_size).offset((page - 1) * page_size)
    returned = await _returned_at(rows)
    calendars = await site_calendars({r["site_id"] for r in rows}, default_timezone)
    items = []
    for r in rows:
        calendar = _calendar(calendars, r, default_timezone)
        items.append(_summary(r, deadlines_of(r, returned.get(r["id"]), calendar), now, calendar))
    return {"total": total, "page": page, "page_size": page_size, "items": items}


async def count_work_orders(
    user: CurrentUser,
    *,
    site: int | None = None,
    status: str | None = None,
    department: str | None = None,
    checkpoint: int | None = None,
    overdue: bool | None = None,
    source: str | None = None,
    open_: bool | None = None,
    assignee: str | None = None,
    now: datetime | None = None,
) -> dict:
    """The board's counts in one answer (three grouped queries): ``total`` under every filter,
    ``overdue`` under every filter plus overdue, ``by_status`` under every filter but the status
    ones (status, open), ``by_department`` under every filter but the department — so each count
    says how many orders that filter chip would show."""
    now = now or datetime.now(UTC)
    filters = dict(
        site=site,
        status=status,
        department=department,
        checkpoint=checkpoint,
        overdue=overdue,
        source=source,
        open_=open_,
        assignee=assignee,
    )

    def where(**changes):
        return _board_filter(user, now, **{**filters, **changes})

    async def grouped(column, clause) -> dict[str, int]:
        query = WorkOrder.select(column.as_alias("key"), Count().as_alias("n")).group_by(column)
        rows = await (query.where(clause) if clause is not None else query)
        return {r["key"]: r["n"] for r in rows if r["key"] is not None}

    async def counted(clause) -> int:
        query = WorkOrder.count()
        return await (query.where(clause) if clause is not None else query)

    return {
        "total": await counted(where()),
        "overdue": await counted(where(overdue=True)),
        "by_status": await grouped(WorkOrder.status, where(status=None, open_=None)),
        "by_department": await grouped(WorkOrder.department.code, where(department=None)),
    }


async def _visible_row(user: CurrentUser, order_id: int, *columns) -> dict:
    where = WorkOrder.id == order_id
    scope = _scope(user)
    if scope is not None:
        where &= scope
    row = await WorkOrder.select(*_COLUMNS, *columns).where(where).first()
    if row is None:
        raise ApiError(404, "not_found")
    return row


def mask_phone(phone: str) -> str:
    """138****1234: the first three and the last four digits, the rest hidden (a short number
    keeps only its last two)."""
    phone = phone.strip()
    if not phone:
        return ""
    if len(phone) >= 8:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    keep = min(2, len(phone) - 1)
    return "*" * (len(phone) - keep) + phone[len(phone) - keep :]


def _sees_owner_phone(user: CurrentUser, row: dict) -> bool:
    if user.is_admin or user.role in DESK_ROLES:
        return True
    return (
        _is_department_worker(user)
        and user.department_id is not None
        and user.department_id == row["department_id"]
    )


def _owner_view(user: CurrentUser, row: dict) -> dict | None:
    if row["source"] != "owner":
        return None
    phone = row["owner_phone"] or ""
    return {
        "name": row["owner_name"],
        "unit": row["owner_unit"],
        "phone": phone if _sees_owner_phone(user, row) else mask_phone(phone),
    }


async def get_work_order(
    user: CurrentUser,
    order_id: int,
    *,
    default_timezone: str = "Asia/Shanghai",
    now: datetime | None = None,
) -> dict:
    """One order with its reports (and their photos), its events and its deadlines."""
    now = now or datetime.now(UTC)
    row = await _visible_row(user, order_id, *_DETAIL_COLUMNS)
    calendars = await site_calendars([row["site_id"]], default_timezone)
    calendar = _calendar(calendars, row, default_timezone)
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
    order = _summary(row, deadlines, now, calendar)
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
            "owner": _owner_view(user, row),
            "signature": photo_ref(row["signature"]) if row["signature"] else None,
            "owner_absent": bool(row["owner_absent"]),
            "satisfaction": row["satisfaction"],
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


async def check_photos(photos: list[str]) -> list[str]:
    """The photo hashes as stored (lower case, each once), or 400 when there are too many and 409
    ``missing_photo`` naming those not uploaded yet."""
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


async def _attach_photos(order_id: int, photos: Iterable[str]) -> None:
    """Record the order's photos for visible_photo (each once per order)."""
    unique = list(dict.fromkeys(photos))
    if unique:
        await WorkOrderPhoto.insert(
            *[WorkOrderPhoto(work_order=order_id, photo=p) for p in unique]
        ).on_conflict(action="DO NOTHING")


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
    if action == "follow_up":
        return {WorkOrder.followed_up: True}
    return {}


async def _store_due(order_id: int, default_timezone: str) -> datetime | None:
    """Recompute and store one order's ``due_at`` (inside the caller's transaction)."""
    row = (
        await WorkOrder.select(
            WorkOrder.id,
            WorkOrder.site.id.as_alias("site_id"),
            WorkOrder.site.timezone.as_alias("timezone"),
            WorkOrder.status,
            WorkOrder.raised_at,
            WorkOrder.dispatched_at,
            WorkOrder.arranged_at,
            WorkOrder.reported_at,
            WorkOrder.deferred_at,
            WorkOrder.due_at,
        )
        .where(WorkOrder.id == order_id)
        .first()
    )
    if row is None:
        return None
    calendars = await site_calendars([row["site_id"]], default_timezone)
    due = soonest_due(row, _calendar(calendars, row, default_timezone))
    if due != _utc(row["due_at"]):
        await WorkOrder.update({WorkOrder.due_at: due}).where(WorkOrder.id == order_id)
    return due


async def store_due(order_id: int, default_timezone: str = "Asia/Shanghai") -> datetime | None:
    """Public form of the due_at upkeep for other modules' transactions (escalation)."""
    return await _store_due(order_id, default_timezone)


async def refresh_due(site_id: int, default_timezone: str = "Asia/Shanghai") -> int:
    """Recompute ``due_at`` of the site's open orders (after its calendar changed; closed ones
    with a stale one are cleared too); returns how many changed. One read of the orders, one write per changed order, in one transaction."""
    calendars = await site_calendars([site_id], default_timezone)
    changed = 0
    async with write_transaction(WorkOrder._meta.db):
        rows = await WorkOrder.select(
            WorkOrder.id,
            WorkOrder.site.id.as_alias("site_id"),
            WorkOrder.site.timezone.as_alias("timezone"),
            WorkOrder.status,
            WorkOrder.raised_at,
            WorkOrder.dispatched_at,
            WorkOrder.arranged_at,
            WorkOrder.reported_at,
            WorkOrder.deferred_at,
            WorkOrder.due_at,
        ).where(
            (WorkOrder.site == site_id)
            & (WorkOrder.status.is_in(sorted(OPEN_STATUSES)) | WorkOrder.due_at.is_not_null())
        )
        for row in rows:
            due = soonest_due(row, _calendar(calendars, row, default_timezone))
            if due != _utc(row["due_at"]):
                await WorkOrder.update({WorkOrder.due_at: due}).where(WorkOrder.id == row["id"])
                changed += 1
    return changed


async def backfill_due(default_timezone: str = "Asia/Shanghai") -> int:
    """Store ``due_at`` for open orders that have none yet (orders from before the column
    existed): every order in a status with a running deadline has one. Returns how many."""
    sites = [
        r["site"]
        for r in await WorkOrder.select(WorkOrder.site)
        .where(WorkOrder.due_at.is_null() & WorkOrder.status.is_in(sorted(_OPEN_STEPS)))
        .distinct()
    ]
    return sum([await refresh_due(site, default_timezone) for site in sites])


async def act(
    user: CurrentUser,
    order_id: int,
    action: str,
    *,
    note: str = "",
    department: str | int | None = None,
    photos: list[str] = (),
    device_time: datetime | None = None,
    client_id: str | None = None,
    signature: str | None = None,
    owner_absent: bool = False,
    satisfaction: str | None = None,
    default_timezone: str = "Asia/Shanghai",
    now: datetime | None = None,
) -> Outcome:
    """Take one step on an order; returns the new event's id (or the earlier one, replayed).

    Errors: 404 (no such order for this user), 400 unknown_action / reason_required /
    department_required / unknown_department / bad_device_time / signature_or_absent_required /
    satisfaction_required, 403 forbidden, 409 illegal_transition / owner_sign_off_missing /
    follow_up_missing / missing_photo / order_changed (someone else moved the order at the same
    moment) / client_id_conflict (the id was used for another request).
    """
    name = API_ACTIONS.get(action)
    if name is None or ACTIONS[name].actor == "system":
        raise ApiError(400, "unknown_action")
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise ApiError(400, "invalid_request", detail=[{"field": "note", "message": "too long"}])
    client_id = checked_client_id(client_id)
    signature = signature.lower() if signature else None
    photo_keys = list(dict.fromkeys(p.lower() for p in photos))
    digest = request_hash(
        "step",
        {
            "order": order_id,
            "step": name,
            "user": user.id,
            "note": note,
            "department": department,
            "photos": photo_keys,
            "device_time": time_key(device_time),
            "signature": signature,
            "owner_absent": bool(owner_absent),
            "satisfaction": satisfaction,
        },
    )
    engine = WorkOrder._meta.db
    try:
        async with write_transaction(engine):
            earlier = await already(WorkOrderEvent, client_id, digest)
            if earlier is not None:
                return Outcome(earlier["id"], replayed=True)
            event_id = await _act(
                user,
                order_id,
                name,
                note=note,
                department=department,
                photos=photo_keys,
                device_time=device_time,
                client_id=client_id,
                digest=digest,
                signature=signature,
                owner_absent=bool(owner_absent),
                satisfaction=satisfaction,
                default_timezone=default_timezone,
                now=now,
            )
    except (ApiError, *INSERT_RACES):
        # The same request at the same moment: it lost the race to its twin (the unique client
        # id, or the order's status the twin just changed). The twin's row answers it.
        earlier = await already(WorkOrderEvent, client_id, digest)
        if earlier is not None:
            return Outcome(earlier["id"], replayed=True)
        raise
    return Outcome(event_id)


async def _act(
    user: CurrentUser,
    order_id: int,
    name: str,
    *,
    note: str,
    department: str | int | None,
    photos: list[str],
    device_time: datetime | None,
    client_id: str | None,
    digest: str,
    signature: str | None,
    owner_absent: bool,
    satisfaction: str | None,
    default_timezone: str,
    now: datetime | None,
) -> int:
    row = await _visible_row(user, order_id)
    department_id = await _department_id(department)
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
    values: dict = {}
    if name == "sign_off":
        # The owner's signature (an image uploaded first) or "not at home": exactly one.
        if (signature is None) == (not owner_absent):
            raise ApiError(400, "signature_or_absent_required")
        values = {
            WorkOrder.owner_signed: True,
            WorkOrder.signature: signature,
            WorkOrder.owner_absent: owner_absent,
        }
    elif signature is not None or owner_absent:
        raise ApiError(
            400, "invalid_request", detail=[{"field": "signature", "message": "sign-off only"}]
        )
    if name == "follow_up":
        if satisfaction not in SATISFACTION:
            raise ApiError(400, "satisfaction_required")
        values[WorkOrder.satisfaction] = satisfaction
    elif satisfaction is not None:
        raise ApiError(
            400,
            "invalid_request",
            detail=[{"field": "satisfaction", "message": "follow-up only"}],
        )
    photo_list = await check_photos(photos)
    if signature is not None:
        photo_list += await check_photos([signature])
    received = now or datetime.now(UTC)
    at = _step_time(device_time, _utc(row["created_at"]), received)
    values.update({WorkOrder.status: to_status, WorkOrder.updated_at: received})
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
            photos=photos,
            client_id=client_id,
            body_hash=digest if client_id else "",
        )
    ).returning(WorkOrderEvent.id)
    await _attach_photos(order_id, photo_list)
    await _store_due(order_id, default_timezone)
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
    client_id: str | None = None,
    source: str = "manual",
    owner_name: str = "",
    owner_unit: str = "",
    owner_phone: str = "",
    now: datetime | None = None,
) -> Outcome:
    """An order raised by hand at a checkpoint or anywhere on the site: ``manual`` (anyone on
    the site) or ``owner`` (an owner's report taken by the desk: owner, unit and phone). The
    photos and description go on its first event ("raise"). Returns the order's id, or the
    earlier order's when the same ``client_id`` and request come again."""
    if not user.can_see_site(site):
        raise ApiError(404, "not_found")
    if source not in SOURCES_BY_HAND:
        raise ApiError(400, "invalid_request", detail=[{"field": "source", "message": "unknown"}])
    owner_name, owner_unit, owner_phone = (
        owner_name.strip(),
        owner_unit.strip(),
        owner_phone.strip(),
    )
    if source == "owner":
        if not (user.is_admin or user.role in DESK_ROLES):
            raise ApiError(403, "forbidden")
        if not owner_name or not owner_unit:
            raise ApiError(400, "owner_details_required")
    elif owner_name or owner_unit or owner_phone:
        raise ApiError(
            400, "invalid_request", detail=[{"field": "source", "message": "owner details"}]
        )
    description = description.strip()
    if not description:
        raise ApiError(
            400, "invalid_request", detail=[{"field": "description", "message": "required"}]
        )
    if len(description) > MAX_NOTE:
        raise ApiError(
            400, "invalid_request", detail=[{"field": "description", "message": "too long"}]
        )
    client_id = checked_client_id(client_id)
    digest = request_hash(
        "raise",
        {
            "user": user.id,
            "site": site,
            "checkpoint": checkpoint,
            "department": department,
            "title": title.strip(),
            "description": description,
            "photos": list(dict.fromkeys(p.lower() for p in photos)),
            "device_time": time_key(device_time),
            "source": source,
            "owner": [owner_name, owner_unit, owner_phone],
        },
    )
    earlier = await already(WorkOrder, client_id, digest)
    if earlier is not None:
        return Outcome(earlier["id"], replayed=True)
    if checkpoint is not None:
        found = (
            await Checkpoint.select(Checkpoint.id)
            .where((Checkpoint.id == checkpoint) & (Checkpoint.site == site))
            .first()
        )
        if found is None:
            raise ApiError(400, "unknown_checkpoint")
    department_id = await _department_id(department)
    photo_list = await check_photos(list(photos))
    received = now or datetime.now(UTC)
    raised_at = bounded_raised_at(device_time or received, received).astimezone(UTC)
    title = (title.strip() or description.splitlines()[0])[:200]
    try:
        async with write_transaction(WorkOrder._meta.db):
            earlier = await already(WorkOrder, client_id, digest)
            if earlier is not None:
                return Outcome(earlier["id"], replayed=True)
            inserted = await WorkOrder.insert(
                WorkOrder(
                    site=site,
                    checkpoint=checkpoint,
                    item_code="",
                    department=department_id,
                    source=source,
                    status="raised",
                    title=title,
                    description=description,
                    raised_by=user.id,
                    raised_at=raised_at,
                    created_at=received,
                    updated_at=received,
                    client_id=client_id,
                    body_hash=digest if client_id else "",
                    owner_name=owner_name,
                    owner_unit=owner_unit,
                    owner_phone=owner_phone,
                    due_at=due_when_raised(raised_at),
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
            await _attach_photos(order_id, photo_list)
    except INSERT_RACES:
        earlier = await already(WorkOrder, client_id, digest)
        if earlier is not None:
            return Outcome(earlier["id"], replayed=True)
        raise
    return Outcome(order_id)


__all__ = [
    "API_ACTIONS",
    "Outcome",
    "act",
    "backfill_due",
    "calendar_for",
    "deadlines_of",
    "get_work_order",
    "list_work_orders",
    "mask_phone",
    "open_deadlines",
    "raise_work_order",
    "refresh_due",
    "request_hash",
    "site_calendars",
    "soonest_due",
    "store_due",
]
