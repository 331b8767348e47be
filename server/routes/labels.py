"""Printable label sheets (PDF downloads) and re-issuing a damaged label."""

from __future__ import annotations

import os
import re
import tempfile
from typing import Literal

import anyio
import anyio.to_thread
from litestar import Controller, Request, get, post
from litestar.background_tasks import BackgroundTask
from litestar.params import FromQuery
from litestar.response import File

from qr.sheets import LAYOUTS, Label, write_pdf
from server import labels
from server.errors import ApiError
from server.guards import MANAGERS
from server.routes.params import ObjectId
from server.sites import visible_site
from server.tables.sites import Building, Floor

Kind = Literal["facility", "vacant_unit", "signage", "renovation"]
LayoutName = Literal["dense", "plate"]

_limiter: anyio.CapacityLimiter | None = None


def _render_limiter() -> anyio.CapacityLimiter:
    # One sheet at a time: rendering is CPU-bound and the server has few cores to share.
    global _limiter
    if _limiter is None:
        _limiter = anyio.CapacityLimiter(1)
    return _limiter


def _render_pdf(items: list[Label], layout: LayoutName) -> str:
    fd, path = tempfile.mkstemp(prefix="xunjian-labels-", suffix=".pdf")
    try:
        with os.fdopen(fd, "wb") as fp:
            write_pdf(items, LAYOUTS[layout], fp)
    except BaseException:
        os.unlink(path)
        raise
    return path


def _safe(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", part).strip("_") or "x"


async def _pdf_download(items: list[Label], layout: LayoutName, filename: str) -> File:
    path = await anyio.to_thread.run_sync(_render_pdf, items, layout, limiter=_render_limiter())
    return File(
        path=path,
        filename=filename,
        media_type="application/pdf",
        content_disposition_type="attachment",
        background=BackgroundTask(os.unlink, path),
    )


class LabelController(Controller):
    path = "/api"
    tags = ["labels"]
    guards = [MANAGERS]

    @get("/sites/{site_id:int}/labels.pdf")
    async def label_sheet(
        self,
        request: Request,
        site_id: ObjectId,
        building: FromQuery[ObjectId | None] = None,
        floor: FromQuery[ObjectId | None] = None,
        kind: FromQuery[Kind | None] = None,
        layout: FromQuery[LayoutName] = "dense",
    ) -> File:
        site = await visible_site(request.user, site_id)
        name_parts = [_safe(site["code"])]
        if building is not None:
            row = (
                await Building.select(Building.code)
                .where((Building.id == building) & (Building.site == site_id))
                .first()
            )
            if row is None:
                raise ApiError(404, "not_found")
            name_parts.append(_safe(row["code"]))
        if floor is not None:
            row = (
                await Floor.select(Floor.name)
                .where((Floor.id == floor) & (Floor.building.site == site_id))
                .first()
            )
            if row is None:
                raise ApiError(404, "not_found")
            name_parts.append(_safe(row["name"]))
        count = await labels.count_labels(site_id, building=building, floor=floor, kind=kind)
        if count == 0:
            raise ApiError(400, "no_labels")
        if count > labels.MAX_LABELS_PER_REQUEST:
            raise ApiError(
                400,
                "too_many_labels",
                {"count": count, "max": labels.MAX_LABELS_PER_REQUEST},
            )
        settings = request.app.state.settings
        items = await labels.labels_for(
            settings, site_id, building=building, floor=floor, kind=kind
        )
        if not items:  # deleted between the count and the read
            raise ApiError(400, "no_labels")
        return await _pdf_download(items, layout, f"labels-{'-'.join(name_parts)}.pdf")

    @post("/checkpoints/{checkpoint_id:int}/reissue-label", status_code=200)
    async def reissue_label(self, request: Request, checkpoint_id: ObjectId) -> File:
        site_id = await labels.site_of_checkpoint(checkpoint_id)
        if site_id is None or not request.user.can_see_site(site_id):
            raise ApiError(404, "not_found")
        label = await labels.reissue_label(request.app.state.settings, checkpoint_id)
        return await _pdf_download(
            [label], "plate", f"label-{_safe(label.code)}-v{label.version}.pdf"
        )
