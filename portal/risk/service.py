"""Risk flags and bans against the database (no Flask): raise, clear, ban, and mark as seen."""
from portal.audit import service as audit_service
from portal.core.clock import utcnow
from portal.core.db import lock_for_update, write_transaction
from portal.core.vocabulary import Actor, FlagEffect, FlagSeverity, RefundState, ShopStatus
from portal.refunds import service as refund_service
from portal.refunds.models import RefundRequest
from portal.risk.models import RiskFlag
from portal.shops.models import Shop

# A running request of a banned shop is stopped: put on hold, then rejected as forfeited.
_STOPPABLE = (RefundState.SUBMITTED, RefundState.WAITING_PERIOD, RefundState.UNDER_REVIEW, RefundState.NEEDS_INFO,
              RefundState.APPROVED, RefundState.ON_HOLD)


def raise_flag(shop_id, user, code, severity, effect, seller_text, rationale, how_to_fix="", now=None,
               language=""):
    """Raise a flag on a shop, audit-logged with its rationale; ``language`` is what seller_text is written in."""
    now = now or utcnow()
    with write_transaction():
        flag = RiskFlag.create(shop=shop_id, code=code, severity=severity, effect=effect, seller_text=seller_text,
                               seller_text_language=language, rationale=rationale, how_to_fix=how_to_fix,
                               raised_by=user.id if user else None, raised_at=now)
        audit_service.record(user, "risk.raise", None, shop_id, now, flag=flag.id, code=code, effect=effect,
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
            audit_service.record(user, "risk.clear", None, flag.shop_id, now, flag=flag.id, code=flag.code,
                         rationale=rationale)
    return bool(cleared)


def mark_seen(flags, now=None):
    """Record when the seller first saw each flag (later views keep the first time)."""
    unseen = [flag.id for flag in flags if flag.seen_at is None]
    if unseen:
        with write_transaction():
            (RiskFlag.update(seen_at=now or utcnow())
             .where(RiskFlag.id.in_(unseen) & RiskFlag.seen_at.is_null()).execute())


def banner_flags(shop_id):
    """The active flags for the banner on the deposit and refund pages; showing them counts as seen."""
    flags = list(RiskFlag.active_for(shop_id))
    mark_seen(flags)
    return flags


def ban_shop(shop_id, user, reason, seller_message, now=None, language=""):
    """Ban a shop: raise ACCOUNT_BANNED, and stop its running request (on hold, then rejected as forfeited)."""
    now = now or utcnow()
    with write_transaction():
        shop = lock_for_update(Shop.select().where(Shop.id == shop_id)).get()
        if shop.banned:
            return False
        # The shop's ban_reason is what the seller's deposit page shows: their message, never the
        # staff-only reason (that stays in the flag's rationale and the audit log).
        (Shop.update(status=ShopStatus.BANNED, banned_at=now, ban_reason=seller_message,
                     ban_reason_language=language)
         .where(Shop.id == shop_id).execute())
        flag = RiskFlag.create(shop=shop_id, code="ACCOUNT_BANNED", severity=FlagSeverity.HIGH,
                               effect=FlagEffect.BLOCKS,
                               seller_text=seller_message, seller_text_language=language, rationale=reason,
                               how_to_fix="ban_appeal", raised_by=user.id if user else None, raised_at=now)
        audit_service.record(user, "shop.ban", None, shop_id, now, flag=flag.id, reason=reason)
        running = (lock_for_update(RefundRequest.select()
                                   .where((RefundRequest.shop == shop_id) & RefundRequest.state.in_(_STOPPABLE)))
                   .first())
        if running is not None:
            if running.state != RefundState.ON_HOLD:
                refund_service.move(running, RefundState.ON_HOLD, None, Actor.SYSTEM, reason_code="ACCOUNT_BANNED",
                                 seller_message=seller_message, seller_message_language=language, now=now)
            refund_service.move(running, RefundState.REJECTED, None, Actor.SYSTEM, reason_code="ACCOUNT_BANNED",
                             seller_message=seller_message, seller_message_language=language, now=now)
            audit_service.record(user, "refund.rejected", running.id, shop_id, now, reason_code="ACCOUNT_BANNED",
                         cause="shop banned")
    return True
