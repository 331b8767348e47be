"""A site's renovation rules (装修管理规定): what a worker's pass costs (deposit and fee, in fen),
the hours noisy work is allowed (HH:MM windows in the site's own time zone) and how many months a
permit runs when the desk gives no end date.

Every member of the site reads them (the phones show the noisy-hours banner from them); managers
and admins change them. A change is one write transaction that updates the site and records who
changed what (``SiteRulesChange``), exactly once under the phone's ``client_id`` like every other
write: the same id and rules again answer ``replayed``; the same id with other rules is 409
``client_id_conflict``.

``rules_for(site_id)`` gives the rules to the rest of the server (a worker's pass defaults, a
permit's months, the permit glance's noisy hours); ``noisy_allowed(rules, local_time)`` is the pure
test of one moment on the site's clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from itertools import pairwise
from zoneinfo import ZoneInfo

from server.auth import CurrentUser
from server.db import write_transaction
from server.errors import ApiError
from server.exactly_once import INSERT_RACES, already, checked_client_id, request_hash
from server.tables.accounts import User
from server.tables.sites import Site, SiteRulesChange

DEFAULT_NOISY_HOURS: tuple[tuple[str, str], ...] = (("08:00", "12:00"), ("14:00", "18:00"))
DEFAULT_TIMEZONE = "Asia/Shanghai"
EDITORS = frozenset({"manager", "admin"})
#: Bounds of a sane rule: at most 1,000,000 元 for a deposit or fee, a permit of 1–36 months,
#: at most six windows of noisy work a day.
MAX_FEN = 100_000_000
MIN_MONTHS, MAX_MONTHS = 1, 36
MAX_WINDOWS = 6

_HHMM = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")


@dataclass(frozen=True)
class Rules:
    """A site's renovation rules. Money in fen; windows ``(start, end)`` as ``HH:MM``, start
    before end, sorted, not overlapping, on the site's clock (``timezone``)."""

    pass_deposit: int = 10000
    pass_fee: int = 500
    noisy_hours: tuple[tuple[str, str], ...] = DEFAULT_NOISY_HOURS
    renovation_months: int = 3
    timezone: str = DEFAULT_TIMEZONE

    def as_dict(self) -> dict:
        return {
            "pass_deposit": self.pass_deposit,
            "pass_fee": self.pass_fee,
            "noisy_hours": [list(w) for w in self.noisy_hours],
            "renovation_months": self.renovation_months,
        }


DEFAULTS = Rules()


