"""Who may call what: every role against every API route, and site isolation.

The matrix is the design, written down: a new route must be added here or the completeness test
fails.
"""

import pytest

pytestmark = pytest.mark.api

ROLES = ("patrol", "inspector", "dispatcher", "department", "manager", "admin")
EVERYONE = set(ROLES)
DESK = {"dispatcher", "manager", "admin"}
DEPARTMENT = DESK | {"department"}  # the desk may act for a department (a phone call)

# The status a work-order step needs, by the path's last segment (other rows: any open order).
STEP_FROM = {
    "dispatch": "raised",
    "redirect": "dispatched",
    "accept": "dispatched",
    "report": "arranged",
    "defer": "arranged",
    "resume": "deferred",
    "sign-off": "arranged",
    "verify": "reported",
    "reject": "reported",
    "close": "verified",
    "follow-up": "verified",
}

# Renovations: the permit's status each path needs (by its last segment), and for the extension
# steps the extension's status.
ENGINEERS = {"manager", "admin", "department"}  # the matrix's department user is engineering's
RENOVATION_FROM = {
    "submit-drawings": "applied",
    "approve-drawings": "drawings_review",
    "reject-drawings": "drawings_review",
    "fire-approval": "applied",
    "sign": "drawings_review",
    "issue": "drawings_review",
    "start": "permit_issued",
    "accept-hidden-works": "in_progress",
    "complete": "hidden_works_accepted",
    "accept-completion": "completed",
    "settle-deposit": "completion_accepted",
    "close": "deposit_settled",
    "extensions": "permit_issued",
    # Joint acceptance, deductions, settlement (server/renovation_acceptance.py).
    "acceptances": "in_progress",
    "signoffs": "in_progress",
    "deductions": "completed",
    "{deduction}": "completed",
    "review": "in_progress",
    "approve": "in_progress",
    "reject": "in_progress",
}
EXTENSION_FROM = {"review": "requested", "approve": "reviewed", "reject": "requested"}

