"""The PWA: its shell for every app URL (including the QR label URL ``/c/<code>``), the service
worker at the root scope, static files, and front-end libraries from node_modules."""

from __future__ import annotations

from pathlib import Path

from litestar import Response, get
from litestar.response import File
from litestar.static_files import create_static_files_router

ROOT = Path(__file__).resolve().parents[2]
WEB_DIR = ROOT / "web"
NODE_MODULES = ROOT / "node_modules"
# Only these npm packages are served to phones.
VENDOR_PACKAGES = ("idb", "jsqr", "zxing-wasm")

# The shell must always be revalidated so a new release reaches phones; the SW caches it for offline.
NO_CACHE = {"Cache-Control": "no-cache"}


def _shell() -> Response[bytes]:
    return Response(
        (WEB_DIR / "index.html").read_bytes(),
        media_type="text/html; charset=utf-8",
        headers=NO_CACHE,
    )


@get(
    ["/", "/app", "/app/{rest:path}", "/c/{rest:path}"],
    exclude_from_auth=True,
    include_in_schema=False,
    sync_to_thread=False,
)
def shell() -> Response[bytes]:
    return _shell()


@get("/sw.js", exclude_from_auth=True, include_in_schema=False)
async def service_worker() -> File:
    return File(
        WEB_DIR / "sw.js",
        media_type="text/javascript",
        content_disposition_type="inline",
        headers={**NO_CACHE, "Service-Worker-Allowed": "/"},
    )


@get("/manifest.webmanifest", exclude_from_auth=True, include_in_schema=False)
async def manifest() -> File:
    return File(
        WEB_DIR / "manifest.webmanifest",
        media_type="application/manifest+json",
        content_disposition_type="inline",
        headers=NO_CACHE,
    )


def static_routers() -> list:
    routers = [
        create_static_files_router(
            path="/static",
            directories=[WEB_DIR],
            opt={"exclude_from_auth": True},
            include_in_schema=False,
            name="static",
            cache_control=None,
        )
    ]
    for package in VENDOR_PACKAGES:
        routers.append(
            create_static_files_router(
                path=f"/vendor/{package}",
                directories=[NODE_MODULES / package],
                opt={"exclude_from_auth": True},
                include_in_schema=False,
                name=f"vendor-{package}",
            )
        )
    return routers


WEB_HANDLERS = [shell, service_worker, manifest]
