"""Patrol compliance over the API: counts by building, floor, checkpoint, person or plan for a day
range, the missed rounds, and a manager's acknowledgement of one.

Managers, admins and dispatchers see every plan of their sites; everyone else sees the rounds of
the plans they are among the people of. Only managers and admins acknowledge. Every read first
brings the site's stored results up to date (``compliance_store.bring_up_to_date``).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from typing import Annotated, Literal

import msgspec
from asyncpg.exceptions import UniqueViolationError
from litestar import Controller, Request, get, post
from litestar.params import FromQuery, JSONBody, Parameter, QueryParameter

from server import compliance_store, plans
from server.auth import CurrentUser
from server.errors import ApiError
from server.guards import MANAGERS
from server.routes.params import ObjectId
from server.sites import visible_site
from server.tables.accounts import SiteMembership, User
from server.tables.checkpoints import Checkpoint
from server.tables.plans import MissedAcknowledgement, PatrolPlan, PlanOccurrence
from server.tables.sites import Building, Floor

GroupBy = Literal["building", "floor", "checkpoint", "person", "plan"]
Grain = Literal["day", "week", "month"]


class Counts(msgspec.Struct):
    expected: int
    done: int
    late: int
    unverified: int
    missed: int
    pending: int
    #: done / (expected − pending); null while nothing is decided.
    on_time_rate: float | None


class ComplianceRow(Counts):
    #: The building, floor, checkpoint, person or plan id; null for a plan anyone may do
    #: (group_by=person) or a checkpoint outside any building.
    key: int | None
    label: str
    #: First day of the day / ISO week / month; null without ``grain``.
    bucket: date | None = None
    #: floor and checkpoint rows: where they are.
    building: int | None = None
    floor: int | None = None
    #: floor rows: the signed level (-1 = B1); checkpoint rows: the code.
    level: int | None = None
    code: str | None = None
    #: checkpoint rows: the last check counted in the range.
    last_checked_at: datetime | None = None


class ComplianceReport(msgspec.Struct):
    site: int
    #: Local days, inclusive.
    date_from: date = msgspec.field(name="from")
    date_to: date = msgspec.field(name="to")
    group_by: GroupBy = "building"
    grain: Grain | None = None
    #: When the results were brought up to date.
    as_of: datetime | None = None
    total: Counts | None = None
    rows: list[ComplianceRow] = []


class Ref(msgspec.Struct):
    id: int
    name: str


class CheckpointRef(msgspec.Struct):
    id: int
    code: str
    name: str


class Acknowledgement(msgspec.Struct):
    by: Ref | None
    at: datetime
    comment: str


class MissedRound(msgspec.Struct):
    #: The round's id (acknowledge with POST /api/compliance/missed/{id}/acknowledge).
    id: int
    plan: Ref
    checkpoint: CheckpointRef
    building: Ref | None
    floor: Ref | None
    #: The local day the window starts on.
    day: date
    #: The window [starts_at, ends_at) and when it closed (ends_at + grace), UTC.
    starts_at: datetime
    ends_at: datetime
    closes_at: datetime
    #: Who should have done it; null when anyone on the site may.
    assignees: list[Ref] | None
    acknowledgement: Acknowledgement | None


class MissedPage(msgspec.Struct):
    total: int
    page: int
    page_size: int
    items: list[MissedRound]


class RouteCheck(msgspec.Struct):
    #: The inspection's id.
    id: str
    #: When the phone says the check was made, and when the server stored it (UTC).
    device_time: datetime
    received_at: datetime
    #: scan = QR label read; manual = typed code (unverified).
    source: str
    checkpoint: CheckpointRef
    building: Ref | None
    floor: Ref | None
    #: floor's signed level (-1 = B1), null outside buildings.
    level: int | None


class RoutePerson(Ref):
    #: Checks this person made on the day at the site.
    checks: int = 0


class PersonRoute(msgspec.Struct):
    site: int
    day: date
    timezone: str
    #: Whose route this is.
    user: Ref
    #: Everyone who checked at the site that day (desk roles), else only the caller.
    people: list[RoutePerson]
    #: The person's checks of the day, in the order they were made (device time).
    checks: list[RouteCheck]


class AcknowledgeIn(msgspec.Struct, forbid_unknown_fields=True):
    comment: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


# --- helpers -----------------------------------------------------------------------------------


async def _range(
    user: CurrentUser, site: int, day_from: date | None, day_to: date | None
) -> tuple[dict, date, date]:
    row = await visible_site(user, site)
    today = compliance_store.today_in(row.get("timezone") or "Asia/Shanghai", datetime.now(UTC))
    day_to = day_to or day_from or today
    day_from = day_from or day_to
    if day_from > day_to or (day_to - day_from).days >= compliance_store.MAX_DAYS:
        raise ApiError(400, "invalid_range")
    return row, day_from, day_to


async def _plan_scope(user: CurrentUser, site: int) -> list[int] | None:
    """None: every plan of the site; else the ids of the plans the user may see."""
    if user.role in plans.DESK_ROLES:
        return None
    return [row["id"] for row in await plans.visible_plan_rows(user, site)]


async def _names(table, ids, *columns) -> dict[int, dict]:
    ids = sorted({i for i in ids if i is not None})
    if not ids:
        return {}
    out = {}
    for start in range(0, len(ids), 500):
        rows = await table.select(table.id, *columns).where(
            table.id.is_in(ids[start : start + 500])
        )
        out.update({row["id"]: row for row in rows})
    return out


def _person_name(row: dict | None) -> str:
    if row is None:
        return ""
    return row["display_name"] or row["username"]


# --- routes ------------------------------------------------------------------------------------


class ComplianceController(Controller):
    path = "/api/compliance"
    tags = ["compliance"]

    @get("/")
    async def report(
        self,
        request: Request,
        site: FromQuery[ObjectId],
        date_from: Annotated[date | None, QueryParameter(name="from")] = None,
        date_to: Annotated[date | None, QueryParameter(name="to")] = None,
        group_by: FromQuery[GroupBy] = "building",
        grain: FromQuery[Grain | None] = None,
    ) -> ComplianceReport:
        """Rounds expected, done, late, unverified (manual entries), missed and pending per
        building, floor, checkpoint, person or plan, for the local days [from, to] (default:
        today), optionally per day, ISO week or month. By person: done/late/unverified count for
        who checked, missed/pending for every person of the plan (rows may add up to more than
        the total)."""
        user: CurrentUser = request.user
        _, day_from, day_to = await _range(user, site, date_from, date_to)
        now = datetime.now(UTC)
        await compliance_store.bring_up_to_date(site, now)
        scope = await _plan_scope(user, site)
        total, groups, last = await compliance_store.aggregate(
            site, day_from, day_to, group_by, grain, scope
        )
        keys = {key for key, _ in groups}
        rows = []
        if group_by == "building":
            info = await _names(Building, keys, Building.name, Building.sort_order)
            order = lambda k: (info[k]["sort_order"], k) if k in info else (1 << 30, k or 0)  # noqa: E731
        elif group_by == "floor":
            info = await _names(Floor, keys, Floor.name, Floor.level, Floor.building)
            buildings = await _names(
                Building, [i["building"] for i in info.values()], Building.sort_order
            )

            def order(k):
                if k not in info:
                    return (1 << 30, 0, k or 0)
                b = info[k]["building"]
                return (buildings.get(b, {}).get("sort_order", 0), b, -info[k]["level"])

        elif group_by == "checkpoint":
            info = await _names(
                Checkpoint,
                keys,
                Checkpoint.code,
                Checkpoint.name,
                Checkpoint.building,
                Checkpoint.floor,
            )
            order = lambda k: (info[k]["code"] if k in info else "", k)  # noqa: E731
        elif group_by == "person":
            info = await _names(User, keys, User.display_name, User.username)
            order = lambda k: (k is None, _person_name(info.get(k)), k or 0)  # noqa: E731
        else:
            info = await _names(PatrolPlan, keys, PatrolPlan.name)
            order = lambda k: (k,)  # noqa: E731
        for (key, bucket), counts in sorted(
            groups.items(), key=lambda kv: (order(kv[0][0]), kv[0][1] or date.min)
        ):
            row = info.get(key, {})
            extra: dict = {}
            if group_by == "floor":
                label = row.get("name", "")
                extra = {"building": row.get("building"), "level": row.get("level")}
            elif group_by == "checkpoint":
                label = row.get("name", "")
                extra = {
                    "building": row.get("building"),
                    "floor": row.get("floor"),
                    "code": row.get("code"),
                    "last_checked_at": last.get(key),
                }
            elif group_by == "person":
                label = _person_name(row) if row else ""
            else:
                label = row.get("name", "")
            rows.append(
                ComplianceRow(
                    key=key,
                    label=label,
                    bucket=bucket,
                    **extra,
                    **compliance_store.counts_view(counts),
                )
            )
        return ComplianceReport(
            site=site,
            date_from=day_from,
            date_to=day_to,
            group_by=group_by,
            grain=grain,
            as_of=now,
            total=Counts(**compliance_store.counts_view(total)),
            rows=rows,
        )

    @get("/missed")
    async def missed(
        self,
        request: Request,
        site: FromQuery[ObjectId],
        date_from: Annotated[date | None, QueryParameter(name="from")] = None,
        date_to: Annotated[date | None, QueryParameter(name="to")] = None,
        acknowledged: FromQuery[bool | None] = None,
        building: FromQuery[ObjectId | None] = None,
        floor: FromQuery[ObjectId | None] = None,
        checkpoint: FromQuery[ObjectId | None] = None,
        plan: FromQuery[ObjectId | None] = None,
        page: Annotated[int, Parameter(ge=1, le=100_000)] = 1,
        page_size: Annotated[int, Parameter(ge=1, le=500)] = 100,
    ) -> MissedPage:
        """Missed rounds of the local days [from, to] (default: today), the latest closed
        first, each with the people who should have done it and its acknowledgement."""
        user: CurrentUser = request.user
        _, day_from, day_to = await _range(user, site, date_from, date_to)
        await compliance_store.bring_up_to_date(site)
        scope = await _plan_scope(user, site)
        if plan is not None:
            scope = [plan] if scope is None or plan in scope else []
        total, rows = await compliance_store.missed_rounds(
            site,
            day_from,
            day_to,
            plan_ids=scope,
            acknowledged=acknowledged,
            building=building,
            floor=floor,
            checkpoint=checkpoint,
            limit=page_size,
            offset=(page - 1) * page_size,
        )
        return MissedPage(
            total=total, page=page, page_size=page_size, items=await _missed_views(rows)
        )

    @get("/route")
    async def route(
        self,
        request: Request,
        site: FromQuery[ObjectId],
        day: FromQuery[date | None] = None,
        user_id: Annotated[ObjectId | None, QueryParameter(name="user")] = None,
    ) -> PersonRoute:
        """One person's checks of a local day at the site, in the order they were made, with
        checkpoint, building and floor (default: my own, today). Desk roles read anyone's;
        everyone else only their own (403 otherwise)."""
        user: CurrentUser = request.user
        row = await visible_site(user, site)
        timezone = row.get("timezone") or "Asia/Shanghai"
        day = day or compliance_store.today_in(timezone, datetime.now(UTC))
        person = user.id if user_id is None else user_id
        desk = user.role in plans.DESK_ROLES
        if person != user.id and not desk:
            raise ApiError(403, "forbidden")
        people, checks = await compliance_store.person_day(
            site, day, timezone, person, None if desk else user.id
        )
        names = await _names(User, [person, *people], User.display_name, User.username)
        if person not in names:
            raise ApiError(404, "not_found")
        if person != user.id and person not in people and not await _member(person, site):
            raise ApiError(404, "not_found")
        floors = await _names(Floor, [c["floor"] for c in checks], Floor.name, Floor.level)
        buildings = await _names(Building, [c["building"] for c in checks], Building.name)
        return PersonRoute(
            site=site,
            day=day,
            timezone=timezone,
            user=Ref(person, _person_name(names.get(person))),
            people=[
                RoutePerson(id=k, name=_person_name(names.get(k)), checks=n)
                for k, n in sorted(people.items(), key=lambda kv: _person_name(names.get(kv[0])))
            ],
            checks=[
                RouteCheck(
                    id=str(c["id"]),
                    device_time=compliance_store._utc(c["device_time"]),
                    received_at=compliance_store._utc(c["received_at"]),
                    source=c["source"],
                    checkpoint=CheckpointRef(c["checkpoint"], c["code"], c["name"]),
                    building=None
                    if c["building"] not in buildings
                    else Ref(c["building"], buildings[c["building"]]["name"]),
                    floor=None
                    if c["floor"] not in floors
                    else Ref(c["floor"], floors[c["floor"]]["name"]),
                    level=floors.get(c["floor"], {}).get("level"),
                )
                for c in checks
            ],
        )

    @post("/missed/{occurrence_id:int}/acknowledge", guards=[MANAGERS], status_code=200)
    async def acknowledge(
        self, request: Request, occurrence_id: ObjectId, data: JSONBody[AcknowledgeIn]
    ) -> MissedRound:
        """Acknowledge a missed round with a comment (once; 409 ``already_acknowledged`` after,
        409 ``not_missed`` when the round is not missed — e.g. a late sync made it done)."""
        user: CurrentUser = request.user
        row = (
            await PlanOccurrence.select(
                PlanOccurrence.id, PlanOccurrence.site, PlanOccurrence.status
            )
            .where(PlanOccurrence.id == occurrence_id)
            .first()
        )
        if row is None or not user.can_see_site(row["site"]):
            raise ApiError(404, "not_found")
        if row["status"] != "missed":
            raise ApiError(409, "not_missed")
        comment = data.comment.strip()
        if not comment:
            raise ApiError(400, "comment_required")
        if await MissedAcknowledgement.exists().where(
            MissedAcknowledgement.occurrence == occurrence_id
        ):
            raise ApiError(409, "already_acknowledged")
        try:
            await MissedAcknowledgement.insert(
                MissedAcknowledgement(
                    occurrence=occurrence_id, by=user.id, at=datetime.now(UTC), comment=comment
                )
            )
        except (UniqueViolationError, sqlite3.IntegrityError):
            raise ApiError(409, "already_acknowledged") from None
        _, rows = await compliance_store.missed_rounds(
            row["site"], None, None, occurrence=occurrence_id, limit=1
        )
        return (await _missed_views(rows))[0]


async def _member(user_id: int, site_id: int) -> bool:
    return await SiteMembership.exists().where(
        (SiteMembership.user == user_id) & (SiteMembership.site == site_id)
    )


async def _missed_views(rows: list[dict]) -> list[MissedRound]:
    plan_ids = sorted({r["plan"] for r in rows})
    plan_rows = (
        await PatrolPlan.raw(
            "SELECT id, site, name, role, department FROM patrol_plan "
            f"WHERE id IN ({', '.join(['{}'] * len(plan_ids))})",
            *plan_ids,
        )
        if plan_ids
        else []
    )
    people = await compliance_store.plan_people(plan_rows)
    plan_names = {row["id"]: row["name"] for row in plan_rows}
    checkpoints = await _names(
        Checkpoint, [r["checkpoint"] for r in rows], Checkpoint.code, Checkpoint.name
    )
    buildings = await _names(Building, [r["building"] for r in rows], Building.name)
    floors = await _names(Floor, [r["floor"] for r in rows], Floor.name)
    users = await _names(
        User,
        [u for p in people.values() if p for u in p] + [r["ack_by"] for r in rows],
        User.display_name,
        User.username,
    )

    def ref(table: dict, key) -> Ref | None:
        return None if key is None or key not in table else Ref(key, table[key]["name"])

    def person(key) -> Ref:
        return Ref(key, _person_name(users.get(key)))

    out = []
    for r in rows:
        assigned = people.get(r["plan"])
        cp = checkpoints.get(r["checkpoint"], {"code": "", "name": ""})
        out.append(
            MissedRound(
                id=r["id"],
                plan=Ref(r["plan"], plan_names.get(r["plan"], "")),
                checkpoint=CheckpointRef(r["checkpoint"], cp["code"], cp["name"]),
                building=ref(buildings, r["building"]),
                floor=ref(floors, r["floor"]),
                day=compliance_store._date(r["day"]),
                starts_at=compliance_store._utc(r["starts_at"]),
                ends_at=compliance_store._utc(r["ends_at"]),
                closes_at=compliance_store._utc(r["closes_at"]),
                assignees=None if assigned is None else [person(u) for u in sorted(assigned)],
                acknowledgement=None
                if r["ack_id"] is None
                else Acknowledgement(
                    by=None if r["ack_by"] is None else person(r["ack_by"]),
                    at=compliance_store._utc(r["ack_at"]),
                    comment=r["ack_comment"],
                ),
            )
        )
    return out