# (method, path template, body, roles allowed). {site}, {checkpoint}, {user} are filled per test.
MATRIX = [
    ("GET", "/api/me", None, EVERYONE),
    ("GET", "/api/sites", None, EVERYONE),
    ("GET", "/api/sites/{site}/summary", None, EVERYONE),
    ("GET", "/api/sites/{site}/buildings", None, EVERYONE),
    ("GET", "/api/sites/{site}/checkpoints", None, EVERYONE),
    ("GET", "/api/checkpoints/{checkpoint}", None, EVERYONE),
    ("GET", "/api/users", None, {"manager", "admin"}),
    ("POST", "/api/users", "new-user", {"admin"}),
    ("POST", "/api/users/{user}/revoke-sessions", None, {"admin"}),
    ("POST", "/api/sites/{site}/import", "import", {"admin"}),
    ("GET", "/api/sites/{site}/labels.pdf", None, {"manager", "admin"}),
    ("POST", "/api/scan/resolve", "scan", EVERYONE),
    ("GET", "/api/checkpoints/by-code/{code}", "by-code", EVERYONE),
    ("POST", "/api/checkpoints/{checkpoint}/reissue-label", None, {"manager", "admin"}),
    ("GET", "/api/catalogue", None, EVERYONE),
    ("GET", "/api/inspections", None, EVERYONE),
    ("GET", "/api/inspections/{inspection}", None, EVERYONE),
    ("GET", "/api/checkpoints/{checkpoint}/status", None, EVERYONE),
    ("POST", "/api/sync", "sync", EVERYONE),
    ("PUT", "/api/photos/{photo}", "photo", EVERYONE),
    ("GET", "/api/photos/{photo}", None, EVERYONE),
    ("GET", "/api/photos/{photo}/thumb", None, EVERYONE),
    ("GET", "/api/work-orders", None, EVERYONE),
    ("GET", "/api/work-orders/counts", None, EVERYONE),
    ("POST", "/api/work-orders", "raise", EVERYONE),
    ("GET", "/api/work-orders/{order}", None, EVERYONE),
    # Each step on an order of the department's own (engineering) in the state the step needs.
    ("POST", "/api/work-orders/{order}/dispatch", "department", DESK),
    ("POST", "/api/work-orders/{order}/redirect", "department", DESK),
    ("POST", "/api/work-orders/{order}/accept", None, DEPARTMENT),
    ("POST", "/api/work-orders/{order}/report", None, DEPARTMENT),
    ("POST", "/api/work-orders/{order}/defer", "reason", DEPARTMENT),
    ("POST", "/api/work-orders/{order}/resume", None, DEPARTMENT),
    ("POST", "/api/work-orders/{order}/sign-off", "sign-off", DEPARTMENT),
    ("POST", "/api/work-orders/{order}/verify", None, DESK),
    ("POST", "/api/work-orders/{order}/reject", "reason", DESK),
    ("POST", "/api/work-orders/{order}/close", None, DESK),
    ("POST", "/api/work-orders/{order}/follow-up", "follow-up", DESK),
    ("POST", "/api/work-orders/{order}/comment", "reason", EVERYONE),
    ("GET", "/api/plans", None, EVERYONE),
    ("POST", "/api/plans", "plan", {"manager", "admin"}),
    # A plan anyone on the site may do: every member reads it.
    ("GET", "/api/plans/{plan}", None, EVERYONE),
    ("PUT", "/api/plans/{plan}", "plan", {"manager", "admin"}),
    ("DELETE", "/api/plans/{plan}", None, {"manager", "admin"}),
    ("GET", "/api/compliance", "compliance", EVERYONE),
    ("GET", "/api/compliance/missed", "compliance", EVERYONE),
    # Without ?user=: the caller's own day.
    ("GET", "/api/compliance/route", "compliance", EVERYONE),
    ("POST", "/api/compliance/missed/{missed}/acknowledge", "acknowledge", {"manager", "admin"}),
    ("GET", "/api/sites/{site}/calendar", None, EVERYONE),
    ("PUT", "/api/sites/{site}/calendar/{day}", "calendar-day", {"manager", "admin"}),
    ("DELETE", "/api/sites/{site}/calendar/{day}", None, {"manager", "admin"}),
    ("GET", "/api/sites/{site}/renovation-rules", None, EVERYONE),
    ("PUT", "/api/sites/{site}/renovation-rules", "renovation-rules", {"manager", "admin"}),
    ("GET", "/api/work-orders/stats", "stats", DESK),
    ("GET", "/api/work-orders/export.xlsx", "export", DESK),
    # Without ?user=: the desk reads the whole site's day, everyone else their own.
    ("GET", "/api/patrol-records/daily", "compliance", EVERYONE),
    ("GET", "/api/patrol-records/daily.xlsx", "compliance", EVERYONE),
    ("GET", "/api/patrol-records/monthly", "stats", DESK),
    ("GET", "/api/patrol-records/monthly.xlsx", "stats", DESK),
    ("PUT", "/api/floors/{floor}/plan", "plan-image", {"manager", "admin"}),
    ("GET", "/api/floors/{floor}/plan", None, EVERYONE),
    ("DELETE", "/api/floors/{floor}/plan", None, {"manager", "admin"}),
    ("GET", "/api/floors/{floor}/checkpoints", None, EVERYONE),
    ("PUT", "/api/checkpoints/{checkpoint}/position", "position", {"manager", "admin"}),
    # Registered first: the rows below put their own permits on the same unit.
    ("POST", "/api/renovations", "renovation", DESK),
    ("GET", "/api/renovations", None, EVERYONE),
    ("GET", "/api/renovations/{permit}", None, EVERYONE),
    ("GET", "/api/floors/{floor}/units", None, EVERYONE),
    ("POST", "/api/renovations/{permit}/submit-drawings", None, DESK),
    ("POST", "/api/renovations/{permit}/approve-drawings", None, ENGINEERS),
    ("POST", "/api/renovations/{permit}/reject-drawings", "reason", ENGINEERS),
    ("POST", "/api/renovations/{permit}/fire-approval", "fire-approval", DESK),
    ("POST", "/api/renovations/{permit}/sign", "sign", ENGINEERS),
    ("POST", "/api/renovations/{permit}/issue", None, DESK),
    ("POST", "/api/renovations/{permit}/start", None, DESK),
    ("POST", "/api/renovations/{permit}/accept-hidden-works", None, ENGINEERS),
    ("POST", "/api/renovations/{permit}/complete", None, DESK),
    ("POST", "/api/renovations/{permit}/accept-completion", None, ENGINEERS),
    ("POST", "/api/renovations/{permit}/settle-deposit", None, {"manager", "admin"}),
    ("POST", "/api/renovations/{permit}/close", None, DESK),
    ("POST", "/api/renovations/{permit}/workers", "worker", DESK),
    # 保安 or a manager; the matrix has no security user.
    ("POST", "/api/renovations/{permit}/hot-work", "hot-work", {"manager", "admin"}),
    ("GET", "/api/renovations/board", "compliance", EVERYONE),
    ("GET", "/api/renovations/glance", "compliance", EVERYONE),
    ("POST", "/api/renovations/{permit}/extensions", "extension", DESK),
    ("POST", "/api/renovations/{permit}/extensions/{extension}/review", None, ENGINEERS),
    (
        "POST",
        "/api/renovations/{permit}/extensions/{extension}/approve",
        None,
        {"manager", "admin"},
    ),
    ("POST", "/api/renovations/{permit}/extensions/{extension}/reject", "reason", ENGINEERS),
    ("GET", "/api/renovations/{permit}/acceptances", None, EVERYONE),
    # The desk or 工程 open a round; a department signs by its own staff (engineering's here).
    ("POST", "/api/renovations/{permit}/acceptances", "acceptance", DESK | ENGINEERS),
    ("GET", "/api/renovations/{permit}/acceptances/{acceptance}", None, EVERYONE),
    (
        "POST",
        "/api/renovations/{permit}/acceptances/{acceptance}/signoffs",
        "signoff",
        ENGINEERS,
    ),
    ("GET", "/api/renovations/{permit}/settlement", None, EVERYONE),
    ("POST", "/api/renovations/{permit}/deductions", "deduction", DESK | ENGINEERS),
    ("DELETE", "/api/renovations/{permit}/deductions/{deduction}", None, DESK | ENGINEERS),
    ("POST", "/api/renovations/{permit}/settlement/approve", None, {"manager", "admin"}),
    ("GET", "/api/violations", None, EVERYONE),
    ("GET", "/api/violations/{violation}", None, EVERYONE),
    # The department that found it (the matrix's department user is engineering's, as is the
    # violation's finder), the desk, a manager.
    ("POST", "/api/violations/{violation}/reinspect", "reinspect", DESK | {"department"}),
    ("POST", "/api/violations/{violation}/cancel", "reason", {"manager", "admin"}),
    ("POST", "/api/auth/logout", None, EVERYONE),
]

