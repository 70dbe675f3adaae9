"""The transition table on its own (no Flask, no database): what it allows, to whom, and what it needs."""
import itertools
from collections import deque

import pytest

from portal import workflow
from portal.workflow import TransitionRefused

ACTORS = (workflow.SELLER, workflow.AGENT, workflow.FINANCE, workflow.SYSTEM, workflow.GATEWAY)
EDGES = {(row.source, row.target) for row in workflow.TRANSITIONS}
MISSING = [pair for pair in itertools.product(workflow.STATES, repeat=2) if pair not in EDGES]
REASON = {"reason_code": "PENDING_COMPLAINT", "seller_message": "有一笔投诉尚未结案。"}


def _details(row):
    """Everything a row could ask for, so only the actor decides."""
    return REASON if (row.needs_reason or row.needs_message) else {}


@pytest.mark.parametrize(("source", "target"), MISSING)
def test_moves_not_in_the_table_are_refused_for_every_actor(source, target):
    """A (from, to) pair that is not a row is refused whoever asks, with whatever details."""
    for actor in ACTORS:
        with pytest.raises(TransitionRefused) as refused:
            workflow.check(source, target, actor, **REASON)
        assert refused.value.params == {"source": source, "target": target}
    assert workflow.find(source, target) is None


@pytest.mark.parametrize("row", workflow.TRANSITIONS, ids=lambda row: f"{row.source}->{row.target}")
def test_every_row_allows_its_actors_and_refuses_the_rest(row):
    """A row's listed actors pass the check; every other actor is refused without a 'not in the table'."""
    for actor in ACTORS:
        if actor in row.actors:
            assert workflow.check(row.source, row.target, actor, **_details(row)) == row
        else:
            with pytest.raises(TransitionRefused) as refused:
                workflow.check(row.source, row.target, actor, **_details(row))
            assert refused.value.message == "You are not allowed to make this change."


@pytest.mark.parametrize("row", [row for row in workflow.TRANSITIONS if row.needs_reason],
                         ids=lambda row: f"{row.source}->{row.target}")
@pytest.mark.parametrize(("reason_code", "seller_message"),
                         [("", ""), ("PENDING_COMPLAINT", ""), ("PENDING_COMPLAINT", "   \n"), ("", "请补充。")])
def test_a_reason_and_a_seller_message_are_both_required(row, reason_code, seller_message):
    """Rejections and payout failures need a reason code and a non-blank seller message."""
    actor = sorted(row.actors)[0]
    with pytest.raises(TransitionRefused, match="reason"):
        workflow.check(row.source, row.target, actor, reason_code, seller_message)


@pytest.mark.parametrize("row", [row for row in workflow.TRANSITIONS if row.needs_message],
                         ids=lambda row: f"{row.source}->{row.target}")
@pytest.mark.parametrize("seller_message", ["", "  ", "\t\n"])
def test_a_seller_message_is_required(row, seller_message):
    """Asking for information and putting on hold need a non-blank message to the seller."""
    actor = sorted(row.actors)[0]
    with pytest.raises(TransitionRefused, match="message for the seller"):
        workflow.check(row.source, row.target, actor, "RISK_REVIEW", seller_message)
    assert workflow.check(row.source, row.target, actor, seller_message="请补充材料。") == row


def test_rejections_need_a_reason_and_questions_and_holds_need_a_message():
    """Every way into REJECTED needs a reason and a message; asking or holding needs a message."""
    for row in workflow.TRANSITIONS:
        if row.target == workflow.REJECTED:
            assert row.needs_reason, row
        if row.target in (workflow.NEEDS_INFO, workflow.ON_HOLD):
            assert row.needs_message or row.needs_reason, row
        if row.needs_message:
            assert row.target in (workflow.NEEDS_INFO, workflow.ON_HOLD), row


@pytest.mark.parametrize("state", workflow.TERMINAL_STATES)
def test_terminal_states_have_no_way_out(state):
    """Nothing leaves COMPLETED, REJECTED, CANCELLED or EXPIRED, for any actor."""
    assert workflow.is_final(state)
    assert not [row for row in workflow.TRANSITIONS if row.source == state]
    for actor in ACTORS:
        assert workflow.allowed_targets(state, actor) == []


def test_every_open_state_has_a_way_forward_and_is_not_final():
    """Every non-terminal state has at least one outgoing row."""
    for state in workflow.OPEN_STATES:
        assert not workflow.is_final(state)
        assert [row for row in workflow.TRANSITIONS if row.source == state], state


def test_every_state_is_reachable_from_submitted():
    """A breadth-first walk of the table from SUBMITTED visits all thirteen states."""
    seen = {workflow.SUBMITTED}
    queue = deque([workflow.SUBMITTED])
    while queue:
        state = queue.popleft()
        for row in workflow.TRANSITIONS:
            if row.source == state and row.target not in seen:
                seen.add(row.target)
                queue.append(row.target)
    assert seen == set(workflow.STATES)


