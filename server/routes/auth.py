"""Login, logout and who am I."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import JSONBody

from server.auth import (
    COOKIE_NAME,
    CurrentUser,
    authenticate,
    close_session,
    load_current_user,
    open_session,
)
from server.errors import ApiError
from server.sites import sites_of
from server.tables.accounts import Department


class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class DepartmentRead(msgspec.Struct):
    code: str
    name_zh: str
    name_en: str


class SiteRef(msgspec.Struct):
    id: int
    code: str
    name: str
    #: The site's time zone: its days (today, yesterday) are counted in it, not the phone's.
    timezone: str


class Me(msgspec.Struct):
    id: int
    username: str
    display_name: str
    role: str
    department: DepartmentRead | None
    sites: list[SiteRef]


async def describe(user: CurrentUser) -> Me:
    department = None
    if user.department_id is not None:
        row = (
            await Department.select(Department.code, Department.name_zh, Department.name_en)
            .where(Department.id == user.department_id)
            .first()
        )
        department = DepartmentRead(**row) if row else None
    return Me(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        department=department,
        sites=[SiteRef(**s) for s in await sites_of(user)],
    )


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class AuthController(Controller):
    path = "/api"
    tags = ["auth"]

    @post("/auth/login", exclude_from_auth=True, status_code=200)
    async def login(self, request: Request, data: JSONBody[LoginRequest]) -> Response[Me]:
        settings = request.app.state.settings
        user_id = await authenticate(
            settings, data.username, data.password, client_address(request)
        )
        token = await open_session(settings, user_id, request.headers.get("user-agent", ""))
        # Read back through the same path every later request takes.
        user = await load_current_user(token)
        if user is None:  # deactivated between the password check and now
            raise ApiError(403, "account_disabled")
        cookie = Cookie(
            key=COOKIE_NAME,
            value=token,
            max_age=settings.session_days * 86400,
            httponly=True,
            samesite="lax",
            # Secure whenever the phone reached us over HTTPS (directly, or through a trusted
            # proxy whose X-Forwarded-Proto uvicorn applied to the scheme).
            secure=settings.secure_cookies or request.url.scheme == "https",
            path="/",
        )
        return Response(await describe(user), cookies=[cookie])

    @post("/auth/logout", status_code=204)
    async def logout(self, request: Request) -> Response[None]:
        await close_session(request.auth)
        return Response(
            None, status_code=204, cookies=[Cookie(key=COOKIE_NAME, value="", max_age=0, path="/")]
        )

    @get("/me")
    async def get_me(self, request: Request) -> Me:
        return await describe(request.user)
