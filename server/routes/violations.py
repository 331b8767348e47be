"""Violations (违章) and their rectification notices (整改通知): the list, one notice for printing,
a re-inspection by hand and a manager's cancellation (see server/violations.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery, JSONBody, Parameter

from server import violations
from server.routes.params import REPLAYED, ClientId, ObjectId, replayable

Status = Literal["open", "rectified", "cancelled"]
Text = Annotated[str, msgspec.Meta(max_length=2000)]
Sha256 = Annotated[str, msgspec.Meta(pattern="^[0-9a-fA-F]{64}$")]


class ReinspectIn(msgspec.Struct, forbid_unknown_fields=True):
    passed: bool
    note: Text = ""
    photos: Annotated[list[Sha256], msgspec.Meta(max_length=10)] = []
    client_id: ClientId = None


class CancelIn(msgspec.Struct, forbid_unknown_fields=True):
    #: The reason (required).
    note: Text = ""
    client_id: ClientId = None


async def _answer(request: Request, outcome: violations.Outcome) -> Response[dict[str, Any]]:
    view = await violations.get_violation(request.user, outcome.id)
    return replayable(view, outcome.replayed, 200)


class ViolationController(Controller):
    path = "/api"
    tags = ["violations"]

    @get("/violations")
    async def list_violations(
        self,
        request: Request,
        site: FromQuery[ObjectId | None] = None,
        permit: FromQuery[ObjectId | None] = None,
        status: FromQuery[Status | None] = None,
        checkpoint: FromQuery[ObjectId | None] = None,
    ) -> list[dict[str, Any]]:
        """Violations of the user's sites, newest first (at most 500)."""
        return await violations.list_violations(
            request.user, site=site, permit=permit, status=status, checkpoint=checkpoint
        )

    @get("/violations/{violation_id:int}")
    async def get_violation(
        self, request: Request, violation_id: Annotated[ObjectId, Parameter()]
    ) -> dict[str, Any]:
        """One violation with its rectification notice (unit, owner, contractor, item, deadline,
        photos of the finding check, work order, re-inspection) and its events."""
        return await violations.get_violation(request.user, violation_id)

    @post("/violations/{violation_id:int}/reinspect", status_code=200, response_headers=[REPLAYED])
    async def reinspect(
        self, request: Request, violation_id: ObjectId, data: JSONBody[ReinspectIn]
    ) -> Response[dict[str, Any]]:
        """A re-inspection by hand (the department that found it, the desk, a manager): passed →
        rectified; not passed → stays open."""
        outcome = await violations.reinspect(
            request.user,
            violation_id,
            passed=data.passed,
            note=data.note,
            photos=data.photos,
            client_id=data.client_id,
        )
        return await _answer(request, outcome)

    @post("/violations/{violation_id:int}/cancel", status_code=200, response_headers=[REPLAYED])
    async def cancel(
        self, request: Request, violation_id: ObjectId, data: JSONBody[CancelIn | None] = None
    ) -> Response[dict[str, Any]]:
        """A manager cancels a violation, giving the reason."""
        data = data or CancelIn()
        outcome = await violations.cancel(
            request.user, violation_id, note=data.note, client_id=data.client_id
        )
        return await _answer(request, outcome)
