"""The work-order lifecycle (派工单流程) as a plain state machine: which action may move an order
from which state, and who may take it.

From the information-centre procedure (DOMAIN.md, "Work orders"; SOP 002 §4.2–4.3):

    raised → dispatch → dispatched → accept → arranged → report → reported → verify → verified
    → close → closed; from dispatched or arranged a department may defer ("cannot finish now",
    with the reason) → deferred, then resume (→ arranged) or report straight away; a failed
    verification (reject, with the reason) sends the order back to dispatched.

* the dispatch desk (dispatcher, manager) dispatches, verifies, rejects and closes;
* the order's department (its workers) accepts, reports, defers ("cannot finish now", with the
  reason) and resumes;
* anyone on the site (patrols included) comments on an open order;
* escalation is the server's own action on a deferred order not back in time (see server/sla.py);
* an order that came from an owner closes only after the owner signed (or was recorded as not at
  home) and the desk recorded the follow-up call (回访) with the owner's satisfaction.

Nothing here touches the database: the service applies the answer and records the event.
"""

from __future__ import annotations

from dataclasses import dataclass

STATUSES = ("raised", "dispatched", "arranged", "deferred", "reported", "verified", "closed")
OPEN_STATUSES = frozenset(STATUSES) - {"closed"}

DESK_ROLES = frozenset({"dispatcher", "manager", "admin"})
DEPARTMENT_ROLES = frozenset({"department"})

# Who may act: the dispatch desk, the order's own department, anyone on the site, or the server.
DESK, DEPARTMENT, ANYONE, SYSTEM = "desk", "department", "anyone", "system"


@dataclass(frozen=True)
class Action:
    name: str
    from_statuses: frozenset[str]
    to_status: str | None  # None: the status does not change (comment, sign-off, follow-up)
    actor: str
    needs_reason: bool = False
    needs_department: bool = False


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("dispatch", frozenset({"raised"}), "dispatched", DESK, needs_department=True),
        # Sent to the wrong department: the desk sends it on before anyone accepted it.
        Action("redirect", frozenset({"dispatched"}), "dispatched", DESK, needs_department=True),
        Action("accept", frozenset({"dispatched"}), "arranged", DEPARTMENT),
        Action("report", frozenset({"arranged", "deferred"}), "reported", DEPARTMENT),
        Action("defer", frozenset({"dispatched", "arranged"}), "deferred", DEPARTMENT, True),
        Action("resume", frozenset({"deferred"}), "arranged", DEPARTMENT),
        Action("verify", frozenset({"reported"}), "verified", DESK),
        Action("reject", frozenset({"reported"}), "dispatched", DESK, needs_reason=True),
        Action("close", frozenset({"verified"}), "closed", DESK),
        Action("sign_off", frozenset({"arranged", "deferred", "reported"}), None, DEPARTMENT),
        Action("follow_up", frozenset({"verified"}), None, DESK),
        Action("comment", OPEN_STATUSES, None, ANYONE),
        Action("escalate", frozenset({"deferred"}), None, SYSTEM),
    )
}


class TransitionError(Exception):
    """An action that may not happen. ``status`` is the HTTP status, ``code`` the stable code."""

    def __init__(self, status: int, code: str):
        super().__init__(code)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Actor:
    role: str
    department_id: int | None
    is_system: bool = False


@dataclass(frozen=True)
class OrderState:
    status: str
    department_id: int | None
    source: str = "inspection"
    owner_signed: bool = False  # signature captured or "owner not at home" recorded
    followed_up: bool = False  # the desk's follow-up call (回访) recorded


def may_act(action: Action, actor: Actor, order: OrderState) -> bool:
    if action.actor == SYSTEM:
        return actor.is_system
    if actor.is_system:
        return False
    if action.actor == ANYONE:
        return True
    if action.actor == DESK:
        return actor.role in DESK_ROLES
    # DEPARTMENT: the order's own department; the desk may act for it (a phone call from the
    # worker, entered at the desk), so a department without phones is not stuck.
    if actor.role in DESK_ROLES:
        return True
    return (
        actor.role in DEPARTMENT_ROLES
        and actor.department_id is not None
        and actor.department_id == order.department_id
    )


def apply(
    order: OrderState,
    action_name: str,
    actor: Actor,
    *,
    reason: str = "",
    department_id: int | None = None,
) -> str:
    """The order's status after ``action_name``, or TransitionError.

    Checked in this order so the answer is stable: unknown action (400), not allowed for this
    person (403), not possible in this state (409), missing input (400).
    """
    action = ACTIONS.get(action_name)
    if action is None:
        raise TransitionError(400, "unknown_action")
    if not may_act(action, actor, order):
        raise TransitionError(403, "forbidden")
    if order.status not in action.from_statuses:
        raise TransitionError(409, "illegal_transition")
    if action.needs_reason and not reason.strip():
        raise TransitionError(400, "reason_required")
    if action.needs_department and department_id is None:
        raise TransitionError(400, "department_required")
    if action_name == "redirect" and department_id == order.department_id:
        raise TransitionError(409, "illegal_transition")
    if action_name == "close" and order.source == "owner":
        if not order.owner_signed:
            raise TransitionError(409, "owner_sign_off_missing")
        if not order.followed_up:
            raise TransitionError(409, "follow_up_missing")
    return action.to_status or order.status
