"""The back office (后台) at ``/admin/``: piccolo_admin over the tables an admin manages without SQL.

Who may enter: piccolo_admin's own rule is enforced on every API call by piccolo_api's
``SessionsAuthBackend(admin_only=True, active_only=True)``: the user's ``admin`` flag must be set and
the account active. piccolo_admin's login endpoint itself hands a session to *any* correct
username and password, so ``_AdminOnlyLogin`` checks the outcome of a successful login and, for a
user who may not enter, deletes the session just made and answers 403 — a non-admin never holds a
back-office cookie. Changing users (``xj_user``) and piccolo's ``sessions`` through the admin
additionally needs the ``superuser`` flag (piccolo_admin's ``superuser_validators``).

The admin has its own login page and cookie (``id``, piccolo's sessions table); it does not know the
PWA's ``xj_session`` cookie. Admins sign in with the same username and password.

CSRF: piccolo_admin wraps itself in piccolo_api's double-submit-cookie ``CSRFMiddleware``. Its
``allowed_hosts`` is consulted only for HTTPS requests (Origin/Referer must name an allowed host);
we allow the host of ``settings.base_url`` (the name phones and browsers use), the listen address
when it is a concrete one, and the loopback names.
"""

from __future__ import annotations

import json
from datetime import timedelta
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from litestar.handlers import ASGIRouteHandler, asgi
from piccolo_admin.endpoints import OrderBy, TableConfig, create_admin
from piccolo_admin.translations.data import ENGLISH, SIMPLIFIED_CHINESE
from piccolo_api.session_auth.tables import SessionsBase

from server.tables.accounts import AuthSession, Department, SiteMembership, User
from server.tables.checkpoints import ChecklistTemplate, Checkpoint, TemplateItem
from server.tables.sites import Building, Floor, Site, Unit

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

    from server.settings import Settings

MOUNT_PATH = "/admin"
SITE_NAME = "巡检 Xunjian 后台"
SESSION_COOKIE = "id"  # piccolo_admin's session cookie name (session_login's default)

GROUP_LOCATIONS = "项目与位置"
GROUP_CHECKPOINTS = "巡检点与模板"
GROUP_PEOPLE = "人员"

REFUSED_BODY = json.dumps(
    {"detail": "仅管理员可登录后台 / Only administrators can sign in to the back office"},
    ensure_ascii=False,
).encode()


