"""Two people (or two ticks) acting on the same request at the same moment: exactly one wins.

Each contender runs in its own thread with its own database connection (peewee keeps connections
per thread) and a barrier releases them together. On SQLite the second waits for BEGIN IMMEDIATE's
lock; on PostgreSQL for the row lock. Either way the loser sees the request already moved and gets
``TransitionConflict`` (it said which state it expected) or ``TransitionRefused`` (it did not).
"""
import pytest

from portal.core.clock import utcnow
from portal.core.vocabulary import Actor, EntryType, RefundState, Role
from portal.ops import tick as scheduled
from portal.refunds import service as refund_service
from portal.refunds.models import RefundEvent
from portal.refunds.states import TransitionRefused
from tests.workflow_helpers import (
    DAY,
    at_same_time,
    database,
    entries_of,
    event_count,
    held,
    paid_count,
    request_in,
    staff,
    state_of,
    waiting_full_exit,
)

ROUNDS = 3  # a few races per test: each one is a fresh request


def winners_and_losers(outcomes):
    """Split thread outcomes into the values of the winners and the errors of the losers."""
    won = [value for kind, value in outcomes if kind == "ok"]
    lost = [value for kind, value in outcomes if kind == "error"]
    return won, lost


@pytest.mark.parametrize("expected_state", [RefundState.UNDER_REVIEW, None], ids=["expected", "blind"])
def test_the_same_approval_twice_at_once_happens_once(app, expected_state):
    """Two agents approve at once: one approval, one event; the other is told it changed."""
    def race():
        """One race on a fresh request."""
        with database(app):
            refund, _shop, _seller = request_in(RefundState.UNDER_REVIEW)
            agents = [staff(Role.AGENT), staff(Role.AGENT)]
        outcomes = at_same_time(app, *[
            lambda agent=agent: refund_service.transition(refund.id, RefundState.APPROVED, agent, Actor.AGENT,
                                                     expected_state=expected_state)
            for agent in agents])
        won, lost = winners_and_losers(outcomes)
        assert len(won) == 1 and len(lost) == 1, outcomes
        expected_error = refund_service.TransitionConflict if expected_state else TransitionRefused
        assert isinstance(lost[0], expected_error), lost
        if isinstance(lost[0], refund_service.TransitionConflict):
            assert lost[0].request.state == RefundState.APPROVED  # the loser learns what happened
        with database(app):
            assert state_of(refund.id) == RefundState.APPROVED
            assert event_count(refund.id, RefundState.APPROVED) == 1
            assert held(refund.id) == refund.requested_fen

    for _round in range(ROUNDS):
        race()


def test_approve_and_reject_at_once_apply_exactly_one(app):
    """One agent approves while another rejects: exactly one decision, with its ledger effect once."""
    decisions = {
        RefundState.APPROVED: {},
        RefundState.REJECTED: {"reason_code": "PENDING_COMPLAINT", "seller_message": "有一笔投诉尚未结案。"},
    }

    def race():
        """One race on a fresh request."""
        with database(app):
            refund, _shop, _seller = request_in(RefundState.UNDER_REVIEW)
            agents = {target: staff(Role.AGENT) for target in decisions}
        outcomes = at_same_time(app, *[
            lambda target=target: refund_service.transition(refund.id, target, agents[target], Actor.AGENT,
                                                       expected_state=RefundState.UNDER_REVIEW, **decisions[target])
            for target in decisions])
        won, lost = winners_and_losers(outcomes)
        assert len(won) == 1 and len(lost) == 1, outcomes
        assert isinstance(lost[0], refund_service.TransitionConflict)
        final = won[0].state
        with database(app):
            assert state_of(refund.id) == final
            moves = [to_state for (to_state,) in RefundEvent.select(RefundEvent.to_state)
                     .where(RefundEvent.request == refund.id).tuples()]
            assert sum(move in decisions for move in moves) == 1
            releases = entries_of(refund.id, EntryType.REFUND_HOLD_RELEASE)
            if final == RefundState.REJECTED:
                assert releases == [refund.requested_fen] and held(refund.id) == 0
            else:
                assert releases == [] and held(refund.id) == refund.requested_fen

    for _round in range(ROUNDS):
        race()


