"""The phone's offline catalogue: GET /api/catalogue?cursor=."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec
from litestar import Controller, Request, get
from litestar.params import FromQuery

from server import catalogue

Kind = Literal["facility", "vacant_unit", "signage", "renovation"]


class CatalogueSite(msgspec.Struct):
    id: int
    code: str
    name: str
    timezone: str


class CatalogueBuilding(msgspec.Struct):
    id: int
    site_id: int
    code: str
    name: str


class CatalogueFloor(msgspec.Struct):
    id: int
    building_id: int
    level: int
    name: str


class DefectType(msgspec.Struct):
    code: str
    zh: str
    en: str


class CatalogueItem(msgspec.Struct):
    code: str
    text_zh: str
    text_en: str
    #: Department code that gets the work order when the item fails.
    department: str | None
    photo_required_on_fail: bool
    severity: str
    is_confirmation: bool


class CatalogueTemplate(msgspec.Struct):
    id: int
    code: str
    kind: Kind
    type_code: str | None
    name_zh: str
    name_en: str
    allow_gallery: bool
    #: Renovation only: the department code whose inspectors use this list.
    inspecting_department: str | None
    defect_types: list[DefectType]
    items: list[CatalogueItem]


class LastCheck(msgspec.Struct):
    id: str
    device_time: datetime
    #: The inspector's display name.
    inspector: str
    result: Literal["pass", "fail"]


class CatalogueCheckpoint(msgspec.Struct):
    id: int
    site_id: int
    code: str
    name: str
    kind: Kind
    type_code: str
    building_id: int | None
    floor_id: int | None
    #: The unit's number (e.g. "1203"), for vacant units and renovations.
    unit: str | None
    template_id: int | None
    label_version: int
    #: False: the checkpoint was retired; the phone deletes it.
    active: bool
    last_check: LastCheck | None


class CatalogueWorkOrder(msgspec.Struct):
    id: int
    checkpoint_id: int | None
    item_code: str
    department: str | None
    status: str
    title: str
    raised_at: datetime
    reports: int


class Catalogue(msgspec.Struct):
    #: Opaque; send it back as ?cursor= for the changes since this answer.
    cursor: str
    #: True: replace the local copy; false: merge the checkpoints by id.
    full: bool
    sites: list[CatalogueSite]
    buildings: list[CatalogueBuilding]
    floors: list[CatalogueFloor]
    templates: list[CatalogueTemplate]
    checkpoints: list[CatalogueCheckpoint]
    work_orders: list[CatalogueWorkOrder]


class CatalogueController(Controller):
    path = "/api"
    tags = ["sync"]

    @get("/catalogue")
    async def get_catalogue(
        self, request: Request, cursor: FromQuery[str | None] = None
    ) -> Catalogue:
        """Checkpoints, checklists, places and open work orders of my sites.

        Without a cursor (or with one that is not valid any more) everything is sent and `full` is
        true. With the cursor of an earlier answer only the checkpoints changed or checked since
        then are sent (inactive ones included); sites, buildings, floors, templates and open work
        orders are always sent whole.
        """
        return msgspec.convert(await catalogue.catalogue(request.user, cursor), Catalogue)
