"""Refund requests against the database: gather the facts, submit, and move requests between states.

Every write here happens inside one transaction that first takes the shop's write lock, so the
amount is checked against what is refundable in the same transaction that writes the hold.
``move`` is the one way any area changes a request's state (inside its own transaction);
``transition`` and ``decide`` wrap it in a transaction of their own.
"""
import contextlib
import os
from dataclasses import dataclass

from peewee import IntegrityError, fn

from portal.audit import service as audit_service
from portal.core.calendar import working_calendar
from portal.core.clock import utcnow
from portal.core.db import lock_for_update, write_transaction
from portal.core.vocabulary import N_, OPEN_STATES, Actor, ArrearStatus, EntryType, RefundKind, RefundState
from portal.core.workdays import to_shanghai_date
from portal.deposit import ledger
from portal.deposit.models import LedgerEntry
from portal.deposit.service import deposit_figures
from portal.disputes.models import Dispute
from portal.notifications.service import notify_sellers
from portal.payee.models import PayeeAccount, PayeeChange
from portal.refunds import prechecks, states, timing
from portal.refunds.models import ReasonCode, RefundAttachment, RefundEvent, RefundRequest
from portal.refunds.timing import Timing
from portal.risk.models import Arrear, RiskFlag, Violation
from portal.shops.models import Shop
from portal.tickets import evidence


class RefundBlocked(Exception):
    """Submitting was refused by the pre-checks; ``checks`` holds every finding."""

    def __init__(self, checks):
        super().__init__(", ".join(check.code for check in checks if check.blocking))
        self.checks = checks


class AmountAboveRefundable(Exception):
    """The amount asked for is more than is refundable at the moment of submitting."""

    def __init__(self, refundable_fen):
        super().__init__(refundable_fen)
        self.refundable_fen = refundable_fen


class TransitionConflict(Exception):
    """Someone else moved the request first; ``request`` is its state now."""

    def __init__(self, request):
        super().__init__(request.state)
        self.request = request


@dataclass(frozen=True)
class Submission:
    """The outcome of a submit: the request, and whether this call created it."""

    request: RefundRequest
    created: bool


def policy_from(config):
    """The pre-check settings out of the app's config mapping."""
    return prechecks.Policy(
        quiet_period_days=int(config["QUIET_PERIOD_DAYS"]),
        exit_notice_days=int(config["EXIT_NOTICE_DAYS"]),
        payee_recent_days=int(config["PAYEE_RECENT_DAYS"]),
    )


def active_request(shop_id):
    """The shop's request that is not final yet, or None."""
    return (RefundRequest.select()
            .where((RefundRequest.shop == shop_id) & (RefundRequest.state.in_(OPEN_STATES)))
            .first())


def shop_facts(shop, now=None, figures=None):
    """Everything the pre-checks need about a shop, read now."""
    now = now or utcnow()
    figures = figures or deposit_figures(shop)
    payee = PayeeAccount.get_or_none(PayeeAccount.shop == shop.id)
    payee_facts = None
    if payee is not None:
        complete = all(part.strip() for part in (payee.holder_name, payee.bank_name, payee.account_number))
        payee_facts = prechecks.PayeeFacts(payee.holder_name, complete, PayeeChange.latest_at(shop.id))
    active = active_request(shop.id)
    arrears = (Arrear.select(fn.COALESCE(fn.SUM(Arrear.amount_fen), 0))
               .where((Arrear.shop == shop.id) & (Arrear.status == ArrearStatus.OPEN)).scalar())
    return prechecks.ShopFacts(
        now=now,
        entity_name=shop.entity_name,
        figures=figures,
        banned=shop.banned,
        open_violations=Violation.open_for(shop.id).count(),
        arrears_fen=int(arrears or 0),
        open_disputes=Dispute.open_for(shop.id).count(),
        unfinished_orders=shop.unfinished_orders,
        open_after_sales=shop.open_after_sales,
        last_order_at=shop.last_order_at,
        exit_notice_at=shop.exit_notice_at,
        active_request_id=active.id if active else None,
        payee=payee_facts,
        profile_missing=shop.profile_missing(),
        blocking_risk_flags=RiskFlag.blocking_codes(shop.id),
    )


