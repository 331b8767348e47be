"""Floor plans: an uploaded image per floor (or shared by the floors of one layout), a generated
schematic when there is none, the checkpoints of a floor with their positions and compliance, and
moving a checkpoint on the plan.

An uploaded plan goes through the photo pipeline (``server.photos``: size limit, format sniffing,
pixel limit, decoded and re-encoded as JPEG without metadata) and is stored content-addressed in the
``PhotoStore`` under the SHA-256 of the uploaded bytes, with a ``Photo`` row (its size); the floor's
``plan_image`` holds the store key. The same image uploaded twice is stored once.

Floors of the same layout: with ``apply_to=building_same_layout`` one upload serves every floor of
the same building on the same side of the ground (above ground or basement) whose units carry the
same numbers but for the floor prefix (1201..1204 on 12F matches 1501..1504 on 15F; floors without
units match each other), provided that floor has no plan of its own, i.e. no plan or the one it
shared with the reference floor until now. Deleting with the same option removes the plan from
those floors that share it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable
from datetime import UTC, date, datetime
from xml.sax.saxutils import escape

import anyio
import anyio.to_thread

from server import compliance_store, photos, plans
from server.auth import CurrentUser
from server.errors import ApiError
from server.settings import Settings
from server.storage import PhotoStore, photo_key, store_for, thumb_key
from server.tables.checkpoints import Checkpoint
from server.tables.inspections import Inspection, Photo
from server.tables.sites import Floor, Unit

APPLY_TO = ("floor", "building_same_layout")
STATES = ("on_time", "late", "missed", "pending", "not_planned")
_KEY_SHA = re.compile(r"([0-9a-f]{64})\.jpg$")

# The schematic's drawing size (SVG user units); positions are fractions of it.
SVG_W, SVG_H = 1000, 700


def sha_of(key: str | None) -> str | None:
    if not key:
        return None
    found = _KEY_SHA.search(key)
    return found.group(1) if found else None


# --- reading a floor -------------------------------------------------------------------------


async def visible_floor(user: CurrentUser, floor_id: int) -> dict:
    """The floor with its building and site, or 404 when it is not on one of the user's sites."""
    row = (
        await Floor.select(
            Floor.id,
            Floor.level,
            Floor.name,
            Floor.plan_image,
            Floor.building.id.as_alias("building_id"),
            Floor.building.name.as_alias("building_name"),
            Floor.building.site.id.as_alias("site_id"),
            Floor.building.site.timezone.as_alias("timezone"),
        )
        .where(Floor.id == floor_id)
        .first()
    )
    if row is None or not user.can_see_site(row["site_id"]):
        raise ApiError(404, "not_found")
    return row


async def plan_ref(key: str | None) -> dict | None:
    sha = sha_of(key)
    if sha is None:
        return None
    row = await Photo.select(Photo.width, Photo.height).where(Photo.sha256 == sha).first()
    if row is None:
        return None
    return {"sha256": sha, "width": row["width"], "height": row["height"]}


def _layout(level: int, numbers: list[str]) -> tuple:
    suffixes = sorted(n[-2:] if len(n) > 2 else n for n in numbers)
    return (level > 0, tuple(suffixes))


async def same_layout_floors(floor: dict) -> list[int]:
    """Ids of the floors of ``floor``'s building with its layout (itself included)."""
    floors = await Floor.select(Floor.id, Floor.level).where(Floor.building == floor["building_id"])
    units = await Unit.select(Unit.floor, Unit.number).where(
        Unit.floor.building == floor["building_id"]
    )
    numbers: dict[int, list[str]] = {f["id"]: [] for f in floors}
    for unit in units:
        numbers.setdefault(unit["floor"], []).append(unit["number"])
    layouts = {f["id"]: _layout(f["level"], numbers[f["id"]]) for f in floors}
    mine = layouts[floor["id"]]
    return sorted(fid for fid, layout in layouts.items() if layout == mine)


async def _targets(floor: dict, apply_to: str) -> list[int]:
    """The floors a change to ``floor``'s plan reaches: itself, and with building_same_layout
    the floors of its layout that have no plan or share its current one."""
    if apply_to not in APPLY_TO:
        raise ApiError(400, "invalid_request")
    if apply_to == "floor":
        return [floor["id"]]
    ids = await same_layout_floors(floor)
    current = floor["plan_image"]
    rows = await Floor.select(Floor.id, Floor.plan_image).where(Floor.id.is_in(ids))
    return sorted(
        r["id"]
        for r in rows
        if r["id"] == floor["id"]
        or r["plan_image"] is None
        or (current is not None and r["plan_image"] == current)
    )


