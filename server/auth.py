"""Accounts: password check, throttling, device sessions and the current user.

Passwords are verified with Piccolo's ``BaseUser`` hashing (PBKDF2-HMAC-SHA256, 600,000 iterations),
run in a worker thread so a login never stalls other requests. A session is a random token in an
HttpOnly cookie; only its SHA-256 is stored, so a database leak does not leak logins.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio.to_thread

from server.errors import ApiError
from server.settings import Settings
from server.tables.accounts import AuthSession, LoginAttempt, SiteMembership, User

COOKIE_NAME = "xj_session"
# Writing last_seen on every request would turn every read into a write; once in a while is enough.
LAST_SEEN_RESOLUTION = timedelta(minutes=10)
# Hash of a throwaway password, checked when the username is unknown so timing does not tell.
_DUMMY_HASH = User.hash_password("not-a-real-password", salt="0" * 32)


@dataclass(frozen=True)
class CurrentUser:
    id: int
    username: str
    display_name: str
    role: str
    department_id: int | None
    site_ids: frozenset[int]
    session_id: int

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def can_see_site(self, site_id: int) -> bool:
        return self.is_admin or site_id in self.site_ids


def now_utc() -> datetime:
    return datetime.now(UTC)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _password_matches(password: str, stored: str) -> bool:
    try:
        _algorithm, iterations, salt, _hashed = User.split_stored_password(stored)
        candidate = User.hash_password(password, salt, int(iterations))
    except ValueError:
        return False
    return secrets.compare_digest(candidate, stored)


async def check_throttle(settings: Settings, username: str, address: str) -> None:
    since = now_utc() - timedelta(seconds=settings.login_window_seconds)
    by_user = await LoginAttempt.count().where(
        (LoginAttempt.username == username) & (LoginAttempt.attempted_at > since)
    )
    by_address = await LoginAttempt.count().where(
        (LoginAttempt.address == address) & (LoginAttempt.attempted_at > since)
    )
    if (
        by_user >= settings.login_failures_per_user
        or by_address >= settings.login_failures_per_address
    ):
        raise ApiError(
            429, "too_many_attempts", headers={"Retry-After": str(settings.login_window_seconds)}
        )


async def authenticate(settings: Settings, username: str, password: str, address: str) -> int:
    """Return the user id for a correct username and password, or raise 401/429."""
    username = username.strip()
    await check_throttle(settings, username, address)
    row = (
        await User.select(User.id, User.password, User.active)
        .where(User.username == username)
        .first()
    )
    stored = row["password"] if row else _DUMMY_HASH
    matches = await anyio.to_thread.run_sync(_password_matches, password, stored)
    if not row or not matches:
        await LoginAttempt.insert(
            LoginAttempt(username=username[:100], address=address[:64], attempted_at=now_utc())
        )
        raise ApiError(401, "invalid_credentials")
    if not row["active"]:
        raise ApiError(403, "account_disabled")
    await LoginAttempt.delete().where(LoginAttempt.username == username)
    await User.update({User.last_login: now_utc().replace(tzinfo=None)}).where(User.id == row["id"])
    return row["id"]


async def open_session(settings: Settings, user_id: int, user_agent: str) -> str:
    token = secrets.token_urlsafe(32)
    now = now_utc()
    await AuthSession.insert(
        AuthSession(
            token_hash=token_hash(token),
            user=user_id,
            created_at=now,
            expires_at=now + timedelta(days=settings.session_days),
            last_seen_at=now,
            user_agent=user_agent[:200],
        )
    )
    return token


async def close_session(token: str) -> None:
    await AuthSession.update({AuthSession.revoked: True}).where(
        AuthSession.token_hash == token_hash(token)
    )


async def revoke_user_sessions(user_id: int) -> int:
    """Log a user out on every device (a lost phone, a person who left)."""
    rows = (
        await AuthSession.update({AuthSession.revoked: True})
        .where(
            (AuthSession.user == user_id) & (AuthSession.revoked == False)  # noqa: E712
        )
        .returning(AuthSession.id)
    )
    return len(rows)


async def load_current_user(token: str) -> CurrentUser | None:
    """The user behind a session cookie, or None when it is unknown, revoked or expired."""
    row = (
        await AuthSession.select(
            AuthSession.id,
            AuthSession.expires_at,
            AuthSession.last_seen_at,
            AuthSession.user.id.as_alias("user_id"),
            AuthSession.user.username.as_alias("username"),
            AuthSession.user.display_name.as_alias("display_name"),
            AuthSession.user.role.as_alias("role"),
            AuthSession.user.active.as_alias("active"),
            AuthSession.user.department.as_alias("department_id"),
        )
        .where(
            (AuthSession.token_hash == token_hash(token)) & (AuthSession.revoked == False)  # noqa: E712
        )
        .first()
    )
    now = now_utc()
    if not row or not row["active"] or row["expires_at"] <= now:
        return None
    if now - row["last_seen_at"] > LAST_SEEN_RESOLUTION:
        await AuthSession.update({AuthSession.last_seen_at: now}).where(AuthSession.id == row["id"])
    sites = (
        await SiteMembership.select(SiteMembership.site)
        .where(SiteMembership.user == row["user_id"])
        .output(as_list=True)
    )
    return CurrentUser(
        id=row["user_id"],
        username=row["username"],
        display_name=row["display_name"] or row["username"],
        role=row["role"],
        department_id=row["department_id"],
        site_ids=frozenset(sites),
        session_id=row["id"],
    )
