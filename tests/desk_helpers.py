"""Builders and readers shared by the desk, desk-permission, payout and desk-concurrency tests.

Requests reach their state through the portal's own code (``refunding`` and ``payouts``), so every
event, ledger entry and payout attempt a test looks at is one the portal wrote. Only the queue's
paging and query-count tests insert requests in bulk: the queue reads rows, and 60 full
submissions would cost seconds for nothing.
"""
import datetime
import re
import threading
import uuid

from peewee import fn

from portal.audit.models import AuditLog
from portal.core.clock import utcnow
from portal.core.db import db
from portal.core.vocabulary import Actor, EntryType, RefundKind, RefundState, Role
from portal.core.workdays import WorkCalendar, to_shanghai_date
from portal.deposit.models import LedgerEntry
from portal.notifications.models import Notification
from portal.ops import seed
from portal.payouts import service as payout_service
from portal.payouts.models import PayoutAttempt, WebhookEvent
from portal.refunds import prechecks
from portal.refunds import service as refund_service
from portal.refunds.models import RefundEvent, RefundRequest
from portal.refunds.timing import Timing
from portal.shops.models import Shop
from tests.factories import make_user, ready_seller, sign_in

POLICY = prechecks.Policy()
AMOUNT_FEN = 100_000  # ¥1,000.00, well inside the ¥3,000.00 ``ready_seller`` makes refundable
TIMING = Timing(WorkCalendar(), 3, 7)
MAX_ATTEMPTS = 3  # the PAYOUT_MAX_ATTEMPTS default
DAY = datetime.timedelta(days=1)

# The URL suffix of each desk POST, the prefix of its form, and the state it needs to apply.
PREFIXES = {
    "assign": None, "approve": "approve", "reject": "reject", "needs-info": "info", "hold": "hold",
    "release": "release", "payout/start": "start", "payout/paid": "paid", "payout/failed": "failed",
    "payee/reveal": None,
}
NEEDS_STATE = {
    "assign": RefundState.UNDER_REVIEW, "approve": RefundState.UNDER_REVIEW, "reject": RefundState.UNDER_REVIEW,
    "needs-info": RefundState.UNDER_REVIEW, "hold": RefundState.UNDER_REVIEW, "release": RefundState.ON_HOLD,
    "payout/start": RefundState.APPROVED, "payout/paid": RefundState.PAYOUT_PROCESSING,
    "payout/failed": RefundState.PAYOUT_PROCESSING, "payee/reveal": RefundState.UNDER_REVIEW,
}
# Where each decision takes the request.
LEADS_TO = {
    "approve": RefundState.APPROVED, "reject": RefundState.REJECTED, "needs-info": RefundState.NEEDS_INFO,
    "hold": RefundState.ON_HOLD, "release": RefundState.UNDER_REVIEW, "payout/start": RefundState.PAYOUT_PROCESSING,
    "payout/paid": RefundState.COMPLETED, "payout/failed": RefundState.PAYOUT_FAILED,
}
AGENT_ACTIONS = ("approve", "reject", "needs-info", "hold", "release")
FINANCE_ACTIONS = ("payout/start", "payout/paid", "payout/failed")
BOTH_ACTIONS = ("assign", "payee/reveal")
REJECT_MESSAGE = "有一笔买家投诉尚未结案，结案后可重新申请。"
HOLD_MESSAGE = "您的账户正在安全复核，复核完成后继续处理。"
INFO_MESSAGE = "请补充以下材料："
FAILED_MESSAGE = "收款账户已注销，请更新收款信息。"
BANK_REFERENCE = "CMB20261126000001"


def reason_codes():
    """The reason codes ``init-db`` seeds (the decision forms offer them)."""
    seed.reference_data()


def staff(role=Role.AGENT, username=None):
    """A support agent or finance officer, with a recognisable display name."""
    username = username or f"{role}-{uuid.uuid4().hex[:6]}"
    return make_user(username, role=role)


def signed_in(app, user, language="en"):
    """A fresh test client (a browser of its own) signed in as ``user``, reading pages in ``language``."""
    client = app.test_client()
    client.set_cookie("lang", language)
    sign_in(client, user)
    return client


