"""The transition table on its own (no Flask, no database): what it allows, to whom, and what it needs."""
import itertools
from collections import deque

import pytest

from portal.core.vocabulary import OPEN_STATES, TERMINAL_STATES, Actor, RefundState, Turn
from portal.refunds import states
from portal.refunds.states import TransitionRefused

ACTORS = (Actor.SELLER, Actor.AGENT, Actor.FINANCE, Actor.SYSTEM, Actor.GATEWAY)
EDGES = {(row.source, row.target) for row in states.TRANSITIONS}
MISSING = [pair for pair in itertools.product(tuple(RefundState), repeat=2) if pair not in EDGES]
REASON = {"reason_code": "PENDING_COMPLAINT", "seller_message": "有一笔投诉尚未结案。"}


def _details(row):
    """Everything a row could ask for, so only the actor decides."""
    return REASON if (row.needs_reason or row.needs_message) else {}


@pytest.mark.parametrize(("source", "target"), MISSING)
def test_moves_not_in_the_table_are_refused_for_every_actor(source, target):
    """A (from, to) pair that is not a row is refused whoever asks, with whatever details."""
    for actor in ACTORS:
        with pytest.raises(TransitionRefused) as refused:
            states.check(source, target, actor, **REASON)
        assert refused.value.params == {"source": source, "target": target}
    assert states.find(source, target) is None


@pytest.mark.parametrize("row", states.TRANSITIONS, ids=lambda row: f"{row.source}->{row.target}")
def test_every_row_allows_its_actors_and_refuses_the_rest(row):
    """A row's listed actors pass the check; every other actor is refused without a 'not in the table'."""
    for actor in ACTORS:
        if actor in row.actors:
            assert states.check(row.source, row.target, actor, **_details(row)) == row
        else:
            with pytest.raises(TransitionRefused) as refused:
                states.check(row.source, row.target, actor, **_details(row))
            assert refused.value.message == "You are not allowed to make this change."


@pytest.mark.parametrize("row", [row for row in states.TRANSITIONS if row.needs_reason],
                         ids=lambda row: f"{row.source}->{row.target}")
@pytest.mark.parametrize(("reason_code", "seller_message"),
                         [("", ""), ("PENDING_COMPLAINT", ""), ("PENDING_COMPLAINT", "   \n"), ("", "请补充。")])
def test_a_reason_and_a_seller_message_are_both_required(row, reason_code, seller_message):
    """Rejections and payout failures need a reason code and a non-blank seller message."""
    actor = sorted(row.actors)[0]
    with pytest.raises(TransitionRefused, match="reason"):
        states.check(row.source, row.target, actor, reason_code, seller_message)


@pytest.mark.parametrize("row", [row for row in states.TRANSITIONS if row.needs_message],
                         ids=lambda row: f"{row.source}->{row.target}")
@pytest.mark.parametrize("seller_message", ["", "  ", "\t\n"])
def test_a_seller_message_is_required(row, seller_message):
    """Asking for information and putting on hold need a non-blank message to the seller."""
    actor = sorted(row.actors)[0]
    with pytest.raises(TransitionRefused, match="message for the seller"):
        states.check(row.source, row.target, actor, "RISK_REVIEW", seller_message)
    assert states.check(row.source, row.target, actor, seller_message="请补充材料。") == row


def test_rejections_need_a_reason_and_questions_and_holds_need_a_message():
    """Every way into REJECTED needs a reason and a message; asking or holding needs a message."""
    for row in states.TRANSITIONS:
        if row.target == RefundState.REJECTED:
            assert row.needs_reason, row
        if row.target in (RefundState.NEEDS_INFO, RefundState.ON_HOLD):
            assert row.needs_message or row.needs_reason, row
        if row.needs_message:
            assert row.target in (RefundState.NEEDS_INFO, RefundState.ON_HOLD), row


@pytest.mark.parametrize("state", TERMINAL_STATES)
def test_terminal_states_have_no_way_out(state):
    """Nothing leaves COMPLETED, REJECTED, CANCELLED or EXPIRED, for any actor."""
    assert states.is_final(state)
    assert not [row for row in states.TRANSITIONS if row.source == state]
    for actor in ACTORS:
        assert states.allowed_targets(state, actor) == []


def test_every_open_state_has_a_way_forward_and_is_not_final():
    """Every non-terminal state has at least one outgoing row."""
    for state in OPEN_STATES:
        assert not states.is_final(state)
        assert [row for row in states.TRANSITIONS if row.source == state], state


def test_every_state_is_reachable_from_submitted():
    """A breadth-first walk of the table from SUBMITTED visits all thirteen states."""
    seen = {RefundState.SUBMITTED}
    queue = deque([RefundState.SUBMITTED])
    while queue:
        state = queue.popleft()
        for row in states.TRANSITIONS:
            if row.source == state and row.target not in seen:
                seen.add(row.target)
                queue.append(row.target)
    assert seen == set(tuple(RefundState))