# --- uploading -------------------------------------------------------------------------------


async def _store_image(
    settings: Settings,
    user: CurrentUser,
    chunks: AsyncIterable[bytes],
    content_length: int | None,
    store: PhotoStore,
) -> dict:
    """The photo pipeline for an image whose hash the server works out: {sha256, width, height}."""
    work_dir = store.work_dir()
    received = await photos.receive(chunks, settings.photo_max_bytes, content_length, work_dir)
    try:
        fmt = photos.sniff(received.head)
        if fmt is None:
            raise ApiError(415, "photo_not_image")
        sha = received.sha256
        existing = await Photo.select(Photo.width, Photo.height).where(Photo.sha256 == sha).first()
        if existing is not None and store.exists(photo_key(sha)):
            return {"sha256": sha, **existing}
        try:
            processed = await anyio.to_thread.run_sync(
                photos.process_image,
                received.path,
                fmt,
                settings.photo_max_pixels,
                work_dir,
                limiter=photos._decode_limiter(),
            )
        except photos.PhotoError as exc:
            raise ApiError(exc.status, exc.code) from None
        try:
            await anyio.to_thread.run_sync(store.put_file, photo_key(sha), processed.original)
            await anyio.to_thread.run_sync(store.put_file, thumb_key(sha), processed.thumb)
        finally:
            processed.original.unlink(missing_ok=True)
            processed.thumb.unlink(missing_ok=True)
    finally:
        if received.path is not None:
            received.path.unlink(missing_ok=True)
    await Photo.insert(
        Photo(
            sha256=sha,
            content_type="image/jpeg",
            byte_size=processed.byte_size,
            width=processed.width,
            height=processed.height,
            path=photo_key(sha),
            thumb_path=thumb_key(sha),
            uploaded_by=user.id,
            created_at=datetime.now(UTC),
        )
    ).on_conflict(action="DO NOTHING")
    return {"sha256": sha, "width": processed.width, "height": processed.height}


async def put_plan(
    settings: Settings,
    user: CurrentUser,
    floor_id: int,
    chunks: AsyncIterable[bytes],
    content_length: int | None,
    apply_to: str = "floor",
    store: PhotoStore | None = None,
) -> dict:
    floor = await visible_floor(user, floor_id)
    if apply_to not in APPLY_TO:
        raise ApiError(400, "invalid_request")
    image = await _store_image(settings, user, chunks, content_length, store or store_for(settings))
    floor = await visible_floor(user, floor_id)  # as it is now, after the upload
    targets = await _targets(floor, apply_to)
    await Floor.update({Floor.plan_image: photo_key(image["sha256"])}).where(
        Floor.id.is_in(targets)
    )
    return {"floor": floor_id, "plan": image, "applied_to": targets}


async def delete_plan(user: CurrentUser, floor_id: int, apply_to: str = "floor") -> list[int]:
    floor = await visible_floor(user, floor_id)
    if floor["plan_image"] is None:
        return []
    if apply_to not in APPLY_TO:
        raise ApiError(400, "invalid_request")
    targets = [floor_id]
    if apply_to == "building_same_layout":
        rows = await Floor.select(Floor.id).where(
            Floor.id.is_in(await same_layout_floors(floor))
            & (Floor.plan_image == floor["plan_image"])
        )
        targets = sorted({floor_id, *(r["id"] for r in rows)})
    await Floor.update({Floor.plan_image: None}).where(Floor.id.is_in(targets))
    return targets


# --- checkpoints on the floor ----------------------------------------------------------------


