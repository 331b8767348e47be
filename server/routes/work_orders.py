"""Work orders (派工单): the board, one order with its timeline and deadlines, raising one by hand,
and one endpoint per step of the lifecycle (all answered by one handler)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery, JSONBody, Parameter, QueryParameter

from server import work_orders
from server.routes.inspections import CheckpointRef, PhotoRef
from server.routes.params import REPLAYED, ObjectId, replayable

Status = Literal["raised", "dispatched", "arranged", "deferred", "reported", "verified", "closed"]
Step = Literal["dispatch", "arrange", "report", "return"]
ACTION_PATHS = [f"/work-orders/{{order_id:int}}/{name}" for name in work_orders.API_ACTIONS]


class PersonRef(msgspec.Struct):
    id: int
    display_name: str


class WorkOrderSummary(msgspec.Struct):
    id: int
    site_id: int
    checkpoint: CheckpointRef | None
    item_code: str
    #: Department code (engineering, security, cleaning, service); null until dispatched.
    department: str | None
    source: Literal["inspection", "manual", "owner"]
    status: Status
    severity: str
    title: str
    raised_at: datetime
    #: The soonest open deadline (site time); null when nothing is due.
    next_due: datetime | None
    #: An open step is past its deadline.
    overdue: bool
    #: 0 none, 1 re-issued to the department head, 2 to the manager.
    escalation_level: int
    #: The named worker who accepted it.
    assignee: PersonRef | None
    #: Where an owner's order is (业主报修: the unit), for orders without a checkpoint.
    owner_unit: str | None
    #: The soonest open deadline in UTC (the instant next_due shows in site time); the board and
    #: the department queue sort by it.
    due_at: datetime | None


class WorkOrderCounts(msgspec.Struct):
    """The board's chips: how many orders each filter would show."""

    #: Under every filter.
    total: int
    #: Under every filter, overdue only.
    overdue: int
    #: By status, under every filter but status and open.
    by_status: dict[str, int]
    #: By department code, under every filter but department.
    by_department: dict[str, int]


class WorkOrderPage(msgspec.Struct):
    total: int
    page: int
    page_size: int
    items: list[WorkOrderSummary]


class DeadlineRead(msgspec.Struct):
    step: Step
    due: datetime
    done_at: datetime | None
    state: Literal["on_time", "late", "overdue", "pending"]
    #: How late (done late, or open past due), in seconds; null when on time.
    breach_seconds: int | None


class EventRead(msgspec.Struct):
    id: int
    action: str
    from_status: str
    to_status: str
    #: Null for the server's own escalation.
    actor: PersonRef | None
    #: When the step counts: the phone's time, bounded by the order's creation and receipt.
    device_time: datetime
    server_time: datetime
    note: str
    department: str | None
    photos: list[PhotoRef]


class ReportRead(msgspec.Struct):
    id: int
    inspection: str | None
    reporter: PersonRef | None
    note: str
    reported_at: datetime
    photos: list[PhotoRef]


class OwnerRead(msgspec.Struct):
    name: str
    #: The owner's unit (房号), as the desk wrote it.
    unit: str
    #: In full for the desk and the order's department; else masked like 138****1234.
    phone: str


class WorkOrderRead(WorkOrderSummary):
    description: str
    raised_by: PersonRef | None
    created_at: datetime
    owner_signed: bool
    followed_up: bool
    #: The owner who reported it (source "owner"); null otherwise.
    owner: OwnerRead | None
    #: The owner's signature (an image), when signed.
    signature: PhotoRef | None
    #: 业主不在家 recorded instead of a signature.
    owner_absent: bool
    #: The owner's answer on the follow-up call (回访).
    satisfaction: Literal["satisfied", "acceptable", "dissatisfied"] | None
    deadlines: list[DeadlineRead]
    events: list[EventRead]
    reports: list[ReportRead]


