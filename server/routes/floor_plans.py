"""The floor view over the API: a floor's plan image (uploaded, or a generated schematic), its
checkpoints with positions and compliance for a period, and moving a checkpoint on the plan.

Reading is for everyone on the floor's site; uploading, deleting plans and moving checkpoints for
managers and admins. Floors and checkpoints of other sites are 404.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec
from litestar import Controller, Request, Response, delete, get, put
from litestar.openapi import ResponseSpec
from litestar.params import FromQuery, JSONBody, QueryParameter
from litestar.response import File, Stream

from server import floor_plans
from server.guards import MANAGERS
from server.routes.params import ObjectId
from server.routes.photos import BODY_CEILING, ErrorBody, PhotoUploadOperation, _content_length
from server.storage import photo_key, store_for

ApplyTo = Literal["floor", "building_same_layout"]
State = Literal["on_time", "late", "missed", "pending", "not_planned"]


class PlanImage(msgspec.Struct):
    sha256: str
    width: int
    height: int


class PlanStored(msgspec.Struct):
    floor: int
    plan: PlanImage
    #: The floors now showing this image (the floor itself first among them by id).
    applied_to: list[int]


class PlanDeleted(msgspec.Struct):
    floor: int
    cleared: list[int]


class Counts(msgspec.Struct):
    expected: int
    done: int
    late: int
    unverified: int
    missed: int
    pending: int
    on_time_rate: float | None


class FloorCheckpoint(msgspec.Struct):
    id: int
    code: str
    name: str
    kind: str
    #: Position on the plan, fractions from the left and from the top.
    x: float
    y: float
    #: False: no stored position, (x, y) is a default spot on the schematic.
    placed: bool
    #: on_time | late (late, unverified or partly done) | missed | pending (nothing decided yet)
    #: | not_planned (no rounds in the period)
    state: State
    counts: Counts | None
    #: The last check that counted for a round in the period.
    last_checked_at: datetime | None
    #: The last check of this checkpoint ever stored (any source, any plan).
    last_inspection_at: datetime | None


class BuildingRef(msgspec.Struct):
    id: int
    name: str


class FloorRef(msgspec.Struct):
    id: int
    name: str
    level: int
    building: BuildingRef
    site: int


class FloorView(msgspec.Struct):
    floor: FloorRef
    #: The uploaded plan; null → GET /api/floors/{id}/plan answers a generated SVG schematic.
    plan: PlanImage | None
    date_from: date = msgspec.field(name="from")
    date_to: date = msgspec.field(name="to")
    as_of: datetime | None = None
    checkpoints: list[FloorCheckpoint] = []


class PositionIn(msgspec.Struct, forbid_unknown_fields=True):
    x: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
    y: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]


class PositionOut(msgspec.Struct):
    id: int
    floor: int | None
    x: float
    y: float


_UPLOAD_ERRORS = {
    400: ResponseSpec(ErrorBody, description="photo_corrupt or invalid_request"),
    413: ResponseSpec(ErrorBody, description="photo_too_large or photo_too_many_pixels"),
    415: ResponseSpec(ErrorBody, description="photo_not_image: not JPEG, PNG or WebP"),
}

_SVG_HEADERS = {
    "Cache-Control": "private, no-cache",
    # An SVG opened on its own must not run anything.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}


class FloorPlanController(Controller):
    path = "/api"
    tags = ["floor plans"]

    @put(
        "/floors/{floor_id:int}/plan",
        guards=[MANAGERS],
        status_code=200,
        request_max_body_size=BODY_CEILING,
        operation_class=PhotoUploadOperation,
        responses=_UPLOAD_ERRORS,
    )
    async def upload(
        self, request: Request, floor_id: ObjectId, apply_to: FromQuery[ApplyTo] = "floor"
    ) -> PlanStored:
        """Upload the floor's plan (JPEG, PNG or WebP; the photo limits apply; stored as JPEG
        without metadata). ``apply_to=building_same_layout`` also gives it to the floors of the
        building with the same layout (same side of the ground, same unit numbers but for the
        floor prefix) that have no plan of their own."""
        stored = await floor_plans.put_plan(
            request.app.state.settings,
            request.user,
            floor_id,
            request.stream(),
            _content_length(request),
            apply_to,
        )
        return PlanStored(
            floor=stored["floor"],
            plan=PlanImage(**stored["plan"]),
            applied_to=stored["applied_to"],
        )

    @get("/floors/{floor_id:int}/plan", media_type="image/jpeg")
    async def image(
        self, request: Request, floor_id: ObjectId, checkpoints: FromQuery[bool] = True
    ) -> Response:
        """The floor's plan image (JPEG), or when none was uploaded a generated SVG schematic
        (units as boxes, the checkpoints as dots unless ``checkpoints=false``)."""
        floor = await floor_plans.visible_floor(request.user, floor_id)
        sha = floor_plans.sha_of(floor["plan_image"])
        if sha is None:
            svg = await floor_plans.schematic_svg(request.user, floor_id, checkpoints)
            return Response(svg, media_type="image/svg+xml; charset=utf-8", headers=_SVG_HEADERS)
        etag = f'"{sha}"'
        headers = {"Cache-Control": "private, no-cache", "ETag": etag}
        if request.headers.get("if-none-match") == etag:
            return Response(b"", status_code=304, headers=headers)
        store = store_for(request.app.state.settings)
        local = store.local_path(photo_key(sha))
        if local is not None:
            return File(
                path=local,
                media_type="image/jpeg",
                filename=f"floor-{floor_id}.jpg",
                content_disposition_type="inline",
                headers=headers,
            )

        def chunks():
            with store.open(photo_key(sha)) as handle:
                while chunk := handle.read(256 * 1024):
                    yield chunk

        return Stream(chunks(), media_type="image/jpeg", headers=headers)

    @delete("/floors/{floor_id:int}/plan", guards=[MANAGERS], status_code=200)
    async def remove(
        self, request: Request, floor_id: ObjectId, apply_to: FromQuery[ApplyTo] = "floor"
    ) -> PlanDeleted:
        """Remove the floor's plan (the schematic is shown again); with
        ``apply_to=building_same_layout`` also from the floors of its layout sharing it."""
        cleared = await floor_plans.delete_plan(request.user, floor_id, apply_to)
        return PlanDeleted(floor=floor_id, cleared=cleared)

    @get("/floors/{floor_id:int}/checkpoints")
    async def checkpoints(
        self,
        request: Request,
        floor_id: ObjectId,
        date_from: Annotated[date | None, QueryParameter(name="from")] = None,
        date_to: Annotated[date | None, QueryParameter(name="to")] = None,
    ) -> FloorView:
        """The floor's active checkpoints with their plan positions, compliance state for the
        local days [from, to] (default today) and last check times."""
        view = await floor_plans.floor_view(request.user, floor_id, date_from, date_to)
        return msgspec.convert(view, FloorView, from_attributes=False, strict=False)

    @put("/checkpoints/{checkpoint_id:int}/position", guards=[MANAGERS])
    async def position(
        self, request: Request, checkpoint_id: ObjectId, data: JSONBody[PositionIn]
    ) -> PositionOut:
        """Place a checkpoint on its floor's plan: x, y in [0, 1] from the left and the top."""
        out = await floor_plans.set_position(request.user, checkpoint_id, data.x, data.y)
        return PositionOut(**out)
