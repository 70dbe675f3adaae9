"""Payouts: attempts with unique references, finance's records, and the gateway's signed webhook.

A payout attempt starts when finance (or the system, after the seller fixes payee details) moves
a request to PAYOUT_PROCESSING. It ends exactly once: paid (the request completes and the ledger
books REFUND_PAID with the bank reference) or failed (the seller is told what to fix). Repeated
failures hand the request to finance for manual handling (ESCALATED).
"""
from dataclasses import dataclass

from peewee import IntegrityError, fn

from portal.audit import service as audit_service
from portal.core.clock import utcnow
from portal.core.db import lock_for_update, write_transaction
from portal.core.vocabulary import Actor, EntryType, PayoutStatus, RefundState, WebhookOutcome
from portal.deposit.models import LedgerEntry
from portal.payee.models import PayeeAccount, PayeeChange
from portal.payouts.models import PayoutAttempt, WebhookEvent
from portal.refunds import prechecks, states
from portal.refunds import service as refund_service
from portal.refunds.models import RefundRequest
from portal.shops.models import Shop


class PayoutError(Exception):
    """A payout record that cannot be accepted; ``code`` names why."""

    def __init__(self, code, **params):
        super().__init__(code)
        self.code = code
        self.params = params


# --- attempts --------------------------------------------------------------------------------

def current_attempt(request_id):
    """The newest attempt of a request, or None."""
    return (PayoutAttempt.select().where(PayoutAttempt.request == request_id)
            .order_by(PayoutAttempt.attempt_no.desc()).first())


def _new_attempt(request, user, now):
    """Record the next attempt of a request with its own reference and the (masked) account it pays."""
    number = (PayoutAttempt.select(fn.COALESCE(fn.MAX(PayoutAttempt.attempt_no), 0))
              .where(PayoutAttempt.request == request.id).scalar()) + 1
    payee = PayeeAccount.get_or_none(PayeeAccount.shop == request.shop_id)
    # Kept as it was at payout time: the seller may change the payee details later.
    paid_to = f"{payee.bank_name} {payee.masked_number}" if payee else ""
    return PayoutAttempt.create(request=request.id, attempt_no=number, reference=f"PO-{request.id}-{number}",
                                amount_fen=request.approved_fen, paid_to=paid_to,
                                created_by=user.id if user else None, created_at=now)


def last_failure(request_id):
    """The request's newest failed attempt, or None."""
    return (PayoutAttempt.select()
            .where((PayoutAttempt.request == request_id) & (PayoutAttempt.status == PayoutStatus.FAILED))
            .order_by(PayoutAttempt.attempt_no.desc()).first())


def payee_changed_since_failure(request):
    """True unless the payout failed and the payee details have not changed since.

    Paying the same details again fails the same way (a closed account stays closed), so a new
    attempt waits for the seller's correction.
    """
    failed = last_failure(request.id)
    if failed is None:
        return True
    changed = PayeeChange.latest_at(request.shop_id)
    return changed is not None and changed > (failed.settled_at or failed.created_at)


@dataclass(frozen=True)
class Payment:
    """How a completed request was paid: when, the bank's reference, and the account (masked)."""

    paid_at: object
    amount_fen: int
    bank_reference: str
    paid_to: str


def payment_of(request):
    """The payment of a completed request, from its ledger entry and its newest attempt (None if unpaid)."""
    entry = (LedgerEntry.select().where((LedgerEntry.refund_request == request.id)
                                        & (LedgerEntry.entry_type == EntryType.REFUND_PAID))
             .order_by(LedgerEntry.id.desc()).first())
    if entry is None:
        return None
    attempt = current_attempt(request.id)
    return Payment(entry.created_at, entry.amount_fen, entry.bank_reference or "",
                   attempt.paid_to if attempt else "")


