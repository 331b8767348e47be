"""The work-order state machine (server/work_order_flow.py): every legal move, every illegal one."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.work_order_flow import (
    ACTIONS,
    STATUSES,
    Actor,
    OrderState,
    TransitionError,
    apply,
)

pytestmark = pytest.mark.unit

ENGINEERING, SECURITY = 1, 2
DISPATCHER = Actor("dispatcher", None)
MANAGER = Actor("manager", None)
ENGINEER = Actor("department", ENGINEERING)
GUARD = Actor("department", SECURITY)
PATROL = Actor("patrol", None)
SERVER = Actor("system", None, is_system=True)

# The SOP's lifecycle written out by hand, independently of the ACTIONS table:
# (status, action) → status after it.
LEGAL = {
    ("raised", "dispatch"): "dispatched",
    ("dispatched", "redirect"): "dispatched",
    ("dispatched", "accept"): "arranged",
    ("dispatched", "defer"): "deferred",
    ("arranged", "defer"): "deferred",
    ("arranged", "report"): "reported",
    ("deferred", "report"): "reported",
    ("deferred", "resume"): "arranged",
    ("reported", "verify"): "verified",
    ("reported", "reject"): "dispatched",
    ("verified", "close"): "closed",
    ("arranged", "sign_off"): "arranged",
    ("deferred", "sign_off"): "deferred",
    ("reported", "sign_off"): "reported",
    ("verified", "follow_up"): "verified",
    ("deferred", "escalate"): "deferred",
    **{(status, "comment"): status for status in STATUSES if status != "closed"},
}
WHO = {
    "dispatch": DISPATCHER,
    "redirect": DISPATCHER,
    "accept": ENGINEER,
    "defer": ENGINEER,
    "report": ENGINEER,
    "resume": ENGINEER,
    "verify": DISPATCHER,
    "reject": DISPATCHER,
    "close": DISPATCHER,
    "sign_off": ENGINEER,
    "follow_up": DISPATCHER,
    "escalate": SERVER,
    "comment": PATROL,
}
INPUTS = {"reason": "等配件", "department_id": SECURITY}


def order(status: str, **kwargs) -> OrderState:
    return OrderState(status=status, department_id=ENGINEERING, **kwargs)


@pytest.mark.parametrize(("status", "action"), list(itertools.product(STATUSES, sorted(ACTIONS))))
def test_every_status_and_action(status, action):
    expected = LEGAL.get((status, action))
    if expected is None:
        with pytest.raises(TransitionError) as caught:
            apply(order(status), action, WHO[action], **INPUTS)
        assert (caught.value.status, caught.value.code) == (409, "illegal_transition")
    else:
        assert apply(order(status), action, WHO[action], **INPUTS) == expected


@pytest.mark.parametrize(
    ("action", "actor"),
    [
        ("dispatch", ENGINEER),
        ("dispatch", PATROL),
        ("verify", ENGINEER),
        ("close", PATROL),
        ("accept", GUARD),  # another department's order
        ("accept", PATROL),
        ("report", GUARD),
        ("escalate", MANAGER),  # only the server escalates
        ("comment", SERVER),
    ],
)
def test_who_may_act(action, actor):
    status = next(s for (s, a) in LEGAL if a == action)
    with pytest.raises(TransitionError) as caught:
        apply(order(status), action, actor, **INPUTS)
    assert (caught.value.status, caught.value.code) == (403, "forbidden")


def test_the_desk_may_act_for_a_department_without_phones():
    assert apply(order("dispatched"), "accept", DISPATCHER) == "arranged"


def test_deferral_and_rejection_need_a_reason():
    for status, action in (("arranged", "defer"), ("reported", "reject")):
        with pytest.raises(TransitionError) as caught:
            apply(order(status), action, WHO[action], reason="  ")
        assert caught.value.code == "reason_required"


def test_dispatch_needs_a_department_and_redirect_a_different_one():
    with pytest.raises(TransitionError) as caught:
        apply(order("raised"), "dispatch", DISPATCHER)
    assert caught.value.code == "department_required"
    with pytest.raises(TransitionError) as caught:
        apply(order("dispatched"), "redirect", DISPATCHER, department_id=ENGINEERING)
    assert caught.value.code == "illegal_transition"


def test_an_owners_order_closes_only_after_sign_off_and_follow_up():
    with pytest.raises(TransitionError) as caught:
        apply(order("verified", source="owner"), "close", DISPATCHER)
    assert caught.value.code == "owner_sign_off_missing"
    with pytest.raises(TransitionError) as caught:
        apply(order("verified", source="owner", owner_signed=True), "close", DISPATCHER)
    assert caught.value.code == "follow_up_missing"
    state = order("verified", source="owner", owner_signed=True, followed_up=True)
    assert apply(state, "close", DISPATCHER) == "closed"


def test_unknown_action():
    with pytest.raises(TransitionError) as caught:
        apply(order("raised"), "teleport", DISPATCHER)
    assert (caught.value.status, caught.value.code) == (400, "unknown_action")


@given(st.lists(st.sampled_from(sorted(ACTIONS)), max_size=30))
def test_any_sequence_stays_inside_the_lifecycle(actions):
    state = order("raised")
    for action in actions:
        try:
            status = apply(state, action, WHO[action], **INPUTS)
        except TransitionError as error:
            assert error.status in (400, 403, 409)
            continue
        assert status in STATUSES
        if state.status == "closed":
            pytest.fail("closed is final")
        state = OrderState(status, state.department_id)