Sha256 = Annotated[str, msgspec.Meta(pattern="^[0-9a-fA-F]{64}$")]
Note = Annotated[str, msgspec.Meta(max_length=work_orders.MAX_NOTE)]
#: The phone's id for the request (a UUID): the same id and request again is answered as before
#: and stores nothing (header X-Replayed: 1); the same id with another request is 409.
ClientId = Annotated[
    str,
    msgspec.Meta(
        pattern="^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    ),
]
Satisfaction = Literal["satisfied", "acceptable", "dissatisfied"]
Sort = Literal["newest", "deadline", "overdue"]


class ActionIn(msgspec.Struct, forbid_unknown_fields=True):
    #: The reason for defer / reject; otherwise optional.
    note: Note = ""
    #: Department code (or id) for dispatch and redirect.
    department: str | int | None = None
    #: SHA-256 of photos uploaded first with PUT /api/photos/{sha256}.
    photos: Annotated[list[Sha256], msgspec.Meta(max_length=work_orders.MAX_PHOTOS)] = []
    #: When it was done on the phone (with offset); the server's time if absent.
    device_time: datetime | None = None
    client_id: ClientId | None = None
    #: sign-off: SHA-256 of the owner's signature image (uploaded first), or ...
    signature: Sha256 | None = None
    #: ... sign-off: 业主不在家 (exactly one of the two).
    owner_absent: bool = False
    #: follow-up: the owner's satisfaction (required there).
    satisfaction: Satisfaction | None = None


class RaiseIn(msgspec.Struct, forbid_unknown_fields=True):
    site: Annotated[int, msgspec.Meta(ge=1, le=2_147_483_647)]
    description: Annotated[str, msgspec.Meta(min_length=1, max_length=work_orders.MAX_NOTE)]
    title: Annotated[str, msgspec.Meta(max_length=200)] = ""
    checkpoint: Annotated[int, msgspec.Meta(ge=1, le=2_147_483_647)] | None = None
    department: str | int | None = None
    photos: Annotated[list[Sha256], msgspec.Meta(max_length=work_orders.MAX_PHOTOS)] = []
    device_time: datetime | None = None
    client_id: ClientId | None = None
    #: manual (anyone on the site) or owner (an owner's report taken by the desk).
    source: Literal["manual", "owner"] = "manual"
    #: Owner orders: name and unit required, phone optional.
    owner_name: Annotated[str, msgspec.Meta(max_length=100)] = ""
    owner_unit: Annotated[str, msgspec.Meta(max_length=100)] = ""
    owner_phone: Annotated[str, msgspec.Meta(max_length=32)] = ""


async def _order_as_now(request: Request, order_id: int) -> WorkOrderRead:
    """The order as the caller may see it now: what every read and every step answers."""
    order = await work_orders.get_work_order(
        request.user, order_id, default_timezone=request.app.state.settings.timezone
    )
    return msgspec.convert(order, WorkOrderRead)


async def _answer(
    request: Request, outcome: work_orders.Outcome, order_id: int, status_code: int
) -> Response[WorkOrderRead]:
    """The order as it is now; a replay answers 200 with ``X-Replayed: 1``."""
    return replayable(await _order_as_now(request, order_id), outcome.replayed, status_code)


class WorkOrderController(Controller):
    path = "/api"
    tags = ["work-orders"]

    @get("/work-orders")
    async def list_work_orders(
        self,
        request: Request,
        site: FromQuery[ObjectId | None] = None,
        status: FromQuery[Status | None] = None,
        department: Annotated[str | None, Parameter(max_length=32)] = None,
        checkpoint: FromQuery[ObjectId | None] = None,
        overdue: FromQuery[bool | None] = None,
        source: FromQuery[Literal["inspection", "manual", "owner"] | None] = None,
        open_: Annotated[bool | None, QueryParameter(name="open")] = None,
        assignee: FromQuery[Literal["me"] | None] = None,
        sort: FromQuery[Sort] = "newest",
        page: Annotated[int, Parameter(ge=1, le=100_000)] = 1,
        page_size: Annotated[int, Parameter(ge=1, le=200)] = work_orders.PAGE_SIZE,
    ) -> WorkOrderPage:
        """Work orders of my sites (a department worker: of my department and those I raised).

        ``sort``: newest (default), deadline (soonest due first, nothing due last: the
        department queue), overdue (overdue first, most overdue first, then by deadline: the
        board). ``open``: true = not closed, false = closed. ``assignee=me``: orders I accepted.
        """
        result = await work_orders.list_work_orders(
            request.user,
            site=site,
            status=status,
            department=department,
            checkpoint=checkpoint,
            overdue=overdue,
            source=source,
            open_=open_,
            assignee=assignee,
            sort=sort,
            page=page,
            page_size=page_size,
            default_timezone=request.app.state.settings.timezone,
        )
        return msgspec.convert(result, WorkOrderPage)

    @get("/work-orders/counts")
    async def count_work_orders(
        self,
        request: Request,
        site: FromQuery[ObjectId | None] = None,
        status: FromQuery[Status | None] = None,
        department: Annotated[str | None, Parameter(max_length=32)] = None,
        checkpoint: FromQuery[ObjectId | None] = None,
        overdue: FromQuery[bool | None] = None,
        source: FromQuery[Literal["inspection", "manual", "owner"] | None] = None,
        open_: Annotated[bool | None, QueryParameter(name="open")] = None,
        assignee: FromQuery[Literal["me"] | None] = None,
    ) -> WorkOrderCounts:
        """The dispatcher board's counts per status and per department (same filters as the
        list), in one request."""
        result = await work_orders.count_work_orders(
            request.user,
            site=site,
            status=status,
            department=department,
            checkpoint=checkpoint,
            overdue=overdue,
            source=source,
            open_=open_,
            assignee=assignee,
        )
        return msgspec.convert(result, WorkOrderCounts)

    @get("/work-orders/{order_id:int}")
    async def get_work_order(self, request: Request, order_id: ObjectId) -> WorkOrderRead:
        """One order with its reports and photos, its timeline and its deadlines."""
        return await _order_as_now(request, order_id)

    @post("/work-orders", status_code=201, response_headers=[REPLAYED])
    async def raise_work_order(
        self, request: Request, data: JSONBody[RaiseIn]
    ) -> Response[WorkOrderRead]:
        """Raise an order by hand at a checkpoint or anywhere on the site (anyone on the site);
        an owner's report (source owner) only at the desk. 201; a replay (same client_id and
        body) 200 with X-Replayed: 1."""
        outcome = await work_orders.raise_work_order(
            request.user,
            site=data.site,
            checkpoint=data.checkpoint,
            department=data.department,
            title=data.title,
            description=data.description,
            photos=data.photos,
            device_time=data.device_time,
            client_id=data.client_id,
            source=data.source,
            owner_name=data.owner_name,
            owner_unit=data.owner_unit,
            owner_phone=data.owner_phone,
        )
        return await _answer(request, outcome, outcome.id, 201)

    @post(ACTION_PATHS, status_code=200, response_headers=[REPLAYED])
    async def act(
        self, request: Request, order_id: ObjectId, data: JSONBody[ActionIn | None] = None
    ) -> Response[WorkOrderRead]:
        """One step of the lifecycle (the last path segment names it); answers the order as it
        is now (a replay of the same client_id and body: the same, with X-Replayed: 1). 409
        with a code when the step is not possible in the order's state."""
        data = data or ActionIn()
        action = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        outcome = await work_orders.act(
            request.user,
            order_id,
            action,
            note=data.note,
            department=data.department,
            photos=data.photos,
            device_time=data.device_time,
            client_id=data.client_id,
            signature=data.signature,
            owner_absent=data.owner_absent,
            satisfaction=data.satisfaction,
            default_timezone=request.app.state.settings.timezone,
        )
        return await _answer(request, outcome, order_id, 200)
