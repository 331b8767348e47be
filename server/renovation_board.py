"""The renovation board (装修动态表) and the permit at a glance for the phones.

Board: every active permit of a site (``permit_issued`` … ``completed``), by building, floor and
unit, with the days left, each of the three departments' (客服 / 工程 / 保安) last check of the unit
and its round of the day, and the unit's open and overdue violations. The day's status of a
department is the status of the unit's round that day in that department's renovation plans (the
plans whose ``department`` is that department; see ``server/compliance_store.py``): ``done``,
``late``, ``unverified`` (a typed code, no QR proof), ``missed``, ``pending``, or ``none`` when no
plan of the department expects a round of the unit that day. When a department's plans owe more
than one round that day, the worst counts (missed, pending, unverified, late, done). A department
"has not inspected" a unit today unless its status is done, late or unverified.

Glance: the same permits keyed by checkpoint id, with what an inspector at the door needs offline:
the permit's end and days left, the owner and the contractor, what must be posted on the door (plus
the hot-work permit when one is valid today), workers with masked ID numbers and whether each pass
is valid today, hot-work permits, the departments' status today, and the site's noisy-work hours.

Everyone on the site may read both (other sites: 404). Dates are the site's.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from server import compliance_store
from server import renovation_flow as flow
from server.auth import CurrentUser
from server.calendars import site_zone
from server.errors import ApiError
from server.renovations import last4
from server.site_rules import rules_for
from server.sites import visible_site
from server.tables.accounts import Department, User
from server.tables.plans import PatrolPlan
from server.tables.renovations import HotWorkPermit, RenovationPermit, RenovationWorker

DEPARTMENTS = (flow.CUSTOMER_SERVICE, flow.ENGINEERING, flow.SECURITY)
ACTIVE = ("permit_issued", "in_progress", "hidden_works_accepted", "completed")
INSPECTED = frozenset({"done", "late", "unverified"})
#: Worst first: the status shown when a department owes more than one round that day.
_PRECEDENCE = ("missed", "pending", "unverified", "late", "done")
DOOR_POSTINGS = ("施工许可证", "二装问答", "违章处罚规定")
HOT_WORK_POSTING = "动火证"


def combine(statuses: list[str]) -> str:
    """One department's status for a day from its rounds' statuses (``none`` when none)."""
    for status in _PRECEDENCE:
        if status in statuses:
            return status
    return "none"


async def _permits(site_id: int, building: int | None = None, floor: int | None = None):
    query = RenovationPermit.select(
        RenovationPermit.id,
        RenovationPermit.unit,
        RenovationPermit.unit.number.as_alias("unit_number"),
        RenovationPermit.unit.floor.as_alias("floor_id"),
        RenovationPermit.unit.floor.name.as_alias("floor_name"),
        RenovationPermit.unit.floor.level.as_alias("floor_level"),
        RenovationPermit.unit.floor.building.as_alias("building_id"),
        RenovationPermit.unit.floor.building.name.as_alias("building_name"),
        RenovationPermit.unit.floor.building.code.as_alias("building_code"),
        RenovationPermit.owner_name,
        RenovationPermit.contractor_company,
        RenovationPermit.contractor_person,
        RenovationPermit.contractor_phone,
        RenovationPermit.starts_on,
        RenovationPermit.ends_on,
        RenovationPermit.status,
        RenovationPermit.checkpoint,
        RenovationPermit.created_at,
    ).where((RenovationPermit.site == site_id) & RenovationPermit.status.is_in(list(ACTIVE)))
    if building is not None:
        query = query.where(RenovationPermit.unit.floor.building == building)
    if floor is not None:
        query = query.where(RenovationPermit.unit.floor == floor)
    rows = await query
    rows.sort(
        key=lambda r: (
            r["building_code"] or "",
            r["building_id"] or 0,
            r["floor_level"] if r["floor_level"] is not None else 0,
            r["unit_number"] or "",
            r["id"],
        )
    )
    return rows


async def _department_codes() -> dict[int, str]:
    return {
        row["id"]: row["code"] for row in await Department.select(Department.id, Department.code)
    }


async def day_statuses(
    site_id: int, checkpoint_ids: list[int], day: date
) -> dict[int, dict[str, str]]:
    """{checkpoint: {department: status}} for the three departments on ``day`` (see the module
    docstring)."""
    out = {cp: dict.fromkeys(DEPARTMENTS, "none") for cp in checkpoint_ids}
    if not checkpoint_ids:
        return out
    codes = await _department_codes()
    plan_department = {
        row["id"]: codes.get(row["department"])
        for row in await PatrolPlan.select(PatrolPlan.id, PatrolPlan.department).where(
            (PatrolPlan.site == site_id) & PatrolPlan.department.is_not_null()
        )
    }
    plan_department = {p: d for p, d in plan_department.items() if d in DEPARTMENTS}
    if not plan_department:
        return out
    found: dict[tuple[int, str], list[str]] = defaultdict(list)
    plans = sorted(plan_department)
    cps = sorted(set(checkpoint_ids))
    rows = await PatrolPlan.raw(
        'SELECT "plan", checkpoint, status FROM plan_occurrence WHERE site = {} AND day = {} '
        f'AND "plan" IN ({", ".join(["{}"] * len(plans))}) '
        f"AND checkpoint IN ({', '.join(['{}'] * len(cps))})",
        site_id,
        day,
        *plans,
        *cps,
    )
    for row in rows:
        found[(row["checkpoint"], plan_department[row["plan"]])].append(row["status"])
    for (cp, department), statuses in found.items():
        out[cp][department] = combine(statuses)
    return out


async def last_checks(since: dict[int, datetime], before: datetime) -> dict[int, dict[str, dict]]:
    """{checkpoint: {department: {"at", "by"}}}: each department's latest check of each unit
    from ``since[checkpoint]`` (the permit's registration: a unit renovated before keeps its
    checkpoint, and the earlier permit's checks are not this one's) to ``before``. The department
    is the one of the list filled in, else the inspector's."""
    out: dict[int, dict[str, dict]] = {cp: {} for cp in since}
    if not since:
        return out
    cps = sorted(since)
    rows = await PatrolPlan.raw(
        "SELECT i.checkpoint AS checkpoint, i.inspector AS inspector, i.device_time AS at, "
        "COALESCE(t.inspecting_department, u.department) AS department "
        "FROM inspection i JOIN xj_user u ON u.id = i.inspector "
        "LEFT JOIN checklist_template t ON t.id = i.template "
        f"WHERE i.checkpoint IN ({', '.join(['{}'] * len(cps))}) AND i.device_time < {{}} "
        "AND i.device_time >= {}",
        *cps,
        before,
        min(since.values()),
    )
    codes = await _department_codes()
    latest: dict[tuple[int, str], dict] = {}
    for row in rows:
        department = codes.get(row["department"])
        if department not in DEPARTMENTS:
            continue
        at = row["at"]
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        if at < since[row["checkpoint"]]:
            continue
        key = (row["checkpoint"], department)
        if key not in latest or at > latest[key]["at"]:
            latest[key] = {"at": at, "inspector": row["inspector"]}
    people = {}
    inspectors = sorted({v["inspector"] for v in latest.values()})
    if inspectors:
        people = {
            r["id"]: r["display_name"] or r["username"]
            for r in await User.select(User.id, User.display_name, User.username).where(
                User.id.is_in(inspectors)
            )
        }
    for (cp, department), value in latest.items():
        out[cp][department] = {
            "at": value["at"],
            "by": {"id": value["inspector"], "display_name": people.get(value["inspector"], "")},
        }
    return out


