"""Photos: upload by content hash (idempotent), read back the stored JPEG and its thumbnail."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

import anyio
import msgspec
from litestar import Controller, Request, Response, get, put
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import PathParameter
from litestar.response import File, Stream

from server import photos
from server.errors import ApiError
from server.storage import store_for

# Litestar refuses bodies over this with its own 413 before the handler's check can answer
# photo_too_large; it only has to stay above the largest XUNJIAN_PHOTO_MAX_MB the settings accept
# (200 MB), the real limit (settings.photo_max_bytes) is enforced while streaming.
BODY_CEILING = 200 * 1024 * 1024 + 1

IMMUTABLE = {"Cache-Control": "private, max-age=31536000, immutable"}

Sha256 = Annotated[
    str,
    PathParameter(
        pattern=photos.SHA256_PATTERN,
        description="SHA-256 of the uploaded bytes, 64 lowercase hex digits.",
    ),
]


class PhotoStored(msgspec.Struct):
    sha256: str
    width: int
    height: int


class ErrorInfo(msgspec.Struct):
    code: str
    message: str


class ErrorBody(msgspec.Struct):
    error: ErrorInfo


_ERRORS = {
    200: ResponseSpec(PhotoStored, description="Already stored (nothing changed)"),
    400: ResponseSpec(
        ErrorBody, description="photo_hash_mismatch, photo_corrupt or invalid_request"
    ),
    413: ResponseSpec(ErrorBody, description="photo_too_large or photo_too_many_pixels"),
    415: ResponseSpec(ErrorBody, description="photo_not_image: not JPEG, PNG or WebP"),
}

_BINARY = Schema(type=OpenAPIType.STRING, format="binary")


@dataclass
class PhotoUploadOperation(Operation):
    """The body is raw image bytes, read as a stream (no ``data`` parameter to infer it from)."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            description="The image file as is (JPEG, PNG or WebP), at most the configured size.",
            content={
                media: OpenAPIMediaType(schema=_BINARY)
                for media in ("image/jpeg", "image/png", "image/webp")
            },
        )


def _content_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


async def _serve(request: Request, key: str) -> File | Stream:
    store = store_for(request.app.state.settings)
    local = store.local_path(key)
    if local is not None:
        return File(
            path=local,
            media_type="image/jpeg",
            filename=local.name,
            content_disposition_type="inline",
            headers=IMMUTABLE,
        )

    # The object is opened before the answer starts, so a missing one is a clean 404 rather than
    # a 200 cut off mid-stream.
    try:
        handle = await anyio.to_thread.run_sync(store.open, key)
    except FileNotFoundError:
        raise ApiError(404, "not_found") from None

    def chunks() -> Iterator[bytes]:
        with handle:
            while chunk := handle.read(256 * 1024):
                yield chunk

    return Stream(chunks(), media_type="image/jpeg", headers=IMMUTABLE)


class PhotoController(Controller):
    path = "/api/photos"
    tags = ["photos"]

    @put(
        "/{sha256:str}",
        status_code=201,
        request_max_body_size=BODY_CEILING,
        operation_class=PhotoUploadOperation,
        responses=_ERRORS,
    )
    async def upload(self, request: Request, sha256: Sha256) -> Response[PhotoStored]:
        """Upload a photo under the SHA-256 of its bytes: 201 stored, 200 already stored.

        EXIF orientation is applied and all metadata (GPS included) is removed. Errors:
        400 photo_hash_mismatch / photo_corrupt, 413 photo_too_large / photo_too_many_pixels,
        415 photo_not_image.
        """
        stored = await photos.put_photo(
            request.app.state.settings,
            request.user,
            sha256,
            request.stream(),
            _content_length(request),
        )
        return Response(
            PhotoStored(stored.sha256, stored.width, stored.height),
            status_code=201 if stored.created else 200,
        )

    @get("/{sha256:str}", media_type="image/jpeg")
    async def original(self, request: Request, sha256: Sha256) -> File:
        """The stored photo (JPEG, upright, without metadata)."""
        row = await photos.visible_photo(request.user, sha256)
        return await _serve(request, row["path"])

    @get("/{sha256:str}/thumb", media_type="image/jpeg")
    async def thumb(self, request: Request, sha256: Sha256) -> File:
        """The photo's thumbnail (JPEG, at most 320 px on the long edge)."""
        row = await photos.visible_photo(request.user, sha256)
        return await _serve(request, row["thumb_path"])
