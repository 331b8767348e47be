"""Authentication middleware and role guards.

Every request except the public ones (login, the PWA shell, health) must carry a live session.
Roles are checked by guards on the controllers; site membership by ``server.sites.visible_site``.
"""

from __future__ import annotations

from collections.abc import Callable

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from server.auth import COOKIE_NAME, CurrentUser, load_current_user
from server.errors import ApiError


class SessionAuthenticationMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        token = connection.cookies.get(COOKIE_NAME)
        if not token:
            raise ApiError(401, "not_authenticated")
        user = await load_current_user(token)
        if user is None:
            raise ApiError(401, "session_expired")
        return AuthenticationResult(user=user, auth=token)


def require_roles(*roles: str) -> Callable[[ASGIConnection, BaseRouteHandler], None]:
    """A guard that lets through only the given roles (admins always)."""
    allowed = frozenset(roles) | {"admin"}

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        user: CurrentUser = connection.user
        if user.role not in allowed:
            raise ApiError(403, "forbidden")

    guard.__name__ = f"require_roles_{'_'.join(sorted(allowed))}"
    return guard


ADMIN_ONLY = require_roles("admin")
MANAGERS = require_roles("manager")
