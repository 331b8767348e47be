"""Reading stored inspections back: one record, a filtered page of them, and a checkpoint's recent
checks with its open work orders (the check screen, online).

Scoped like every other read: an inspection of a site the user is not a member of is 404, exactly
like one that does not exist. Times are given in the site's time zone, with their offset.

A page is read with a fixed number of queries (inspections, then their items, item texts, photos
and work orders for the whole page), never one query per record.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from server.auth import CurrentUser
from server.calendars import site_zone
from server.catalogue import open_work_orders
from server.errors import ApiError
from server.tables.checkpoints import Checkpoint, TemplateItem
from server.tables.inspections import Inspection, InspectionPhoto, ItemResult
from server.tables.sites import Site
from server.tables.work_orders import WorkOrderReport

#: A device clock further off than this (either way) is flagged on the record.
CLOCK_FLAG_SECONDS = 600
MAX_PAGE_SIZE = 200
RECENT_CHECKS = 5

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# "+08:00" in a query string arrives as " 08:00" when the caller forgot to encode the plus sign.
_LOST_PLUS = re.compile(r"^(.*T[\d:.]+) (\d{2}:?\d{2})$")


def photo_ref(sha256: str) -> dict:
    return {
        "sha256": sha256,
        "url": f"/api/photos/{sha256}",
        "thumb_url": f"/api/photos/{sha256}/thumb",
    }


def parse_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise ApiError(404, "not_found") from None


def parse_bound(name: str, text: str, tz: ZoneInfo, *, end: bool) -> tuple[datetime, bool]:
    """A ``from``/``to`` filter: a date (a whole day in ``tz``) or a datetime with an offset.

    Returns the instant and whether it is inclusive. ``to`` as a date covers that whole day.
    """
    text = text.strip()
    if _DATE.match(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise _bad_bound(name) from None
        if end:
            return datetime.combine(day + timedelta(days=1), time(0), tz), False
        return datetime.combine(day, time(0), tz), True
    lost = _LOST_PLUS.match(text)
    if lost:
        text = f"{lost.group(1)}+{lost.group(2)}"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _bad_bound(name) from None
    if value.tzinfo is None:
        raise _bad_bound(name)
    return value, True


def _bad_bound(name: str) -> ApiError:
    return ApiError(
        400,
        "invalid_request",
        detail=[
            {
                "field": name,
                "message": "expected a date (YYYY-MM-DD) or a date and time with an offset "
                "(e.g. 2026-11-23T09:15:00+08:00)",
            }
        ],
    )


def _site_scope(user: CurrentUser):
    """The where-clause limiting inspections to the user's sites (None: no limit, admins)."""
    if user.is_admin:
        return None
    return Inspection.checkpoint.site.is_in(sorted(user.site_ids) or [0])


_COLUMNS = (
    Inspection.id,
    Inspection.checkpoint.id.as_alias("checkpoint_id"),
    Inspection.checkpoint.code.as_alias("checkpoint_code"),
    Inspection.checkpoint.name.as_alias("checkpoint_name"),
    Inspection.checkpoint.site.id.as_alias("site_id"),
    Inspection.checkpoint.site.timezone.as_alias("timezone"),
    Inspection.source,
    Inspection.label_version,
    Inspection.device_time,
    Inspection.received_at,
    Inspection.clock_skew_seconds,
    Inspection.inspector.id.as_alias("inspector_id"),
    Inspection.inspector.display_name.as_alias("inspector_name"),
    Inspection.inspector.username.as_alias("inspector_username"),
    Inspection.template.id.as_alias("template_id"),
    Inspection.template.code.as_alias("template_code"),
    Inspection.note,
)


async def _assemble(rows: list[dict]) -> list[dict]:
    """Whole records for the inspection rows: items with texts and photos, photos, work orders."""
    if not rows:
        return []
    ids = [row["id"] for row in rows]
    results = (
        await ItemResult.select(
            ItemResult.inspection,
            ItemResult.item_code,
            ItemResult.result,
            ItemResult.note,
            ItemResult.defect_type,
        )
        .where(ItemResult.inspection.is_in(ids))
        .order_by(ItemResult.id)
    )
    template_ids = sorted({row["template_id"] for row in rows if row["template_id"] is not None})
    texts: dict[tuple[int, str], dict] = {}
    if template_ids:
        for item in await TemplateItem.select(
            TemplateItem.template,
            TemplateItem.code,
            TemplateItem.text_zh,
            TemplateItem.text_en,
            TemplateItem.position,
        ).where(TemplateItem.template.is_in(template_ids)):
            texts[(item["template"], item["code"])] = item
    photos = (
        await InspectionPhoto.select(
            InspectionPhoto.inspection, InspectionPhoto.item_code, InspectionPhoto.photo
        )
        .where(InspectionPhoto.inspection.is_in(ids))
        .order_by(InspectionPhoto.id)
    )
    reports = (
        await WorkOrderReport.select(WorkOrderReport.inspection, WorkOrderReport.work_order)
        .where(WorkOrderReport.inspection.is_in(ids))
        .order_by(WorkOrderReport.work_order)
    )

    photos_of: dict[tuple[str, str], list[dict]] = {}
    for photo in photos:
        key = (str(photo["inspection"]), photo["item_code"])
        photos_of.setdefault(key, []).append(photo_ref(photo["photo"]))
    results_of: dict[str, list[dict]] = {}
    for result in results:
        results_of.setdefault(str(result["inspection"]), []).append(result)
    orders_of: dict[str, list[int]] = {}
    for report in reports:
        orders = orders_of.setdefault(str(report["inspection"]), [])
        if report["work_order"] not in orders:
            orders.append(report["work_order"])

    records = []
    for row in rows:
        key = str(row["id"])
        tz = site_zone(row["timezone"])
        items = []
        for result in results_of.get(key, []):
            text = texts.get((row["template_id"], result["item_code"]))
            items.append(
                {
                    "item": result["item_code"],
                    "text_zh": text["text_zh"] if text else result["item_code"],
                    "text_en": text["text_en"] if text else result["item_code"],
                    "result": result["result"],
                    "note": result["note"],
                    "defect_type": result["defect_type"],
                    "photos": photos_of.get((key, result["item_code"]), []),
                    "_position": text["position"] if text else 1_000_000,
                }
            )
        items.sort(key=lambda item: item.pop("_position"))
        skew = row["clock_skew_seconds"] or 0
        records.append(
            {
                "id": key,
                "checkpoint": {
                    "id": row["checkpoint_id"],
                    "code": row["checkpoint_code"],
                    "name": row["checkpoint_name"],
                },
                "site_id": row["site_id"],
                "source": row["source"],
                "label_version": row["label_version"],
                "device_time": row["device_time"].astimezone(tz),
                "received_at": row["received_at"].astimezone(tz),
                "clock_skew_seconds": skew,
                "clock_flagged": abs(skew) > CLOCK_FLAG_SECONDS,
                "inspector": {
                    "id": row["inspector_id"],
                    "display_name": row["inspector_name"] or row["inspector_username"],
                },
                "template": row["template_code"],
                "note": row["note"],
                "items": items,
                "photos": photos_of.get((key, ""), []),
                "work_orders": orders_of.get(key, []),
            }
        )
    return records


