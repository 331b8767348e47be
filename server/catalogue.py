"""The catalogue a phone keeps for offline work: its sites' places, checkpoints, checklists and open
work orders, fetched in full once and then incrementally with a cursor.

The cursor is an opaque token holding a server time and a digest of the sites the user sees. An
incremental fetch returns the checkpoints changed (``updated_at``) or checked (an inspection
*received*) since that time, inactive ones included so the phone can drop them. Everything else is
small and sent whole every time: sites, buildings, floors, all templates with their items, and every
open work order of the user's sites.

The next cursor is the time taken *before* reading, and a fetch looks back ``CURSOR_OVERLAP`` before
the cursor's time: a write stamped just before a read started but committed after it is sent in the
next fetch rather than lost. Sending a checkpoint twice is harmless.

Speed: one query per table (plus one grouped query for each checkpoint's latest inspection and one
for the work orders' report counts), never one per row.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import UTC, datetime, timedelta

from piccolo.columns.combination import WhereRaw

from server.auth import CurrentUser
from server.tables.checkpoints import ChecklistTemplate, Checkpoint, TemplateItem
from server.tables.sites import Building, Floor, Site, Unit
from server.tables.work_orders import CLOSED_STATUSES, WorkOrder, WorkOrderReport

CURSOR_VERSION = 1
#: How far before the cursor's time an incremental fetch looks (writes in flight at that time).
CURSOR_OVERLAP = timedelta(minutes=2)


def now_utc() -> datetime:
    return datetime.now(UTC)


def as_datetime(value) -> datetime | None:
    """A timestamp from a raw query: a datetime (PostgreSQL, or SQLite with the column's declared
    type) or the ISO text SQLite stores (computed columns carry no type); always UTC-aware."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


# --- the cursor --------------------------------------------------------------------------------


