"""Sites, buildings, floors and checkpoints as the logged-in user may see them."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import Controller, Request, get
from litestar.params import FromQuery, Parameter

from server import sites
from server.routes.params import ObjectId

Kind = Literal["facility", "vacant_unit", "signage", "renovation"]


class SiteRead(msgspec.Struct):
    id: int
    code: str
    name: str


class CheckpointCounts(msgspec.Struct):
    facility: int
    vacant_unit: int
    signage: int
    renovation: int


class SiteSummary(msgspec.Struct):
    site: SiteRead
    checkpoints: int
    by_kind: CheckpointCounts
    buildings: int


class FloorRead(msgspec.Struct):
    id: int
    level: int
    name: str


class BuildingRead(msgspec.Struct):
    id: int
    code: str
    name: str
    floors_above: int
    floors_below: int
    floors: list[FloorRead]


class CheckpointRead(msgspec.Struct):
    id: int
    code: str
    kind: Kind
    type_code: str
    name: str
    building: int | None
    floor: int | None
    unit: int | None
    template: int | None
    plan_x: float | None
    plan_y: float | None
    label_version: int
    active: bool


class CheckpointPage(msgspec.Struct):
    total: int
    page: int
    page_size: int
    items: list[CheckpointRead]


class SiteController(Controller):
    path = "/api"
    tags = ["sites"]

    @get("/sites")
    async def list_sites(self, request: Request) -> list[SiteRead]:
        return msgspec.convert(await sites.sites_of(request.user), list[SiteRead])

    @get("/sites/{site_id:int}/summary")
    async def get_site_summary(self, request: Request, site_id: ObjectId) -> SiteSummary:
        return msgspec.convert(await sites.site_summary(request.user, site_id), SiteSummary)

    @get("/sites/{site_id:int}/buildings")
    async def list_buildings(self, request: Request, site_id: ObjectId) -> list[BuildingRead]:
        rows = await sites.buildings_with_floors(request.user, site_id)
        return msgspec.convert(rows, list[BuildingRead])

    @get("/sites/{site_id:int}/checkpoints")
    async def list_checkpoints(
        self,
        request: Request,
        site_id: ObjectId,
        building: FromQuery[ObjectId | None] = None,
        floor: FromQuery[ObjectId | None] = None,
        kind: FromQuery[Kind | None] = None,
        page: Annotated[int, Parameter(ge=1, le=100_000)] = 1,
        page_size: Annotated[int, Parameter(ge=1, le=500)] = 100,
    ) -> CheckpointPage:
        result = await sites.list_checkpoints(
            request.user,
            site_id,
            building=building,
            floor=floor,
            kind=kind,
            page=page,
            page_size=page_size,
        )
        return msgspec.convert(result, CheckpointPage)

    @get("/checkpoints/{checkpoint_id:int}")
    async def get_checkpoint(self, request: Request, checkpoint_id: ObjectId) -> CheckpointRead:
        return msgspec.convert(
            await sites.get_checkpoint(request.user, checkpoint_id), CheckpointRead
        )
