"""A stateful property test of refund requests on a real database (SQLite file and PostgreSQL).

Hypothesis plays sellers, agents, finance, the payment gateway and the scheduler against a few
shops, in any order, and after every step checks the ledger and workflow invariants that
docs/design.md promises ("Money and the ledger", "Double-refund defences"). Each move through
``refund_service.transition`` is also checked against the table: it must succeed exactly when
``states.check`` allows it from the state the request was in.
"""
import datetime
import uuid

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from portal.core.clock import utcnow
from portal.core.db import db, is_postgres
from portal.core.vocabulary import (
    OPEN_DISPUTE_STATES,
    OPEN_STATES,
    Actor,
    DisputeStatus,
    EntryType,
    RefundKind,
    RefundState,
    Role,
)
from portal.core.workdays import WorkCalendar
from portal.deposit import ledger
from portal.deposit.models import LedgerEntry
from portal.deposit.service import deposit_figures
from portal.disputes.models import Dispute
from portal.payouts import service as payout_service
from portal.refunds import service as refund_service
from portal.refunds import states
from portal.refunds.models import RefundEvent, RefundRequest
from portal.refunds.states import TransitionRefused
from tests.factories import add_entry, days_ago, ready_seller
from tests.workflow_helpers import POLICY, database, entries_of, event_count, request_in, staff

SHOP_COUNT = 3
ALLOWED_MOVES = {(row.source, row.target) for row in states.TRANSITIONS} | {(None, RefundState.SUBMITTED)}
SHOP = st.integers(0, SHOP_COUNT - 1)
DATA = st.data()
CANCELLABLE = (RefundState.WAITING_PERIOD, RefundState.UNDER_REVIEW, RefundState.NEEDS_INFO, RefundState.ON_HOLD)
REJECT = {"reason_code": "PENDING_COMPLAINT", "seller_message": "有一笔买家投诉尚未结案。"}
PAYOUT_FAILURE = {"reason_code": "INVALID_ACCOUNT", "seller_message": "银行退回：账号无效。"}
NEEDS_INFO_WORKDAYS = 5
# Moves toward the payout first: Hypothesis favours the first choice of a ``sampled_from``.
FORWARD = (RefundState.APPROVED, RefundState.COMPLETED, RefundState.PAYOUT_PROCESSING, RefundState.PAYOUT_FAILED,
           RefundState.ESCALATED, RefundState.UNDER_REVIEW, RefundState.NEEDS_INFO, RefundState.ON_HOLD,
           RefundState.REJECTED, RefundState.CANCELLED)


