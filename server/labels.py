"""Checkpoint QR labels: what goes on them, checking a scanned one, and re-issuing a damaged one.

A label's QR code is ``qr.signing.label_url``: the checkpoint code, the label version and an HMAC
over (site code, checkpoint code, version) keyed with the deployment's secret. Re-issuing bumps
``label_version``, which retires every label printed before.

Nothing here knows about HTTP; the routes and the CLI call in. Callers check that the user may
see the site before asking for its labels.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from qr.sheets import Label
from qr.signing import CODE_RE, label_url, parse_label, sign, verify
from server.auth import CurrentUser
from server.db import write_transaction
from server.errors import ApiError
from server.settings import Settings
from server.sites import checkpoint_filter
from server.tables.checkpoints import Checkpoint
from server.tables.sites import Building, Floor, Site

log = logging.getLogger("xunjian.labels")

#: Most labels one HTTP request may render; the CLI has no cap (it is for the whole estate).
MAX_LABELS_PER_REQUEST = 3000

_COLUMNS = (
    Checkpoint.id,
    Checkpoint.code,
    Checkpoint.name,
    Checkpoint.kind,
    Checkpoint.label_version,
    Checkpoint.site,
    Checkpoint.site.code.as_alias("site_code"),
    Checkpoint.site.name.as_alias("site_name"),
    Checkpoint.building.as_alias("building_id"),
    Checkpoint.building.name.as_alias("building_name"),
    Checkpoint.building.sort_order.as_alias("building_order"),
    Checkpoint.floor.as_alias("floor_id"),
    Checkpoint.floor.name.as_alias("floor_name"),
    Checkpoint.floor.level.as_alias("floor_level"),
    Checkpoint.unit.number.as_alias("unit_number"),
)


def label_secret(settings: Settings) -> bytes:
    return settings.secret_key.encode("utf-8")


def _unit_text(number: str | None) -> str | None:
    if not number:
        return None
    return f"{number}室" if number.isdigit() else number


def _sort_key(row: dict) -> tuple:
    # Sorted here rather than in SQL: SQLite and PostgreSQL put NULLs at opposite ends.
    return (
        row["building_id"] is None,
        row["building_order"] or 0,
        row["building_name"] or "",
        row["building_id"] or 0,
        row["floor_level"] is None,
        row["floor_level"] or 0,
        row["code"],
    )


def _label(settings: Settings, row: dict) -> Label:
    version = row["label_version"]
    signature = sign(label_secret(settings), row["site_code"], row["code"], version)
    return Label(
        code=row["code"],
        version=version,
        url=label_url(settings.base_url, row["code"], version, signature),
        site_name=row["site_name"] or "",
        building=row["building_name"] or "",
        floor=row["floor_name"] or "",
        unit=_unit_text(row["unit_number"]),
        name=row["name"],
        kind=row["kind"],
    )


def _where(site_id, building, floor, kind, checkpoint_ids):
    where = checkpoint_filter(site_id, building=building, floor=floor, kind=kind)
    if checkpoint_ids is not None:
        return where & Checkpoint.id.is_in(list(checkpoint_ids) or [0])
    return where & (Checkpoint.active == True)  # noqa: E712 (a Piccolo expression)


async def count_labels(
    site_id: int,
    *,
    building: int | None = None,
    floor: int | None = None,
    kind: str | None = None,
) -> int:
    return await Checkpoint.count().where(_where(site_id, building, floor, kind, None))


async def labels_for(
    settings: Settings,
    site_id: int,
    *,
    building: int | None = None,
    floor: int | None = None,
    kind: str | None = None,
    checkpoint_ids: list[int] | None = None,
) -> list[Label]:
    """The labels of a site's active checkpoints (or of exactly ``checkpoint_ids``), in print
    order: building, floor level, code."""
    rows = await Checkpoint.select(*_COLUMNS).where(
        _where(site_id, building, floor, kind, checkpoint_ids)
    )
    rows.sort(key=_sort_key)
    return [_label(settings, row) for row in rows]


def _checkpoint_out(row: dict) -> dict:
    return {
        "id": row["id"],
        "code": row["code"],
        "name": row["name"],
        "kind": row["kind"],
        "site_id": row["site"],
        "building": (
            {"id": row["building_id"], "name": row["building_name"]}
            if row["building_id"] is not None
            else None
        ),
        "floor": (
            {"id": row["floor_id"], "name": row["floor_name"], "level": row["floor_level"]}
            if row["floor_id"] is not None
            else None
        ),
        "unit": row["unit_number"],
        "label_version": row["label_version"],
    }


def check_label_version(row: dict, version: int, user: CurrentUser | None) -> dict:
    """The label's signature is good; now is it the current label of the checkpoint?"""
    current = row["label_version"]
    if version < current:
        log.warning(
            "revoked label scanned: user=%s site=%s code=%s version=%s (current %s)",
            user.username if user else "-",
            row["site_code"],
            row["code"],
            version,
            current,
        )
        raise ApiError(409, "label_revoked", {"current_version": current})
    if version > current:
        # Signed by us but never issued at this site's current state (e.g. a restored backup):
        # not a label we can vouch for.
        log.warning(
            "label from the future scanned: site=%s code=%s version=%s (current %s)",
            row["site_code"],
            row["code"],
            version,
            current,
        )
        raise ApiError(403, "bad_signature")
    return row