PUBLIC = {("POST", "/api/auth/login")}


_PHOTOS: dict[str, bytes] = {}


def _photo_for(role: str) -> bytes:
    """A small JPEG of this role's own (uploaded first in the matrix, so the uploader reads it)."""
    if role not in _PHOTOS:
        import io
        import os

        from PIL import Image

        buffer = io.BytesIO()
        Image.new("RGB", (40, 30), tuple(os.urandom(3))).save(buffer, "JPEG")
        _PHOTOS[role] = buffer.getvalue()
    return _PHOTOS[role]


def _photo_sha(role: str) -> str:
    import hashlib

    return hashlib.sha256(_photo_for(role)).hexdigest()


def _body(kind, role, site=None, settings=None):
    if kind == "scan" and site is not None:
        # The genuine label of the site's first checkpoint (make_site codes it A-1-T0, version 1).
        from qr.signing import label_url, sign

        signature = sign(settings.secret_key.encode(), site.code, "A-1-T0", 1)
        return {"json": {"text": label_url(settings.base_url, "A-1-T0", 1, signature)}}
    if kind == "by-code" and site is not None:
        # Admins see every site, and every test site has A-1-T0: name the site.
        return {"params": {"site": site.id}}
    if kind == "sync":
        # A record every role may send (answered 200 with a per-record result).
        import uuid

        record = {
            "id": str(uuid.uuid4()),
            "checkpoint": "A-1-T0",
            "site": site.id if site is not None else None,
            "source": "manual",
            "device_time": "2026-11-23T09:15:00+08:00",
            "items": [],
        }
        return {"json": {"records": [record]}}
    if kind == "photo":
        return {"content": _photo_for(role), "headers": {"Content-Type": "image/jpeg"}}
    if kind == "raise" and site is not None:
        return {"json": {"site": site.id, "description": f"{role} 报修"}}
    if kind == "department":
        return {"json": {"department": "security"}}
    if kind == "reason":
        return {"json": {"note": "原因"}}
    if kind == "renovation-rules":
        return {
            "json": {
                "pass_deposit": 10000,
                "pass_fee": 500,
                "noisy_hours": [["08:00", "12:00"], ["14:00", "18:00"]],
                "renovation_months": 3,
            }
        }
    if kind == "calendar-day":
        return {"json": {"kind": "holiday", "name": "国庆节"}}
    if kind == "stats" and site is not None:
        return {"params": {"site": site.id, "month": "2026-11"}}
    if kind == "export" and site is not None:
        return {"params": {"site": site.id, "from": "2026-11-01", "to": "2026-11-30"}}
    if kind == "plan" and site is not None:
        return {
            "json": {
                "site": site.id,
                "name": f"{role} 的计划",
                "per": "day",
                "times": 2,
                "selection": {"checkpoints": site.checkpoint_ids[:2]},
            }
        }
    if kind == "compliance" and site is not None:
        return {"params": {"site": site.id}}
    if kind == "plan-image":
        return {"content": _photo_for(role), "headers": {"Content-Type": "image/jpeg"}}
    if kind == "position":
        return {"json": {"x": 0.25, "y": 0.5}}
    if kind == "acknowledge":
        return {"json": {"comment": "已知悉"}}
    if kind == "sign-off":
        return {"json": {"owner_absent": True}}
    if kind == "follow-up":
        return {"json": {"satisfaction": "satisfied"}}
    if kind == "renovation" and site is not None:
        return {
            "json": {
                "site": site.id,
                "unit": site.unit_id,
                "owner_name": "业主",
                "starts_on": "2026-12-01",
            }
        }
    if kind == "fire-approval":
        return {"json": {"reference": "消审〔2026〕1号"}}
    if kind == "sign":
        return {"json": {"department": "engineering"}}
    if kind == "signoff":
        return {"json": {"party": "engineering", "passed": True}}
    if kind == "acceptance":
        return {"json": {"kind": "hidden_works"}}
    if kind == "deduction":
        return {"json": {"amount": 10000, "reason": "损坏公共部位"}}
    if kind == "worker":
        return {"json": {"name": "王五", "id_number": "310101199001011234"}}
    if kind == "hot-work":
        return {"json": {"starts_on": "2026-12-02", "ends_on": "2026-12-03"}}
    if kind == "extension":
        return {"json": {"requested_until": "2027-06-30", "reason": "工期延误"}}
    if kind == "reinspect":
        return {"json": {"passed": True, "note": "已整改"}}
    if kind == "new-user":
        return {
            "json": {"username": f"made-by-{role}", "password": "longenough1", "role": "patrol"}
        }
    if kind == "import":
        csv = "楼栋,楼层,房号,状态\n1栋,1F,101,空置\n".encode()
        return {"files": {"file": ("units.csv", csv, "text/csv")}}
    return {}