def start(request_id, user, actor_role, expected_state, now=None, override_reason=""):
    """Move an approved (or failed, now fixed) request to PAYOUT_PROCESSING with a new attempt.

    After a failure the payee details must have changed since, unless finance overrides that with
    a reason (audited). Raises ``PayoutError("payee_unchanged")`` otherwise.
    """
    now = now or utcnow()
    override_reason = (override_reason or "").strip()
    with write_transaction():
        request = _locked(request_id)
        if request.state != expected_state:
            raise refund_service.TransitionConflict(request)
        if request.state == RefundState.PAYOUT_FAILED and not payee_changed_since_failure(request):
            if not override_reason or actor_role != Actor.FINANCE:
                raise PayoutError("payee_unchanged")
            audit_service.record(user, "payout.retry_override", request.id, request.shop_id, now,
                                 reason=override_reason, failed_reference=last_failure(request.id).reference)
        refund_service.move(request, RefundState.PAYOUT_PROCESSING, user, actor_role, now=now)
        request.approved_fen = request.approved_fen or request.requested_fen
        attempt = _new_attempt(request, user, now)
        audit_service.record(user, "payout.start", request.id, request.shop_id, now, reference=attempt.reference,
                     amount_fen=attempt.amount_fen, actor_role=actor_role)
    return attempt


def _locked(request_id):
    """The request, row-locked for the rest of the transaction."""
    return lock_for_update(RefundRequest.select().where(RefundRequest.id == request_id)).get()


def record_paid(request_id, user, actor_role, bank_reference, amount_fen, now=None, reference=None):
    """Book a payout as paid: the amount must equal the approved amount; the request completes."""
    now = now or utcnow()
    bank_reference = (bank_reference or "").strip()
    if not bank_reference:
        raise PayoutError("bank_reference_missing")
    with write_transaction():
        request = _locked(request_id)
        if request.state not in (RefundState.PAYOUT_PROCESSING, RefundState.ESCALATED):
            raise refund_service.TransitionConflict(request)
        if amount_fen != request.approved_fen:
            raise PayoutError("amount_mismatch", approved_fen=request.approved_fen)
        attempt = current_attempt(request.id)
        if reference is not None and (attempt is None or attempt.reference != reference):
            raise PayoutError("not_current_attempt")
        if attempt is not None and attempt.status == PayoutStatus.PROCESSING:
            (PayoutAttempt.update(status=PayoutStatus.PAID, bank_reference=bank_reference, settled_at=now)
             .where((PayoutAttempt.id == attempt.id) & (PayoutAttempt.status == PayoutStatus.PROCESSING)).execute())
        refund_service.move(request, RefundState.COMPLETED, user, actor_role, now=now, bank_reference=bank_reference)
        audit_service.record(user, "payout.paid", request.id, request.shop_id, now, bank_reference=bank_reference,
                     amount_fen=amount_fen, reference=attempt.reference if attempt else None,
                     actor_role=actor_role)
    return RefundRequest.get_by_id(request_id)


def record_failed(request_id, user, actor_role, failure_code, seller_message, max_attempts, now=None,
                  reference=None, message_language=""):
    """Book a payout as failed with a code the seller can act on; escalate after repeated failures.

    ``message_language`` is what ``seller_message`` is written in; with no message, the seller reads
    the failure code's own message in their language.
    """
    now = now or utcnow()
    with write_transaction():
        request = _locked(request_id)
        if request.state != RefundState.PAYOUT_PROCESSING:
            raise refund_service.TransitionConflict(request)
        attempt = current_attempt(request.id)
        if reference is not None and (attempt is None or attempt.reference != reference):
            raise PayoutError("not_current_attempt")
        if attempt is not None:
            (PayoutAttempt.update(status=PayoutStatus.FAILED, failure_code=failure_code, settled_at=now)
             .where((PayoutAttempt.id == attempt.id) & (PayoutAttempt.status == PayoutStatus.PROCESSING)).execute())
        refund_service.move(request, RefundState.PAYOUT_FAILED, user, actor_role, reason_code=failure_code,
                         seller_message=seller_message, seller_message_language=message_language,
                         message_from_reason=not seller_message.strip(), now=now)
        audit_service.record(user, "payout.failed", request.id, request.shop_id, now, failure_code=failure_code,
                     reference=attempt.reference if attempt else None, actor_role=actor_role)
        failures = (PayoutAttempt.select().where((PayoutAttempt.request == request.id)
                                                 & (PayoutAttempt.status == PayoutStatus.FAILED)).count())
        if failures >= max_attempts:
            refund_service.move(request, RefundState.ESCALATED, None, Actor.SYSTEM, reason_code=failure_code,
                             now=now)  # the desk words this from the event (system, escalated) in its reader's language
    return RefundRequest.get_by_id(request_id)


