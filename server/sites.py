"""Reading sites, buildings, floors and checkpoints, always scoped to what the user may see.

A user who is not a member of a site gets 404 for its objects, never 403: the existence of other
sites is not disclosed.
"""

from __future__ import annotations

from server.auth import CurrentUser
from server.errors import ApiError
from server.tables.checkpoints import CHECKPOINT_KINDS, Checkpoint
from server.tables.sites import Building, Floor, Site


async def visible_site(user: CurrentUser, site_id: int) -> dict:
    if not user.can_see_site(site_id):
        raise ApiError(404, "not_found")
    site = (
        await Site.select(Site.id, Site.code, Site.name, Site.timezone)
        .where(Site.id == site_id)
        .first()
    )
    if site is None:
        raise ApiError(404, "not_found")
    return site


async def sites_of(user: CurrentUser) -> list[dict]:
    query = Site.select(Site.id, Site.code, Site.name, Site.timezone).order_by(Site.name)
    if not user.is_admin:
        if not user.site_ids:
            return []
        query = query.where(Site.id.is_in(list(user.site_ids)))
    return await query


async def site_summary(user: CurrentUser, site_id: int) -> dict:
    site = await visible_site(user, site_id)
    rows = await Checkpoint.raw(
        "SELECT kind, COUNT(*) AS n FROM checkpoint WHERE site = {} AND active = {} GROUP BY kind",
        site_id,
        True,
    )
    by_kind = {kind: 0 for kind in CHECKPOINT_KINDS}
    for row in rows:
        by_kind[row["kind"]] = row["n"]
    buildings = await Building.count().where(Building.site == site_id)
    return {
        "site": {"id": site["id"], "code": site["code"], "name": site["name"]},
        "checkpoints": sum(by_kind.values()),
        "by_kind": by_kind,
        "buildings": buildings,
    }


async def buildings_with_floors(user: CurrentUser, site_id: int) -> list[dict]:
    await visible_site(user, site_id)
    buildings = (
        await Building.select(
            Building.id, Building.code, Building.name, Building.floors_above, Building.floors_below
        )
        .where(Building.site == site_id)
        .order_by(Building.sort_order)
        .order_by(Building.id)
    )
    floors = (
        await Floor.select(Floor.id, Floor.building, Floor.level, Floor.name)
        .where(Floor.building.site == site_id)
        .order_by(Floor.level)
    )
    by_building: dict[int, list[dict]] = {b["id"]: [] for b in buildings}
    for floor in floors:
        by_building[floor.pop("building")].append(floor)
    return [{**b, "floors": by_building[b["id"]]} for b in buildings]


def checkpoint_filter(
    site_id: int, *, building: int | None = None, floor: int | None = None, kind: str | None = None
):
    """The Piccolo where-clause for a site's checkpoints, narrowed by building, floor and kind."""
    where = Checkpoint.site == site_id
    if building is not None:
        where &= Checkpoint.building == building
    if floor is not None:
        where &= Checkpoint.floor == floor
    if kind is not None:
        where &= Checkpoint.kind == kind
    return where


CHECKPOINT_COLUMNS = (
    Checkpoint.id,
    Checkpoint.code,
    Checkpoint.kind,
    Checkpoint.type_code,
    Checkpoint.name,
    Checkpoint.building,
    Checkpoint.floor,
    Checkpoint.unit,
    Checkpoint.template,
    Checkpoint.plan_x,
    Checkpoint.plan_y,
    Checkpoint.label_version,
    Checkpoint.active,
)


async def list_checkpoints(
    user: CurrentUser,
    site_id: int,
    *,
    building: int | None,
    floor: int | None,
    kind: str | None,
    page: int,
    page_size: int,
) -> dict:
    await visible_site(user, site_id)
    where = checkpoint_filter(site_id, building=building, floor=floor, kind=kind)
    total = await Checkpoint.count().where(where)
    items = (
        await Checkpoint.select(*CHECKPOINT_COLUMNS)
        .where(where)
        .order_by(Checkpoint.code)
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    return {"total": total, "page": page, "page_size": page_size, "items": items}


async def get_checkpoint(user: CurrentUser, checkpoint_id: int) -> dict:
    row = (
        await Checkpoint.select(*CHECKPOINT_COLUMNS, Checkpoint.site)
        .where(Checkpoint.id == checkpoint_id)
        .first()
    )
    if row is None or not user.can_see_site(row["site"]):
        raise ApiError(404, "not_found")
    return row