async def _an_inspection(checkpoint_id: int, inspector_id: int) -> str:
    """A stored check of the checkpoint, so that reading it back has something to read."""
    import uuid
    from datetime import UTC, datetime

    from server.tables.inspections import Inspection

    now = datetime.now(UTC)
    inspection_id = uuid.uuid4()
    await Inspection.insert(
        Inspection(
            id=inspection_id,
            checkpoint=checkpoint_id,
            inspector=inspector_id,
            device_time=now,
            received_at=now,
            source="manual",
            body_hash="0" * 64,
        )
    )
    return str(inspection_id)


async def _a_work_order(site_id: int, status: str) -> int:
    """An engineering order of the site in ``status``."""
    from datetime import UTC, datetime

    from server.tables.accounts import Department
    from server.tables.work_orders import WorkOrder

    now = datetime.now(UTC)
    engineering = (
        await Department.select(Department.id).where(Department.code == "engineering").first()
    )["id"]
    rows = await WorkOrder.insert(
        WorkOrder(
            site=site_id,
            department=engineering,
            source="manual",
            status=status,
            title="测试工单",
            raised_at=now,
            created_at=now,
            updated_at=now,
            dispatched_at=None if status == "raised" else now,
            deferred_at=now if status == "deferred" else None,
        )
    ).returning(WorkOrder.id)
    return rows[0]["id"]


