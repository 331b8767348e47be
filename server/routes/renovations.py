"""Renovations (装修): registering an application, the list, one permit in full, one endpoint per
step of the lifecycle, workers' passes, hot-work permits and extensions (see
/work/notes/contract-issue7-api.md for the shapes)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery, JSONBody, Parameter

from server import renovations
from server.exactly_once import Outcome
from server.routes.params import REPLAYED, ClientId, ObjectId, replayable

Status = Literal[
    "applied",
    "drawings_review",
    "permit_issued",
    "in_progress",
    "hidden_works_accepted",
    "completed",
    "completion_accepted",
    "deposit_settled",
    "closed",
]
STEP_PATHS = [f"/renovations/{{permit_id:int}}/{name}" for name in renovations.API_STEPS]
EXTENSION_PATHS = [
    f"/renovations/{{permit_id:int}}/extensions/{{extension_id:int}}/{name}"
    for name in renovations.EXTENSION_STEPS
]
Text = Annotated[str, msgspec.Meta(max_length=2000)]
Fen = Annotated[int, msgspec.Meta(ge=0, le=2_000_000_000)]
RowId = Annotated[int, msgspec.Meta(ge=1, le=2_147_483_647)]


class PermitIn(msgspec.Struct, forbid_unknown_fields=True):
    site: RowId
    unit: RowId
    owner_name: Annotated[str, msgspec.Meta(max_length=100)]
    starts_on: date
    owner_phone: Annotated[str, msgspec.Meta(max_length=32)] = ""
    contractor_company: Annotated[str, msgspec.Meta(max_length=200)] = ""
    contractor_licence: Annotated[str, msgspec.Meta(max_length=64)] = ""
    contractor_qualification: Annotated[str, msgspec.Meta(max_length=100)] = ""
    contractor_person: Annotated[str, msgspec.Meta(max_length=100)] = ""
    contractor_phone: Annotated[str, msgspec.Meta(max_length=32)] = ""
    area_m2: Annotated[float, msgspec.Meta(ge=0, le=100_000)] = 0.0
    #: Default: three months after starts_on.
    ends_on: date | None = None
    #: In fen (分).
    owner_deposit: Fen = 0
    contractor_deposit: Fen = 0
    client_id: ClientId = None
    device_time: datetime | None = None


class StepIn(msgspec.Struct, forbid_unknown_fields=True):
    #: The reason (reject-drawings) or a remark.
    note: Text = ""
    #: sign: customer_service | engineering | security.
    department: str | None = None
    #: fire-approval: the fire authority's reference.
    reference: Annotated[str, msgspec.Meta(max_length=100)] = ""
    device_time: datetime | None = None
    client_id: ClientId = None


class WorkerIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(max_length=50)]
    id_number: Annotated[str, msgspec.Meta(max_length=32)]
    pass_number: Annotated[str, msgspec.Meta(max_length=32)] = ""
    #: Default: the permit's end.
    valid_until: date | None = None
    #: Default: the site's rules (GET /api/sites/{id}/renovation-rules), in fen.
    pass_deposit: Fen | None = None
    pass_fee: Fen | None = None
    client_id: ClientId = None


class HotWorkIn(msgspec.Struct, forbid_unknown_fields=True):
    starts_on: date
    ends_on: date
    location: Annotated[str, msgspec.Meta(max_length=200)] = ""
    client_id: ClientId = None


class ExtensionIn(msgspec.Struct, forbid_unknown_fields=True):
    requested_until: date
    reason: Text
    fee: Fen = 0
    client_id: ClientId = None


class ExtensionStepIn(msgspec.Struct, forbid_unknown_fields=True):
    note: Text = ""
    client_id: ClientId = None


async def _answer(request: Request, outcome: Outcome, status_code: int) -> Response[dict[str, Any]]:
    permit = await renovations.get_permit(request.user, outcome.id)
    return replayable(permit, outcome.replayed, status_code)


class RenovationController(Controller):
    path = "/api"
    tags = ["renovations"]

    @get("/renovations")
    async def list_renovations(
        self,
        request: Request,
        site: FromQuery[ObjectId | None] = None,
        status: FromQuery[Status | None] = None,
        building: FromQuery[ObjectId | None] = None,
        floor: FromQuery[ObjectId | None] = None,
    ) -> list[dict[str, Any]]:
        """Permits of the user's sites, newest first (at most 500)."""
        return await renovations.list_permits(
            request.user, site=site, status=status, building=building, floor=floor
        )

    @get("/floors/{floor_id:int}/units")
    async def floor_units(
        self, request: Request, floor_id: Annotated[ObjectId, Parameter()]
    ) -> list[dict[str, Any]]:
        """The floor's units for the renovation registration's picker: id, number, status and
        the permit not yet closed on it, if any."""
        return await renovations.floor_units(request.user, floor_id)

    @get("/renovations/{permit_id:int}")
    async def get_renovation(
        self, request: Request, permit_id: Annotated[ObjectId, Parameter()]
    ) -> dict[str, Any]:
        """One permit in full: workers (ID numbers masked), hot work, extensions, timeline."""
        return await renovations.get_permit(request.user, permit_id)

    @post("/renovations", status_code=201, response_headers=[REPLAYED])
    async def create_renovation(
        self, request: Request, data: JSONBody[PermitIn]
    ) -> Response[dict[str, Any]]:
        """Register an application (the desk). 201; a replay (same client_id and body) 200 with
        X-Replayed: 1."""
        outcome = await renovations.create_permit(
            request.user, **{f: getattr(data, f) for f in data.__struct_fields__}
        )
        return await _answer(request, outcome, 201)

    @post(STEP_PATHS, status_code=200, response_headers=[REPLAYED])
    async def step(
        self, request: Request, permit_id: ObjectId, data: JSONBody[StepIn | None] = None
    ) -> Response[dict[str, Any]]:
        """One step of the lifecycle (the last path segment names it); answers the permit as it
        is now. 409 with a code when the step is not possible in the permit's state."""
        data = data or StepIn()
        name = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        outcome = await renovations.step(
            request.user,
            permit_id,
            name,
            note=data.note,
            department=data.department,
            reference=data.reference,
            device_time=data.device_time,
            client_id=data.client_id,
        )
        return await _answer(request, outcome, 200)

    @post("/renovations/{permit_id:int}/workers", status_code=201, response_headers=[REPLAYED])
    async def add_worker(
        self, request: Request, permit_id: ObjectId, data: JSONBody[WorkerIn]
    ) -> Response[dict[str, Any]]:
        """A worker's pass (the desk)."""
        outcome = await renovations.add_worker(
            request.user, permit_id, **{f: getattr(data, f) for f in data.__struct_fields__}
        )
        return await _answer(request, outcome, 201)

    @post("/renovations/{permit_id:int}/hot-work", status_code=201, response_headers=[REPLAYED])
    async def add_hot_work(
        self, request: Request, permit_id: ObjectId, data: JSONBody[HotWorkIn]
    ) -> Response[dict[str, Any]]:
        """A hot-work permit (保安 or a manager)."""
        outcome = await renovations.add_hot_work(
            request.user, permit_id, **{f: getattr(data, f) for f in data.__struct_fields__}
        )
        return await _answer(request, outcome, 201)

    @post("/renovations/{permit_id:int}/extensions", status_code=201, response_headers=[REPLAYED])
    async def request_extension(
        self, request: Request, permit_id: ObjectId, data: JSONBody[ExtensionIn]
    ) -> Response[dict[str, Any]]:
        """An extension request (the desk)."""
        outcome = await renovations.request_extension(
            request.user, permit_id, **{f: getattr(data, f) for f in data.__struct_fields__}
        )
        return await _answer(request, outcome, 201)

    @post(EXTENSION_PATHS, status_code=200, response_headers=[REPLAYED])
    async def act_on_extension(
        self,
        request: Request,
        permit_id: ObjectId,
        extension_id: ObjectId,
        data: JSONBody[ExtensionStepIn | None] = None,
    ) -> Response[dict[str, Any]]:
        """工程 reviews, the manager approves; reject (with the note as the reason)."""
        data = data or ExtensionStepIn()
        name = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        outcome = await renovations.act_on_extension(
            request.user,
            permit_id,
            extension_id,
            name,
            note=data.note,
            client_id=data.client_id,
        )
        return await _answer(request, outcome, 200)