async def get_inspection(user: CurrentUser, inspection_id: str) -> dict:
    where = Inspection.id == parse_id(inspection_id)
    scope = _site_scope(user)
    if scope is not None:
        where &= scope
    row = await Inspection.select(*_COLUMNS).where(where).first()
    if row is None:
        raise ApiError(404, "not_found")
    return (await _assemble([row]))[0]


async def _visible_checkpoint(user: CurrentUser, checkpoint_id: int) -> dict:
    row = (
        await Checkpoint.select(
            Checkpoint.id, Checkpoint.site, Checkpoint.site.timezone.as_alias("timezone")
        )
        .where(Checkpoint.id == checkpoint_id)
        .first()
    )
    if row is None or not user.can_see_site(row["site"]):
        raise ApiError(404, "not_found")
    return row


async def list_inspections(
    user: CurrentUser,
    *,
    checkpoint: int | None,
    date_from: str | None,
    date_to: str | None,
    page: int,
    page_size: int,
    default_timezone: str,
) -> dict:
    """A page of inspections, newest (device time) first, with the total that match."""
    tz = site_zone(default_timezone)
    where = _site_scope(user)
    if checkpoint is not None:
        row = await _visible_checkpoint(user, checkpoint)
        tz = site_zone(row["timezone"])
        where = Inspection.checkpoint == checkpoint
    elif not user.is_admin and len(user.site_ids) == 1:
        site = await Site.select(Site.timezone).where(Site.id == next(iter(user.site_ids))).first()
        if site:
            tz = site_zone(site["timezone"])
    conditions = [] if where is None else [where]
    if date_from:
        start, _ = parse_bound("from", date_from, tz, end=False)
        conditions.append(Inspection.device_time >= start)
    if date_to:
        stop, inclusive = parse_bound("to", date_to, tz, end=True)
        conditions.append(
            Inspection.device_time <= stop if inclusive else Inspection.device_time < stop
        )
    count = Inspection.count()
    query = Inspection.select(*_COLUMNS)
    for condition in conditions:
        count = count.where(condition)
        query = query.where(condition)
    total = await count
    rows = (
        await query.order_by(Inspection.device_time, ascending=False)
        .order_by(Inspection.received_at, ascending=False)
        .order_by(Inspection.id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    return {
        "total": total,
        "page": page,
        "page_size": page_size,
        "items": await _assemble(rows),
    }


async def checkpoint_status(user: CurrentUser, checkpoint_id: int) -> dict:
    """What the check screen shows online: the last few checks and the open work orders."""
    checkpoint = await _visible_checkpoint(user, checkpoint_id)
    tz = site_zone(checkpoint["timezone"])
    checks = (
        await Inspection.select(
            Inspection.id,
            Inspection.device_time,
            Inspection.inspector.display_name.as_alias("display_name"),
            Inspection.inspector.username.as_alias("username"),
        )
        .where(Inspection.checkpoint == checkpoint_id)
        .order_by(Inspection.device_time, ascending=False)
        .order_by(Inspection.received_at, ascending=False)
        .limit(RECENT_CHECKS)
    )
    failed: dict[str, list[str]] = {}
    if checks:
        rows = (
            await ItemResult.select(ItemResult.inspection, ItemResult.item_code)
            .where(
                ItemResult.inspection.is_in([c["id"] for c in checks])
                & (ItemResult.result == "fail")
            )
            .order_by(ItemResult.id)
        )
        for row in rows:
            failed.setdefault(str(row["inspection"]), []).append(row["item_code"])
    last_checks = [
        {
            "id": str(check["id"]),
            "device_time": check["device_time"].astimezone(tz),
            "inspector": check["display_name"] or check["username"],
            "result": "fail" if failed.get(str(check["id"])) else "pass",
            "failed_items": failed.get(str(check["id"]), []),
        }
        for check in checks
    ]
    orders = await open_work_orders([checkpoint["site"]], checkpoint_id)
    for order in orders:
        order["raised_at"] = order["raised_at"].astimezone(tz)
    return {"last_checks": last_checks, "open_work_orders": orders}
