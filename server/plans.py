"""Patrol plans (巡检计划): reading, creating, changing and deleting them, scoped by site and role.

A plan's rules are checked by the engine itself (``compliance.Plan``): whatever it refuses is
answered 400 ``invalid_plan`` with the engine's reason, so the API and the engine never disagree.

Selection: the explicit ``checkpoints``, plus the site's active checkpoints that lie in one of
the ``buildings`` or ``floors`` (when any is given) and are of one of the ``kinds`` and ``types``
(when given). It is resolved into ``plan_checkpoint`` when the plan is saved; a checkpoint added to
the site later joins a plan when the plan is saved again.

Join and leave days: a checkpoint may be in a plan only from one day (``since``) to another
(``until``) — a renovation unit is patrolled from its permit's issue to its close.
:func:`join_checkpoint` adds it to every plan of its site whose selection matches it, from that day
(its rounds stored at once); :func:`leave_checkpoint` ends it (its later rounds deleted). No round
is expected outside those days (``compliance_store``). Saving a plan keeps each checkpoint's days,
and keeps a checkpoint that left the plan (so its rounds stay in the reports after its unit's
checkpoint is deactivated). A plan over renovation units (``kinds`` holds ``renovation``) may be
saved while no unit is renovating: permits join it when issued. A unit renovated twice keeps one
pair of days (the latest permit's); the earlier permit's rounds stay until the plan is saved again.

People: the named ``assignees`` plus the site's members with the plan's ``role`` and/or in its
``department`` (both: members with that role in that department). A plan that names nobody may
be done by anyone on the site.

Saving a plan recomputes its stored rounds from its first day (``compliance_store.rebuild_plan``):
the results always follow the plan as it now stands. To change a plan from a date on without
touching its past, end it (``ends_on``) and create a new one.

Who: managers and admins manage plans; dispatchers read every plan of their sites; everyone else
reads the plans they are among the people of.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

import msgspec

from server import compliance, compliance_store
from server.auth import CurrentUser
from server.db import write_transaction
from server.errors import ApiError
from server.sites import visible_site
from server.tables.accounts import ROLES, Department, SiteMembership, User
from server.tables.checkpoints import CHECKPOINT_KINDS, Checkpoint
from server.tables.plans import PatrolPlan, PlanAssignee, PlanCheckpoint
from server.tables.sites import Building, Floor, Site

DESK_ROLES = frozenset({"dispatcher", "manager", "admin"})
MANAGING_ROLES = frozenset({"manager", "admin"})

_Id = Annotated[int, msgspec.Meta(ge=1, le=2_147_483_647)]
HHMM = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")]


class SelectionIn(msgspec.Struct, forbid_unknown_fields=True):
    buildings: Annotated[list[_Id], msgspec.Meta(max_length=500)] = []
    floors: Annotated[list[_Id], msgspec.Meta(max_length=2000)] = []
    kinds: Annotated[list[Literal[CHECKPOINT_KINDS]], msgspec.Meta(max_length=4)] = []  # type: ignore[valid-type]
    #: Facility or sign type codes (e.g. hydrant, floor_sign).
    types: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=48)]], msgspec.Meta(max_length=100)
    ] = []
    checkpoints: Annotated[list[_Id], msgspec.Meta(max_length=20000)] = []


class PlanIn(msgspec.Struct, forbid_unknown_fields=True):
    site: _Id
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    per: Literal["day", "week", "month"]
    #: Rounds per period. Daily with windows: one round per window.
    times: Annotated[int, msgspec.Meta(ge=1, le=96)]
    selection: SelectionIn
    #: Local ["HH:MM", "HH:MM"] pairs; an end not after its start runs across midnight.
    windows: Annotated[list[tuple[HHMM, HHMM]], msgspec.Meta(max_length=24)] = []
    grace_minutes: Annotated[int, msgspec.Meta(ge=0, le=10080)] = 30
    #: User ids (members of the site).
    assignees: Annotated[list[_Id], msgspec.Meta(max_length=500)] = []
    role: Literal[ROLES] | None = None  # type: ignore[valid-type]
    #: Department code (engineering, security, cleaning, customer_service).
    department: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    starts_on: date | None = None
    ends_on: date | None = None


# --- reading -----------------------------------------------------------------------------------


async def _people_names(user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = await User.select(User.id, User.display_name, User.username).where(
        User.id.is_in(sorted(user_ids))
    )
    return {row["id"]: row["display_name"] or row["username"] for row in rows}


async def visible_plan_rows(user: CurrentUser, site: int | None = None) -> list[dict]:
    """Plan rows the user may read (desk roles: all of their sites'; others: their own)."""
    if site is not None:
        await visible_site(user, site)
        site_ids = [site]
    elif user.is_admin:
        site_ids = None
    else:
        site_ids = sorted(user.site_ids)
        if not site_ids:
            return []
    query = PatrolPlan.select(*PatrolPlan.all_columns()).order_by(PatrolPlan.id)
    if site_ids is not None:
        query = query.where(PatrolPlan.site.is_in(site_ids))
    rows = await query
    if user.role in DESK_ROLES or not rows:
        return rows
    people = await compliance_store.plan_people(rows)
    return [row for row in rows if people[row["id"]] is None or user.id in people[row["id"]]]


async def _views(rows: list[dict], with_checkpoints: bool = False) -> list[dict]:
    if not rows:
        return []
    ids = [row["id"] for row in rows]
    assignees: dict[int, list[int]] = {i: [] for i in ids}
    for row in await PlanAssignee.select(PlanAssignee.plan, PlanAssignee.user).where(
        PlanAssignee.plan.is_in(ids)
    ):
        assignees[row["plan"]].append(row["user"])
    checkpoints: dict[int, list[int]] = {i: [] for i in ids}
    for row in await PlanCheckpoint.select(PlanCheckpoint.plan, PlanCheckpoint.checkpoint).where(
        PlanCheckpoint.plan.is_in(ids)
    ):
        checkpoints[row["plan"]].append(row["checkpoint"])
    names = await _people_names({u for users in assignees.values() for u in users})
    departments = {
        row["id"]: row["code"] for row in await Department.select(Department.id, Department.code)
    }
    out = []
    for row in rows:
        view = {
            "id": row["id"],
            "site_id": row["site"],
            "name": row["name"],
            "per": row["per"],
            "times": row["times"],
            "windows": [list(w) for w in compliance_store._json(row["windows"], [])],
            "grace_minutes": row["grace_minutes"],
            "selection": compliance_store._json(row["selection"], {}),
            "checkpoint_count": len(checkpoints[row["id"]]),
            "assignees": [
                {"id": u, "display_name": names.get(u, "")} for u in sorted(assignees[row["id"]])
            ],
            "role": row["role"],
            "department": departments.get(row["department"]),
            "starts_on": row["starts_on"],
            "ends_on": row["ends_on"],
            "timezone": row["timezone"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
        }
        if with_checkpoints:
            view["checkpoint_ids"] = sorted(checkpoints[row["id"]])
        out.append(view)
    return out


async def list_plans(user: CurrentUser, site: int | None = None) -> list[dict]:
    return await _views(await visible_plan_rows(user, site))


async def get_plan(user: CurrentUser, plan_id: int) -> dict:
    row = await PatrolPlan.select(PatrolPlan.site).where(PatrolPlan.id == plan_id).first()
    if row is None or not user.can_see_site(row["site"]):
        raise ApiError(404, "not_found")
    rows = [r for r in await visible_plan_rows(user, row["site"]) if r["id"] == plan_id]
    if not rows:
        raise ApiError(404, "not_found")
    return (await _views(rows, with_checkpoints=True))[0]


# --- writing -----------------------------------------------------------------------------------


def _invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_plan", detail=[{"message": message}])


async def _resolve(site_id: int, selection: SelectionIn) -> list[int]:
    """The checkpoint ids a selection names (see the module docstring); 400 for ids of another
    site."""
    if selection.buildings:
        found = await Building.count().where(
            Building.id.is_in(selection.buildings) & (Building.site == site_id)
        )
        if found != len(set(selection.buildings)):
            raise _invalid("a building is not on this site")
    if selection.floors:
        found = await Floor.count().where(
            Floor.id.is_in(selection.floors) & (Floor.building.site == site_id)
        )
        if found != len(set(selection.floors)):
            raise _invalid("a floor is not on this site")
    ids: set[int] = set()
    if selection.checkpoints:
        wanted = set(selection.checkpoints)
        rows = await Checkpoint.select(Checkpoint.id).where(
            Checkpoint.id.is_in(sorted(wanted)) & (Checkpoint.site == site_id)
        )
        ids.update(row["id"] for row in rows)
        if len(ids) != len(wanted):
            raise _invalid("a checkpoint is not on this site")
    if selection.buildings or selection.floors or selection.kinds or selection.types:
        where = (Checkpoint.site == site_id) & (Checkpoint.active == True)  # noqa: E712
        if selection.buildings and selection.floors:
            where &= Checkpoint.building.is_in(selection.buildings) | Checkpoint.floor.is_in(
                selection.floors
            )
        elif selection.buildings:
            where &= Checkpoint.building.is_in(selection.buildings)
        elif selection.floors:
            where &= Checkpoint.floor.is_in(selection.floors)
        if selection.kinds:
            where &= Checkpoint.kind.is_in(list(selection.kinds))
        if selection.types:
            where &= Checkpoint.type_code.is_in(list(selection.types))
        ids.update(row["id"] for row in await Checkpoint.select(Checkpoint.id).where(where))
    if not ids and "renovation" not in selection.kinds:
        raise ApiError(400, "plan_no_checkpoints")
    return sorted(ids)


async def _checked(user: CurrentUser, data: PlanIn, plan_id: int | None) -> tuple[dict, list[int]]:
    await visible_site(user, data.site)
    if user.role not in MANAGING_ROLES:
        raise ApiError(403, "forbidden")
    return await validated(data, plan_id)


async def validated(data: PlanIn, plan_id: int | None = None) -> tuple[dict, list[int]]:
    """The plan row to store and its checkpoint ids; 400 when the plan breaks a rule."""
    site = await Site.select(Site.timezone).where(Site.id == data.site).first()
    if site is None:
        raise ApiError(404, "not_found")
    department_id = None
    if data.department is not None:
        row = (
            await Department.select(Department.id).where(Department.code == data.department).first()
        )
        if row is None:
            raise ApiError(400, "unknown_department")
        department_id = row["id"]
    assignees = sorted(set(data.assignees))
    if assignees:
        members = await SiteMembership.count().where(
            SiteMembership.user.is_in(assignees) & (SiteMembership.site == data.site)
        )
        if members != len(assignees):
            raise _invalid("an assignee is not a member of this site")
    timezone = site.get("timezone") or "Asia/Shanghai"
    starts_on = data.starts_on or compliance_store.today_in(timezone, datetime.now(UTC))
    row = {
        "id": plan_id or 0,
        "site": data.site,
        "name": data.name.strip(),
        "per": data.per,
        "times": data.times,
        "windows": [list(w) for w in data.windows],
        "grace_minutes": data.grace_minutes,
        "role": data.role,
        "department": department_id,
        "starts_on": starts_on,
        "ends_on": data.ends_on,
        "timezone": timezone,
        "selection": msgspec.to_builtins(data.selection),
    }
    if not row["name"]:
        raise _invalid("the name is empty")
    checkpoint_ids = await _resolve(data.site, data.selection)
    try:
        compliance_store.engine_plan(row, checkpoint_ids, frozenset(assignees) or None)
    except ValueError as error:
        raise _invalid(str(error)) from None
    row["assignees"] = assignees
    return row, checkpoint_ids


async def _write_links(plan_id: int, checkpoint_ids: list[int], assignees: list[int]) -> None:
    # Join and leave days survive the save; so does a checkpoint that left (its rounds are history).
    spans = {
        row["checkpoint"]: (row["since"], row["until"])
        for row in await PlanCheckpoint.select(
            PlanCheckpoint.checkpoint, PlanCheckpoint.since, PlanCheckpoint.until
        ).where(
            (PlanCheckpoint.plan == plan_id)
            & (PlanCheckpoint.since.is_not_null() | PlanCheckpoint.until.is_not_null())
        )
    }
    kept = set(checkpoint_ids)
    checkpoint_ids = sorted(kept | {c for c, (_, until) in spans.items() if until is not None})
    await PlanCheckpoint.delete().where(PlanCheckpoint.plan == plan_id)
    await PlanAssignee.delete().where(PlanAssignee.plan == plan_id)
    for start in range(0, len(checkpoint_ids), 500):
        await PlanCheckpoint.insert(
            *[
                PlanCheckpoint(
                    plan=plan_id,
                    checkpoint=c,
                    since=spans.get(c, (None, None))[0],
                    until=spans.get(c, (None, None))[1],
                )
                for c in checkpoint_ids[start : start + 500]
            ]
        )
    if assignees:
        await PlanAssignee.insert(*[PlanAssignee(plan=plan_id, user=u) for u in assignees])


_FIELDS = (
    "name",
    "per",
    "times",
    "windows",
    "grace_minutes",
    "role",
    "department",
    "starts_on",
    "ends_on",
    "timezone",
    "selection",
)


async def create_plan(user: CurrentUser, data: PlanIn) -> int:
    row, checkpoint_ids = await _checked(user, data, None)
    return await insert_plan(row, checkpoint_ids, created_by=user.id)


async def insert_plan(row: dict, checkpoint_ids: list[int], created_by: int | None) -> int:
    """Store a validated plan (see :func:`validated`) and compute its rounds."""
    now = datetime.now(UTC)
    async with write_transaction(PatrolPlan._meta.db):
        inserted = await PatrolPlan.insert(
            PatrolPlan(
                site=row["site"],
                created_by=created_by,
                created_at=now,
                updated_at=now,
                **{name: row[name] for name in _FIELDS},
            )
        ).returning(PatrolPlan.id)
        plan_id = inserted[0]["id"]
        await _write_links(plan_id, checkpoint_ids, row["assignees"])
    await compliance_store.rebuild_plan(plan_id)
    return plan_id


async def _managed_plan(user: CurrentUser, plan_id: int) -> dict:
    row = (
        await PatrolPlan.select(PatrolPlan.id, PatrolPlan.site, PatrolPlan.starts_on)
        .where(PatrolPlan.id == plan_id)
        .first()
    )
    if row is None or not user.can_see_site(row["site"]):
        raise ApiError(404, "not_found")
    if user.role not in MANAGING_ROLES:
        raise ApiError(403, "forbidden")
    return row


async def update_plan(user: CurrentUser, plan_id: int, data: PlanIn) -> None:
    existing = await _managed_plan(user, plan_id)
    if data.site != existing["site"]:
        raise _invalid("a plan cannot move to another site")
    if data.starts_on is None:  # unchanged, not "from today"
        data = msgspec.structs.replace(data, starts_on=existing["starts_on"])
    row, checkpoint_ids = await _checked(user, data, plan_id)
    async with write_transaction(PatrolPlan._meta.db):
        await PatrolPlan.update(
            {
                **{getattr(PatrolPlan, name): row[name] for name in _FIELDS},
                PatrolPlan.updated_at: datetime.now(UTC),
            }
        ).where(PatrolPlan.id == plan_id)
        await _write_links(plan_id, checkpoint_ids, row["assignees"])
    await compliance_store.rebuild_plan(plan_id)


async def delete_plan(user: CurrentUser, plan_id: int) -> None:
    """Deletes the plan with its stored rounds and their acknowledgements."""
    await _managed_plan(user, plan_id)
    await PatrolPlan.delete().where(PatrolPlan.id == plan_id)


# --- checkpoints joining and leaving plans -----------------------------------------------------


def selection_matches(selection: dict, checkpoint: dict) -> bool:
    """Whether a plan's stored selection (see the module docstring) takes this checkpoint (a row
    with id, building, floor, kind, type_code). Explicit ids take it whatever it is."""
    if checkpoint["id"] in (selection.get("checkpoints") or []):
        return True
    buildings = selection.get("buildings") or []
    floors = selection.get("floors") or []
    kinds = selection.get("kinds") or []
    types = selection.get("types") or []
    if not (buildings or floors or kinds or types):
        return False
    outside = checkpoint["building"] not in buildings and checkpoint["floor"] not in floors
    if (buildings or floors) and outside:
        return False
    if kinds and checkpoint["kind"] not in kinds:
        return False
    return not types or checkpoint["type_code"] in types


async def join_checkpoint(checkpoint_id: int, day: date, now: datetime | None = None) -> list[int]:
    """The checkpoint joins, from ``day`` (local), every plan of its site whose selection takes it
    and that has not ended before ``day``; its rounds from that day are stored at once (so it is
    due today, and was never due yesterday). A plan whose rounds of ``day`` have all closed by
    ``now`` (a permit issued at 19:00, the plan's window 08:00–18:00) takes it from the next day:
    a round that could never be done is not "missed". Runs in the caller's transaction when there
    is one (a permit's issue). Returns the ids of the plans it is now in."""
    now = now or datetime.now(UTC)
    checkpoint = (
        await Checkpoint.select(
            Checkpoint.id,
            Checkpoint.site,
            Checkpoint.building,
            Checkpoint.floor,
            Checkpoint.kind,
            Checkpoint.type_code,
        )
        .where(Checkpoint.id == checkpoint_id)
        .first()
    )
    if checkpoint is None:
        return []
    rows = await PatrolPlan.select(*PatrolPlan.all_columns()).where(
        PatrolPlan.site == checkpoint["site"]
    )
    links = {
        row["plan"]: row
        for row in await PlanCheckpoint.select(
            PlanCheckpoint.id, PlanCheckpoint.plan, PlanCheckpoint.since, PlanCheckpoint.until
        ).where(PlanCheckpoint.checkpoint == checkpoint_id)
    }
    joined: list[int] = []
    async with write_transaction(PatrolPlan._meta.db):
        for row in sorted(rows, key=lambda r: r["id"]):
            if row["ends_on"] is not None and row["ends_on"] < day:
                continue
            if not selection_matches(compliance_store._json(row["selection"], {}), checkpoint):
                continue
            joined.append(row["id"])
            since = _first_day(row, checkpoint_id, day, now)
            link = links.get(row["id"])
            if link is None:
                await PlanCheckpoint.insert(
                    PlanCheckpoint(plan=row["id"], checkpoint=checkpoint_id, since=since)
                )
            elif link["until"] is not None:
                # Back after leaving (a new permit): its days start again.
                await PlanCheckpoint.update(
                    {PlanCheckpoint.since: since, PlanCheckpoint.until: None}
                ).where(PlanCheckpoint.id == link["id"])
            elif link["since"] is not None and link["since"] > since:
                await PlanCheckpoint.update({PlanCheckpoint.since: since}).where(
                    PlanCheckpoint.id == link["id"]
                )
        await compliance_store.store_checkpoint_rounds(joined, checkpoint_id, day, now)
    return joined


def _first_day(plan_row: dict, checkpoint_id: int, day: date, now: datetime) -> date:
    """``day``, or the day after when every round of the plan on ``day`` has closed by ``now``."""
    plan = compliance_store.engine_plan(plan_row, [checkpoint_id], None)
    rounds = compliance.expected_occurrences(plan, checkpoint_id, day, day)
    if rounds and all(o.closes <= now for o in rounds):
        return day + timedelta(days=1)
    return day


async def leave_checkpoint(checkpoint_id: int, day: date) -> list[int]:
    """The checkpoint leaves every plan it is in after ``day`` (its last expected day, local):
    ``until`` is set and its rounds after ``day`` are deleted; the rounds up to ``day`` stay in the
    reports. Runs in the caller's transaction when there is one (a permit's close). Returns the ids
    of the plans it left."""
    links = await PlanCheckpoint.select(
        PlanCheckpoint.id, PlanCheckpoint.plan, PlanCheckpoint.until
    ).where(PlanCheckpoint.checkpoint == checkpoint_id)
    left = sorted({row["plan"] for row in links if row["until"] is None or row["until"] > day})
    if not left:
        return []
    async with write_transaction(PatrolPlan._meta.db):
        for row in links:
            if row["plan"] in left:
                await PlanCheckpoint.update({PlanCheckpoint.until: day}).where(
                    PlanCheckpoint.id == row["id"]
                )
        await compliance_store.drop_checkpoint_rounds(left, checkpoint_id, day)
    return left