class RefundWorkflow(RuleBasedStateMachine):
    """Three shops with top-ups and a category requirement, and everyone who acts on their requests."""

    def __init__(self):
        """Fresh shops for every example; the invariants only look at these."""
        super().__init__()
        self.now = utcnow()
        self.shops = []
        for index in range(SHOP_COUNT):
            shop, seller = ready_seller(paid_in_fen=300_000 + index * 150_000, required_fen=100_000,
                                        exit_notice_at=days_ago(60))
            self.shops.append((shop, seller))
        self.agent = staff(Role.AGENT)
        self.finance = staff(Role.FINANCE)
        self.keys = {}  # shop index -> the idempotency key of its last successful submission
        self.calendar = WorkCalendar()

    # --- helpers -----------------------------------------------------------------------------

    def tick_clock(self, delta=datetime.timedelta(minutes=7)):
        """Time moves on a little with every step."""
        self.now += delta
        return self.now

    def current(self, index):
        """The shop's open request, else its latest one (to try moves out of final states), else None."""
        shop_id = self.shops[index][0].id
        return (refund_service.active_request(shop_id)
                or RefundRequest.select().where(RefundRequest.shop == shop_id)
                .order_by(RefundRequest.id.desc()).first())

    def pick(self, data, *sources):
        """A shop whose open request is in one of ``sources`` (None: no open request), else any shop.

        Steering most moves to a request they can apply to keeps the examples moving forward;
        ``anyone_tries_anything`` and the fallback still try moves the table refuses.
        """
        shop_ids = [shop.id for shop, _seller in self.shops]
        open_states = dict(RefundRequest.select(RefundRequest.shop, RefundRequest.state)
                           .where(RefundRequest.shop.in_(shop_ids)
                                  & RefundRequest.state.in_(OPEN_STATES)).tuples())
        candidates = [index for index, shop_id in enumerate(shop_ids) if open_states.get(shop_id) in sources]
        return data.draw(st.sampled_from(candidates or list(range(SHOP_COUNT))), label="shop")

    def attempt(self, index, target, role, user, **details):
        """Try one move; it must succeed iff the table allows it from the state it was in."""
        refund = self.current(index)
        if refund is None:
            return
        before, events_before = refund.state, event_count(refund.id)
        try:
            states.check(before, target, role, details.get("reason_code", ""),
                           details.get("seller_message", ""))
            allowed = True
        except TransitionRefused:
            allowed = False
        try:
            after = refund_service.transition(refund.id, target, user, role, expected_state=before,
                                         now=self.tick_clock(), **details)
        except TransitionRefused:
            assert not allowed, f"{before}->{target} by {role} is in the table but was refused"
            assert RefundRequest.get_by_id(refund.id).state == before
            assert event_count(refund.id) == events_before
        else:
            assert allowed, f"{before}->{target} by {role} is not in the table but happened"
            assert after.state == target
            assert event_count(refund.id) == events_before + 1

    def submit(self, index, kind, amount_fen):
        """Submit; the outcome must match what the figures and the open request said beforehand."""
        shop, seller = self.shops[index]
        figures = deposit_figures(shop)
        had_open = refund_service.active_request(shop.id) is not None
        key = uuid.uuid4().hex
        try:
            submission = refund_service.submit(shop.id, seller, kind, amount_fen, key, POLICY, now=self.tick_clock())
        except refund_service.RefundBlocked as blocked:
            codes = {check.code for check in blocked.checks if check.blocking}
            assert codes, "blocked without a blocking finding"
            if had_open:
                assert "ACTIVE_REQUEST_EXISTS" in codes
            return
        except refund_service.AmountAboveRefundable as above:
            assert kind == RefundKind.SURPLUS and amount_fen > above.refundable_fen
            assert above.refundable_fen == figures.refundable
            return
        assert submission.created and not had_open
        refund = submission.request
        expected = figures.available if kind == RefundKind.FULL_EXIT else amount_fen
        assert 0 < expected <= figures.refundable_for(kind)
        assert refund_service.held_for(refund.id) == expected == refund.requested_fen
        first = RefundState.WAITING_PERIOD if kind == RefundKind.FULL_EXIT else RefundState.UNDER_REVIEW
        assert refund.state == first
        self.keys[index] = key

    # --- the seller --------------------------------------------------------------------------

    @initialize(data=DATA)
    def every_shop_applies(self, data):
        """Each shop starts with a request of its own (a surplus refund or a full exit)."""
        for index in range(SHOP_COUNT):
            kind = data.draw(st.sampled_from([RefundKind.SURPLUS, RefundKind.FULL_EXIT]), label="kind")
            self.submit(index, kind, data.draw(st.integers(1, 200_000), label="amount_fen"))

    @rule(data=DATA, amount_fen=st.integers(1, 700_000))
    def seller_submits_surplus(self, data, amount_fen):
        """The seller asks for part of the surplus (sometimes more than is refundable)."""
        index = self.pick(data, None)
        self.submit(index, RefundKind.SURPLUS, amount_fen)

    @rule(data=DATA)
    def seller_submits_full_exit(self, data):
        """The seller leaves the platform and asks for everything available."""
        index = self.pick(data, None)
        self.submit(index, RefundKind.FULL_EXIT, 0)

    @rule(index=SHOP)
    def seller_replays_the_last_submission(self, index):
        """A double click or a replayed form: the same key answers with the same request, nothing new."""
        key = self.keys.get(index)
        if key is None:
            return
        shop, seller = self.shops[index]
        counts = (RefundRequest.select().count(), LedgerEntry.select().count())
        submission = refund_service.submit(shop.id, seller, RefundKind.SURPLUS, 1, key, POLICY, now=self.tick_clock())
        assert not submission.created
        assert submission.request.idempotency_key == key
        assert (RefundRequest.select().count(), LedgerEntry.select().count()) == counts

    @rule(data=DATA)
    def seller_cancels(self, data):
        """The seller withdraws the request."""
        index = self.pick(data, *CANCELLABLE)
        self.attempt(index, RefundState.CANCELLED, Actor.SELLER, self.shops[index][1])

    @rule(data=DATA)
    def seller_answers(self, data):
        """The seller answers support's question."""
        index = self.pick(data, RefundState.NEEDS_INFO)
        self.attempt(index, RefundState.UNDER_REVIEW, Actor.SELLER, self.shops[index][1],
                     seller_message="凭证已上传。")

    @rule(data=DATA)
    def seller_retries_a_failed_payout(self, data):
        """After fixing the payee details the seller asks for a new payout attempt."""
        index = self.pick(data, RefundState.PAYOUT_FAILED)
        self.attempt(index, RefundState.PAYOUT_PROCESSING, Actor.SELLER, self.shops[index][1])

    # --- support -----------------------------------------------------------------------------

    @rule(data=DATA, percent=st.one_of(st.none(), st.integers(1, 100)))
    def agent_approves(self, data, percent):
        """An agent approves, the full amount or a lower one (the rest of the hold is released)."""
        index = self.pick(data, RefundState.UNDER_REVIEW)
        refund = self.current(index)
        if refund is None:
            return
        held_before = refund_service.held_for(refund.id)
        details = {}
        if percent is not None and held_before:
            details["approved_fen"] = max(1, held_before * percent // 100)
        was = refund.state
        self.attempt(index, RefundState.APPROVED, Actor.AGENT, self.agent, internal_note="looked fine", **details)
        if was == RefundState.UNDER_REVIEW and "approved_fen" in details:
            assert refund_service.held_for(refund.id) == details["approved_fen"]

    @rule(data=DATA)
    def agent_rejects(self, data):
        """An agent rejects with a reason and a message."""
        index = self.pick(data, RefundState.UNDER_REVIEW, RefundState.ON_HOLD)
        self.attempt(index, RefundState.REJECTED, Actor.AGENT, self.agent, **REJECT)

    @rule(data=DATA)
    def agent_asks_for_information(self, data):
        """An agent asks the seller for more information."""
        index = self.pick(data, RefundState.UNDER_REVIEW)
        self.attempt(index, RefundState.NEEDS_INFO, Actor.AGENT, self.agent, seller_message="请上传缴纳凭证。")

    @rule(data=DATA)
    def agent_holds(self, data):
        """An agent puts the request on hold."""
        index = self.pick(data, RefundState.WAITING_PERIOD, RefundState.UNDER_REVIEW, RefundState.APPROVED)
        self.attempt(index, RefundState.ON_HOLD, Actor.AGENT, self.agent, reason_code="RISK_REVIEW",
                     seller_message="风险复核中。")

    @rule(data=DATA)
    def agent_releases(self, data):
        """An agent takes the request off hold, back to review."""
        index = self.pick(data, RefundState.ON_HOLD)
        self.attempt(index, RefundState.UNDER_REVIEW, Actor.AGENT, self.agent)

    @rule(index=SHOP, to_state=st.sampled_from(tuple(RefundState)),
          role=st.sampled_from([Actor.SELLER, Actor.AGENT, Actor.FINANCE, Actor.GATEWAY]))
    def anyone_tries_anything(self, index, to_state, role):
        """Any actor tries any move with every detail filled in: the table alone decides."""
        user = self.shops[index][1] if role == Actor.SELLER else self.agent
        self.attempt(index, to_state, role, user, reason_code="PENDING_COMPLAINT", seller_message="说明。",
                     bank_reference=f"REF-{uuid.uuid4().hex[:12]}")

    # Hypothesis draws most often the rule it sorts first (fewest arguments, then by name): this
    # one, so most examples walk deep into the table rather than asking for information forever.
    @rule(data=DATA)
    def advance_by_whoever_has_it(self, data):
        """Whoever the table names makes a few of the moves open from the request's state (deep paths)."""
        index = self.pick(data, *OPEN_STATES)
        for _ in range(data.draw(st.integers(1, 4), label="moves")):
            refund = refund_service.active_request(self.shops[index][0].id)
            if refund is None:
                return
            # System moves are made by the scheduler's own functions (the rules below), not by hand.
            rows = sorted((row for row in states.TRANSITIONS
                           if row.source == refund.state and row.actors - {Actor.SYSTEM}),
                          key=lambda row: FORWARD.index(row.target))
            if not rows:
                return
            row = data.draw(st.sampled_from(rows), label="move")
            role = data.draw(st.sampled_from(sorted(row.actors - {Actor.SYSTEM})), label="role")
            user = {Actor.SELLER: self.shops[index][1], Actor.AGENT: self.agent,
                    Actor.FINANCE: self.finance}.get(role)
            self.attempt(index, row.target, role, user, reason_code="INVALID_ACCOUNT", seller_message="请核对。",
                         bank_reference=f"CMB{uuid.uuid4().hex[:16]}")

    # --- finance and the gateway -------------------------------------------------------------

    @rule(data=DATA)
    def finance_starts_payout(self, data):
        """Finance sends the money (or tries again after a failure)."""
        index = self.pick(data, RefundState.APPROVED, RefundState.PAYOUT_FAILED)
        self.attempt(index, RefundState.PAYOUT_PROCESSING, Actor.FINANCE, self.finance)

    @rule(data=DATA, role=st.sampled_from([Actor.FINANCE, Actor.GATEWAY]))
    def payout_completes(self, data, role):
        """Finance records, or the gateway reports, the money arrived, with a bank reference."""
        index = self.pick(data, RefundState.PAYOUT_PROCESSING, RefundState.ESCALATED)
        self.attempt(index, RefundState.COMPLETED, role, self.finance if role == Actor.FINANCE else None,
                     bank_reference=f"CMB{uuid.uuid4().hex[:16]}")

    @rule(data=DATA, role=st.sampled_from([Actor.FINANCE, Actor.GATEWAY]))
    def payout_fails(self, data, role):
        """The bank returns the payout."""
        index = self.pick(data, RefundState.PAYOUT_PROCESSING)
        self.attempt(index, RefundState.PAYOUT_FAILED, role, self.finance if role == Actor.FINANCE else None,
                     **PAYOUT_FAILURE)

    @rule(data=DATA)
    def finance_escalates(self, data):
        """Finance takes a failed payout over to pay it by hand."""
        index = self.pick(data, RefundState.PAYOUT_FAILED)
        self.attempt(index, RefundState.ESCALATED, Actor.FINANCE, self.finance)

    # --- the system and the world ------------------------------------------------------------

    @rule(data=DATA, days=st.integers(0, 3))
    def system_ends_the_waiting_period(self, data, days):
        """A tick some days later ends a due waiting period: on to review, or ON_HOLD when a check fails."""
        index = self.pick(data, RefundState.WAITING_PERIOD)
        refund = self.current(index)
        if refund is None:
            return
        now = self.tick_clock(datetime.timedelta(days=days, minutes=1))
        blocked = Dispute.open_for(refund.shop_id).exists()
        moved = refund_service.start_review_if_due(refund.id, POLICY, now=now)
        if refund.state != RefundState.WAITING_PERIOD:
            assert moved is None
        elif refund.review_starts_at <= now:
            assert moved == (RefundState.ON_HOLD if blocked else RefundState.UNDER_REVIEW)
        if moved == RefundState.ON_HOLD:
            last = RefundEvent.select().where(RefundEvent.request == refund.id).order_by(
                RefundEvent.id.desc()).get()
            assert "OPEN_DISPUTE" in last.blocker_codes.split(",")

    @rule(data=DATA)
    def system_expires_unanswered_questions(self, data):
        """A tick long after the question expires an unanswered NEEDS_INFO request."""
        index = self.pick(data, RefundState.NEEDS_INFO)
        refund = self.current(index)
        if refund is None:
            return
        now = self.tick_clock(datetime.timedelta(days=30))
        moved = refund_service.expire_if_due(refund.id, self.calendar, NEEDS_INFO_WORKDAYS, now=now)
        assert moved == (RefundState.EXPIRED if refund.state == RefundState.NEEDS_INFO else None)
        if moved:
            assert refund_service.held_for(refund.id) == 0

    @rule(index=SHOP)
    def buyer_opens_a_dispute(self, index):
        """A buyer dispute appears (it blocks new submissions and the end of a waiting period)."""
        Dispute.create(shop=self.shops[index][0].id, order_number=uuid.uuid4().hex[:19],
                       complaint="买家投诉", opened_at=self.tick_clock())

    @rule(index=SHOP)
    def disputes_are_resolved(self, index):
        """The platform resolves every open dispute of the shop."""
        (Dispute.update(status=DisputeStatus.RESOLVED, resolved_at=self.tick_clock())
         .where((Dispute.shop == self.shops[index][0].id) & Dispute.status.in_(OPEN_DISPUTE_STATES)).execute())

    @rule(index=SHOP, amount_fen=st.integers(1, 200_000))
    def seller_tops_up(self, index, amount_fen):
        """The seller pays more deposit in."""
        add_entry(self.shops[index][0], EntryType.TOP_UP, amount_fen, reason="top_up", created_at=self.tick_clock())

    # --- invariants --------------------------------------------------------------------------

    @invariant()
    def every_invariant_holds(self):
        """Read the example's ledger, requests and events once, then check every invariant on them."""
        shop_ids = [shop.id for shop, _seller in self.shops]
        entries = list(LedgerEntry.select(LedgerEntry.shop, LedgerEntry.refund_request, LedgerEntry.entry_type,
                                          LedgerEntry.amount_fen, LedgerEntry.bank_reference)
                       .where(LedgerEntry.shop.in_(shop_ids)).tuples())
        requests = list(RefundRequest.select(RefundRequest.id, RefundRequest.shop, RefundRequest.state,
                                             RefundRequest.version)
                        .where(RefundRequest.shop.in_(shop_ids)).tuples())
        moves = {request_id: [] for request_id, *_rest in requests}
        for request_id, source, target in (RefundEvent.select(RefundEvent.request, RefundEvent.from_state,
                                                              RefundEvent.to_state)
                                           .join(RefundRequest)
                                           .where(RefundRequest.shop.in_(shop_ids))
                                           .order_by(RefundEvent.id).tuples()):
            moves[request_id].append((source, target))
        for shop, _seller in self.shops:
            own_requests = [row for row in requests if row[1] == shop.id]
            own_entries = [row for row in entries if row[0] == shop.id]
            figures = deposit_figures(shop)
            self.check_ledger(shop, figures, own_entries)
            self.check_holds(figures, own_requests, own_entries)
            assert sum(1 for row in own_requests if not states.is_final(row[2])) <= 1, own_requests
        for request_id, _shop_id, state, version in requests:
            self.check_events(request_id, state, version, moves[request_id])
            self.check_paid_once(request_id, state, [row for row in entries if row[1] == request_id])

    def check_ledger(self, shop, figures, own_entries):
        """Balance, frozen, held never negative; frozen + held within the balance; balance = signed sum."""
        assert ledger.violations(figures) == [], (shop.id, figures)
        assert sum(ledger.EFFECTS[entry_type][0] * amount
                   for _shop, _request, entry_type, amount, _reference in own_entries) == figures.balance

    def check_holds(self, figures, own_requests, own_entries):
        """The shop's held figure is the sum of its requests' holds; a final request holds nothing."""
        total = 0
        for request_id, _shop_id, state, _version in own_requests:
            own = ledger.figures_from_entries((entry_type, amount) for _shop, request, entry_type, amount, _ref
                                              in own_entries if request == request_id).held
            if not states.is_final(state):
                assert refund_service.held_for(request_id) == own
            assert own >= 0
            assert own == 0 or not states.is_final(state), (request_id, state, own)
            total += own
        assert figures.held == total

    def check_events(self, request_id, state, version, moves):
        """Every event is a row of the table (or the first SUBMITTED); they chain and end in the state."""
        assert set(moves) <= ALLOWED_MOVES, moves
        assert moves[0] == (None, RefundState.SUBMITTED)
        for (_, reached), (left, _) in zip(moves, moves[1:], strict=False):
            assert reached == left, moves
        assert moves[-1][1] == state
        # The live poll compares versions: every transition bumps it exactly once.
        assert version == len(moves)

    def check_paid_once(self, request_id, state, own_entries):
        """At most one REFUND_PAID per request, only when COMPLETED, with a bank reference and the approved amount."""
        paid = [row for row in own_entries if row[2] == EntryType.REFUND_PAID]
        assert len(paid) == (1 if state == RefundState.COMPLETED else 0), (request_id, state, paid)
        assert all(reference for *_rest, reference in paid)
        if paid:
            approved = RefundRequest.get_by_id(request_id).approved_fen
            assert paid[0][3] == approved, (request_id, paid, approved)


def test_refund_requests_keep_every_ledger_and_workflow_invariant(app):
    """Any sequence of seller, desk, finance, gateway and scheduler actions keeps every invariant."""
    with database(app):
        if is_postgres():
            # Hundreds of small commits: waiting for each one to reach the disk buys a test nothing.
            db.execute_sql("SET synchronous_commit TO OFF")
        run_state_machine_as_test(RefundWorkflow, settings=settings(
            max_examples=30, stateful_step_count=25, deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))


def test_approving_again_after_a_hold_keeps_the_lower_amount(app):
    """Approved for ¥600 of ¥1,000, held, released, approved again: the payout is still ¥600 everywhere."""
    with database(app):
        refund, _shop, _seller = request_in(RefundState.UNDER_REVIEW)
        agent, finance = staff(Role.AGENT), staff(Role.FINANCE)
        refund_service.transition(refund.id, RefundState.APPROVED, agent, Actor.AGENT, approved_fen=60_000)
        refund_service.transition(refund.id, RefundState.ON_HOLD, agent, Actor.AGENT, seller_message="复核中。")
        refund_service.transition(refund.id, RefundState.UNDER_REVIEW, agent, Actor.AGENT)
        again = refund_service.transition(refund.id, RefundState.APPROVED, agent, Actor.AGENT)
        attempt = payout_service.start(refund.id, finance, Actor.FINANCE, RefundState.APPROVED)
        paid = refund_service.transition(refund.id, RefundState.COMPLETED, finance, Actor.FINANCE,
                                    bank_reference="CMB-REAPPROVED")
        assert entries_of(refund.id, EntryType.REFUND_PAID) == [60_000]
        assert paid.state == RefundState.COMPLETED
        assert again.approved_fen == 60_000
        assert attempt.amount_fen == 60_000
