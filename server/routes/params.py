"""Parameter types and answers shared by the controllers."""

from typing import Annotated, Any

import msgspec
from litestar import Response
from litestar.datastructures import ResponseHeader
from litestar.params import Parameter

# Row ids are 32-bit serials on PostgreSQL; anything outside is answered 400, never sent to the driver.
ObjectId = Annotated[int, Parameter(ge=1, le=2_147_483_647)]

#: The phone's request id of an exactly-once write (server/exactly_once.py).
ClientId = Annotated[str, msgspec.Meta(min_length=1, max_length=36)] | None

REPLAYED = ResponseHeader(
    name="X-Replayed",
    value="1",
    documentation_only=True,
    required=False,
    description="1: a repeat of a request already stored under its client_id; nothing was stored.",
)


def replayable(body: Any, replayed: bool, status_code: int) -> Response:
    """An exactly-once write's answer: ``status_code``, or 200 with ``X-Replayed: 1`` when the
    request was a replay and nothing was stored."""
    if replayed:
        return Response(body, status_code=200, headers={"X-Replayed": "1"})
    return Response(body, status_code=status_code)