async def _a_plan(site_id: int, checkpoint_id: int, days_ago: int = 0) -> int:
    """A daily plan at one checkpoint that anyone on the site may do, its rounds stored."""
    from datetime import UTC, datetime, timedelta

    from server import compliance_store
    from server.tables.plans import PatrolPlan, PlanCheckpoint

    now = datetime.now(UTC)
    rows = await PatrolPlan.insert(
        PatrolPlan(
            site=site_id,
            name="测试计划",
            per="day",
            times=1,
            starts_on=(now - timedelta(days=days_ago)).date(),
            timezone="Asia/Shanghai",
            created_at=now,
            updated_at=now,
        )
    ).returning(PatrolPlan.id)
    plan_id = rows[0]["id"]
    await PlanCheckpoint.insert(PlanCheckpoint(plan=plan_id, checkpoint=checkpoint_id))
    await compliance_store.rebuild_plan(plan_id)
    return plan_id


async def _a_missed_round(site_id: int, checkpoint_id: int) -> int:
    """A round missed two days ago."""
    from server.tables.plans import PlanOccurrence

    plan_id = await _a_plan(site_id, checkpoint_id, days_ago=3)
    row = (
        await PlanOccurrence.select(PlanOccurrence.id)
        .where((PlanOccurrence.plan == plan_id) & (PlanOccurrence.status == "missed"))
        .first()
    )
    return row["id"]


async def _a_renovation(site, template: str, signer: int) -> tuple[int, int]:
    """A permit of the site's unit in the status the path needs (for sign: drawings approved and
    signed by 客服 and 保安; for issue: by all three), and an extension when the path needs one."""
    from datetime import UTC, date, datetime

    from server.tables.renovations import RenovationExtension, RenovationPermit

    last = template.rsplit("/", 1)[-1]
    status = RENOVATION_FROM.get(last, "applied")
    now = datetime.now(UTC)
    reviewed = last in ("sign", "issue")
    # A unit holds one open permit (a partial unique index): the previous row's is closed.
    await RenovationPermit.update({RenovationPermit.status: "closed"}).where(
        (RenovationPermit.unit == site.unit_id) & (RenovationPermit.status != "closed")
    )
    rows = await RenovationPermit.insert(
        RenovationPermit(
            site=site.id,
            unit=site.unit_id,
            owner_name="业主",
            starts_on=date(2026, 12, 1),
            ends_on=date(2027, 3, 1),
            status=status,
            drawings_reviewed_at=now if reviewed else None,
            cs_signed_by=signer if reviewed else None,
            security_signed_by=signer if reviewed else None,
            engineering_signed_by=signer if last == "issue" else None,
            created_at=now,
            updated_at=now,
        )
    ).returning(RenovationPermit.id)
    permit_id = rows[0]["id"]
    extension_id = 0
    if "{extension}" in template:
        made = await RenovationExtension.insert(
            RenovationExtension(
                permit=permit_id,
                requested_until=date(2027, 6, 1),
                reason="工期延误",
                status=EXTENSION_FROM[last],
                requested_at=now,
            )
        ).returning(RenovationExtension.id)
        extension_id = made[0]["id"]
    return permit_id, extension_id