def test_a_cancel_racing_an_approval_is_one_or_the_other(app):
    """The seller cancels as an agent approves: either cancelled with one release, or approved with none."""
    def race():
        """One race on a fresh request."""
        with database(app):
            refund, _shop, seller = request_in(RefundState.UNDER_REVIEW)
            agent = staff(Role.AGENT)
        outcomes = at_same_time(
            app,
            lambda: refund_service.cancel(refund.id, seller, RefundState.UNDER_REVIEW),
            lambda: refund_service.transition(refund.id, RefundState.APPROVED, agent, Actor.AGENT,
                                         expected_state=RefundState.UNDER_REVIEW))
        won, lost = winners_and_losers(outcomes)
        assert len(won) == 1 and isinstance(lost[0], refund_service.TransitionConflict), outcomes
        with database(app):
            releases = entries_of(refund.id, EntryType.REFUND_HOLD_RELEASE)
            if state_of(refund.id) == RefundState.CANCELLED:
                assert releases == [refund.requested_fen]
            else:
                assert state_of(refund.id) == RefundState.APPROVED and releases == []

    for _round in range(ROUNDS):
        race()


def test_a_payout_confirmed_twice_at_once_is_paid_once(app):
    """Finance and the gateway confirm the same payout together: one COMPLETED, one REFUND_PAID."""
    def race():
        """One race on a fresh request."""
        with database(app):
            refund, _shop, _seller = request_in(RefundState.PAYOUT_PROCESSING)
            finance = staff(Role.FINANCE)
        outcomes = at_same_time(
            app,
            lambda: refund_service.transition(refund.id, RefundState.COMPLETED, finance, Actor.FINANCE,
                                         expected_state=RefundState.PAYOUT_PROCESSING, bank_reference="CMB-A"),
            lambda: refund_service.transition(refund.id, RefundState.COMPLETED, None, Actor.GATEWAY,
                                         expected_state=RefundState.PAYOUT_PROCESSING, bank_reference="CMB-B"))
        won, lost = winners_and_losers(outcomes)
        assert len(won) == 1 and isinstance(lost[0], refund_service.TransitionConflict), outcomes
        with database(app):
            assert paid_count(refund.id) == 1
            assert entries_of(refund.id, EntryType.REFUND_PAID) == [refund.requested_fen]
            assert held(refund.id) == 0
            assert event_count(refund.id, RefundState.COMPLETED) == 1

    for _round in range(ROUNDS):
        race()


def test_two_ticks_at_once_do_each_step_once(app):
    """Two schedulers on due waiting periods and overdue questions: each request moves exactly once."""
    with database(app):
        waiting = [waiting_full_exit()[0] for _ in range(3)]
        asked_at = utcnow() - 30 * DAY
        overdue = [request_in(RefundState.NEEDS_INFO, now=asked_at)[0] for _ in range(3)]
    now = max(refund.review_starts_at for refund in waiting) + DAY
    outcomes = at_same_time(app, lambda: scheduled.run(app.config, now=now),
                            lambda: scheduled.run(app.config, now=now))
    reports, errors = winners_and_losers(outcomes)
    assert errors == []
    started = sorted(request_id for report in reports for request_id in report.reviews_started)
    expired = sorted(request_id for report in reports for request_id in report.expired)
    assert started == sorted(refund.id for refund in waiting)
    assert expired == sorted(refund.id for refund in overdue)
    assert all(report.errors == [] for report in reports)
    with database(app):
        for refund in waiting:
            assert state_of(refund.id) == RefundState.UNDER_REVIEW
            assert event_count(refund.id, RefundState.UNDER_REVIEW) == 1
        for refund in overdue:
            assert state_of(refund.id) == RefundState.EXPIRED
            assert event_count(refund.id, RefundState.EXPIRED) == 1
            assert entries_of(refund.id, EntryType.REFUND_HOLD_RELEASE) == [refund.requested_fen]
