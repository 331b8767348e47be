"""POST /api/sync: the phone's outbox, delivered exactly once."""

from __future__ import annotations

from collections.abc import Generator
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, post
from litestar.dto import AbstractDTO, DTOConfig, DTOFieldDefinition
from litestar.params import JSONBody
from litestar.typing import FieldDefinition

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


_strict = msgspec.json.Decoder(SyncRequest)


class StrictSyncBody(AbstractDTO[SyncRequest]):
    """The request body decoded straight from bytes, strictly, in one pass.

    Litestar's own decoding is lenient ("1" is taken for 1) and goes through Python dicts first;
    a phone sending the wrong types gets a 400, and a 500-record batch is decoded once.
    The OpenAPI schema is SyncRequest's own.
    """

    config = DTOConfig()

    def decode_bytes(self, value: bytes) -> Any:
        try:
            return _strict.decode(value)
        except msgspec.ValidationError as error:
            raise ApiError(400, "invalid_request", [{"message": str(error)}]) from None
        except msgspec.DecodeError as error:
            raise ApiError(400, "invalid_request", [{"message": str(error)}]) from None

    def decode_builtins(self, value: dict[str, Any]) -> Any:
        raise ApiError(415, "unsupported_media_type")

    @classmethod
    def create_for_field_definition(cls, field_definition, handler_id, backend_cls=None) -> None:
        return None

    @classmethod
    def create_openapi_schema(cls, field_definition, handler_id, schema_creator):
        return schema_creator.for_field_definition(
            FieldDefinition.from_annotation(
                SyncRequest, kwarg_definition=field_definition.kwarg_definition
            )
        )

    @classmethod
    def generate_field_definitions(
        cls, model_type: type[Any]
    ) -> Generator[DTOFieldDefinition, None, None]:
        yield from ()

    @classmethod
    def detect_nested_field(cls, field_definition: FieldDefinition) -> bool:
        return False


class SyncController(Controller):
    path = "/api"
    tags = ["sync"]

    @post(
        "/sync",
        status_code=200,
        request_max_body_size=sync.MAX_BODY_BYTES,
        dto=StrictSyncBody,
        return_dto=None,
    )
    async def sync(self, request: Request, data: JSONBody[SyncRequest]) -> SyncResponse:
        """Store a batch of records made on the phone; one result per record, in order.

        ``accepted`` and ``duplicate`` mean the server has the record (the phone may forget it);
        ``rejected`` carries a ``code``. Accepted records are stored in one transaction.
        """
        if len(data.records) > sync.MAX_RECORDS:
            raise ApiError(413, "batch_too_large", {"max_records": sync.MAX_RECORDS})
        english = prefers_english(request.headers.get("accept-language"))
        outcomes = await sync.apply_batch(request.app.state.settings, request.user, data.records)
        return SyncResponse(
            results=[SyncResult(**outcome.as_dict(english)) for outcome in outcomes]
        )
