"""Demo data: the accounts docs/design.md names ("Stable interfaces"), with ledgers and requests in several states.

Requests are made through the same code the pages use (``refund_service.submit`` and ``transition``),
so the demo's ledgers and timelines obey every rule a real one does.
"""
import datetime
import uuid

from portal.accounts import service as account_service
from portal.accounts.models import User
from portal.core.clock import utcnow
from portal.core.db import db
from portal.core.vocabulary import (
    AccountType,
    Actor,
    EntryType,
    RefundKind,
    RefundState,
    Role,
    ShopStatus,
    ViolationStatus,
)
from portal.core.workdays import WorkCalendar
from portal.deposit import ledger
from portal.deposit.models import LedgerEntry
from portal.disputes.models import Dispute
from portal.ops import seed
from portal.payee.models import PayeeAccount, PayeeChange
from portal.payouts import service as payout_service
from portal.refunds import prechecks
from portal.refunds import service as refund_service
from portal.refunds.models import RefundRequest
from portal.refunds.timing import Timing
from portal.risk.models import Arrear, Violation
from portal.shops.models import CategoryRequirement, Shop

PASSWORD = "demo-pass-2026"
DAY = datetime.timedelta(days=1)


def _days_ago(now, days):
    """A moment some days before now."""
    return now - days * DAY


def _shop(username, name, entity, now, *, categories, top_ups, last_order_days=3, **facts):
    """A seller with a shop, its categories, valid payee details and its top-ups."""
    shop = Shop.create(name=name, entity_name=entity, contact_name="王经理", contact_phone="13800001234",
                       last_order_at=_days_ago(now, last_order_days), created_at=_days_ago(now, 400),
                       **facts)
    user = User.create(username=username, password_hash=account_service.hash_password(PASSWORD), role=Role.SELLER,
                       display_name=name, shop=shop)
    for code, name_zh, name_en, yuan in categories:
        CategoryRequirement.create(shop=shop, code=code, name_zh=name_zh, name_en=name_en,
                                   required_fen=yuan * 100)
    PayeeAccount.create(shop=shop, holder_name=entity, account_type=AccountType.CORPORATE, bank_name="招商银行杭州分行",
                        account_number="6214830012345678", updated_at=_days_ago(now, 200))
    PayeeChange.create(shop=shop, changed_by=user, changed_at=_days_ago(now, 200),
                       summary=f"created: {entity} / CORPORATE / 招商银行杭州分行 / ****5678")
    for days, yuan in top_ups:
        LedgerEntry.create(shop=shop, entry_type=EntryType.TOP_UP, amount_fen=yuan * 100,
                           reason="top_up", created_at=_days_ago(now, days))
    return shop, user


def _request(shop, user, now, days_ago, amount_yuan, steps=(), kind=RefundKind.SURPLUS):
    """A request submitted some days ago, then moved through ``steps`` a day apart."""
    policy = prechecks.Policy()
    at = _days_ago(now, days_ago)
    timing = Timing(WorkCalendar(), 3, 7)
    submission = refund_service.submit(shop.id, user, kind, amount_yuan * 100, uuid.uuid4().hex, policy, now=at,
                                  timing=timing)
    refund = submission.request
    for offset, (target, role, details) in enumerate(steps, start=1):
        moment = at + offset * DAY
        # Payouts go through their own service, so the demo's attempts (reference, account paid
        # into) exist as a real payout's would.
        if target == RefundState.PAYOUT_PROCESSING:
            payout_service.start(refund.id, None, role, refund.state, now=moment)
        elif target == RefundState.COMPLETED:
            payout_service.record_paid(refund.id, None, role, details["bank_reference"], refund.approved_fen,
                                       now=moment)
        else:
            refund_service.move(refund, target, None, role, now=moment, **details)
        refund = RefundRequest.get_by_id(refund.id)
    return refund