async def _a_violation(site) -> int:
    """An open violation at the site's first checkpoint, found by engineering."""
    import uuid
    from datetime import UTC, date, datetime, timedelta

    from server.tables.accounts import Department
    from server.tables.violations import Violation

    now = datetime.now(UTC)
    engineering = (
        await Department.select(Department.id).where(Department.code == "engineering").first()
    )["id"]
    rows = await Violation.insert(
        Violation(
            site=site.id,
            checkpoint=site.checkpoint_ids[0],
            item_code=f"item-{uuid.uuid4().hex[:8]}",
            title="未凿、拆承重墙、柱、梁、板",
            severity="critical",
            grade="major",
            found_department=engineering,
            found_at=now,
            deadline=now + timedelta(days=1),
            keep_until=date(2031, 1, 1),
            created_at=now,
            updated_at=now,
        )
    ).returning(Violation.id)
    return rows[0]["id"]


async def _acceptance_parts(permit_id: int, template: str, signer: int) -> tuple[int, int]:
    """What the acceptance and settlement paths need on the permit: a passed round before the
    gated accept steps, an approved statement before settle-deposit, an open round for its
    sign-offs, a deduction to withdraw; the settlement's approval needs completion accepted.
    Returns (acceptance id, deduction id)."""
    from datetime import UTC, datetime

    from server.tables.renovations import (
        RenovationAcceptance,
        RenovationDeduction,
        RenovationPermit,
        RenovationSettlement,
    )

    now = datetime.now(UTC)
    last = template.rsplit("/", 1)[-1]
    kind, status = {
        "accept-hidden-works": ("hidden_works", "passed"),
        "accept-completion": ("completion", "passed"),
    }.get(last, ("hidden_works", "open"))
    acceptance_id = deduction_id = 0
    if last in ("accept-hidden-works", "accept-completion") or "{acceptance}" in template:
        made = await RenovationAcceptance.insert(
            RenovationAcceptance(permit=permit_id, kind=kind, round=1, status=status, opened_at=now)
        ).returning(RenovationAcceptance.id)
        acceptance_id = made[0]["id"]
    if last == "settle-deposit":
        await RenovationSettlement.insert(
            RenovationSettlement(permit=permit_id, approved_by=signer, approved_at=now)
        )
    if template.endswith("/settlement/approve"):
        await RenovationPermit.update({RenovationPermit.status: "completion_accepted"}).where(
            RenovationPermit.id == permit_id
        )
    if "{deduction}" in template:
        made = await RenovationDeduction.insert(
            RenovationDeduction(
                permit=permit_id, amount=100, reason="x", created_by=signer, created_at=now
            )
        ).returning(RenovationDeduction.id)
        deduction_id = made[0]["id"]
    return acceptance_id, deduction_id


def test_matrix_covers_every_api_route(settings):
    from server.app import create_app

    app = create_app(settings)
    declared = {(m, p) for m, p, _, _ in MATRIX} | PUBLIC
    routes = set()
    for route in app.routes:
        if not route.path.startswith("/api"):
            continue
        for method in route.methods - {"OPTIONS", "HEAD"}:
            path = (
                route.path.replace("{site_id:int}", "{site}")
                .replace("{checkpoint_id:int}", "{checkpoint}")
                .replace("{floor_id:int}", "{floor}")
                .replace("{user_id:int}", "{user}")
                .replace("{code:str}", "{code}")
                .replace("{sha256:str}", "{photo}")
                .replace("{inspection_id:str}", "{inspection}")
                .replace("{order_id:int}", "{order}")
                .replace("{day:str}", "{day}")
                .replace("{plan_id:int}", "{plan}")
                .replace("{occurrence_id:int}", "{missed}")
                .replace("{permit_id:int}", "{permit}")
                .replace("{extension_id:int}", "{extension}")
                .replace("{acceptance_id:int}", "{acceptance}")
                .replace("{deduction_id:int}", "{deduction}")
                .replace("{violation_id:int}", "{violation}")
            )
            routes.add((method, path))
    assert routes == declared