def _lock_shop(shop_id):
    """Take the shop's row lock (PostgreSQL); SQLite is already serialised by BEGIN IMMEDIATE."""
    return lock_for_update(Shop.select().where(Shop.id == shop_id)).get()


def submit(shop_id, user, kind, amount_fen, idempotency_key, policy, now=None, resubmission_of=None,
           timing=None):
    """Create a refund request with its hold, or return the one this key already created.

    ``amount_fen`` is ignored for a full exit, which takes everything not frozen or held.
    ``resubmission_of`` links a new request to the rejected one it replaces; ``timing`` gives it
    its due date.
    Raises ``RefundBlocked`` or ``AmountAboveRefundable``.
    """
    now = now or utcnow()
    try:
        with write_transaction():
            shop = _lock_shop(shop_id)
            existing = RefundRequest.get_or_none(
                (RefundRequest.shop == shop_id) & (RefundRequest.idempotency_key == idempotency_key))
            if existing is not None:
                return Submission(existing, created=False)
            facts = shop_facts(shop, now)
            checks = prechecks.evaluate(facts, kind, policy)
            if prechecks.is_blocked(checks):
                raise RefundBlocked(checks)
            refundable = ledger.refundable(facts.figures, kind, facts.banned).fen
            if kind == RefundKind.FULL_EXIT:
                amount_fen = refundable
            elif amount_fen > refundable:
                raise AmountAboveRefundable(refundable)
            request = _create(shop, user, kind, amount_fen, idempotency_key, facts, policy, now,
                              resubmission_of, timing)
            return Submission(request, created=True)
    except IntegrityError:
        # Another submission won the race: the same key (a double click or a replay) answers
        # with the request it created; a different key met the one-open-request index.
        existing = RefundRequest.get_or_none(
            (RefundRequest.shop == shop_id) & (RefundRequest.idempotency_key == idempotency_key))
        if existing is not None:
            return Submission(existing, created=False)
        shop = Shop.get_by_id(shop_id)
        raise RefundBlocked(prechecks.evaluate(shop_facts(shop, now), kind, policy)) from None


def _create(shop, user, kind, amount_fen, idempotency_key, facts, policy, now, resubmission_of=None,
            timing=None):
    """Write the request, its SUBMITTED event, its hold, and the system's first step."""
    review_starts_at = None
    if kind == RefundKind.FULL_EXIT:
        quiet_end = prechecks.quiet_period_ends(facts, policy)
        review_starts_at = max(now, quiet_end) if quiet_end else now
    request = RefundRequest.create(
        shop=shop.id, kind=kind, requested_fen=amount_fen, state=RefundState.SUBMITTED,
        idempotency_key=idempotency_key, created_by=user.id if user else None, created_at=now,
        state_changed_at=now, review_starts_at=review_starts_at, resubmission_of=resubmission_of,
        due_date=timing.due_date(review_starts_at or now) if timing else None)
    RefundEvent.create(request=request.id, actor=user.id if user else None, actor_role=Actor.SELLER,
                       from_state=None, to_state=RefundState.SUBMITTED, created_at=now)
    LedgerEntry.create(shop=shop.id, entry_type=EntryType.REFUND_HOLD, amount_fen=amount_fen,
                       refund_request=request.id, reason="refund_hold", created_by=user.id if user else None,
                       created_at=now)
    # A full exit waits until its quiet period is over; a surplus refund goes straight to review.
    first_step = RefundState.WAITING_PERIOD if kind == RefundKind.FULL_EXIT else RefundState.UNDER_REVIEW
    move(request, first_step, None, Actor.SYSTEM, now=now)
    return RefundRequest.get_by_id(request.id)