def table_configs() -> list[TableConfig]:
    return [
        # 项目与位置
        TableConfig(
            Site,
            visible_columns=[Site.id, Site.code, Site.name, Site.timezone, Site.address],
            visible_filters=[Site.code, Site.name],
            menu_group=GROUP_LOCATIONS,
            link_column=Site.name,
            order_by=[OrderBy(Site.code)],
        ),
        TableConfig(
            Building,
            visible_columns=[
                Building.id,
                Building.site,
                Building.code,
                Building.name,
                Building.floors_above,
                Building.floors_below,
                Building.sort_order,
            ],
            visible_filters=[Building.site, Building.code, Building.name],
            menu_group=GROUP_LOCATIONS,
            link_column=Building.name,
            order_by=[OrderBy(Building.site), OrderBy(Building.sort_order)],
        ),
        TableConfig(
            Floor,
            visible_columns=[Floor.id, Floor.building, Floor.level, Floor.name, Floor.plan_image],
            visible_filters=[Floor.building, Floor.level, Floor.name],
            menu_group=GROUP_LOCATIONS,
            link_column=Floor.name,
            order_by=[OrderBy(Floor.building), OrderBy(Floor.level)],
        ),
        TableConfig(
            Unit,
            visible_columns=[
                Unit.id,
                Unit.floor,
                Unit.number,
                Unit.status,
                Unit.area_m2,
                Unit.vacant_since,
                Unit.active,
            ],
            visible_filters=[Unit.floor, Unit.number, Unit.status, Unit.active],
            menu_group=GROUP_LOCATIONS,
            link_column=Unit.number,
            order_by=[OrderBy(Unit.floor), OrderBy(Unit.number)],
        ),
        # 巡检点与模板
        TableConfig(
            Checkpoint,
            visible_columns=[
                Checkpoint.id,
                Checkpoint.site,
                Checkpoint.code,
                Checkpoint.kind,
                Checkpoint.type_code,
                Checkpoint.name,
                Checkpoint.building,
                Checkpoint.floor,
                Checkpoint.unit,
                Checkpoint.template,
                Checkpoint.label_version,
                Checkpoint.active,
                Checkpoint.updated_at,
            ],
            visible_filters=[
                Checkpoint.site,
                Checkpoint.code,
                Checkpoint.name,
                Checkpoint.kind,
                Checkpoint.type_code,
                Checkpoint.building,
                Checkpoint.floor,
                Checkpoint.active,
            ],
            menu_group=GROUP_CHECKPOINTS,
            link_column=Checkpoint.code,
            order_by=[OrderBy(Checkpoint.site), OrderBy(Checkpoint.code)],
        ),
        TableConfig(
            ChecklistTemplate,
            visible_columns=[
                ChecklistTemplate.id,
                ChecklistTemplate.code,
                ChecklistTemplate.kind,
                ChecklistTemplate.type_code,
                ChecklistTemplate.inspecting_department,
                ChecklistTemplate.name_zh,
                ChecklistTemplate.name_en,
                ChecklistTemplate.allow_gallery,
                ChecklistTemplate.updated_at,
            ],
            visible_filters=[
                ChecklistTemplate.code,
                ChecklistTemplate.name_zh,
                ChecklistTemplate.kind,
                ChecklistTemplate.type_code,
            ],
            menu_group=GROUP_CHECKPOINTS,
            link_column=ChecklistTemplate.code,
            order_by=[OrderBy(ChecklistTemplate.kind), OrderBy(ChecklistTemplate.code)],
        ),
        TableConfig(
            TemplateItem,
            visible_columns=[
                TemplateItem.id,
                TemplateItem.template,
                TemplateItem.position,
                TemplateItem.code,
                TemplateItem.text_zh,
                TemplateItem.department,
                TemplateItem.severity,
                TemplateItem.photo_required_on_fail,
                TemplateItem.is_confirmation,
            ],
            visible_filters=[
                TemplateItem.template,
                TemplateItem.code,
                TemplateItem.text_zh,
                TemplateItem.department,
                TemplateItem.severity,
            ],
            menu_group=GROUP_CHECKPOINTS,
            link_column=TemplateItem.code,
            order_by=[OrderBy(TemplateItem.template), OrderBy(TemplateItem.position)],
        ),
        # 人员
        TableConfig(
            User,
            visible_columns=[
                User.id,
                User.username,
                User.display_name,
                User.role,
                User.department,
                User.phone,
                User.active,
                User.admin,
                User.superuser,
                User.last_login,
            ],
            visible_filters=[
                User.username,
                User.display_name,
                User.role,
                User.department,
                User.active,
                User.admin,
            ],
            menu_group=GROUP_PEOPLE,
            link_column=User.username,
            order_by=[OrderBy(User.username)],
        ),
        TableConfig(
            Department,
            visible_columns=[
                Department.id,
                Department.code,
                Department.name_zh,
                Department.name_en,
            ],
            visible_filters=[Department.code, Department.name_zh],
            menu_group=GROUP_PEOPLE,
            link_column=Department.code,
            order_by=[OrderBy(Department.code)],
        ),
        TableConfig(
            SiteMembership,
            visible_columns=[SiteMembership.id, SiteMembership.user, SiteMembership.site],
            visible_filters=[SiteMembership.user, SiteMembership.site],
            menu_group=GROUP_PEOPLE,
            order_by=[OrderBy(SiteMembership.site), OrderBy(SiteMembership.user)],
        ),
        # Phone logins: set `revoked` (or delete the row) to sign a lost phone out.
        TableConfig(
            AuthSession,
            visible_columns=[
                AuthSession.id,
                AuthSession.user,
                AuthSession.user_agent,
                AuthSession.created_at,
                AuthSession.last_seen_at,
                AuthSession.expires_at,
                AuthSession.revoked,
            ],
            visible_filters=[AuthSession.user, AuthSession.revoked],
            menu_group=GROUP_PEOPLE,
            order_by=[OrderBy(AuthSession.last_seen_at, ascending=False)],
        ),
    ]