def test_every_open_state_can_still_reach_a_final_state():
    """No request can get stuck: from each open state some path leads to a terminal state."""
    for start in OPEN_STATES:
        seen, queue = {start}, deque([start])
        while queue:
            state = queue.popleft()
            for row in states.TRANSITIONS:
                if row.source == state and row.target not in seen:
                    seen.add(row.target)
                    queue.append(row.target)
        assert seen & set(TERMINAL_STATES), start


def test_the_table_has_no_duplicate_rows_and_only_known_names():
    """One row per (from, to); states, actors and turns are all declared names."""
    assert len(EDGES) == len(states.TRANSITIONS)
    for row in states.TRANSITIONS:
        assert row.source in tuple(RefundState) and row.target in tuple(RefundState)
        assert row.source != row.target
        assert row.actors and row.actors <= set(ACTORS)
    assert set(states.STATE_LABELS) == set(tuple(RefundState)) == set(states.TURNS)
    assert set(states.TURNS.values()) <= set(states.TURN_LABELS)
    assert {state for state, turn in states.TURNS.items() if turn == Turn.NOBODY} == set(
        TERMINAL_STATES)


def test_the_seller_may_cancel_only_before_approval():
    """CANCELLED is reachable by the seller from every state before APPROVED and from none after."""
    cancellable = {row.source for row in states.TRANSITIONS if row.target == RefundState.CANCELLED}
    assert cancellable == {RefundState.SUBMITTED, RefundState.WAITING_PERIOD, RefundState.UNDER_REVIEW,
                           RefundState.NEEDS_INFO, RefundState.ON_HOLD}
    for source in cancellable:
        assert states.find(source, RefundState.CANCELLED).actors == {Actor.SELLER}
    for source in (RefundState.APPROVED, RefundState.PAYOUT_PROCESSING, RefundState.PAYOUT_FAILED,
                   RefundState.ESCALATED):
        with pytest.raises(TransitionRefused):
            states.check(source, RefundState.CANCELLED, Actor.SELLER)


@pytest.mark.parametrize("state", tuple(RefundState))
@pytest.mark.parametrize("actor", ACTORS)
def test_allowed_targets_agrees_with_find(state, actor):
    """``allowed_targets`` lists exactly the targets whose row exists and names the actor."""
    expected = [target for target in tuple(RefundState)
                if (row := states.find(state, target)) is not None and actor in row.actors]
    assert sorted(states.allowed_targets(state, actor)) == sorted(expected)


def _explained(row, actor, reason_code, seller_message):
    """Whether a move says enough: people give a reason and a message; machines a reason code (or a message)."""
    needs = row.needs_reason or row.needs_message
    if actor in (Actor.SYSTEM, Actor.GATEWAY):
        return not needs or bool(reason_code or seller_message.strip())
    if row.needs_reason:
        return bool(reason_code and seller_message.strip())
    return not row.needs_message or bool(seller_message.strip())


def test_check_passes_exactly_when_the_row_allows_it():
    """Over every state pair, actor and kind of explanation, ``check`` returns the row iff it allows the move."""
    explanations = list(itertools.product(["", "PENDING_COMPLAINT"], ["", "  ", "请补充。"]))
    for source, target, actor in itertools.product(tuple(RefundState), tuple(RefundState), ACTORS):
        row = states.find(source, target)
        for reason_code, seller_message in explanations:
            if row is not None and actor in row.actors and _explained(row, actor, reason_code, seller_message):
                assert states.check(source, target, actor, reason_code, seller_message) is row
            else:
                with pytest.raises(TransitionRefused):
                    states.check(source, target, actor, reason_code, seller_message)


@pytest.mark.parametrize("row", [row for row in states.TRANSITIONS
                                 if (row.needs_reason or row.needs_message) and Actor.SYSTEM in row.actors],
                         ids=lambda row: f"{row.source}->{row.target}")
def test_the_system_explains_itself_with_a_reason_code(row):
    """A system move that must be explained passes with a reason code alone, and is refused with nothing."""
    assert states.check(row.source, row.target, Actor.SYSTEM, "PRECHECK_FAILED", "") is row
    with pytest.raises(TransitionRefused):
        states.check(row.source, row.target, Actor.SYSTEM, "", " ")


def test_refusal_messages_are_filled_in():
    """The refusal's text names both states; its message id stays untranslated for the page to translate."""
    with pytest.raises(TransitionRefused) as refused:
        states.check(RefundState.COMPLETED, RefundState.CANCELLED, Actor.SELLER)
    assert "COMPLETED" in str(refused.value) and "CANCELLED" in str(refused.value)
    assert "%(source)s" in refused.value.message