def held_for(request_id):
    """What the ledger still holds for one request."""
    totals = dict(LedgerEntry.select(LedgerEntry.entry_type, fn.SUM(LedgerEntry.amount_fen))
                  .where(LedgerEntry.refund_request == request_id)
                  .group_by(LedgerEntry.entry_type).tuples())
    return ledger.figures_from_totals({key: int(value) for key, value in totals.items()}).held


def move(request, target, user, actor_role, reason_code="", seller_message="", internal_note="",
         now=None, approved_fen=None, bank_reference=None, blocker_codes=(), info_due_date=None,
         seller_message_language="", message_from_reason=False):
    """Move a request by a conditional update, append its event and ledger entries, tell its seller.

    The one public way to change a request's state; it must run inside the caller's write
    transaction (with the request's row locked). Raises ``TransitionRefused`` or ``TransitionConflict``.
    """
    now = now or utcnow()
    states.check(request.state, target, actor_role, reason_code, seller_message, message_from_reason)
    if target == RefundState.APPROVED:
        # What can be approved is what is still held (an earlier lower approval released the rest).
        still_held = held_for(request.id)
        if approved_fen is None:
            approved_fen = still_held
        elif not 0 < approved_fen <= still_held:
            raise states.TransitionRefused(N_("The approved amount must be more than ¥0.00 and at most "
                                              "what is held for the request."))
    changes = {RefundRequest.state: target, RefundRequest.state_changed_at: now,
               RefundRequest.version: RefundRequest.version + 1}
    if approved_fen is not None:
        changes[RefundRequest.approved_fen] = approved_fen
    if target == RefundState.NEEDS_INFO:
        changes[RefundRequest.info_due_date] = info_due_date
    # UPDATE ... WHERE state = old: of two agents clicking at once exactly one row count is 1.
    updated = (RefundRequest.update(changes)
               .where((RefundRequest.id == request.id) & (RefundRequest.state == request.state))
               .execute())
    if updated != 1:
        raise TransitionConflict(RefundRequest.get_by_id(request.id))
    event = RefundEvent.create(
        request=request.id, actor=user.id if user else None, actor_role=actor_role,
        from_state=request.state, to_state=target, reason_code=reason_code, seller_message=seller_message,
        seller_message_language=seller_message_language if seller_message else "",
        internal_note=internal_note, blocker_codes=",".join(blocker_codes), created_at=now)
    if actor_role != Actor.SELLER and request.state != RefundState.SUBMITTED:
        # The seller hears of every change they did not make themselves; the automatic step
        # right after submitting is part of what they just did.
        notify_sellers(request, event, now)
    held = held_for(request.id)
    release = 0
    if states.is_final(target) and target != RefundState.COMPLETED:
        release = held
    elif approved_fen is not None and approved_fen < held:
        release = held - approved_fen
    if release > 0:
        LedgerEntry.create(shop=request.shop_id, entry_type=EntryType.REFUND_HOLD_RELEASE, amount_fen=release,
                           refund_request=request.id, reason=f"refund_{target.lower()}",
                           created_by=user.id if user else None, created_at=now)
    if target == RefundState.COMPLETED:
        LedgerEntry.create(shop=request.shop_id, entry_type=EntryType.REFUND_PAID, amount_fen=held,
                           refund_request=request.id, reason="refund_paid", bank_reference=bank_reference,
                           created_by=user.id if user else None, created_at=now)
    request.state = target
    return request


def transition(request_id, target, user, actor_role, expected_state=None, **details):
    """Apply one transition in its own write transaction; returns the updated request.

    ``expected_state`` is the state the actor saw: if the request has moved on since, the caller
    gets ``TransitionConflict`` (and can show who did what) rather than a confusing refusal.
    """
    with write_transaction():
        request = lock_for_update(RefundRequest.select().where(RefundRequest.id == request_id)).get()
        if expected_state is not None and request.state != expected_state:
            raise TransitionConflict(request)
        move(request, target, user, actor_role, **details)
    return RefundRequest.get_by_id(request_id)


