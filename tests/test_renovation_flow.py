"""The renovation permit state machine (server/renovation_flow.py): the whole way through, every
illegal step rejected with its code, and random step sequences never reaching an illegal state."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.renovation_flow import (
    SIGNING_DEPARTMENTS,
    STATUSES,
    STEPS,
    Actor,
    PermitState,
    TransitionError,
    apply,
    apply_extension,
)

pytestmark = pytest.mark.unit

MANAGER = Actor("manager")
DISPATCHER = Actor("dispatcher")
KEFU = Actor("department", "customer_service")
ENGINEER = Actor("department", "engineering")
GUARD = Actor("inspector", "security")
PATROL = Actor("patrol", "customer_service")
CLEANER = Actor("department", "cleaning")
ACTORS = (MANAGER, DISPATCHER, KEFU, ENGINEER, GUARD, PATROL, CLEANER)

# The SOP's order written out by hand, independently of STEPS: status → (step, status after it).
FORWARD = {
    "applied": ("submit_drawings", "drawings_review"),
    "drawings_review": ("issue", "permit_issued"),
    "permit_issued": ("start", "in_progress"),
    "in_progress": ("accept_hidden_works", "hidden_works_accepted"),
    "hidden_works_accepted": ("complete", "completed"),
    "completed": ("accept_completion", "completion_accepted"),
    "completion_accepted": ("settle_deposit", "deposit_settled"),
    "deposit_settled": ("close", "closed"),
}


def _ready(area: float = 80.0) -> PermitState:
    """In drawings review with everything the issue needs."""
    return PermitState(
        "drawings_review",
        area_m2=area,
        drawings_approved=True,
        fire_approved=area > 200,
        signed=frozenset(SIGNING_DEPARTMENTS),
    )


def test_the_whole_way_from_application_to_closed():
    # The joint acceptances passed and the settlement approved (server/renovation_acceptance.py).
    permit = PermitState(
        "applied",
        area_m2=250,
        hidden_works_passed=True,
        completion_passed=True,
        settlement_approved=True,
    )
    permit = apply(permit, "record_fire_approval", KEFU, reference="消防审批 2026-118")
    permit = apply(permit, "submit_drawings", KEFU)
    assert permit.status == "drawings_review"
    permit = apply(permit, "reject_drawings", ENGINEER, reason="承重墙开洞")
    assert permit.status == "applied" and not permit.drawings_approved
    permit = apply(permit, "submit_drawings", DISPATCHER)
    permit = apply(permit, "approve_drawings", ENGINEER)
    for department, who in zip(SIGNING_DEPARTMENTS, (KEFU, ENGINEER, GUARD), strict=True):
        permit = apply(permit, "sign", who, department=department)
    actors = {"settle_deposit": MANAGER, "accept_hidden_works": ENGINEER}
    actors["accept_completion"] = ENGINEER
    while permit.status != "closed":
        step, after = FORWARD[permit.status]
        permit = apply(permit, step, actors.get(step, KEFU))
        assert permit.status == after
    assert permit.fire_approved and permit.drawings_approved


@pytest.mark.parametrize(
    ("permit", "code"),
    [
        (PermitState("drawings_review", drawings_approved=False), "drawings_not_approved"),
        (
            PermitState(
                "drawings_review",
                drawings_approved=True,
                signed=frozenset({"customer_service", "engineering"}),
            ),
            "signatures_missing",
        ),
        (
            PermitState(
                "drawings_review",
                area_m2=200.5,
                drawings_approved=True,
                signed=frozenset(SIGNING_DEPARTMENTS),
            ),
            "fire_approval_required",
        ),
    ],
)
def test_issue_needs_drawings_signatures_and_fire_approval_over_200(permit, code):
    with pytest.raises(TransitionError) as caught:
        apply(permit, "issue", MANAGER)
    assert (caught.value.status, caught.value.code) == (409, code)


def test_exactly_200_square_metres_needs_no_fire_approval():
    permit = PermitState(
        "drawings_review",
        area_m2=200,
        drawings_approved=True,
        signed=frozenset(SIGNING_DEPARTMENTS),
    )
    assert apply(permit, "issue", MANAGER).status == "permit_issued"


def test_signatures_one_per_department_by_its_own_people_or_a_manager():
    permit = PermitState("drawings_review", drawings_approved=True)
    with pytest.raises(TransitionError) as caught:
        apply(permit, "sign", ENGINEER, department="security")
    assert caught.value.code == "forbidden"
    with pytest.raises(TransitionError) as caught:
        apply(permit, "sign", CLEANER, department="cleaning")
    assert caught.value.code == "forbidden"
    with pytest.raises(TransitionError) as caught:
        apply(permit, "sign", MANAGER, department="cleaning")
    assert caught.value.code == "department_required"
    permit = apply(permit, "sign", MANAGER, department="security")
    with pytest.raises(TransitionError) as caught:
        apply(permit, "sign", GUARD, department="security")
    assert (caught.value.status, caught.value.code) == (409, "already_signed")
    with pytest.raises(TransitionError) as caught:
        apply(PermitState("drawings_review"), "sign", GUARD, department="security")
    assert caught.value.code == "drawings_not_approved"


def test_who_may_take_each_step():
    assert apply(_ready(), "issue", KEFU).status == "permit_issued"
    for actor in (ENGINEER, GUARD, PATROL, CLEANER):
        with pytest.raises(TransitionError) as caught:
            apply(_ready(), "issue", actor)
        assert (caught.value.status, caught.value.code) == (403, "forbidden")
    settled = PermitState("completion_accepted")
    for actor in (DISPATCHER, KEFU, ENGINEER, GUARD):
        with pytest.raises(TransitionError):
            apply(settled, "settle_deposit", actor)
    for actor in (KEFU, GUARD, PATROL):
        with pytest.raises(TransitionError) as caught:
            apply(PermitState("drawings_review"), "approve_drawings", actor)
        assert caught.value.code == "forbidden"


@pytest.mark.parametrize(
    ("status", "step", "code"),
    [
        ("in_progress", "accept_hidden_works", "acceptance_not_passed"),
        ("completed", "accept_completion", "acceptance_not_passed"),
        ("completion_accepted", "settle_deposit", "settlement_not_approved"),
    ],
)
def test_acceptance_and_settlement_steps_are_gated(status, step, code):
    with pytest.raises(TransitionError) as caught:
        apply(PermitState(status), step, MANAGER)
    assert (caught.value.status, caught.value.code) == (409, code)
    # The other kind's round does not open this gate.
    other = {
        "accept_hidden_works": {"completion_passed": True, "settlement_approved": True},
        "accept_completion": {"hidden_works_passed": True, "settlement_approved": True},
        "settle_deposit": {"hidden_works_passed": True, "completion_passed": True},
    }[step]
    with pytest.raises(TransitionError):
        apply(PermitState(status, **other), step, MANAGER)
    gate = {
        "accept_hidden_works": "hidden_works_passed",
        "accept_completion": "completion_passed",
        "settle_deposit": "settlement_approved",
    }[step]
    assert apply(PermitState(status, **{gate: True}), step, MANAGER).status == STEPS[step].to_status


def test_reject_needs_a_reason_and_unknown_steps_are_400():
    with pytest.raises(TransitionError) as caught:
        apply(PermitState("drawings_review"), "reject_drawings", ENGINEER, reason="  ")
    assert (caught.value.status, caught.value.code) == (400, "reason_required")
    with pytest.raises(TransitionError) as caught:
        apply(PermitState("applied"), "demolish", MANAGER)
    assert (caught.value.status, caught.value.code) == (400, "unknown_action")
    with pytest.raises(TransitionError) as caught:
        apply(PermitState("applied"), "record_fire_approval", KEFU, reference="")
    assert caught.value.code == "fire_reference_required"


def _reachable(before: PermitState, after: PermitState) -> bool:
    """A permit never skips a state forwards; the only way back is drawings rejected."""
    i, j = STATUSES.index(before.status), STATUSES.index(after.status)
    return j in (i, i + 1) or (before.status, after.status) == ("drawings_review", "applied")


@settings(max_examples=300, deadline=None)
@given(
    area=st.sampled_from([50.0, 200.0, 320.0]),
    moves=st.lists(
        st.tuples(
            st.sampled_from([*STEPS, "bogus"]),
            st.sampled_from(ACTORS),
            st.sampled_from([*SIGNING_DEPARTMENTS, "cleaning", None]),
            st.sampled_from(["", "原因"]),
        ),
        max_size=40,
    ),
)
def test_random_steps_never_reach_an_illegal_state(area, moves):
    permit = PermitState("applied", area_m2=area)
    for step, actor, department, text in moves:
        try:
            after = apply(permit, step, actor, reason=text, department=department, reference=text)
        except TransitionError as error:
            # Every refusal has its status and code, and the permit is untouched (frozen).
            assert error.status in (400, 403, 409)
            spec = STEPS.get(step)
            if spec is not None and error.status == 409 and error.code == "renovation_illegal_step":
                assert permit.status not in spec.from_statuses or step == "approve_drawings"
            continue
        assert step in STEPS and permit.status in STEPS[step].from_statuses
        assert _reachable(permit, after)
        assert after.status in STATUSES
        if after.status == "permit_issued" and permit.status != "permit_issued":
            assert after.drawings_approved
            assert after.signed == frozenset(SIGNING_DEPARTMENTS)
            assert after.fire_approved or area <= 200
        assert after.signed <= frozenset(SIGNING_DEPARTMENTS)
        if after.signed:
            assert after.drawings_approved
        permit = after


@given(
    status=st.sampled_from(STATUSES),
    step=st.sampled_from(list(STEPS)),
    actor=st.sampled_from([MANAGER]),
)
def test_a_step_from_a_wrong_state_is_409(status, step, actor):
    permit = PermitState(status, drawings_approved=False)
    if status in STEPS[step].from_statuses:
        return
    with pytest.raises(TransitionError) as caught:
        apply(permit, step, actor, reason="x", department="security", reference="x")
    assert (caught.value.status, caught.value.code) == (409, "renovation_illegal_step")


def test_extension_reviewed_by_engineering_then_approved_by_the_manager():
    assert apply_extension("requested", "review", ENGINEER) == "reviewed"
    with pytest.raises(TransitionError) as caught:
        apply_extension("requested", "approve", MANAGER)
    assert (caught.value.status, caught.value.code) == (409, "extension_illegal_step")
    with pytest.raises(TransitionError) as caught:
        apply_extension("reviewed", "approve", ENGINEER)
    assert caught.value.code == "forbidden"
    assert apply_extension("reviewed", "approve", MANAGER) == "approved"
    with pytest.raises(TransitionError) as caught:
        apply_extension("approved", "reject", MANAGER, reason="x")
    assert caught.value.code == "extension_illegal_step"
    with pytest.raises(TransitionError) as caught:
        apply_extension("requested", "reject", ENGINEER)
    assert caught.value.code == "reason_required"
    assert apply_extension("requested", "reject", ENGINEER, reason="超期过长") == "rejected"
    with pytest.raises(TransitionError):
        apply_extension("requested", "review", KEFU)