def sites_digest(site_ids) -> str:
    """Short digest of a set of site ids: a cursor made for other sites is not reused."""
    text = ",".join(str(i) for i in sorted(site_ids))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def make_cursor(at: datetime, site_ids) -> str:
    micros = int(at.timestamp() * 1_000_000)
    payload = json.dumps({"v": CURSOR_VERSION, "t": micros, "s": sites_digest(site_ids)})
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def read_cursor(cursor: str | None, site_ids, now: datetime) -> datetime | None:
    """The time a cursor holds, or None when there is none or it is not valid for these sites
    (garbled, another version, in the future, made for another set of sites): a full catalogue."""
    if not cursor or len(cursor) > 200:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError):
        return None
    if not isinstance(payload, dict) or payload.get("v") != CURSOR_VERSION:
        return None
    micros, digest = payload.get("t"), payload.get("s")
    if not isinstance(micros, int) or isinstance(micros, bool) or not isinstance(digest, str):
        return None
    if digest != sites_digest(site_ids):
        return None
    try:
        at = datetime.fromtimestamp(micros / 1_000_000, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    if at > now + timedelta(minutes=5):
        return None
    return at


# --- reading -----------------------------------------------------------------------------------


async def visible_sites(user: CurrentUser) -> list[dict]:
    query = Site.select(Site.id, Site.code, Site.name, Site.timezone).order_by(Site.id)
    if not user.is_admin:
        if not user.site_ids:
            return []
        query = query.where(Site.id.is_in(sorted(user.site_ids)))
    return await query


def _placeholders(values: list) -> str:
    return ", ".join("{}" for _ in values)


async def latest_checks(site_ids: list[int], since: datetime | None) -> dict[int, dict]:
    """The latest inspection (by device time) of every checkpoint of the sites, in one query;
    with ``since``, only for checkpoints changed or checked since then."""
    where = f'c."site" IN ({_placeholders(site_ids)})'
    args: list = list(site_ids)
    if since is not None:
        where += (
            ' AND (c."updated_at" > {} OR c."id" IN (SELECT j."checkpoint" FROM "inspection" j'
            ' WHERE j."received_at" > {}))'
        )
        args += [since, since]
    # Per checkpoint, its newest inspection through the (checkpoint, device_time) index: a few
    # index steps each, however many checks the site has had.
    sql = (
        'SELECT c."id" AS checkpoint_id, i."id" AS id, i."device_time" AS device_time,'
        ' i."received_at" AS received_at, u."display_name" AS display_name,'
        ' u."username" AS username,'
        # A scalar sub-select, not EXISTS: PostgreSQL would turn EXISTS into one hashed scan
        # of every item result ever stored; this is a short index lookup per checkpoint.
        ' (SELECT r."item_code" FROM "item_result" r WHERE r."inspection" = i."id"'
        " AND r.\"result\" = 'fail' LIMIT 1) AS failed"
        ' FROM "checkpoint" c JOIN "inspection" i ON i."id" = (SELECT k."id" FROM "inspection" k'
        ' WHERE k."checkpoint" = c."id"'
        ' ORDER BY k."device_time" DESC LIMIT 1)'
        ' JOIN "xj_user" u ON u."id" = i."inspector"'
        f" WHERE {where}"
    )
    rows = await Checkpoint.raw(sql, *args)
    return {
        row["checkpoint_id"]: {
            "id": str(row["id"]),
            "device_time": as_datetime(row["device_time"]),
            "inspector": row["display_name"] or row["username"],
            "result": "pass" if row["failed"] is None else "fail",
        }
        for row in rows
    }


async def _checkpoints(site_ids: list[int], since: datetime | None) -> list[dict]:
    where = Checkpoint.site.is_in(site_ids)
    if since is not None:
        # "Changed or checked": a sub-select Piccolo's builder cannot say. It reads the few
        # inspections received since (index inspection_received_at), not every checkpoint's.
        where &= WhereRaw(
            '("checkpoint"."updated_at" > {} OR "checkpoint"."id" IN'
            ' (SELECT j."checkpoint" FROM "inspection" j WHERE j."received_at" > {}))',
            since,
            since,
        )
    return (
        await Checkpoint.select(
            Checkpoint.id,
            Checkpoint.site.as_alias("site_id"),
            Checkpoint.code,
            Checkpoint.name,
            Checkpoint.kind,
            Checkpoint.type_code,
            Checkpoint.building.as_alias("building_id"),
            Checkpoint.floor.as_alias("floor_id"),
            Checkpoint.unit.as_alias("unit_id"),
            Checkpoint.template.as_alias("template_id"),
            Checkpoint.label_version,
            Checkpoint.active,
        )
        .where(where)
        .order_by(Checkpoint.id)
    )


async def _templates() -> list[dict]:
    templates = (
        await ChecklistTemplate.select(
            ChecklistTemplate.id,
            ChecklistTemplate.code,
            ChecklistTemplate.kind,
            ChecklistTemplate.type_code,
            ChecklistTemplate.name_zh,
            ChecklistTemplate.name_en,
            ChecklistTemplate.allow_gallery,
            ChecklistTemplate.inspecting_department.code.as_alias("inspecting_department"),
            ChecklistTemplate.defect_types,
        )
        .order_by(ChecklistTemplate.id)
        .output(load_json=True)
    )
    items = await TemplateItem.select(
        TemplateItem.template,
        TemplateItem.code,
        TemplateItem.text_zh,
        TemplateItem.text_en,
        TemplateItem.department.code.as_alias("department"),
        TemplateItem.photo_required_on_fail,
        TemplateItem.severity,
        TemplateItem.is_confirmation,
    ).order_by(TemplateItem.template, TemplateItem.position, TemplateItem.id)
    by_template: dict[int, list[dict]] = {t["id"]: [] for t in templates}
    for item in items:
        by_template[item.pop("template")].append(item)
    for template in templates:
        template["items"] = by_template[template["id"]]
        if not isinstance(template["defect_types"], list):
            template["defect_types"] = []
    return templates


async def open_work_orders(site_ids: list[int], checkpoint_id: int | None = None) -> list[dict]:
    """Open work orders of the sites (or of one checkpoint) with how many reports each has."""
    where = WorkOrder.site.is_in(site_ids) & WorkOrder.status.not_in(list(CLOSED_STATUSES))
    if checkpoint_id is not None:
        where &= WorkOrder.checkpoint == checkpoint_id
    orders = (
        await WorkOrder.select(
            WorkOrder.id,
            WorkOrder.checkpoint.as_alias("checkpoint_id"),
            WorkOrder.item_code,
            WorkOrder.department.code.as_alias("department"),
            WorkOrder.status,
            WorkOrder.title,
            WorkOrder.raised_at,
        )
        .where(where)
        .order_by(WorkOrder.raised_at, ascending=False)
        .order_by(WorkOrder.id, ascending=False)
    )
    if not orders:
        return []
    closed = ", ".join(f"'{s}'" for s in CLOSED_STATUSES)
    sql = (
        'SELECT r."work_order" AS work_order, COUNT(*) AS n FROM "work_order_report" r'
        ' JOIN "work_order" w ON w."id" = r."work_order"'
        f' WHERE w."site" IN ({_placeholders(site_ids)}) AND w."status" NOT IN ({closed})'
    )
    args: list = list(site_ids)
    if checkpoint_id is not None:
        sql += ' AND w."checkpoint" = {}'
        args.append(checkpoint_id)
    sql += ' GROUP BY r."work_order"'
    counts = {r["work_order"]: r["n"] for r in await WorkOrderReport.raw(sql, *args)}
    for order in orders:
        order["reports"] = counts.get(order["id"], 0)
    return orders


async def catalogue(user: CurrentUser, cursor: str | None) -> dict:
    # The next cursor's time is taken before anything is read: nothing committed meanwhile is missed.
    started = now_utc()
    sites = await visible_sites(user)
    site_ids = [s["id"] for s in sites]
    since_cursor = read_cursor(cursor, site_ids, started)
    since = None if since_cursor is None else since_cursor - CURSOR_OVERLAP
    result = {
        "cursor": make_cursor(started, site_ids),
        "full": since is None,
        "sites": sites,
        "buildings": [],
        "floors": [],
        "templates": await _templates(),
        "checkpoints": [],
        "work_orders": [],
    }
    if not site_ids:
        return result
    result["buildings"] = (
        await Building.select(
            Building.id,
            Building.site.as_alias("site_id"),
            Building.code,
            Building.name,
        )
        .where(Building.site.is_in(site_ids))
        .order_by(Building.sort_order)
        .order_by(Building.id)
    )
    result["floors"] = (
        await Floor.select(
            Floor.id, Floor.building.as_alias("building_id"), Floor.level, Floor.name
        )
        .where(Floor.building.site.is_in(site_ids))
        .order_by(Floor.building)
        .order_by(Floor.level)
    )
    checkpoints = await _checkpoints(site_ids, since)
    if checkpoints:
        checks = await latest_checks(site_ids, since)
        unit_ids = sorted({c["unit_id"] for c in checkpoints if c["unit_id"] is not None})
        units: dict[int, str] = {}
        if unit_ids:
            rows = await Unit.select(Unit.id, Unit.number).where(
                Unit.floor.building.site.is_in(site_ids)
            )
            units = {r["id"]: r["number"] for r in rows}
        for checkpoint in checkpoints:
            checkpoint["unit"] = units.get(checkpoint.pop("unit_id"))
            checkpoint["last_check"] = checks.get(checkpoint["id"])
    result["checkpoints"] = checkpoints
    result["work_orders"] = await open_work_orders(site_ids)
    return result
