"""Creating and listing users (the CLI's ``create-user`` and the admin API share this)."""

from __future__ import annotations

import anyio.to_thread

from server.db import write_transaction
from server.errors import ApiError
from server.tables.accounts import ROLES, Department, SiteMembership, User
from server.tables.sites import Site

MIN_PASSWORD_LENGTH = 8


async def create_user(
    *,
    username: str,
    password: str,
    role: str,
    display_name: str = "",
    department_code: str | None = None,
    site_codes: list[str] | None = None,
) -> int:
    username = username.strip()
    if role not in ROLES:
        raise ApiError(400, "invalid_request", detail=[{"field": "role", "allowed": list(ROLES)}])
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ApiError(400, "weak_password")
    if await User.exists().where(User.username == username):
        raise ApiError(409, "username_taken")
    department_id = None
    if department_code:
        department = (
            await Department.select(Department.id).where(Department.code == department_code).first()
        )
        if department is None:
            raise ApiError(400, "invalid_request", detail=[{"field": "department"}])
        department_id = department["id"]
    site_ids = []
    for code in site_codes or []:
        site = await Site.select(Site.id).where(Site.code == code).first()
        if site is None:
            raise ApiError(400, "invalid_request", detail=[{"field": "sites", "unknown": code}])
        site_ids.append(site["id"])
    hashed = await anyio.to_thread.run_sync(User.hash_password, password)
    async with write_transaction(User._meta.db):
        user = User(
            username=username,
            password=hashed,
            email=f"{username}@users.invalid",
            display_name=display_name or username,
            role=role,
            department=department_id,
            active=True,
            # The back office admits Piccolo "admin" users only: keep it in step with the role.
            admin=role == "admin",
            superuser=role == "admin",
        )
        await user.save()
        if site_ids:
            await SiteMembership.insert(*[SiteMembership(user=user.id, site=s) for s in site_ids])
    return user.id


async def list_users(site_ids: frozenset[int] | None) -> list[dict]:
    """Users of the given sites (all users when ``site_ids`` is None, for admins)."""
    query = User.select(
        User.id,
        User.username,
        User.display_name,
        User.role,
        User.active,
        User.department.code.as_alias("department"),
    ).order_by(User.username)
    if site_ids is not None:
        members = (
            await SiteMembership.select(SiteMembership.user)
            .where(SiteMembership.site.is_in(list(site_ids) or [-1]))
            .output(as_list=True)
        )
        query = query.where(User.id.is_in(list(set(members)) or [-1]))
    return await query
