"""Risk flags and bans against the database (no Flask): raise, clear, ban, and mark as seen."""
from portal import audit, refunding, workflow
from portal.db import lock_for_update, utcnow, write_transaction
from portal.models import Dispute, RefundRequest, RiskFlag, Shop

SEVERITIES = ("HIGH", "MEDIUM", "LOW")
EFFECTS = ("BLOCKS", "DELAYS", "NONE")

# A running request of a banned shop is stopped: put on hold, then rejected as forfeited.
_STOPPABLE = (workflow.SUBMITTED, workflow.WAITING_PERIOD, workflow.UNDER_REVIEW, workflow.NEEDS_INFO,
              workflow.APPROVED, workflow.ON_HOLD)


def raise_flag(shop_id, user, code, severity, effect, seller_text, rationale, how_to_fix="", now=None):
    """Raise a flag on a shop, audit-logged with its rationale."""
    now = now or utcnow()
    with write_transaction():
        flag = RiskFlag.create(shop=shop_id, code=code, severity=severity, effect=effect, seller_text=seller_text,
                               rationale=rationale, how_to_fix=how_to_fix, raised_by=user.id if user else None,
                               raised_at=now)
        audit.record(user, "risk.raise", None, shop_id, now, flag=flag.id, code=code, effect=effect,
                     severity=severity, rationale=rationale)
    return flag


def clear_flag(flag_id, user, rationale, now=None):
    """Clear a flag with the reason; returns False when it was already cleared (by someone else)."""
    now = now or utcnow()
    with write_transaction():
        flag = RiskFlag.get_by_id(flag_id)
        cleared = (RiskFlag.update(cleared_at=now, cleared_by=user.id, clear_rationale=rationale)
                   .where((RiskFlag.id == flag_id) & RiskFlag.cleared_at.is_null()).execute())
        if cleared:
            audit.record(user, "risk.clear", None, flag.shop_id, now, flag=flag.id, code=flag.code,
                         rationale=rationale)
    return bool(cleared)


def mark_seen(flags, now=None):
    """Record when the seller first saw each flag (later views keep the first time)."""
    unseen = [flag.id for flag in flags if flag.seen_at is None]
    if unseen:
        (RiskFlag.update(seen_at=now or utcnow())
         .where(RiskFlag.id.in_(unseen) & RiskFlag.seen_at.is_null()).execute())


def ban_shop(shop_id, user, reason, seller_message, now=None):
    """Ban a shop: raise ACCOUNT_BANNED, and stop its running request (on hold, then rejected as forfeited)."""
    now = now or utcnow()
    with write_transaction():
        shop = lock_for_update(Shop.select().where(Shop.id == shop_id)).get()
        if shop.banned:
            return False
        # The shop's ban_reason is what the seller's deposit page shows: their message, never the
        # staff-only reason (that stays in the flag's rationale and the audit log).
        Shop.update(status="BANNED", banned_at=now, ban_reason=seller_message).where(Shop.id == shop_id).execute()
        flag = RiskFlag.create(shop=shop_id, code="ACCOUNT_BANNED", severity="HIGH", effect="BLOCKS",
                               seller_text=seller_message, rationale=reason,
                               how_to_fix="ban_appeal", raised_by=user.id if user else None, raised_at=now)
        audit.record(user, "shop.ban", None, shop_id, now, flag=flag.id, reason=reason)
        running = (lock_for_update(RefundRequest.select()
                                   .where((RefundRequest.shop == shop_id) & RefundRequest.state.in_(_STOPPABLE)))
                   .first())
        if running is not None:
            if running.state != workflow.ON_HOLD:
                refunding._apply(running, workflow.ON_HOLD, None, workflow.SYSTEM, reason_code="ACCOUNT_BANNED",
                                 seller_message=seller_message, internal_note=f"shop banned: {reason}", now=now)
            refunding._apply(running, workflow.REJECTED, None, workflow.SYSTEM, reason_code="ACCOUNT_BANNED",
                             seller_message=seller_message, internal_note=f"shop banned: {reason}", now=now)
            audit.record(user, "refund.rejected", running.id, shop_id, now, reason_code="ACCOUNT_BANNED",
                         cause="shop banned")
    return True


def record_dispute_outcome(dispute_id, shop_id, outcome, now=None):
    """The seller and buyer agreed: the seller records the outcome and the dispute is resolved.

    Only while they are still negotiating: once the platform reviews it, the platform decides.
    """
    now = now or utcnow()
    with write_transaction():
        return (Dispute.update(status="RESOLVED", outcome=outcome, resolved_at=now)
                .where((Dispute.id == dispute_id) & (Dispute.shop == shop_id)
                       & (Dispute.status == "NEGOTIATING")).execute()) == 1


def resolve_dispute(dispute_id, user, outcome, now=None, ticket_id=None):
    """An agent decides a dispute the platform was asked to step into (from its ticket, when given)."""
    now = now or utcnow()
    with write_transaction():
        dispute = Dispute.get_by_id(dispute_id)
        changed = (Dispute.update(status="RESOLVED", outcome=outcome, resolved_at=now)
                   .where((Dispute.id == dispute_id) & Dispute.status.in_(Dispute.OPEN_STATES)).execute())
        if changed:
            audit.record(user, "dispute.resolve", None, dispute.shop_id, now, ticket_id=ticket_id, dispute=dispute_id,
                         outcome=outcome)
    return bool(changed)
