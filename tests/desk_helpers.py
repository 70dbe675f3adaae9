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

from factories import make_user, ready_seller, sign_in
from peewee import fn

from portal import eligibility, ledger, payouts, refunding, seed, workflow
from portal.db import db, utcnow
from portal.models import (
    AGENT,
    AuditLog,
    LedgerEntry,
    Notification,
    PayoutAttempt,
    RefundEvent,
    RefundRequest,
    Shop,
    WebhookEvent,
)
from portal.workdays import WorkCalendar, to_shanghai_date

POLICY = eligibility.Policy()
AMOUNT_FEN = 100_000  # ¥1,000.00, well inside the ¥3,000.00 ``ready_seller`` makes refundable
TIMING = refunding.Timing(WorkCalendar(), 3, 7)
MAX_ATTEMPTS = 3  # the PAYOUT_MAX_ATTEMPTS default
DAY = datetime.timedelta(days=1)

# The URL suffix of each desk POST, the prefix of its form, and the state it needs to apply.
PREFIXES = {
    "assign": None, "approve": "approve", "reject": "reject", "needs-info": "info", "hold": "hold",
    "release": "release", "payout/start": "start", "payout/paid": "paid", "payout/failed": "failed",
    "payee/reveal": None,
}
NEEDS_STATE = {
    "assign": workflow.UNDER_REVIEW, "approve": workflow.UNDER_REVIEW, "reject": workflow.UNDER_REVIEW,
    "needs-info": workflow.UNDER_REVIEW, "hold": workflow.UNDER_REVIEW, "release": workflow.ON_HOLD,
    "payout/start": workflow.APPROVED, "payout/paid": workflow.PAYOUT_PROCESSING,
    "payout/failed": workflow.PAYOUT_PROCESSING, "payee/reveal": workflow.UNDER_REVIEW,
}
# Where each decision takes the request.
LEADS_TO = {
    "approve": workflow.APPROVED, "reject": workflow.REJECTED, "needs-info": workflow.NEEDS_INFO,
    "hold": workflow.ON_HOLD, "release": workflow.UNDER_REVIEW, "payout/start": workflow.PAYOUT_PROCESSING,
    "payout/paid": workflow.COMPLETED, "payout/failed": workflow.PAYOUT_FAILED,
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


def staff(role=AGENT, username=None):
    """A support agent or finance officer, with a recognisable display name."""
    username = username or f"{role}-{uuid.uuid4().hex[:6]}"
    return make_user(username, role=role)


def signed_in(app, user, language="en"):
    """A fresh test client (a browser of its own) signed in as ``user``, reading pages in ``language``."""
    client = app.test_client()
    client.set_cookie("lang", language)
    sign_in(client, user)
    return client


def request_in(state=workflow.UNDER_REVIEW, shop=None, seller=None, amount_fen=AMOUNT_FEN, agent=None,
               finance=None, due_date=None, internal_note=""):
    """A surplus request moved to ``state`` through the real code; returns ``(request, shop, seller)``.

    Payout states go through ``payouts`` so the attempts (``PO-<id>-<n>``) exist as they would.
    """
    if shop is None:
        shop, seller = ready_seller(name=f"店铺{uuid.uuid4().hex[:6]}")
    refund = refunding.submit(shop.id, seller, eligibility.SURPLUS, amount_fen, uuid.uuid4().hex, POLICY,
                              timing=TIMING).request
    if due_date is not None:
        RefundRequest.update(due_date=due_date).where(RefundRequest.id == refund.id).execute()

    def move(target, user, role, **details):
        return refunding.transition(refund.id, target, user, role, internal_note=internal_note, **details)

    def fail_once():
        payouts.record_failed(refund.id, finance, workflow.FINANCE, "ACCOUNT_CLOSED", FAILED_MESSAGE,
                              MAX_ATTEMPTS)

    if state == workflow.ON_HOLD:
        move(workflow.ON_HOLD, agent, workflow.AGENT, reason_code="RISK_REVIEW", seller_message=HOLD_MESSAGE)
    elif state == workflow.NEEDS_INFO:
        move(workflow.NEEDS_INFO, agent, workflow.AGENT, seller_message=INFO_MESSAGE)
    elif state == workflow.REJECTED:
        move(workflow.REJECTED, agent, workflow.AGENT, reason_code="PENDING_COMPLAINT",
             seller_message=REJECT_MESSAGE)
    elif state != workflow.UNDER_REVIEW:
        move(workflow.APPROVED, agent, workflow.AGENT)
        if state != workflow.APPROVED:
            payouts.start(refund.id, finance, workflow.FINANCE, workflow.APPROVED)
        if state in (workflow.PAYOUT_FAILED, workflow.ESCALATED):
            fail_once()
        if state == workflow.ESCALATED:
            for _again in range(MAX_ATTEMPTS - 1):
                payouts.start(refund.id, finance, workflow.FINANCE, workflow.PAYOUT_FAILED)
                fail_once()
        if state == workflow.COMPLETED:
            payouts.record_paid(refund.id, finance, workflow.FINANCE, BANK_REFERENCE, amount_fen)
    refund = RefundRequest.get_by_id(refund.id)
    assert refund.state == state
    return refund, shop, seller


def bulk_requests(count, due_dates, assignee=None, state=workflow.UNDER_REVIEW, name="批量店"):
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
        "shop": shop_id, "kind": eligibility.SURPLUS, "requested_fen": 10_000 + index, "state": state,
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
    return entries_of(request_id, ledger.REFUND_PAID)


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