def _unit_boxes(numbers: list[str]) -> dict[str, tuple[float, float, float, float]]:
    """Units along both sides of a corridor, in number order: odd places north, even south.
    Each as (x, y, width, height) in fractions of the plan."""
    ordered = sorted(numbers, key=lambda n: (len(n), n))
    per_side = max(1, (len(ordered) + 1) // 2)
    width = 0.76 / per_side
    boxes = {}
    for i, number in enumerate(ordered):
        slot, north = i // 2, i % 2 == 0
        x = 0.12 + width * slot
        boxes[number] = (x, 0.04 if north else 0.66, width, 0.30)
    return boxes


def default_spots(checkpoints: list[dict], units: dict[int, str]) -> dict[int, tuple[float, float]]:
    """Where a checkpoint without a stored position is drawn: in its unit's box when it has one,
    else evenly along the corridor (in code order)."""
    boxes = _unit_boxes(list(units.values()))
    spots: dict[int, tuple[float, float]] = {}
    loose = []
    for cp in checkpoints:
        if cp["plan_x"] is not None and cp["plan_y"] is not None:
            continue
        number = units.get(cp["unit"]) if cp["unit"] else None
        if number in boxes:
            x, y, w, h = boxes[number]
            spots[cp["id"]] = (round(x + w / 2, 4), round(y + h / 2, 4))
        else:
            loose.append(cp["id"])
    for i, cid in enumerate(loose):
        spots[cid] = (round(0.08 + 0.84 * (i + 0.5) / len(loose), 4), 0.5)
    return spots


def state_of(counts: dict | None) -> str:
    """The map's colour for a checkpoint's rounds in the period (the coverage map's rule)."""
    if counts is None or counts["expected"] == 0:
        return "not_planned"
    if counts["missed"]:
        return "missed"
    if counts["late"] or counts["unverified"]:
        return "late"
    if counts["pending"] == counts["expected"]:
        return "pending"
    if counts["pending"]:
        return "late"  # partly done, the rest still open: partial
    return "on_time"


async def _floor_checkpoints(floor_id: int) -> list[dict]:
    return (
        await Checkpoint.select(
            Checkpoint.id,
            Checkpoint.code,
            Checkpoint.name,
            Checkpoint.kind,
            Checkpoint.unit,
            Checkpoint.plan_x,
            Checkpoint.plan_y,
        )
        .where((Checkpoint.floor == floor_id) & (Checkpoint.active == True))  # noqa: E712
        .order_by(Checkpoint.code)
    )


async def _floor_units(floor_id: int) -> dict[int, str]:
    rows = await Unit.select(Unit.id, Unit.number).where(Unit.floor == floor_id)
    return {r["id"]: r["number"] for r in rows}


async def day_range(
    timezone: str | None, day_from: date | None, day_to: date | None
) -> tuple[date, date]:
    today = compliance_store.today_in(timezone or "Asia/Shanghai", datetime.now(UTC))
    day_to = day_to or day_from or today
    day_from = day_from or day_to
    if day_from > day_to or (day_to - day_from).days >= compliance_store.MAX_DAYS:
        raise ApiError(400, "invalid_range")
    return day_from, day_to


async def floor_view(
    user: CurrentUser, floor_id: int, day_from: date | None, day_to: date | None
) -> dict:
    """The floor, its plan, and its active checkpoints with position, state and last checks."""
    floor = await visible_floor(user, floor_id)
    site = floor["site_id"]
    day_from, day_to = await day_range(floor["timezone"], day_from, day_to)
    now = datetime.now(UTC)
    await compliance_store.bring_up_to_date(site, now)
    scope = None
    if user.role not in plans.DESK_ROLES:
        scope = [row["id"] for row in await plans.visible_plan_rows(user, site)]
    _, groups, last = await compliance_store.aggregate(
        site, day_from, day_to, "checkpoint", None, scope
    )
    checkpoints = await _floor_checkpoints(floor_id)
    units = await _floor_units(floor_id)
    spots = default_spots(checkpoints, units)
    ids = [c["id"] for c in checkpoints]
    latest: dict[int, datetime] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("{}" for _ in chunk)
        for row in await Inspection.raw(
            'SELECT "checkpoint" AS cp, MAX(device_time) AS at FROM inspection '
            f'WHERE "checkpoint" IN ({marks}) GROUP BY "checkpoint"',
            *chunk,
        ):
            at = row["at"]
            if isinstance(at, str):
                at = datetime.fromisoformat(at)
            if at is not None:
                latest[row["cp"]] = at if at.tzinfo else at.replace(tzinfo=UTC)
    items = []
    for cp in checkpoints:
        placed = cp["plan_x"] is not None and cp["plan_y"] is not None
        x, y = (cp["plan_x"], cp["plan_y"]) if placed else spots[cp["id"]]
        counts = groups.get((cp["id"], None))
        view = compliance_store.counts_view(counts) if counts is not None else None
        items.append(
            {
                "id": cp["id"],
                "code": cp["code"],
                "name": cp["name"],
                "kind": cp["kind"],
                "x": x,
                "y": y,
                "placed": placed,
                "state": state_of(view),
                "counts": view,
                "last_checked_at": last.get(cp["id"]),
                "last_inspection_at": latest.get(cp["id"]),
            }
        )
    return {
        "floor": {
            "id": floor["id"],
            "name": floor["name"],
            "level": floor["level"],
            "building": {"id": floor["building_id"], "name": floor["building_name"]},
            "site": site,
        },
        "plan": await plan_ref(floor["plan_image"]),
        "from": day_from,
        "to": day_to,
        "as_of": now,
        "checkpoints": items,
    }


async def set_position(user: CurrentUser, checkpoint_id: int, x: float, y: float) -> dict:
    row = (
        await Checkpoint.select(Checkpoint.id, Checkpoint.site, Checkpoint.floor)
        .where(Checkpoint.id == checkpoint_id)
        .first()
    )
    if row is None or not user.can_see_site(row["site"]):
        raise ApiError(404, "not_found")
    x, y = round(x, 4), round(y, 4)
    await Checkpoint.update(
        {Checkpoint.plan_x: x, Checkpoint.plan_y: y, Checkpoint.updated_at: datetime.now(UTC)}
    ).where(Checkpoint.id == checkpoint_id)
    return {"id": checkpoint_id, "floor": row["floor"], "x": x, "y": y}


# --- the schematic ---------------------------------------------------------------------------


def _text(x: float, y: float, text: str, size: int = 22, fill: str = "#3a4756") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{fill}" text-anchor="middle" '
        f'dominant-baseline="middle">{escape(text)}</text>'
    )