async def verify_label(
    settings: Settings,
    site_id_or_code: int | str,
    code: str,
    version: int,
    signature: str,
    *,
    user: CurrentUser | None = None,
) -> dict:
    """Check one label against one site; return the checkpoint row (with ``site_code``).

    ``unknown_checkpoint`` (404) when the site has no such active checkpoint,
    ``bad_signature`` (403) when the signature is not ours for it, ``label_revoked`` (409) when
    the label is genuine but was replaced by a newer one.
    """
    site_where = (
        Checkpoint.site == site_id_or_code
        if isinstance(site_id_or_code, int)
        else Checkpoint.site.code == site_id_or_code
    )
    row = (
        await Checkpoint.select(*_COLUMNS)
        .where(site_where & (Checkpoint.code == code) & (Checkpoint.active == True))  # noqa: E712
        .first()
    )
    if row is None:
        raise ApiError(404, "unknown_checkpoint")
    if not verify(label_secret(settings), row["site_code"], code, version, signature):
        raise ApiError(403, "bad_signature")
    return check_label_version(row, version, user)


def _active_code_in_my_sites(user: CurrentUser, code: str):
    """Where-clause for the active checkpoints with ``code`` in the sites the user may see."""
    where = (Checkpoint.code == code) & (Checkpoint.active == True)  # noqa: E712
    if user.is_admin:
        return where
    if not user.site_ids:
        raise ApiError(404, "unknown_checkpoint")
    return where & Checkpoint.site.is_in(sorted(user.site_ids))


async def resolve_scan(settings: Settings, user: CurrentUser, text: str) -> dict:
    """What the camera decoded → the checkpoint it labels, among the user's sites.

    The same code may exist in several sites: the one whose site the signature verifies
    against wins. A label of a site the user is not in reads as ``unknown_checkpoint``, never
    as a hint that it exists elsewhere.
    """
    payload = parse_label(text)
    if payload is None:
        raise ApiError(400, "not_our_label")
    where = _active_code_in_my_sites(user, payload.code)
    candidates = await Checkpoint.select(*_COLUMNS).where(where).order_by(Checkpoint.id)
    if not candidates:
        raise ApiError(404, "unknown_checkpoint")
    secret = label_secret(settings)
    for row in candidates:
        if verify(secret, row["site_code"], payload.code, payload.version, payload.signature):
            row = check_label_version(row, payload.version, user)
            return {"checkpoint": _checkpoint_out(row), "source": "scan"}
    log.warning(
        "label with a bad signature scanned: user=%s code=%s version=%s",
        user.username,
        payload.code,
        payload.version,
    )
    raise ApiError(403, "bad_signature")