async def _violation_counts(permit_ids: list[int]) -> dict[int, dict]:
    try:
        from server.violations import open_counts
    except ImportError:  # the violations module is not in this build
        return {pid: {"open": 0, "overdue": 0} for pid in permit_ids}
    return await open_counts(permit_ids)


def _unit(row: dict) -> dict:
    return {
        "id": row["unit"],
        "number": row["unit_number"],
        "floor_id": row["floor_id"],
        "floor": row["floor_name"],
        "level": row["floor_level"],
        "building_id": row["building_id"],
        "building": row["building_name"],
        "building_code": row["building_code"],
    }


async def _site_day(user: CurrentUser, site_id: int, day: date | None) -> tuple[dict, date, bool]:
    site = await visible_site(user, site_id)
    today = datetime.now(site_zone(site.get("timezone"))).date()
    if day is not None and abs((day - today).days) > 400:
        raise ApiError(400, "invalid_request", detail=[{"field": "day", "message": "too far"}])
    return site, day or today, (day or today) == today


async def board(
    user: CurrentUser,
    site_id: int,
    *,
    building: int | None = None,
    floor: int | None = None,
    day: date | None = None,
) -> dict:
    """The board of one site (optionally one building or floor) on ``day`` (default today)."""
    site, day, _ = await _site_day(user, site_id, day)
    zone = site_zone(site.get("timezone"))
    await compliance_store.bring_up_to_date(site_id)
    permits = await _permits(site_id, building, floor)
    checkpoints = [p["checkpoint"] for p in permits if p["checkpoint"] is not None]
    statuses = await day_statuses(site_id, checkpoints, day)
    end_of_day = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    registered = {}
    for p in permits:
        if p["checkpoint"] is not None:
            at = p["created_at"]
            registered[p["checkpoint"]] = at.replace(tzinfo=UTC) if at.tzinfo is None else at
    last = await last_checks(registered, end_of_day)
    violations = await _violation_counts([p["id"] for p in permits])
    rows = []
    not_inspected = dict.fromkeys(DEPARTMENTS, 0)
    for permit in permits:
        cp = permit["checkpoint"]
        today = statuses.get(cp) or dict.fromkeys(DEPARTMENTS, "none")
        departments = {}
        for department in DEPARTMENTS:
            seen = (last.get(cp) or {}).get(department)
            departments[department] = {
                "last_at": seen["at"] if seen else None,
                "last_by": seen["by"] if seen else None,
                "today": today[department],
            }
            if today[department] not in INSPECTED:
                not_inspected[department] += 1
        rows.append(
            {
                "permit_id": permit["id"],
                "unit": _unit(permit),
                "status": permit["status"],
                "owner_name": permit["owner_name"],
                "contractor_company": permit["contractor_company"],
                "starts_on": permit["starts_on"].isoformat(),
                "ends_on": permit["ends_on"].isoformat(),
                "days_left": (permit["ends_on"] - day).days,
                "departments": departments,
                "violations": violations.get(permit["id"], {"open": 0, "overdue": 0}),
                "checkpoint_id": cp,
            }
        )
    return {
        "site_id": site_id,
        "site_name": site.get("name"),
        "day": day.isoformat(),
        "building": building,
        "floor": floor,
        "rows": rows,
        "totals": {"active": len(rows), "not_inspected_today": not_inspected},
    }


