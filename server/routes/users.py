"""User administration over the API (the back office at /admin covers the rest)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import JSONBody

from server import auth, users
from server.errors import ApiError
from server.guards import ADMIN_ONLY, MANAGERS
from server.routes.params import ObjectId
from server.tables.accounts import User

Role = Literal["patrol", "inspector", "dispatcher", "department", "manager", "admin"]


class UserCreate(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[
        str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")
    ]
    password: Annotated[str, msgspec.Meta(max_length=128)]
    role: Role
    display_name: Annotated[str, msgspec.Meta(max_length=50)] = ""
    department: str | None = None
    sites: list[str] = []


class UserRead(msgspec.Struct):
    id: int
    username: str
    display_name: str
    role: Role
    active: bool
    department: str | None


class UserCreated(msgspec.Struct):
    id: int


class Revoked(msgspec.Struct):
    revoked: int


class UserController(Controller):
    path = "/api/users"
    tags = ["users"]

    @get("/", guards=[MANAGERS])
    async def list_users(self, request: Request) -> list[UserRead]:
        user = request.user
        rows = await users.list_users(None if user.is_admin else user.site_ids)
        return msgspec.convert(rows, list[UserRead])

    @post("/", guards=[ADMIN_ONLY])
    async def create_user(self, data: JSONBody[UserCreate]) -> UserCreated:
        user_id = await users.create_user(
            username=data.username,
            password=data.password,
            role=data.role,
            display_name=data.display_name,
            department_code=data.department,
            site_codes=data.sites,
        )
        return UserCreated(id=user_id)

    @post("/{user_id:int}/revoke-sessions", guards=[ADMIN_ONLY], status_code=200)
    async def revoke_sessions(self, user_id: ObjectId) -> Revoked:
        if not await User.exists().where(User.id == user_id):
            raise ApiError(404, "not_found")
        return Revoked(revoked=await auth.revoke_user_sessions(user_id))