def request_in(state=RefundState.UNDER_REVIEW, shop=None, seller=None, amount_fen=AMOUNT_FEN, agent=None,
               finance=None, due_date=None, internal_note=""):
    """A surplus request moved to ``state`` through the real code; returns ``(request, shop, seller)``.

    Payout states go through ``payouts`` so the attempts (``PO-<id>-<n>``) exist as they would.
    """
    if shop is None:
        shop, seller = ready_seller(name=f"店铺{uuid.uuid4().hex[:6]}")
    refund = refund_service.submit(shop.id, seller, RefundKind.SURPLUS, amount_fen, uuid.uuid4().hex, POLICY,
                              timing=TIMING).request
    if due_date is not None:
        RefundRequest.update(due_date=due_date).where(RefundRequest.id == refund.id).execute()

    def move(target, user, role, **details):
        return refund_service.transition(refund.id, target, user, role, internal_note=internal_note, **details)

    def fail_once():
        payout_service.record_failed(refund.id, finance, Actor.FINANCE, "ACCOUNT_CLOSED", FAILED_MESSAGE,
                              MAX_ATTEMPTS)

    if state == RefundState.ON_HOLD:
        move(RefundState.ON_HOLD, agent, Actor.AGENT, reason_code="RISK_REVIEW", seller_message=HOLD_MESSAGE)
    elif state == RefundState.NEEDS_INFO:
        move(RefundState.NEEDS_INFO, agent, Actor.AGENT, seller_message=INFO_MESSAGE)
    elif state == RefundState.REJECTED:
        move(RefundState.REJECTED, agent, Actor.AGENT, reason_code="PENDING_COMPLAINT",
             seller_message=REJECT_MESSAGE)
    elif state != RefundState.UNDER_REVIEW:
        move(RefundState.APPROVED, agent, Actor.AGENT)
        if state != RefundState.APPROVED:
            payout_service.start(refund.id, finance, Actor.FINANCE, RefundState.APPROVED)
        if state in (RefundState.PAYOUT_FAILED, RefundState.ESCALATED):
            fail_once()
        if state == RefundState.ESCALATED:
            for _again in range(MAX_ATTEMPTS - 1):
                payout_service.start(refund.id, finance, Actor.FINANCE, RefundState.PAYOUT_FAILED,
                                     override_reason="银行要求按原账户重试")
                fail_once()
        if state == RefundState.COMPLETED:
            payout_service.record_paid(refund.id, finance, Actor.FINANCE, BANK_REFERENCE, amount_fen)
    refund = RefundRequest.get_by_id(refund.id)
    assert refund.state == state
    return refund, shop, seller


def bulk_requests(count, due_dates, assignee=None, state=RefundState.UNDER_REVIEW, name="批量店"):
    """``count`` open requests, one per new shop, inserted directly (the queue only reads them).

    ``due_dates`` is cycled through; every third request is assigned to ``assignee`` when given.
    Returns the new requests' ids.
    """
    now = utcnow()
    first_shop = Shop.select(fn.COALESCE(fn.MAX(Shop.id), 0)).scalar()
    Shop.insert_many([{"name": f"{name}{index:03d}", "entity_name": f"{name}{index:03d}有限公司", "created_at": now}
                      for index in range(count)]).execute()
    shop_ids = [shop_id for (shop_id,) in Shop.select(Shop.id).where(Shop.id > first_shop)
                .order_by(Shop.id).tuples()]
    first_request = RefundRequest.select(fn.COALESCE(fn.MAX(RefundRequest.id), 0)).scalar()
    RefundRequest.insert_many([{
        "shop": shop_id, "kind": RefundKind.SURPLUS, "requested_fen": 10_000 + index, "state": state,
        "idempotency_key": uuid.uuid4().hex, "created_at": now, "state_changed_at": now,
        "due_date": due_dates[index % len(due_dates)],
        "assigned_to": assignee.id if assignee is not None and index % 3 == 0 else None,
    } for index, shop_id in enumerate(shop_ids)]).execute()
    return [request_id for (request_id,) in RefundRequest.select(RefundRequest.id)
            .where(RefundRequest.id > first_request).order_by(RefundRequest.id).tuples()]


def today():
    """Today in Shanghai: what the desk measures "overdue" against."""
    return to_shanghai_date(utcnow())


def form(action, expected_state=None, **fields):
    """The POST body of a desk action as its prefixed form sends it; ``fields`` override the defaults."""
    prefix = PREFIXES[action]
    if prefix is None:
        return dict(fields)
    defaults = {
        "reject": {"reason_code": "PENDING_COMPLAINT", "seller_message": REJECT_MESSAGE},
        "hold": {"reason_code": "RISK_REVIEW", "seller_message": HOLD_MESSAGE},
        "needs-info": {"seller_message": INFO_MESSAGE, "checklist": ["PROOF_OF_PAYMENT"], "due_workdays": "5"},
        "payout/paid": {"bank_reference": BANK_REFERENCE, "amount": "1000.00"},
        "payout/failed": {"failure_code": "ACCOUNT_CLOSED", "seller_message": FAILED_MESSAGE},
    }.get(action, {})
    values = {"expected_state": expected_state or NEEDS_STATE[action], **defaults, **fields}
    return {f"{prefix}-{name}": value for name, value in values.items() if value is not None}