class WindowError(ValueError):
    """A noisy-hours window that cannot be used; ``index`` is its place in the request."""

    def __init__(self, index: int | None, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.message = message


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def normalise_windows(windows: Iterable[Sequence[str]]) -> tuple[tuple[str, str], ...]:
    """The windows as stored: each ``HH:MM``–``HH:MM`` (24-hour, start before end, no overnight
    window), sorted by start, none overlapping another (one may end when the next begins).
    Raises ``WindowError`` naming the first bad window."""
    cleaned: list[tuple[int, str, str]] = []
    for index, window in enumerate(windows):
        if isinstance(window, str) or len(window) != 2:
            raise WindowError(index, "a window is [start, end]")
        start, end = (str(part).strip() for part in window)
        if not _HHMM.match(start) or not _HHMM.match(end):
            raise WindowError(index, "times are HH:MM, 00:00-23:59")
        if _minutes(end) <= _minutes(start):
            raise WindowError(index, "the end is not after the start")
        cleaned.append((index, start, end))
    if len(cleaned) > MAX_WINDOWS:
        raise WindowError(None, f"at most {MAX_WINDOWS} windows")
    cleaned.sort(key=lambda w: _minutes(w[1]))
    for before, after in pairwise(cleaned):
        if _minutes(after[1]) < _minutes(before[2]):
            raise WindowError(after[0], f"overlaps {before[1]}-{before[2]}")
    return tuple((start, end) for _index, start, end in cleaned)


def noisy_allowed(rules: Rules, local_time: time) -> bool:
    """Whether noisy work is allowed at ``local_time`` on the site's clock: inside a window,
    counting its start and not its end (08:00–12:00 allows 11:59, not 12:00)."""
    minute = local_time.hour * 60 + local_time.minute
    return any(_minutes(start) <= minute < _minutes(end) for start, end in rules.noisy_hours)


def site_clock(rules: Rules, now: datetime | None = None) -> datetime:
    """``now`` (default: this moment) on the site's clock."""
    try:
        zone = ZoneInfo(rules.timezone or DEFAULT_TIMEZONE)
    except Exception:
        zone = ZoneInfo(DEFAULT_TIMEZONE)
    return (now or datetime.now(UTC)).astimezone(zone)


def _stored_windows(value) -> tuple[tuple[str, str], ...]:
    """The windows as read from the database; a value that is not valid windows (edited by hand)
    reads as the defaults rather than failing every screen that shows them."""
    try:
        if isinstance(value, (str, bytes)):
            value = json.loads(value)
        return normalise_windows(value)
    except (ValueError, TypeError):
        return DEFAULT_NOISY_HOURS


def _rules_of(row: dict) -> Rules:
    return Rules(
        pass_deposit=row["pass_deposit"],
        pass_fee=row["pass_fee"],
        noisy_hours=_stored_windows(row["noisy_hours"]),
        renovation_months=row["renovation_months"],
        timezone=row["timezone"] or DEFAULT_TIMEZONE,
    )


_COLUMNS = (
    Site.id,
    Site.timezone,
    Site.pass_deposit,
    Site.pass_fee,
    Site.noisy_hours,
    Site.renovation_months,
)


async def rules_for(site_id: int) -> Rules:
    """The site's rules (the defaults for a site that does not exist)."""
    row = await Site.select(*_COLUMNS).where(Site.id == site_id).first()
    return DEFAULTS if row is None else _rules_of(row)


# --- the API ------------------------------------------------------------------------------------


def _bad(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid_request", detail=[{"field": field, "message": message}])


async def _visible_row(user: CurrentUser, site_id: int) -> dict:
    if not user.can_see_site(site_id):
        raise ApiError(404, "not_found")
    row = await Site.select(*_COLUMNS).where(Site.id == site_id).first()
    if row is None:
        raise ApiError(404, "not_found")
    return row


async def _view(row: dict, now: datetime | None = None) -> dict:
    rules = _rules_of(row)
    clock = site_clock(rules, now)
    return {
        "site_id": row["id"],
        **rules.as_dict(),
        "timezone": rules.timezone,
        "local_time": clock.strftime("%H:%M"),
        "noisy_allowed_now": noisy_allowed(rules, clock.time()),
        "defaults": DEFAULTS.as_dict(),
        "changes": await _changes(row["id"]),
    }


async def get_rules(user: CurrentUser, site_id: int) -> dict:
    """The site's rules as every member of the site reads them, with the site's clock now,
    whether noisy work is allowed at this moment, and the latest changes (who, when, what)."""
    return await _view(await _visible_row(user, site_id))


def _validated(
    pass_deposit: int, pass_fee: int, noisy_hours: Sequence[Sequence[str]], months: int
) -> Rules:
    if not 0 <= pass_deposit <= MAX_FEN:
        raise _bad("pass_deposit", f"0..{MAX_FEN} fen")
    if not 0 <= pass_fee <= MAX_FEN:
        raise _bad("pass_fee", f"0..{MAX_FEN} fen")
    if not MIN_MONTHS <= months <= MAX_MONTHS:
        raise _bad("renovation_months", f"{MIN_MONTHS}..{MAX_MONTHS}")
    try:
        windows = normalise_windows(noisy_hours)
    except WindowError as error:
        field = "noisy_hours" if error.index is None else f"noisy_hours[{error.index}]"
        raise _bad(field, error.message) from None
    return Rules(pass_deposit, pass_fee, windows, months)


async def put_rules(
    user: CurrentUser,
    site_id: int,
    *,
    pass_deposit: int,
    pass_fee: int,
    noisy_hours: Sequence[Sequence[str]],
    renovation_months: int,
    client_id: str | None = None,
) -> tuple[dict, bool]:
    """Change the site's rules (managers and admins). Answers the rules as now and whether this
    was a replay of a change already stored under ``client_id`` (then nothing is stored)."""
    await _visible_row(user, site_id)
    if user.role not in EDITORS:
        raise ApiError(403, "forbidden")
    rules = _validated(pass_deposit, pass_fee, noisy_hours, renovation_months)
    client_id = checked_client_id(client_id)
    digest = request_hash("site_rules", {"user": user.id, "site": site_id, **rules.as_dict()})
    replayed = await already(SiteRulesChange, client_id, digest) is not None
    if not replayed:
        try:
            async with write_transaction(Site._meta.db):
                replayed = await already(SiteRulesChange, client_id, digest) is not None
                if not replayed:
                    await Site.update(
                        {
                            Site.pass_deposit: rules.pass_deposit,
                            Site.pass_fee: rules.pass_fee,
                            Site.noisy_hours: json.dumps([list(w) for w in rules.noisy_hours]),
                            Site.renovation_months: rules.renovation_months,
                        }
                    ).where(Site.id == site_id)
                    await SiteRulesChange.insert(
                        SiteRulesChange(
                            site=site_id,
                            changed_by=user.id,
                            changed_at=datetime.now(UTC),
                            rules=json.dumps(rules.as_dict(), ensure_ascii=False),
                            client_id=client_id,
                            body_hash=digest if client_id else "",
                        )
                    )
        except INSERT_RACES:
            # The same phone's request, sent twice at once: the other one stored it.
            if await already(SiteRulesChange, client_id, digest) is None:
                raise
            replayed = True
    row = await Site.select(*_COLUMNS).where(Site.id == site_id).first()
    return await _view(row), replayed


async def _changes(site_id: int, limit: int = 10) -> list[dict]:
    """The site's latest rule changes, newest first: who, when, the rules as saved."""
    rows = await (
        SiteRulesChange.select(
            SiteRulesChange.id,
            SiteRulesChange.changed_at,
            SiteRulesChange.changed_by,
            SiteRulesChange.rules,
        )
        .where(SiteRulesChange.site == site_id)
        .order_by(SiteRulesChange.id, ascending=False)
        .limit(limit)
        .output(load_json=True)
    )
    people = {}
    ids = sorted({r["changed_by"] for r in rows if r["changed_by"] is not None})
    if ids:
        for person in await User.select(User.id, User.display_name, User.username).where(
            User.id.is_in(ids)
        ):
            people[person["id"]] = person["display_name"] or person["username"]
    return [
        {
            "id": r["id"],
            "at": r["changed_at"],
            "by": (
                {"id": r["changed_by"], "display_name": people.get(r["changed_by"], "")}
                if r["changed_by"] is not None
                else None
            ),
            "rules": r["rules"],
        }
        for r in rows
    ]


__all__ = [
    "DEFAULTS",
    "DEFAULT_NOISY_HOURS",
    "Rules",
    "WindowError",
    "get_rules",
    "noisy_allowed",
    "normalise_windows",
    "put_rules",
    "rules_for",
    "site_clock",
]
