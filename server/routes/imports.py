"""Import a building's units and checkpoints from a CSV or XLSX file (admins)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Request, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body

from server import importer
from server.errors import ApiError
from server.guards import ADMIN_ONLY
from server.routes.params import ObjectId
from server.sites import visible_site


class ImportForm(msgspec.Struct):
    file: UploadFile


class ImportController(Controller):
    path = "/api/sites"
    tags = ["import"]
    guards = [ADMIN_ONLY]

    @post("/{site_id:int}/import", status_code=200)
    async def import_units_and_checkpoints(
        self,
        request: Request,
        site_id: ObjectId,
        data: Annotated[ImportForm, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> importer.ImportReport:
        await visible_site(request.user, site_id)
        content = await data.file.read(importer.MAX_BYTES + 1)
        report = await importer.import_rows(site_id, data.file.filename or "", content)
        if not report.ok:
            # Nothing was written; the rows and their problems go back for the person to fix.
            raise ApiError(422, "import_invalid", detail=msgspec.to_builtins(report))
        return report