def post(client, request_id, action, data=None, htmx=False):
    """POST a desk action for a request, as a plain form or as htmx."""
    headers = {"HX-Request": "true", "HX-Target": "desk-request"} if htmx else {}
    return client.post(f"/desk/refunds/{request_id}/{action}", data=form(action) if data is None else data,
                       headers=headers)


def footprint():
    """Everything a desk action can write: row counts, and each request's state, assignee and amount."""
    counts = {model.__name__: model.select().count()
              for model in (RefundEvent, AuditLog, LedgerEntry, PayoutAttempt, WebhookEvent, Notification)}
    requests = list(RefundRequest.select(RefundRequest.id, RefundRequest.state, RefundRequest.assigned_to,
                                         RefundRequest.approved_fen, RefundRequest.version)
                    .order_by(RefundRequest.id).tuples())
    return counts, requests


def state_of(request_id):
    """A request's state as the database holds it now."""
    return RefundRequest.get_by_id(request_id).state


def events_into(request_id, state):
    """How many events moved a request into ``state``."""
    return RefundEvent.select().where((RefundEvent.request == request_id) & (RefundEvent.to_state == state)).count()


def entries_of(request_id, entry_type):
    """A request's ledger entries of one type, oldest first."""
    return list(LedgerEntry.select().where((LedgerEntry.refund_request == request_id)
                                           & (LedgerEntry.entry_type == entry_type)).order_by(LedgerEntry.id))


def paid_entries(request_id):
    """A request's REFUND_PAID entries."""
    return entries_of(request_id, EntryType.REFUND_PAID)


def audit_of(request_id, action=None):
    """A request's audit entries, oldest first (of one action when given)."""
    query = AuditLog.select().where(AuditLog.request == request_id)
    if action:
        query = query.where(AuditLog.action == action)
    return list(query.order_by(AuditLog.id))


def attempts_of(request_id):
    """A request's payout attempts as ``(reference, status)``, oldest first."""
    return list(PayoutAttempt.select(PayoutAttempt.reference, PayoutAttempt.status)
                .where(PayoutAttempt.request == request_id).order_by(PayoutAttempt.attempt_no).tuples())


def request_ids(html):
    """The request numbers a queue page or fragment lists, top to bottom."""
    return [int(number) for number in re.findall(r'href="/desk/refunds/(\d+)"', html)]


def more_link(html):
    """The ``after`` cursor of the queue's "More" link, or None on the last page."""
    match = re.search(r'href="/desk\?[^"]*after=([^"&]+)', html)
    return match.group(1) if match else None


def text_of(html):
    """A page's visible text with tags dropped and white space collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def section(html, element_id):
    """The HTML inside the element with this id, up to its matching closing tag (nesting counted)."""
    match = re.search(rf'<(\w+)[^>]*\bid="{re.escape(element_id)}"[^>]*>', html)
    assert match, f"no element #{element_id}"
    tag = match.group(1)
    depth, position = 1, match.end()
    pattern = re.compile(rf"<(/?){tag}\b[^>]*>")
    while depth:
        found = pattern.search(html, position)
        assert found, f"#{element_id} is not closed"
        depth += -1 if found.group(1) else 1
        position = found.end()
    return html[match.end():found.start()]


def figure(html, label):
    """The value beside a ``<dt>`` label in a figures list."""
    match = re.search(rf"<dt>{re.escape(label)}</dt><dd[^>]*>([^<]*)</dd>", html)
    assert match, f"no figure {label!r}"
    return match.group(1).strip()


def simultaneously(*calls, timeout=60):
    """Run each call in its own thread, released together by a barrier; returns their results in order.

    Each call makes its own HTTP request through its own test client, so each has its own database
    connection, as two browsers would.
    """
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def worker(index, call):
        try:
            barrier.wait(timeout)
            results[index] = call()
        except Exception as error:  # noqa: BLE001 - the test looks at what each thread met
            results[index] = error
        finally:
            if not db.is_closed():
                db.close()

    threads = [threading.Thread(target=worker, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a concurrent request hung"
    return results