def retry_after_payee_fix(shop_id, user, policy, now=None):
    """The seller fixed the payee details: a request whose payout failed gets a new attempt."""
    request = (RefundRequest.select()
               .where((RefundRequest.shop == shop_id) & (RefundRequest.state == RefundState.PAYOUT_FAILED))
               .first())
    if request is None:
        return None
    # The pre-checks run again before this step too: a ban, a new dispute or a freeze since the
    # failure leaves the request for finance instead of paying it out.
    shop = Shop.get_by_id(shop_id)
    if shop.banned or prechecks.recheck_blockers(refund_service.shop_facts(shop, now), request.kind, policy,
                                                   refund_service.held_for(request.id)):
        return None
    try:
        return start(request.id, user, Actor.SELLER, RefundState.PAYOUT_FAILED, now)
    except (refund_service.TransitionConflict, states.TransitionRefused):
        return None  # someone else moved it first: nothing to retry


# --- the gateway's webhook -------------------------------------------------------------------

def handle_gateway_event(payload, raw_body, max_attempts, now=None):
    """Apply one verified gateway event exactly once; returns (outcome, detail).

    Outcomes: 'applied', 'duplicate', 'stale', 'unknown' (no such payout reference), 'invalid' (a
    malformed event) and 'refused' (e.g. an amount other than the attempt's).

    Replays are recognised by the event id. Events that arrive after their attempt was settled
    (out of order, or for an older attempt) are kept as STALE and change nothing.
    """
    now = now or utcnow()
    event_id = str(payload.get("event_id") or "")
    event_type = str(payload.get("type") or "")
    reference = str(payload.get("payout_reference") or "")
    if not event_id or len(event_id) > 200 or event_type not in ("payout.succeeded", "payout.failed"):
        return "invalid", "event_id and a known type are required"
    amount_fen = payload.get("amount_fen")
    # Whole fen only: int() would turn 100000.5 into a payment of 100000 and "abc" into a 500.
    if "amount_fen" in payload and (type(amount_fen) is not int or amount_fen < 0):
        return "invalid", "amount_fen must be a whole number of fen"
    bank_reference = payload.get("bank_reference")
    if bank_reference is not None and (not isinstance(bank_reference, str) or len(bank_reference) > 64):
        return "invalid", "bank_reference must be text of at most 64 characters"
    if WebhookEvent.get_or_none(WebhookEvent.event_id == event_id) is not None:
        return "duplicate", event_id
    attempt = PayoutAttempt.get_or_none(PayoutAttempt.reference == reference)
    if attempt is None:
        return "unknown", reference
    outcome = WebhookOutcome.APPLIED
    try:
        with write_transaction():
            # The event row first: a concurrent replay of the same id fails here and changes nothing.
            WebhookEvent.create(event_id=event_id, event_type=event_type, payout_reference=reference,
                                outcome=WebhookOutcome.PENDING, payload=raw_body.decode("utf-8", "replace"),
                                received_at=now)
            attempt = PayoutAttempt.get_by_id(attempt.id)
            newest = current_attempt(attempt.request_id)
            request = _locked(attempt.request_id)
            if (attempt.status != PayoutStatus.PROCESSING or newest.id != attempt.id
                    or request.state != RefundState.PAYOUT_PROCESSING):
                outcome = WebhookOutcome.STALE
            elif event_type == "payout.succeeded":
                amount = attempt.amount_fen if amount_fen is None else amount_fen
                record_paid(request.id, None, Actor.GATEWAY, bank_reference or reference,
                            amount, now, reference=reference)
            else:
                # No message text: the timeline shows the failure code's own message in the
                # seller's language.
                code = str(payload.get("failure_code") or "PAYOUT_OTHER")[:40]
                record_failed(request.id, None, Actor.GATEWAY, code, "", max_attempts, now,
                              reference=reference)
            WebhookEvent.update(outcome=outcome).where(WebhookEvent.event_id == event_id).execute()
    except IntegrityError:
        return "duplicate", event_id
    except PayoutError as error:
        try:
            with write_transaction():
                WebhookEvent.create(event_id=event_id, event_type=event_type, payout_reference=reference,
                                    outcome=f"{WebhookOutcome.REFUSED}:{error.code}",
                                    payload=raw_body.decode("utf-8", "replace"),
                                    received_at=now)
        except IntegrityError:
            # A copy of the same event arriving at the same moment was refused and recorded first.
            return "duplicate", event_id
        return "refused", error.code
    return outcome.lower(), reference