async def _noisy_hours(site_id: int) -> list[list[str]]:
    return [list(w) for w in (await rules_for(site_id)).noisy_hours]


async def glance(user: CurrentUser, site_id: int) -> dict[str, dict]:
    """Every active permit of the site keyed by its checkpoint id (see the module docstring)."""
    _site, today, _ = await _site_day(user, site_id, None)
    await compliance_store.bring_up_to_date(site_id)
    permits = [p for p in await _permits(site_id) if p["checkpoint"] is not None]
    ids = [p["id"] for p in permits]
    statuses = await day_statuses(site_id, [p["checkpoint"] for p in permits], today)
    noisy = await _noisy_hours(site_id)
    workers: dict[int, list[dict]] = defaultdict(list)
    hot_work: dict[int, list[dict]] = defaultdict(list)
    if ids:
        for w in (
            await RenovationWorker.select()
            .where(RenovationWorker.permit.is_in(ids))
            .order_by(RenovationWorker.id)
        ):
            workers[w["permit"]].append(
                {
                    "name": w["name"],
                    "id_number": last4(w["id_number"]),
                    "pass_number": w["pass_number"],
                    "valid_until": w["valid_until"].isoformat(),
                    "valid": w["valid_until"] >= today,
                }
            )
        for h in (
            await HotWorkPermit.select()
            .where(HotWorkPermit.permit.is_in(ids))
            .order_by(HotWorkPermit.id)
        ):
            hot_work[h["permit"]].append(
                {
                    "starts_on": h["starts_on"].isoformat(),
                    "ends_on": h["ends_on"].isoformat(),
                    "location": h["location"],
                    "valid_today": h["starts_on"] <= today <= h["ends_on"],
                }
            )
    out: dict[str, dict] = {}
    for permit in permits:
        hot = hot_work.get(permit["id"], [])
        postings = list(DOOR_POSTINGS)
        if any(h["valid_today"] for h in hot):
            postings.append(HOT_WORK_POSTING)
        out[str(permit["checkpoint"])] = {
            "checkpoint_id": permit["checkpoint"],
            "permit_id": permit["id"],
            "site_id": site_id,
            "day": today.isoformat(),
            "unit": _unit(permit),
            "status": permit["status"],
            "starts_on": permit["starts_on"].isoformat(),
            "ends_on": permit["ends_on"].isoformat(),
            "days_left": (permit["ends_on"] - today).days,
            "owner_name": permit["owner_name"],
            "contractor": {
                "company": permit["contractor_company"],
                "person": permit["contractor_person"],
                "phone": permit["contractor_phone"],
            },
            "door_postings": postings,
            "workers": workers.get(permit["id"], []),
            "hot_work": hot,
            "today": statuses.get(permit["checkpoint"]) or dict.fromkeys(DEPARTMENTS, "none"),
            "noisy_hours": noisy,
        }
    return out