async def schematic_svg(user: CurrentUser, floor_id: int, with_checkpoints: bool = True) -> str:
    """A plan drawn from what the database knows: the corridor with its stairs at both ends and
    the lift lobby in the middle, the floor's units as numbered boxes along it, and (unless told
    otherwise) the checkpoints at their positions or default spots. Labels in Chinese."""
    floor = await visible_floor(user, floor_id)
    units = await _floor_units(floor_id)
    boxes = _unit_boxes(list(units.values()))
    title = f"{floor['building_name']} {floor['name']} 示意图"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SVG_W} {SVG_H}" '
        f'width="{SVG_W}" height="{SVG_H}" font-family="Noto Sans CJK SC, sans-serif">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{SVG_W}" height="{SVG_H}" fill="#ffffff"/>',
        f'<rect x="4" y="4" width="{SVG_W - 8}" height="{SVG_H - 8}" fill="none" '
        'stroke="#5d6b7b" stroke-width="4"/>',
        # corridor
        f'<rect x="{0.02 * SVG_W:.0f}" y="{0.38 * SVG_H:.0f}" width="{0.96 * SVG_W:.0f}" '
        f'height="{0.24 * SVG_H:.0f}" fill="#eef1f5" stroke="#c5ccd5" stroke-width="2"/>',
        _text(0.062 * SVG_W, 0.2 * SVG_H, "西侧楼梯", 28),
        _text(0.938 * SVG_W, 0.2 * SVG_H, "东侧楼梯", 28),
        _text(0.5 * SVG_W, 0.5 * SVG_H, "走道 · 电梯厅", 28, "#5d6b7b"),
    ]
    for number, (x, y, w, h) in boxes.items():
        parts.append(
            f'<rect x="{x * SVG_W + 3:.1f}" y="{y * SVG_H:.1f}" width="{w * SVG_W - 6:.1f}" '
            f'height="{h * SVG_H:.1f}" fill="#f7f9fb" stroke="#5d6b7b" stroke-width="2" rx="6"/>'
        )
        parts.append(_text((x + w / 2) * SVG_W, (y + h / 2) * SVG_H, number, 44, "#0d1620"))
    if not boxes:
        parts.append(_text(0.5 * SVG_W, 0.2 * SVG_H, "本层无房号", 28))
    if with_checkpoints:
        checkpoints = await _floor_checkpoints(floor_id)
        spots = default_spots(checkpoints, units)
        for cp in checkpoints:
            placed = cp["plan_x"] is not None and cp["plan_y"] is not None
            x, y = (cp["plan_x"], cp["plan_y"]) if placed else spots[cp["id"]]
            parts.append(
                f'<circle cx="{x * SVG_W:.1f}" cy="{y * SVG_H:.1f}" r="8" fill="#0b5cad">'
                f"<title>{escape(cp['code'] + ' ' + cp['name'])}</title></circle>"
            )
    parts.append(_text(0.5 * SVG_W, SVG_H - 22, title, 26))
    parts.append("</svg>")
    return "\n".join(parts)