def seller_timeline(request_id):
    """The events a seller may see, oldest first; the internal note is not even selected."""
    return (RefundEvent.select(RefundEvent.id, RefundEvent.from_state, RefundEvent.to_state,
                               RefundEvent.reason_code, RefundEvent.seller_message, RefundEvent.created_at,
                               RefundEvent.actor_role, RefundEvent.blocker_codes)
            .where(RefundEvent.request == request_id)
            .order_by(RefundEvent.id))


def open_full_exit(shop_id):
    """The shop's full-exit request that is not final yet, or None."""
    return (RefundRequest.select()
            .where((RefundRequest.shop == shop_id) & (RefundRequest.kind == RefundKind.FULL_EXIT)
                   & (RefundRequest.state.in_(OPEN_STATES)))
            .first())


def withdraw_exit_notice(shop_id):
    """Take back the shop's exit notice; False while a full-exit request depends on it.

    Here rather than in the shops area: whether the notice may go depends on the shop's requests,
    checked under the same shop lock that ``submit`` takes.
    """
    with write_transaction():
        _lock_shop(shop_id)
        if open_full_exit(shop_id) is not None:
            return False
        Shop.update(exit_notice_at=None).where(Shop.id == shop_id).execute()
    return True


def resubmittable(request):
    """True when a request ended in a way the seller can apply again from (rejected, expired, cancelled)."""
    return request.state in (RefundState.REJECTED, RefundState.EXPIRED, RefundState.CANCELLED)


def cancel(request_id, user, expected_state):
    """The seller withdraws a request before approval; its hold is released."""
    return transition(request_id, RefundState.CANCELLED, user, Actor.SELLER, expected_state=expected_state)


def answer_needs_info(request_id, user, message, files=(), upload_dir=None, now=None):
    """The seller answers support's question, with evidence files: the request goes back to review.

    ``files`` are ``(content, content_type, extension, name)`` as ``evidence.clean`` left them; they
    are written first and taken back when the answer cannot be saved, as a ticket's files are.
    """
    now = now or utcnow()
    stored = [(evidence.store(upload_dir, data, extension), name, content_type, len(data), extension)
              for data, content_type, extension, name in files]
    try:
        with write_transaction():
            request = lock_for_update(RefundRequest.select().where(RefundRequest.id == request_id)).get()
            if request.state != RefundState.NEEDS_INFO:
                raise TransitionConflict(request)
            move(request, RefundState.UNDER_REVIEW, user, Actor.SELLER, seller_message=message, now=now)
            answer = latest_event_into(request, RefundState.UNDER_REVIEW)
            for stored_name, name, content_type, size, extension in stored:
                RefundAttachment.create(request=request_id, event=answer.id, stored_name=stored_name,
                                        original_name=evidence.safe_download_name(name, extension),
                                        content_type=content_type, size=size, created_at=now)
    except Exception:
        for stored_name, *_rest in stored:
            with contextlib.suppress(OSError):
                os.remove(evidence.path_for(upload_dir, stored_name))
        raise
    return RefundRequest.get_by_id(request_id)


def latest_event_into(request, state):
    """The newest event that moved the request into ``state``, or None."""
    return (RefundEvent.select().where((RefundEvent.request == request.id) & (RefundEvent.to_state == state))
            .order_by(RefundEvent.id.desc()).first())


def open_question(request):
    """The event that asked the seller for information, while the request waits for the answer."""
    if request.state != RefundState.NEEDS_INFO:
        return None
    return latest_event_into(request, RefundState.NEEDS_INFO)


