"""Patrol plans (巡检计划) over the API: list, read, create, change, delete.

Managers and admins of the site manage plans; dispatchers read every plan of their sites; everyone
else reads the plans they are among the people of (see ``server/plans.py``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

import msgspec
from litestar import Controller, Request, delete, get, post, put
from litestar.params import FromQuery, JSONBody

from server import plans
from server.guards import MANAGERS
from server.routes.params import ObjectId


class PersonRef(msgspec.Struct):
    id: int
    display_name: str


class Selection(msgspec.Struct):
    buildings: list[int] = []
    floors: list[int] = []
    kinds: list[str] = []
    types: list[str] = []
    checkpoints: list[int] = []


class PlanRead(msgspec.Struct):
    id: int
    site_id: int
    name: str
    per: Literal["day", "week", "month"]
    times: int
    #: Local ["HH:MM", "HH:MM"] pairs.
    windows: list[list[str]]
    grace_minutes: int
    #: As written when saved; resolved into ``checkpoint_count`` checkpoints.
    selection: Selection
    checkpoint_count: int
    assignees: list[PersonRef]
    role: str | None
    #: Department code.
    department: str | None
    starts_on: date
    ends_on: date | None
    timezone: str
    created_at: datetime
    updated_at: datetime


class PlanDetail(PlanRead):
    checkpoint_ids: list[int]


class PlanController(Controller):
    path = "/api/plans"
    tags = ["plans"]

    @get("/")
    async def list_plans(
        self, request: Request, site: FromQuery[ObjectId | None] = None
    ) -> list[PlanRead]:
        """Plans of my sites that I may read, oldest first."""
        return msgspec.convert(
            await plans.list_plans(request.user, site), list[PlanRead], from_attributes=True
        )

    @get("/{plan_id:int}")
    async def get_plan(self, request: Request, plan_id: ObjectId) -> PlanDetail:
        """One plan with the ids of its checkpoints."""
        return msgspec.convert(await plans.get_plan(request.user, plan_id), PlanDetail)

    @post("/", guards=[MANAGERS], status_code=201)
    async def create_plan(self, request: Request, data: JSONBody[plans.PlanIn]) -> PlanDetail:
        """A new plan; its rounds are computed from ``starts_on`` (default: today) at once."""
        plan_id = await plans.create_plan(request.user, data)
        return msgspec.convert(await plans.get_plan(request.user, plan_id), PlanDetail)

    @put("/{plan_id:int}", guards=[MANAGERS])
    async def update_plan(
        self, request: Request, plan_id: ObjectId, data: JSONBody[plans.PlanIn]
    ) -> PlanDetail:
        """Replace a plan; its stored rounds are recomputed from its first day."""
        await plans.update_plan(request.user, plan_id, data)
        return msgspec.convert(await plans.get_plan(request.user, plan_id), PlanDetail)

    @delete("/{plan_id:int}", guards=[MANAGERS], status_code=204)
    async def delete_plan(self, request: Request, plan_id: ObjectId) -> None:
        """Delete a plan with its rounds and their acknowledgements (to keep its history, set
        ``ends_on`` instead)."""
        await plans.delete_plan(request.user, plan_id)