def allowed_hosts(settings: Settings) -> list[str]:
    """Host names piccolo_api's CSRF middleware accepts in Origin/Referer on HTTPS requests."""
    hosts = [urlsplit(settings.base_url).hostname or "", "localhost", "127.0.0.1", "::1"]
    if settings.host not in {"0.0.0.0", "::", ""}:
        hosts.append(settings.host)
    return list(dict.fromkeys(h.lower() for h in hosts if h))


def create_admin_app(settings: Settings) -> ASGIApp:
    """The back office as an ASGI app. Mount it at ``/admin/`` (see ``admin_mount``)."""
    admin = create_admin(
        tables=table_configs(),
        auth_table=User,
        session_table=SessionsBase,
        session_expiry=timedelta(hours=8),
        max_session_expiry=timedelta(days=7),
        increase_expiry=timedelta(hours=1),
        production=settings.secure_cookies,
        site_name=SITE_NAME,
        default_language_code="zh-CN",
        translations=[SIMPLIFIED_CHINESE, ENGLISH],
        allowed_hosts=allowed_hosts(settings),
        # The tables above are the whole back office: no silently added related tables.
        auto_include_related=False,
    )
    return _AdminOnlyLogin(admin)


async def may_enter_back_office(user_id: int) -> bool:
    row = await User.select(User.admin, User.active).where(User.id == user_id).first()
    return bool(row and row["admin"] and row["active"])


class _AdminOnlyLogin:
    """Turns piccolo_admin's successful login of a user who may not enter into a 403.

    It inspects the response rather than the request, so piccolo's own rate limiting and
    password check run first and a wrong password looks the same for every account.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_login_post(scope):
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        start = next((m for m in held if m["type"] == "http.response.start"), None)
        token = _session_token(start) if start and start["status"] == 200 else None
        if token is not None:
            user_id = await SessionsBase.get_user_id(token)
            if user_id is None or not await may_enter_back_office(user_id):
                await SessionsBase.remove_session(token)
                await _send_refusal(send)
                return
        for message in held:
            await send(message)


def _is_login_post(scope: Scope) -> bool:
    if scope["type"] != "http" or scope.get("method") != "POST":
        return False
    path = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path.rstrip("/") == "/public/login"


def _session_token(start: Message) -> str | None:
    for name, value in start.get("headers", []):
        if name.lower() != b"set-cookie":
            continue
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(value.decode("latin-1"))
        if SESSION_COOKIE in cookie and cookie[SESSION_COOKIE].value:
            return cookie[SESSION_COOKIE].value
    return None


async def _send_refusal(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(REFUSED_BODY)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": REFUSED_BODY})


def admin_mount(settings: Settings) -> ASGIRouteHandler:
    """A Litestar route handler serving the back office under ``/admin/``.

    Litestar routes a mount by rewriting ``scope["path"]`` to the part after ``/admin`` and leaves
    ``root_path`` alone. piccolo_admin (FastAPI/Starlette) expects the Starlette convention instead:
    ``root_path`` is the prefix and ``path`` the full path, so it is rebuilt here; the admin page
    uses relative URLs (``./api/``, ``./assets/``), so ``/admin`` is redirected to ``/admin/``.
    The PWA's session middleware and Litestar's CSRF check (if configured) are skipped: the admin
    brings its own session and CSRF protection.
    """
    admin_app = create_admin_app(settings)

    @asgi(
        MOUNT_PATH,
        is_mount=True,
        copy_scope=True,
        opt={"exclude_from_auth": True, "exclude_from_csrf": True},
        name="admin",
    )
    async def admin(scope: Scope, receive: Receive, send: Send) -> None:
        root = scope.get("root_path", "") + MOUNT_PATH
        rest = scope["path"] if scope["path"].startswith("/") else "/" + scope["path"]
        raw = scope.get("raw_path")
        if rest == "/" and raw is not None and not raw.endswith(b"/"):
            # Relative, so it stays right behind a proxy that strips a prefix of its own.
            location = MOUNT_PATH.lstrip("/").encode() + b"/"
            await send(
                {
                    "type": "http.response.start",
                    "status": 308,
                    "headers": [(b"location", location), (b"content-length", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        full = root + rest
        scope["root_path"] = root
        scope["path"] = full
        scope["raw_path"] = full.encode()
        await admin_app(scope, receive, send)

    return admin