def load(config):
    """Load everything once; returns False when the demo was already there."""
    with db.atomic():
        if User.select().where(User.username == "seller-ok").exists():
            return False
        seed.reference_data()
        now = utcnow()
        for username, role, name in (("agent", Role.AGENT, "客服 小林"), ("finance", Role.FINANCE, "财务 老周")):
            User.create(username=username, password_hash=account_service.hash_password(PASSWORD), role=role,
                        display_name=name)

        digital = ("3C", "3C数码", "Consumer electronics", 2000)
        home = ("HOME", "家居日用", "Home goods", 1000)
        food = ("FOOD", "食品饮料", "Food and drink", 4000)

        # seller-ok: no blockers, ¥3,300.00 refundable as surplus, and a history of three requests.
        shop, user = _shop("seller-ok", "晨光数码专营店", "杭州晨光数码科技有限公司", now,
                           categories=[digital, home], top_ups=[(380, 5000), (120, 1000)])
        # Codes, not sentences: every page names them in its reader's language (portal.risk.labels,
        # portal.deposit.ledger); the details are the platform's own words, in Chinese.
        closed = Violation.create(shop=shop, code="LATE_SHIPMENT", description="3 笔订单超过 48 小时未发货",
                                  status=ViolationStatus.CLOSED, opened_at=_days_ago(now, 300),
                                  closed_at=_days_ago(now, 280))
        LedgerEntry.create(shop=shop, entry_type=EntryType.DEDUCTION, amount_fen=20000, violation=closed,
                           reason=ledger.VIOLATION_DEDUCTION, created_at=_days_ago(now, 290))
        LedgerEntry.create(shop=shop, entry_type=EntryType.FREEZE, amount_fen=30000,
                           reason="complaint_freeze", created_at=_days_ago(now, 100))
        LedgerEntry.create(shop=shop, entry_type=EntryType.UNFREEZE, amount_fen=30000,
                           reason="complaint_closed", created_at=_days_ago(now, 90))
        _request(shop, user, now, 80, 500, [
            (RefundState.APPROVED, Actor.AGENT, {}),
            (RefundState.PAYOUT_PROCESSING, Actor.FINANCE, {}),
            (RefundState.COMPLETED, Actor.FINANCE, {"bank_reference": "CMB20260915000123"}),
        ])
        _request(shop, user, now, 40, 800, [
            (RefundState.REJECTED, Actor.AGENT, {
                "reason_code": "PENDING_COMPLAINT",
                "seller_message": "有一笔买家投诉尚未结案，结案后可重新申请。",
                "seller_message_language": "zh_CN"}),
        ])
        _request(shop, user, now, 20, 300, [(RefundState.CANCELLED, Actor.SELLER, {})])

        # seller-risky: an open buyer dispute and an open violation block the refund.
        shop, user = _shop("seller-risky", "好运来食品店", "广州好运来食品有限公司", now,
                           categories=[food], top_ups=[(200, 6000)])
        Violation.create(shop=shop, code="FALSE_ADVERTISING",
                         description="商品详情页使用“全网最低价”等绝对化用语",
                         opened_at=_days_ago(now, 6))
        Dispute.create(shop=shop, order_number="6928374651029384756",
                       complaint="买家称收到的商品已过期，要求退款并赔偿。", opened_at=_days_ago(now, 4))
        Arrear.create(shop=shop, amount_fen=15000, reason="service_fee",
                      created_at=_days_ago(now, 10))

        # seller-banned: a banned shop whose deposit is forfeited.
        _shop("seller-banned", "闪购潮品店", "深圳闪购贸易有限公司", now, categories=[digital],
              top_ups=[(300, 10000)], status=ShopStatus.BANNED, banned_at=_days_ago(now, 12),
              ban_reason="您的店铺因售假被封禁，依据平台规则保证金不予退还。如有异议，请提交申诉工单。",
              ban_reason_language="zh_CN")

        # More shops, so the desk and the timelines have requests in other states.
        shop, user = _shop("seller-review", "青禾家居", "苏州青禾家居用品有限公司", now,
                           categories=[home], top_ups=[(150, 4000)])
        _request(shop, user, now, 2, 1200)
        shop, user = _shop("seller-info", "小满母婴", "成都小满母婴用品有限公司", now,
                           categories=[home], top_ups=[(150, 3000)])
        _request(shop, user, now, 5, 900, [(RefundState.NEEDS_INFO, Actor.AGENT, {
            "reason_code": "PROOF_OF_PAYMENT", "seller_message": "请上传最近一笔保证金缴纳凭证。",
            "seller_message_language": "zh_CN"})])
        shop, user = _shop("seller-approved", "北辰户外", "北京北辰户外运动有限公司", now,
                           categories=[home], top_ups=[(150, 5000)])
        _request(shop, user, now, 6, 2000, [(RefundState.APPROVED, Actor.AGENT, {})])
        shop, user = _shop("seller-exit", "南山茶舍", "福建南山茶业有限公司", now, categories=[food],
                           top_ups=[(500, 4000)], last_order_days=40, exit_notice_at=_days_ago(now, 45))
        _request(shop, user, now, 1, 0, kind=RefundKind.FULL_EXIT)
    return True
