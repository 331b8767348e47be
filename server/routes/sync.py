"""POST /api/sync: the phone's outbox, delivered exactly once."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import Controller, Request, post
from litestar.params import JSONBody

from server import sync
from server.errors import ApiError, prefers_english
from server.sync import RecordIn


class SyncRequest(msgspec.Struct, forbid_unknown_fields=True):
    records: Annotated[
        list[RecordIn],
        msgspec.Meta(
            min_length=1,
            description=f"At most {sync.MAX_RECORDS} records; more → 413 batch_too_large.",
        ),
    ]


class SyncResult(msgspec.Struct, omit_defaults=True):
    id: str
    status: Literal["accepted", "duplicate", "rejected"]
    #: Why a record was rejected (stable code) and the message in the request's language.
    code: str | None = None
    reason: str | None = None
    #: The work orders its failed items raised or joined (accepted and duplicate records).
    work_orders: list[int] | None = None


class SyncResponse(msgspec.Struct):
    results: list[SyncResult]


# Litestar converts bodies leniently ("1" → 1); the phone's records are decoded again, strictly.
_strict = msgspec.json.Decoder(SyncRequest)


class SyncController(Controller):
    path = "/api"
    tags = ["sync"]

    @post("/sync", status_code=200, request_max_body_size=sync.MAX_BODY_BYTES)
    async def sync(self, request: Request, data: JSONBody[SyncRequest]) -> SyncResponse:
        """Store a batch of records made on the phone; one result per record, in order.

        ``accepted`` and ``duplicate`` mean the server has the record (the phone may forget it);
        ``rejected`` carries a ``code``. Accepted records are stored in one transaction.
        """
        if len(data.records) > sync.MAX_RECORDS:
            raise ApiError(413, "batch_too_large", {"max_records": sync.MAX_RECORDS})
        try:
            records = _strict.decode(await request.body()).records
        except msgspec.ValidationError as error:
            raise ApiError(400, "invalid_request", [{"message": str(error)}]) from None
        english = prefers_english(request.headers.get("accept-language"))
        outcomes = await sync.apply_batch(request.app.state.settings, request.user, records)
        return SyncResponse(
            results=[SyncResult(**outcome.as_dict(english)) for outcome in outcomes]
        )
