"""A site's renovation rules: pass deposit and fee (fen), noisy-work hours, a permit's default
months. Every member reads them; managers and admins change them (exactly once per client_id)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, put
from litestar.params import JSONBody

from server import site_rules
from server.routes.params import REPLAYED, ClientId, ObjectId, replayable

Fen = Annotated[int, msgspec.Meta(ge=0, le=site_rules.MAX_FEN)]
HHMM = Annotated[str, msgspec.Meta(max_length=5)]


class RulesIn(msgspec.Struct, forbid_unknown_fields=True):
    #: A worker's pass deposit (押金) and fee (工本费), in fen.
    pass_deposit: Fen
    pass_fee: Fen
    #: Windows of allowed noisy work, [["08:00", "12:00"], ...], on the site's clock; may be empty.
    noisy_hours: Annotated[
        list[Annotated[list[HHMM], msgspec.Meta(min_length=2, max_length=2)]],
        msgspec.Meta(max_length=site_rules.MAX_WINDOWS),
    ]
    #: A permit's length when the desk gives no end date.
    renovation_months: Annotated[
        int, msgspec.Meta(ge=site_rules.MIN_MONTHS, le=site_rules.MAX_MONTHS)
    ]
    client_id: ClientId = None


class SiteRulesController(Controller):
    path = "/api/sites/{site_id:int}/renovation-rules"
    tags = ["renovations"]

    @get("/")
    async def get_rules(self, request: Request, site_id: ObjectId) -> dict[str, Any]:
        """The site's renovation rules, its clock now and whether noisy work is allowed now, and
        the latest changes."""
        return await site_rules.get_rules(request.user, site_id)

    @put("/", status_code=200, response_headers=[REPLAYED])
    async def put_rules(
        self, request: Request, site_id: ObjectId, data: JSONBody[RulesIn]
    ) -> Response[dict[str, Any]]:
        """Change the rules (managers and admins); a replay of the same client_id and rules is
        200 with X-Replayed: 1."""
        view, replayed = await site_rules.put_rules(
            request.user,
            site_id,
            pass_deposit=data.pass_deposit,
            pass_fee=data.pass_fee,
            noisy_hours=data.noisy_hours,
            renovation_months=data.renovation_months,
            client_id=data.client_id,
        )
        return replayable(view, replayed, 200)
