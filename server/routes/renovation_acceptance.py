"""Joint acceptance rounds and sign-offs, deductions and the deposit settlement of a renovation
permit (server/renovation_acceptance.py). Writes take an optional ``client_id``: a repeat answers
200 with ``X-Replayed: 1``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import FromQuery, JSONBody

from server import renovation_acceptance as acceptance
from server.routes.params import REPLAYED, ClientId, ObjectId, replayable
from server.routes.renovations import Text

Kind = Literal["hidden_works", "completion"]
Party = Literal["customer_service", "engineering", "security", "owner", "contractor"]
Sha = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-fA-F]{64}$")]
Item = Annotated[str, msgspec.Meta(max_length=200)]
BASE = "/renovations/{permit_id:int}"


class OpenIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: Kind
    client_id: ClientId = None
    device_time: datetime | None = None


class SignoffIn(msgspec.Struct, forbid_unknown_fields=True):
    party: Party
    passed: bool
    #: What is to be rectified (required when failing).
    items: Annotated[list[Item], msgspec.Meta(max_length=50)] = []
    note: Text = ""
    #: The owner's / contractor's name (with their signature).
    name: Annotated[str, msgspec.Meta(max_length=100)] = ""
    #: SHA-256 of the uploaded signature image (owner / contractor: required).
    signature: Sha | None = None
    photos: Annotated[list[Sha], msgspec.Meta(max_length=20)] = []
    client_id: ClientId = None
    device_time: datetime | None = None


class DeductionIn(msgspec.Struct, forbid_unknown_fields=True):
    #: In fen (分), more than 0.
    amount: Annotated[int, msgspec.Meta(gt=0, le=2_000_000_000)]
    reason: Text
    photos: Annotated[list[Sha], msgspec.Meta(max_length=20)] = []
    client_id: ClientId = None
    device_time: datetime | None = None


class ApproveIn(msgspec.Struct, forbid_unknown_fields=True):
    client_id: ClientId = None
    device_time: datetime | None = None


class RenovationAcceptanceController(Controller):
    path = "/api"
    tags = ["renovations"]

    @get(f"{BASE}/acceptances")
    async def list_acceptances(
        self, request: Request, permit_id: ObjectId, kind: FromQuery[Kind | None] = None
    ) -> list[dict[str, Any]]:
        """The permit's acceptance rounds with every party's sign-off, by kind then round."""
        return await acceptance.list_acceptances(request.user, permit_id, kind)

    @post(f"{BASE}/acceptances", status_code=201, response_headers=[REPLAYED])
    async def open_round(
        self, request: Request, permit_id: ObjectId, data: JSONBody[OpenIn]
    ) -> Response[dict[str, Any]]:
        """Open the next round (the desk or 工程); answers the round."""
        round_id, replayed = await acceptance.open_round(
            request.user,
            permit_id,
            data.kind,
            client_id=data.client_id,
            device_time=data.device_time,
        )
        view = await acceptance.get_acceptance(request.user, permit_id, round_id)
        return replayable(view, replayed, 201)

    @get(f"{BASE}/acceptances/{{acceptance_id:int}}")
    async def get_acceptance(
        self, request: Request, permit_id: ObjectId, acceptance_id: ObjectId
    ) -> dict[str, Any]:
        """One round."""
        return await acceptance.get_acceptance(request.user, permit_id, acceptance_id)

    @post(
        f"{BASE}/acceptances/{{acceptance_id:int}}/signoffs",
        status_code=201,
        response_headers=[REPLAYED],
    )
    async def sign_off(
        self,
        request: Request,
        permit_id: ObjectId,
        acceptance_id: ObjectId,
        data: JSONBody[SignoffIn],
    ) -> Response[dict[str, Any]]:
        """One party's sign-off; answers the round (closed when it was the last party's)."""
        replayed = await acceptance.sign_off(
            request.user,
            permit_id,
            acceptance_id,
            party=data.party,
            passed=data.passed,
            items=data.items,
            note=data.note,
            name=data.name,
            signature=data.signature,
            photos=data.photos,
            client_id=data.client_id,
            device_time=data.device_time,
        )
        view = await acceptance.get_acceptance(request.user, permit_id, acceptance_id)
        return replayable(view, replayed, 201)

    @get(f"{BASE}/settlement")
    async def get_settlement(self, request: Request, permit_id: ObjectId) -> dict[str, Any]:
        """The deposit settlement statement (as approved, or as it stands)."""
        return await acceptance.get_settlement(request.user, permit_id)

    @post(f"{BASE}/deductions", status_code=201, response_headers=[REPLAYED])
    async def add_deduction(
        self, request: Request, permit_id: ObjectId, data: JSONBody[DeductionIn]
    ) -> Response[dict[str, Any]]:
        """A deduction (工程 or the desk); answers the statement."""
        replayed = await acceptance.add_deduction(
            request.user,
            permit_id,
            amount=data.amount,
            reason=data.reason,
            photos=data.photos,
            client_id=data.client_id,
            device_time=data.device_time,
        )
        return replayable(await acceptance.get_settlement(request.user, permit_id), replayed, 201)

    @delete(
        f"{BASE}/deductions/{{deduction_id:int}}",
        status_code=200,
        response_headers=[REPLAYED],
    )
    async def withdraw_deduction(
        self, request: Request, permit_id: ObjectId, deduction_id: ObjectId
    ) -> Response[dict[str, Any]]:
        """Withdraw a deduction before approval; answers the statement."""
        replayed = await acceptance.withdraw_deduction(request.user, permit_id, deduction_id)
        return replayable(await acceptance.get_settlement(request.user, permit_id), replayed, 200)

    @post(f"{BASE}/settlement/approve", status_code=200, response_headers=[REPLAYED])
    async def approve_settlement(
        self, request: Request, permit_id: ObjectId, data: JSONBody[ApproveIn | None] = None
    ) -> Response[dict[str, Any]]:
        """The manager approves the statement; the deposit is settled."""
        data = data or ApproveIn()
        replayed = await acceptance.approve_settlement(
            request.user, permit_id, client_id=data.client_id, device_time=data.device_time
        )
        return replayable(await acceptance.get_settlement(request.user, permit_id), replayed, 200)
