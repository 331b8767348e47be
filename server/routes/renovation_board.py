"""The renovation board (装修动态表) and the permits at a glance for the phones' offline cache
(see ``server/renovation_board.py``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Controller, Request, get
from litestar.params import FromQuery

from server import renovation_board
from server.routes.params import ObjectId


class RenovationBoardController(Controller):
    path = "/api"
    tags = ["renovations"]

    @get("/renovations/board")
    async def get_board(
        self,
        request: Request,
        site: FromQuery[ObjectId],
        building: FromQuery[ObjectId | None] = None,
        floor: FromQuery[ObjectId | None] = None,
        day: FromQuery[date | None] = None,
    ) -> dict[str, Any]:
        """Active permits of the site (by building, floor, unit) with each department's last
        check and today's round (done | late | unverified | missed | pending | none), days left,
        open / overdue violations; totals with the units each department has not inspected."""
        return await renovation_board.board(
            request.user, site, building=building, floor=floor, day=day
        )

    @get("/renovations/glance")
    async def get_glance(self, request: Request, site: FromQuery[ObjectId]) -> dict[str, Any]:
        """Every active permit of the site keyed by its checkpoint id: the permit at a glance
        for the check screen (kept on the phone for offline use)."""
        return await renovation_board.glance(request.user, site)
