"""People: users with a role, departments, site membership, login sessions and login attempts.

``User`` extends Piccolo's ``BaseUser`` so that the back office (piccolo_admin) and the PWA share one
account and one password hash (PBKDF2-HMAC-SHA256, 600,000 iterations, salted; Piccolo's implementation).
"""

from piccolo.apps.user.tables import BaseUser
from piccolo.columns import Boolean, ForeignKey, OnDelete, Timestamptz, Varchar
from piccolo.columns.readable import Readable
from piccolo.table import Table

ROLES = ("patrol", "inspector", "dispatcher", "department", "manager", "admin")


class Department(Table):
    """部门: 工程部 engineering, 秩序部 security, 保洁绿化部 cleaning, 客服中心 customer service."""

    code = Varchar(length=32, unique=True)
    name_zh = Varchar(length=50)
    name_en = Varchar(length=50)

    @classmethod
    def get_readable(cls):
        return Readable(template="%s", columns=[cls.name_zh])


class User(BaseUser, tablename="xj_user"):
    display_name = Varchar(length=50, default="")
    role = Varchar(length=16, default="patrol", help_text=" | ".join(ROLES))
    department = ForeignKey(
        "server.tables.accounts.Department", on_delete=OnDelete.set_null, null=True
    )
    phone = Varchar(length=32, default="")


class SiteMembership(Table):
    """Which sites a user works on; every read and write is scoped by it."""

    user = ForeignKey("server.tables.accounts.User", on_delete=OnDelete.cascade, null=False)
    site = ForeignKey("server.tables.sites.Site", on_delete=OnDelete.cascade, null=False)


class AuthSession(Table):
    """A login on one device. Only a hash of the cookie token is stored."""

    token_hash = Varchar(length=64, unique=True)
    user = ForeignKey("server.tables.accounts.User", on_delete=OnDelete.cascade, null=False)
    created_at = Timestamptz()
    expires_at = Timestamptz()
    last_seen_at = Timestamptz()
    revoked = Boolean(default=False)
    user_agent = Varchar(length=200, default="")


class LoginAttempt(Table):
    """Failed logins, counted per username and per address to throttle guessing (429)."""

    username = Varchar(length=100, index=True)
    address = Varchar(length=64, index=True)
    attempted_at = Timestamptz(index=True)
