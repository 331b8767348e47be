"""Exactly once (幂等): how a write from a phone is stored once however often it is sent.

A write may carry the phone's ``client_id`` (a UUID, kept by the phone's outbox across retries).
It is stored, with a SHA-256 of the request's canonical form (``request_hash``), on the row the
write creates, under a unique index. The same id with the same request again is a replay: the
earlier row answers and nothing is stored (routes answer 200 with ``X-Replayed: 1``); the same id
with another request is 409 ``client_id_conflict``.

Two identical requests at the same moment: on SQLite writers queue, so the second sees the first's
row; on PostgreSQL the loser's insert fails on the unique index (``INSERT_RACES``), and the caller
looks again with ``already`` and answers the winner's row as a replay.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from asyncpg.exceptions import UniqueViolationError

from server.errors import ApiError

#: A UUID's text form; the routes' ``ClientId`` type holds the same bound.
CLIENT_ID_LENGTH = 36

#: What an insert losing a race on a unique index raises, on PostgreSQL and on SQLite.
INSERT_RACES = (UniqueViolationError, sqlite3.IntegrityError)


@dataclass(frozen=True)
class Outcome:
    """What a write did: the id of the row it stored (or the earlier one), and whether it was a
    replay (nothing stored)."""

    id: int
    replayed: bool = False


def request_hash(kind: str, fields: dict) -> str:
    """SHA-256 of a request's canonical form: what was asked, by whom, normalised (sorted keys,
    times in UTC, photo hashes lower-case), so a re-send with its keys in another order or its
    time in another offset hashes the same."""
    canonical = json.dumps(
        {"kind": kind, **fields}, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def time_key(value: datetime | None) -> str | None:
    """A device time as it enters ``request_hash``: UTC, so the offset it was sent in is moot."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ApiError(400, "bad_device_time")
    return value.astimezone(UTC).isoformat()


def checked_client_id(client_id: str | None) -> str | None:
    """The id as stored (lower case), or 400 when it cannot be one."""
    if client_id is None:
        return None
    if not client_id.strip() or len(client_id) > CLIENT_ID_LENGTH:
        raise ApiError(
            400, "invalid_request", detail=[{"field": "client_id", "message": "not a UUID"}]
        )
    return client_id.lower()


async def already(table, client_id: str | None, digest: str, *columns) -> dict | None:
    """The row of ``table`` stored earlier under ``client_id`` (its ``id`` and ``columns``), None
    when there is none, or 409 ``client_id_conflict`` when it was stored for another request."""
    if client_id is None:
        return None
    row = (
        await table.select(table.id, table.body_hash, *columns)
        .where(table.client_id == client_id)
        .first()
    )
    if row is None:
        return None
    if row["body_hash"] != digest:
        raise ApiError(409, "client_id_conflict")
    return row
