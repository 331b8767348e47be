"""Scanning a checkpoint label (signed, verified) and typing its code (manual, unverified)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from server import labels
from server.routes.params import ObjectId


class ScanRequest(msgspec.Struct, forbid_unknown_fields=True):
    #: What the camera decoded, as is.
    text: Annotated[str, msgspec.Meta(max_length=4096)]


class ScanController(Controller):
    path = "/api"
    tags = ["scan"]

    @post("/scan/resolve", status_code=200)
    async def resolve(self, request: Request, data: JSONBody[ScanRequest]) -> dict:
        return await labels.resolve_scan(request.app.state.settings, request.user, data.text)

    @get("/checkpoints/by-code/{code:str}")
    async def by_code(
        self, request: Request, code: FromPath[str], site: FromQuery[ObjectId | None] = None
    ) -> dict:
        """Manual entry of the code printed under the QR (damaged label): unverified."""
        return await labels.checkpoint_by_code(request.user, code, site)
