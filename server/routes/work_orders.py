"""Work orders (派工单): the board, one order with its timeline and deadlines, raising one by hand,
and one endpoint per step of the lifecycle (all answered by one handler)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromQuery, JSONBody, Parameter

from server import work_orders
from server.routes.inspections import CheckpointRef, PhotoRef
from server.routes.params import ObjectId

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


class WorkOrderRead(WorkOrderSummary):
    description: str
    raised_by: PersonRef | None
    created_at: datetime
    owner_signed: bool
    followed_up: bool
    deadlines: list[DeadlineRead]
    events: list[EventRead]
    reports: list[ReportRead]


Sha256 = Annotated[str, msgspec.Meta(pattern="^[0-9a-fA-F]{64}$")]
Note = Annotated[str, msgspec.Meta(max_length=work_orders.MAX_NOTE)]


class ActionIn(msgspec.Struct, forbid_unknown_fields=True):
    #: The reason for defer / reject; otherwise optional.
    note: Note = ""
    #: Department code (or id) for dispatch and redirect.
    department: str | int | None = None
    #: SHA-256 of photos uploaded first with PUT /api/photos/{sha256}.
    photos: Annotated[list[Sha256], msgspec.Meta(max_length=work_orders.MAX_PHOTOS)] = []
    #: When it was done on the phone (with offset); the server's time if absent.
    device_time: datetime | None = None


class RaiseIn(msgspec.Struct, forbid_unknown_fields=True):
    site: Annotated[int, msgspec.Meta(ge=1, le=2_147_483_647)]
    description: Annotated[str, msgspec.Meta(min_length=1, max_length=work_orders.MAX_NOTE)]
    title: Annotated[str, msgspec.Meta(max_length=200)] = ""
    checkpoint: Annotated[int, msgspec.Meta(ge=1, le=2_147_483_647)] | None = None
    department: str | int | None = None
    photos: Annotated[list[Sha256], msgspec.Meta(max_length=work_orders.MAX_PHOTOS)] = []
    device_time: datetime | None = None


async def _order_as_now(request: Request, order_id: int) -> WorkOrderRead:
    """The order as the caller may see it now: what every read and every step answers."""
    order = await work_orders.get_work_order(
        request.user, order_id, default_timezone=request.app.state.settings.timezone
    )
    return msgspec.convert(order, WorkOrderRead)


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
        page: Annotated[int, Parameter(ge=1, le=100_000)] = 1,
        page_size: Annotated[int, Parameter(ge=1, le=200)] = work_orders.PAGE_SIZE,
    ) -> WorkOrderPage:
        """Work orders of my sites (a department worker: of my department), newest first."""
        result = await work_orders.list_work_orders(
            request.user,
            site=site,
            status=status,
            department=department,
            checkpoint=checkpoint,
            overdue=overdue,
            page=page,
            page_size=page_size,
            default_timezone=request.app.state.settings.timezone,
        )
        return msgspec.convert(result, WorkOrderPage)

    @get("/work-orders/{order_id:int}")
    async def get_work_order(self, request: Request, order_id: ObjectId) -> WorkOrderRead:
        """One order with its reports and photos, its timeline and its deadlines."""
        return await _order_as_now(request, order_id)

    @post("/work-orders", status_code=201)
    async def raise_work_order(self, request: Request, data: JSONBody[RaiseIn]) -> WorkOrderRead:
        """Raise an order by hand at a checkpoint or anywhere on the site (anyone on the site)."""
        order_id = await work_orders.raise_work_order(
            request.user,
            site=data.site,
            checkpoint=data.checkpoint,
            department=data.department,
            title=data.title,
            description=data.description,
            photos=data.photos,
            device_time=data.device_time,
        )
        return await _order_as_now(request, order_id)

    @post(ACTION_PATHS, status_code=200)
    async def act(
        self, request: Request, order_id: ObjectId, data: JSONBody[ActionIn | None] = None
    ) -> WorkOrderRead:
        """One step of the lifecycle (the last path segment names it); answers the order as it
        is now. 409 with a code when the step is not possible in the order's state."""
        data = data or ActionIn()
        action = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        await work_orders.act(
            request.user,
            order_id,
            action,
            note=data.note,
            department=data.department,
            photos=data.photos,
            device_time=data.device_time,
        )
        return await _order_as_now(request, order_id)
