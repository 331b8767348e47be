"""The renovation permit (装修许可) lifecycle as a plain state machine: which step may move a permit
from which state, who may take it, and what must be in place first.

From DOMAIN.md, "Renovation management" (SOP 003 §3.2, 004):

    applied → submit_drawings → drawings_review → issue → permit_issued → start → in_progress
    → accept_hidden_works → hidden_works_accepted → complete → completed → accept_completion
    → completion_accepted → settle_deposit → deposit_settled → close → closed

* drawings are reviewed by 工程 (engineering): ``approve_drawings`` records the reviewer and keeps the
  permit in drawings_review; ``reject_drawings`` (with the reason) sends it back to applied, to be
  re-submitted until it passes;
* the permit (施工许可证) is signed by the heads of 客服, 工程 and 保安. The product has no "head"
  role, so ``sign`` records one signature per department, taken by a user of that department or by
  a manager (who signs on the head's behalf, naming the department);
* ``issue`` needs the drawings approved, all three signatures, and — over 200 m² — the fire
  authority's approval (``record_fire_approval``, with its reference);
* the desk (客服 / the information desk / managers) registers, submits, starts, and records the
  completion; 工程 or a manager accepts hidden works and completion (the joint sign-offs of issue 7
  come on top of these steps); only a manager settles the deposit; the desk closes.

Extensions (装修延期): requested by the desk, reviewed by 工程, approved by the manager.

Nothing here touches the database: the service applies the answer and records the event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STATUSES = (
    "applied",
    "drawings_review",
    "permit_issued",
    "in_progress",
    "hidden_works_accepted",
    "completed",
    "completion_accepted",
    "deposit_settled",
    "closed",
)
#: States in which the work is on (the unit is renovating and its checkpoint active).
ACTIVE_STATUSES = frozenset({"permit_issued", "in_progress", "hidden_works_accepted", "completed"})
#: States in which workers' passes and hot-work permits may be added.
PASS_STATUSES = frozenset(
    {"applied", "drawings_review", "permit_issued", "in_progress", "hidden_works_accepted"}
)
#: States in which an extension may be asked for.
EXTENSION_STATUSES = frozenset({"permit_issued", "in_progress", "hidden_works_accepted"})

CUSTOMER_SERVICE, ENGINEERING, SECURITY = "customer_service", "engineering", "security"
SIGNING_DEPARTMENTS = (CUSTOMER_SERVICE, ENGINEERING, SECURITY)
FIRE_APPROVAL_AREA_M2 = 200.0

MANAGER_ROLES = frozenset({"manager", "admin"})
DESK_ROLES = frozenset({"dispatcher", "manager", "admin"})
#: Roles that act for their department (a patrol's department does not make them its office).
DEPARTMENT_STAFF_ROLES = frozenset({"department", "inspector", "dispatcher"})

# Who may act.
DESK, ENGINEERS, MANAGER, SIGNER = "desk", "engineers", "manager", "signer"


@dataclass(frozen=True)
class Step:
    name: str
    from_statuses: frozenset[str]
    to_status: str | None  # None: the status does not change
    actor: str
    needs_reason: bool = False


STEPS: dict[str, Step] = {
    s.name: s
    for s in (
        Step("submit_drawings", frozenset({"applied"}), "drawings_review", DESK),
        Step("approve_drawings", frozenset({"drawings_review"}), None, ENGINEERS),
        Step("reject_drawings", frozenset({"drawings_review"}), "applied", ENGINEERS, True),
        Step("record_fire_approval", frozenset({"applied", "drawings_review"}), None, DESK),
        Step("sign", frozenset({"drawings_review"}), None, SIGNER),
        Step("issue", frozenset({"drawings_review"}), "permit_issued", DESK),
        Step("start", frozenset({"permit_issued"}), "in_progress", DESK),
        Step("accept_hidden_works", frozenset({"in_progress"}), "hidden_works_accepted", ENGINEERS),
        Step("complete", frozenset({"hidden_works_accepted"}), "completed", DESK),
        Step("accept_completion", frozenset({"completed"}), "completion_accepted", ENGINEERS),
        Step("settle_deposit", frozenset({"completion_accepted"}), "deposit_settled", MANAGER),
        Step("close", frozenset({"deposit_settled"}), "closed", DESK),
    )
}


class TransitionError(Exception):
    """A step that may not happen. ``status`` is the HTTP status, ``code`` the stable code."""

    def __init__(self, status: int, code: str):
        super().__init__(code)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Actor:
    role: str
    #: The user's department code (engineering, security, customer_service, cleaning) or None.
    department: str | None = None

    def of(self, department: str) -> bool:
        """Acts for ``department``: a member of it in a department or inspecting role."""
        return self.role in DEPARTMENT_STAFF_ROLES and self.department == department


@dataclass(frozen=True)
class PermitState:
    status: str
    area_m2: float = 0.0
    drawings_approved: bool = False
    fire_approved: bool = False
    signed: frozenset[str] = field(default_factory=frozenset)
    #: A joint acceptance round of that kind has passed (server/renovation_acceptance.py).
    hidden_works_passed: bool = False
    completion_passed: bool = False
    #: The manager approved the deposit settlement statement.
    settlement_approved: bool = False

    @property
    def needs_fire_approval(self) -> bool:
        return self.area_m2 > FIRE_APPROVAL_AREA_M2


def is_desk(actor: Actor) -> bool:
    """客服 (customer-service staff), the information desk and managers."""
    return actor.role in DESK_ROLES or actor.of(CUSTOMER_SERVICE)


def is_engineer(actor: Actor) -> bool:
    return actor.role in MANAGER_ROLES or actor.of(ENGINEERING)


def may_sign_for(actor: Actor, department: str) -> bool:
    return actor.role in MANAGER_ROLES or actor.of(department)


def may_take(step: Step, actor: Actor) -> bool:
    if step.actor == DESK:
        return is_desk(actor)
    if step.actor == ENGINEERS:
        return is_engineer(actor)
    if step.actor == MANAGER:
        return actor.role in MANAGER_ROLES
    if step.actor == SIGNER:
        return actor.role in MANAGER_ROLES or any(actor.of(d) for d in SIGNING_DEPARTMENTS)
    return False


def may_register(actor: Actor) -> bool:
    """Who registers an application: the desk."""
    return is_desk(actor)


def may_approve_hot_work(actor: Actor) -> bool:
    """动火证: 保安 (security) or a manager."""
    return actor.role in MANAGER_ROLES or actor.of(SECURITY)


def apply(
    permit: PermitState,
    step_name: str,
    actor: Actor,
    *,
    reason: str = "",
    department: str | None = None,
    reference: str = "",
) -> PermitState:
    """The permit after ``step_name``, or TransitionError.

    Checked in this order so the answer is stable: unknown step (400), not allowed for this person
    (403), not possible in this state (409), missing input (400), what must be in place (409).
    """
    step = STEPS.get(step_name)
    if step is None:
        raise TransitionError(400, "unknown_action")
    if not may_take(step, actor):
        raise TransitionError(403, "forbidden")
    if permit.status not in step.from_statuses:
        raise TransitionError(409, "renovation_illegal_step")
    if step.needs_reason and not reason.strip():
        raise TransitionError(400, "reason_required")
    changes: dict = {}
    if step_name == "approve_drawings":
        if permit.drawings_approved:
            raise TransitionError(409, "renovation_illegal_step")
        changes["drawings_approved"] = True
    elif step_name == "reject_drawings":
        changes["drawings_approved"] = False
        changes["signed"] = frozenset()
    elif step_name == "record_fire_approval":
        if not reference.strip():
            raise TransitionError(400, "fire_reference_required")
        changes["fire_approved"] = True
    elif step_name == "sign":
        if department not in SIGNING_DEPARTMENTS:
            raise TransitionError(400, "department_required")
        if not may_sign_for(actor, department):
            raise TransitionError(403, "forbidden")
        if not permit.drawings_approved:
            raise TransitionError(409, "drawings_not_approved")
        if department in permit.signed:
            raise TransitionError(409, "already_signed")
        changes["signed"] = permit.signed | {department}
    elif step_name == "issue":
        if not permit.drawings_approved:
            raise TransitionError(409, "drawings_not_approved")
        if permit.needs_fire_approval and not permit.fire_approved:
            raise TransitionError(409, "fire_approval_required")
        if set(SIGNING_DEPARTMENTS) - permit.signed:
            raise TransitionError(409, "signatures_missing")
    elif step_name in ("accept_hidden_works", "accept_completion") and not (
        permit.hidden_works_passed
        if step_name == "accept_hidden_works"
        else permit.completion_passed
    ):
        raise TransitionError(409, "acceptance_not_passed")
    elif step_name == "settle_deposit" and not permit.settlement_approved:
        raise TransitionError(409, "settlement_not_approved")
    if step.to_status is not None:
        changes["status"] = step.to_status
    return PermitState(**{**permit.__dict__, **changes})


# --- extensions ---------------------------------------------------------------------------------

EXTENSION_STATES = ("requested", "reviewed", "approved", "rejected")
EXTENSION_STEPS: dict[str, tuple[frozenset[str], str]] = {
    # step: (from, to)
    "review": (frozenset({"requested"}), "reviewed"),
    "approve": (frozenset({"reviewed"}), "approved"),
    "reject": (frozenset({"requested", "reviewed"}), "rejected"),
}


def apply_extension(status: str, step: str, actor: Actor, *, reason: str = "") -> str:
    """An extension's status after ``step``: 工程 reviews, the manager approves; either rejects (工程
    while it waits for review, the manager after), with the reason."""
    found = EXTENSION_STEPS.get(step)
    if found is None:
        raise TransitionError(400, "unknown_action")
    from_statuses, to_status = found
    if step == "review":
        allowed = is_engineer(actor)
    elif step == "approve":
        allowed = actor.role in MANAGER_ROLES
    else:
        allowed = is_engineer(actor) if status == "requested" else actor.role in MANAGER_ROLES
    if not allowed:
        raise TransitionError(403, "forbidden")
    if status not in from_statuses:
        raise TransitionError(409, "extension_illegal_step")
    if step == "reject" and not reason.strip():
        raise TransitionError(400, "reason_required")
    return to_status