async def checkpoint_by_code(user: CurrentUser, code: str, site_id: int | None = None) -> dict:
    """Manual entry (the code typed from the label): unverified, so marked ``manual``."""
    code = code.strip().upper()
    if not CODE_RE.fullmatch(code):
        raise ApiError(404, "unknown_checkpoint")
    if site_id is not None:
        if not user.can_see_site(site_id):
            raise ApiError(404, "unknown_checkpoint")
        where = (Checkpoint.code == code) & (Checkpoint.active == True)  # noqa: E712
        where &= Checkpoint.site == site_id
    else:
        where = _active_code_in_my_sites(user, code)
    rows = await Checkpoint.select(*_COLUMNS).where(where).order_by(Checkpoint.id)
    if not rows:
        raise ApiError(404, "unknown_checkpoint")
    if len(rows) > 1:
        raise ApiError(
            409,
            "ambiguous_checkpoint",
            [{"site_id": r["site"], "site_name": r["site_name"]} for r in rows],
        )
    return {"checkpoint": _checkpoint_out(rows[0]), "source": "manual"}


async def reissue_label(settings: Settings, checkpoint_id: int) -> Label:
    """Bump the checkpoint's label version (retiring every printed label) and return the new
    label. Raises ``not_found`` (404) for an unknown checkpoint."""
    now = datetime.now(UTC)
    async with write_transaction(Checkpoint._meta.db):
        row = await Checkpoint.select(Checkpoint.site).where(Checkpoint.id == checkpoint_id).first()
        if row is None:
            raise ApiError(404, "not_found")
        await Checkpoint.update(
            {Checkpoint.label_version: Checkpoint.label_version + 1, Checkpoint.updated_at: now}
        ).where(Checkpoint.id == checkpoint_id)
        labels = await labels_for(settings, row["site"], checkpoint_ids=[checkpoint_id])
    return labels[0]


async def site_of_checkpoint(checkpoint_id: int) -> int | None:
    row = await Checkpoint.select(Checkpoint.site).where(Checkpoint.id == checkpoint_id).first()
    return row["site"] if row else None


async def site_by_code_or_name(code_or_name: str | None) -> dict:
    """For the CLI: a site by code or name; None means "the only site there is"."""
    query = Site.select(Site.id, Site.code, Site.name).order_by(Site.id)
    if code_or_name is None:
        sites = await query
        if len(sites) != 1:
            raise LookupError(
                f"有 {len(sites)} 个项目，请用 --site 指定 / "
                f"{len(sites)} sites exist, pick one with --site: "
                + ", ".join(s["code"] for s in sites)
            )
        return sites[0]
    sites = await query.where((Site.code == code_or_name) | (Site.name == code_or_name))
    if len(sites) != 1:
        raise LookupError(f"找不到项目 / unknown site: {code_or_name}")
    return sites[0]


async def building_in_site(site_id: int, code_or_name: str) -> dict:
    """For the CLI: a building of the site by code ("1", "A") or name ("1栋")."""
    buildings = await Building.select(Building.id, Building.code, Building.name).where(
        (Building.site == site_id)
        & ((Building.code == code_or_name) | (Building.name == code_or_name))
    )
    if len(buildings) != 1:
        raise LookupError(f"找不到楼栋 / unknown building: {code_or_name}")
    return buildings[0]


async def floor_in_site(site_id: int, building_id: int | None, name: str) -> dict:
    """For the CLI: a floor by its printed name ("12F", "B1"), within the building if given."""
    where = (Floor.building.site == site_id) & (Floor.name == name)
    if building_id is not None:
        where &= Floor.building == building_id
    floors = await Floor.select(Floor.id, Floor.name).where(where)
    if not floors:
        raise LookupError(f"找不到楼层 / unknown floor: {name}")
    if len(floors) > 1:
        raise LookupError(
            f"多个楼栋都有 {name}，请同时用 --building / several buildings have {name}: "
            "add --building"
        )
    return floors[0]