def test_every_open_state_can_still_reach_a_final_state():
    """No request can get stuck: from each open state some path leads to a terminal state."""
    for start in workflow.OPEN_STATES:
        seen, queue = {start}, deque([start])
        while queue:
            state = queue.popleft()
            for row in workflow.TRANSITIONS:
                if row.source == state and row.target not in seen:
                    seen.add(row.target)
                    queue.append(row.target)
        assert seen & set(workflow.TERMINAL_STATES), start


def test_the_table_has_no_duplicate_rows_and_only_known_names():
    """One row per (from, to); states, actors and turns are all declared names."""
    assert len(EDGES) == len(workflow.TRANSITIONS)
    for row in workflow.TRANSITIONS:
        assert row.source in workflow.STATES and row.target in workflow.STATES
        assert row.source != row.target
        assert row.actors and row.actors <= set(ACTORS)
    assert set(workflow.STATE_LABELS) == set(workflow.STATES) == set(workflow.TURNS)
    assert set(workflow.TURNS.values()) <= set(workflow.TURN_LABELS)
    assert {state for state, turn in workflow.TURNS.items() if turn == workflow.NOBODY} == set(
        workflow.TERMINAL_STATES)


def test_the_seller_may_cancel_only_before_approval():
    """CANCELLED is reachable by the seller from every state before APPROVED and from none after."""
    cancellable = {row.source for row in workflow.TRANSITIONS if row.target == workflow.CANCELLED}
    assert cancellable == {workflow.SUBMITTED, workflow.WAITING_PERIOD, workflow.UNDER_REVIEW,
                           workflow.NEEDS_INFO, workflow.ON_HOLD}
    for source in cancellable:
        assert workflow.find(source, workflow.CANCELLED).actors == {workflow.SELLER}
    for source in (workflow.APPROVED, workflow.PAYOUT_PROCESSING, workflow.PAYOUT_FAILED, workflow.ESCALATED):
        with pytest.raises(TransitionRefused):
            workflow.check(source, workflow.CANCELLED, workflow.SELLER)


@pytest.mark.parametrize("state", workflow.STATES)
@pytest.mark.parametrize("actor", ACTORS)
def test_allowed_targets_agrees_with_find(state, actor):
    """``allowed_targets`` lists exactly the targets whose row exists and names the actor."""
    expected = [target for target in workflow.STATES
                if (row := workflow.find(state, target)) is not None and actor in row.actors]
    assert sorted(workflow.allowed_targets(state, actor)) == sorted(expected)


def _explained(row, actor, reason_code, seller_message):
    """Whether a move says enough: people give a reason and a message; machines a reason code (or a message)."""
    needs = row.needs_reason or row.needs_message
    if actor in (workflow.SYSTEM, workflow.GATEWAY):
        return not needs or bool(reason_code or seller_message.strip())
    if row.needs_reason:
        return bool(reason_code and seller_message.strip())
    return not row.needs_message or bool(seller_message.strip())


def test_check_passes_exactly_when_the_row_allows_it():
    """Over every state pair, actor and kind of explanation, ``check`` returns the row iff it allows the move."""
    explanations = list(itertools.product(["", "PENDING_COMPLAINT"], ["", "  ", "请补充。"]))
    for source, target, actor in itertools.product(workflow.STATES, workflow.STATES, ACTORS):
        row = workflow.find(source, target)
        for reason_code, seller_message in explanations:
            if row is not None and actor in row.actors and _explained(row, actor, reason_code, seller_message):
                assert workflow.check(source, target, actor, reason_code, seller_message) is row
            else:
                with pytest.raises(TransitionRefused):
                    workflow.check(source, target, actor, reason_code, seller_message)


@pytest.mark.parametrize("row", [row for row in workflow.TRANSITIONS
                                 if (row.needs_reason or row.needs_message) and workflow.SYSTEM in row.actors],
                         ids=lambda row: f"{row.source}->{row.target}")
def test_the_system_explains_itself_with_a_reason_code(row):
    """A system move that must be explained passes with a reason code alone, and is refused with nothing."""
    assert workflow.check(row.source, row.target, workflow.SYSTEM, "PRECHECK_FAILED", "") is row
    with pytest.raises(TransitionRefused):
        workflow.check(row.source, row.target, workflow.SYSTEM, "", " ")


def test_refusal_messages_are_filled_in():
    """The refusal's text names both states; its message id stays untranslated for the page to translate."""
    with pytest.raises(TransitionRefused) as refused:
        workflow.check(workflow.COMPLETED, workflow.CANCELLED, workflow.SELLER)
    assert "COMPLETED" in str(refused.value) and "CANCELLED" in str(refused.value)
    assert "%(source)s" in refused.value.message