@pytest.mark.parametrize("role", ROLES)
async def test_role_matrix(role, make_site, make_user, login, settings):
    site = await make_site()
    me = await make_user(
        role, sites=[site.id], department="engineering" if role == "department" else None
    )
    target = await make_user("patrol", sites=[site.id])
    inspection = await _an_inspection(site.checkpoint_ids[0], target.id)
    client = await login(me)
    # Logout last: it ends the session the other rows need.
    for method, template, body, allowed in sorted(
        MATRIX, key=lambda row: row[1] == "/api/auth/logout"
    ):
        permit, extension = (
            await _a_renovation(site, template, target.id) if "{permit}" in template else (0, 0)
        )
        acceptance, deduction = (
            await _acceptance_parts(permit, template, target.id) if permit else (0, 0)
        )
        path = template.format(
            permit=permit,
            extension=extension,
            acceptance=acceptance,
            deduction=deduction,
            violation=await _a_violation(site) if "{violation}" in template else 0,
            site=site.id,
            checkpoint=site.checkpoint_ids[0],
            user=target.id,
            code="A-1-T0",
            inspection=inspection,
            photo=_photo_sha(role),
            order=await _a_work_order(
                site.id, STEP_FROM.get(template.rsplit("/", 1)[-1], "dispatched")
            ),
            day="2026-10-01",
            floor=site.floor_id,
            plan=await _a_plan(site.id, site.checkpoint_ids[0]) if "{plan}" in template else 0,
            missed=(
                await _a_missed_round(site.id, site.checkpoint_ids[0])
                if "{missed}" in template
                else 0
            ),
        )
        response = await client.request(method, path, **_body(body, role, site, settings))
        if role in allowed:
            assert response.status_code < 400, (role, method, path, response.text)
        else:
            assert response.status_code == 403, (role, method, path, response.status_code)
            assert response.json()["error"]["code"] == "forbidden"


async def test_anonymous_gets_401_everywhere(make_site, make_client):
    site = await make_site()
    client = make_client()
    for method, template, body, _ in MATRIX:
        path = template.format(
            site=site.id,
            checkpoint=site.checkpoint_ids[0],
            user=1,
            code="X",
            inspection="00000000-0000-4000-8000-000000000000",
            photo="0" * 64,
            order=1,
            day="2026-10-01",
            floor=1,
            plan=1,
            missed=1,
            permit=1,
            extension=1,
            acceptance=1,
            deduction=1,
            violation=1,
        )
        response = await client.request(method, path, **_body(body, "anon"))
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("role", ["patrol", "manager"])
async def test_other_sites_objects_are_404(role, make_site, make_user, login):
    mine, theirs = await make_site(), await make_site()
    client = await login(await make_user(role, sites=[mine.id]))
    for path in (
        f"/api/sites/{theirs.id}/summary",
        f"/api/sites/{theirs.id}/buildings",
        f"/api/sites/{theirs.id}/checkpoints",
        f"/api/checkpoints/{theirs.checkpoint_ids[0]}",
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    sites = (await client.get("/api/sites")).json()
    assert [s["id"] for s in sites] == [mine.id]
    # and their own site's objects are there
    assert (await client.get(f"/api/checkpoints/{mine.checkpoint_ids[0]}")).status_code == 200


async def test_manager_sees_only_users_of_their_sites(make_site, make_user, login):
    mine, theirs = await make_site(), await make_site()
    manager = await make_user("manager", sites=[mine.id])
    colleague = await make_user("patrol", sites=[mine.id])
    stranger = await make_user("patrol", sites=[theirs.id])
    names = {u["username"] for u in (await (await login(manager)).get("/api/users")).json()}
    assert colleague.username in names and manager.username in names
    assert stranger.username not in names
