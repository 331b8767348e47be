"""Reading inspections back (managers' lists, the phone's record view) and a checkpoint's status."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar import Controller, Request, get
from litestar.params import FromPath, FromQuery, Parameter, QueryParameter

from server import inspections
from server.routes.params import ObjectId

Result = Literal["pass", "fail", "na"]


class PhotoRef(msgspec.Struct):
    sha256: str
    url: str
    thumb_url: str


class ItemRead(msgspec.Struct):
    item: str
    text_zh: str
    text_en: str
    result: Result
    note: str
    defect_type: str
    photos: list[PhotoRef]


class CheckpointRef(msgspec.Struct):
    id: int
    code: str
    name: str


class InspectorRef(msgspec.Struct):
    id: int
    display_name: str


class InspectionRead(msgspec.Struct):
    id: str
    checkpoint: CheckpointRef
    site_id: int
    source: Literal["scan", "manual"]
    label_version: int | None
    #: When the phone says the check was made (site time zone, with offset).
    device_time: datetime
    #: When the server stored it.
    received_at: datetime
    #: device_time minus received_at, in seconds.
    clock_skew_seconds: int
    #: The phone's clock was more than 10 minutes off.
    clock_flagged: bool
    inspector: InspectorRef
    #: Code of the checklist filled in.
    template: str | None
    note: str
    items: list[ItemRead]
    #: Photos of the whole check (not of one item).
    photos: list[PhotoRef]
    #: Work orders this check raised or reported to.
    work_orders: list[int]


class InspectionPage(msgspec.Struct):
    total: int
    page: int
    page_size: int
    items: list[InspectionRead]


class RecentCheck(msgspec.Struct):
    id: str
    device_time: datetime
    #: The inspector's display name.
    inspector: str
    result: Literal["pass", "fail"]
    failed_items: list[str]


class OpenWorkOrder(msgspec.Struct):
    id: int
    item_code: str
    title: str
    department: str | None
    status: str
    raised_at: datetime
    reports: int


class CheckpointStatus(msgspec.Struct):
    #: Up to 5, newest first.
    last_checks: list[RecentCheck]
    open_work_orders: list[OpenWorkOrder]


class InspectionController(Controller):
    path = "/api"
    tags = ["inspections"]

    @get("/inspections")
    async def list_inspections(
        self,
        request: Request,
        checkpoint: FromQuery[ObjectId | None] = None,
        date_from: Annotated[
            str | None,
            QueryParameter(
                name="from",
                max_length=40,
                description="A date (whole day, site time) or a date-time with an offset.",
            ),
        ] = None,
        date_to: Annotated[
            str | None,
            QueryParameter(
                name="to",
                max_length=40,
                description="A date (whole day included) or a date-time with an offset.",
            ),
        ] = None,
        page: Annotated[int, Parameter(ge=1, le=100_000)] = 1,
        page_size: Annotated[int, Parameter(ge=1, le=inspections.MAX_PAGE_SIZE)] = 50,
    ) -> InspectionPage:
        """Inspections of my sites, newest first (device time), with the total that match."""
        result = await inspections.list_inspections(
            request.user,
            checkpoint=checkpoint,
            date_from=date_from,
            date_to=date_to,
            page=page,
            page_size=page_size,
            default_timezone=request.app.state.settings.timezone,
        )
        return msgspec.convert(result, InspectionPage)

    @get("/inspections/{inspection_id:str}")
    async def get_inspection(
        self, request: Request, inspection_id: FromPath[str]
    ) -> InspectionRead:
        """One inspection as stored, with its items, photos and work orders."""
        record = await inspections.get_inspection(request.user, inspection_id)
        return msgspec.convert(record, InspectionRead)

    @get("/checkpoints/{checkpoint_id:int}/status")
    async def checkpoint_status(
        self, request: Request, checkpoint_id: ObjectId
    ) -> CheckpointStatus:
        """The last 5 checks of a checkpoint and its open work orders (the online check screen)."""
        status = await inspections.checkpoint_status(request.user, checkpoint_id)
        return msgspec.convert(status, CheckpointStatus)
