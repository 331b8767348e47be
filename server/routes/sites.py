"""Sites, buildings, floors and checkpoints as the logged-in user may see them."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, Request, get
from litestar.params import FromQuery, Parameter

from server import sites
from server.routes.params import ObjectId


class SiteController(Controller):
    path = "/api"
    tags = ["sites"]

    @get("/sites")
    async def list_sites(self, request: Request) -> list[dict]:
        return await sites.sites_of(request.user)

    @get("/sites/{site_id:int}/summary")
    async def get_site_summary(self, request: Request, site_id: ObjectId) -> dict:
        return await sites.site_summary(request.user, site_id)

    @get("/sites/{site_id:int}/buildings")
    async def list_buildings(self, request: Request, site_id: ObjectId) -> list[dict]:
        return await sites.buildings_with_floors(request.user, site_id)

    @get("/sites/{site_id:int}/checkpoints")
    async def list_checkpoints(
        self,
        request: Request,
        site_id: ObjectId,
        building: FromQuery[ObjectId | None] = None,
        floor: FromQuery[ObjectId | None] = None,
        kind: FromQuery[Literal["facility", "vacant_unit", "signage", "renovation"] | None] = None,
        page: Annotated[int, Parameter(ge=1, le=100_000)] = 1,
        page_size: Annotated[int, Parameter(ge=1, le=500)] = 100,
    ) -> dict:
        return await sites.list_checkpoints(
            request.user,
            site_id,
            building=building,
            floor=floor,
            kind=kind,
            page=page,
            page_size=page_size,
        )

    @get("/checkpoints/{checkpoint_id:int}")
    async def get_checkpoint(self, request: Request, checkpoint_id: ObjectId) -> dict:
        return await sites.get_checkpoint(request.user, checkpoint_id)