def attachments_by_event(request_id):
    """``{event id: [RefundAttachment]}`` of a request's answers, oldest first."""
    found = {}
    for attachment in (RefundAttachment.select().where(RefundAttachment.request == request_id)
                       .order_by(RefundAttachment.id)):
        found.setdefault(attachment.event_id, []).append(attachment)
    return found


def start_review_if_due(request_id, policy, now=None):
    """End a waiting period that is over: on to review, or ON_HOLD when a pre-check now fails.

    Returns the state the request moved to, or None when there was nothing to do (not due, or
    another ``tick`` got there first).
    """
    now = now or utcnow()
    with write_transaction():
        request = lock_for_update(RefundRequest.select().where(RefundRequest.id == request_id)).get()
        if request.state != RefundState.WAITING_PERIOD or (request.review_starts_at or now) > now:
            return None
        shop = Shop.get_by_id(request.shop_id)
        blockers = prechecks.recheck_blockers(shop_facts(shop, now), request.kind, policy,
                                              held_for(request.id))
        if blockers:
            move(request, RefundState.ON_HOLD, None, Actor.SYSTEM, reason_code="PRECHECK_FAILED",
                   blocker_codes=blockers, now=now)  # the pages name each blocker in the reader's language
            return RefundState.ON_HOLD
        move(request, RefundState.UNDER_REVIEW, None, Actor.SYSTEM, now=now)
        return RefundState.UNDER_REVIEW


def expire_if_due(request_id, calendar, workdays, now=None):
    """Expire a NEEDS_INFO request whose answer is overdue, releasing its hold."""
    now = now or utcnow()
    with write_transaction():
        request = lock_for_update(RefundRequest.select().where(RefundRequest.id == request_id)).get()
        if request.state != RefundState.NEEDS_INFO:
            return None
        if to_shanghai_date(now) <= timing.needs_info_due(request, calendar, workdays):
            return None
        move(request, RefundState.EXPIRED, None, Actor.SYSTEM, reason_code="NO_ANSWER", now=now)
        return RefundState.EXPIRED


def reason_labels():
    """``{code: ReasonCode}`` for labelling reasons in timelines."""
    return {reason.code: reason for reason in ReasonCode.select()}


def own_words(reason_code, message):
    """The person's message, or "" when it is the reason's own message left as it was.

    An unedited reason message is not stored: the seller reads that reason's message in their own
    language. Anything changed is kept as typed (with the language it was written in).
    """
    reason = ReasonCode.get_or_none(ReasonCode.code == reason_code) if reason_code else None
    if reason is not None and " ".join(message.split()) in {" ".join(reason.message_zh.split()),
                                                            " ".join(reason.message_en.split())}:
        return ""
    return message


def decide(request_id, target, user, expected_state, internal_note="", **details):
    """A staff decision on a request: the move and its audit row, in one transaction."""
    with write_transaction():
        request = transition(request_id, target, user, user.role, expected_state=expected_state,
                             internal_note=internal_note, **details)
        audit_service.record(user, f"refund.{target.lower()}", request_id, request.shop_id,
                             from_state=expected_state, to_state=target,
                             **{key: value for key, value in details.items()
                                if key not in ("seller_message", "seller_message_language", "message_from_reason")})
    return request


def assign(request_id, user):
    """Staff take a request: it shows as theirs in the queue (audited)."""
    with write_transaction():
        request = RefundRequest.get_by_id(request_id)
        RefundRequest.update(assigned_to=user.id).where(RefundRequest.id == request_id).execute()
        audit_service.record(user, "refund.assign", request_id, request.shop_id,
                             previous=request.assigned_to_id, assigned_to=user.id)


def timing_for(config):
    """The due-date rules for requests, from the settings, on today's calendar."""
    return Timing.from_config(config, working_calendar())


def expected_window(request, config, calendar=None):
    """The working-day window of a request, counted from the start of its review."""
    return Timing.from_config(config, calendar or working_calendar()).window(request)
