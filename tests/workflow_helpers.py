"""Helpers shared by the workflow, timeline, tick and transition-concurrency tests.

Builders put requests into a given state through the real ``refunding`` code (never by writing the
state column), so every ledger entry and event a test looks at is one the portal itself wrote.
"""
import contextlib
import datetime
import email
import email.policy
import re
import socket
import threading
import uuid

from aiosmtpd.controller import Controller
from peewee import fn

from portal.core.clock import utcnow
from portal.core.db import db
from portal.core.vocabulary import Actor, EntryType, RefundKind, RefundState, Role
from portal.deposit.models import LedgerEntry
from portal.ops import seed
from portal.refunds import prechecks
from portal.refunds import service as refund_service
from portal.refunds.models import RefundEvent, RefundRequest
from tests.factories import days_ago, make_user, ready_seller

POLICY = prechecks.Policy()
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)
SURPLUS_FEN = 100_000  # ¥1,000.00: well inside what ``ready_seller`` makes refundable (¥3,000.00)

# The actor role of each transition a builder makes on the way to a state.
_PATHS = {
    RefundState.UNDER_REVIEW: [],
    RefundState.NEEDS_INFO: [(RefundState.NEEDS_INFO, Actor.AGENT, {"seller_message": "请补充材料。"})],
    RefundState.ON_HOLD: [(RefundState.ON_HOLD, Actor.AGENT, {"seller_message": "风险复核中。"})],
    RefundState.APPROVED: [(RefundState.APPROVED, Actor.AGENT, {})],
    RefundState.REJECTED: [(RefundState.REJECTED, Actor.AGENT, {
        "reason_code": "PENDING_COMPLAINT", "seller_message": "有一笔买家投诉尚未结案。"})],
    RefundState.PAYOUT_PROCESSING: [(RefundState.APPROVED, Actor.AGENT, {}),
                                 (RefundState.PAYOUT_PROCESSING, Actor.FINANCE, {})],
    RefundState.COMPLETED: [(RefundState.APPROVED, Actor.AGENT, {}),
                         (RefundState.PAYOUT_PROCESSING, Actor.FINANCE, {}),
                         (RefundState.COMPLETED, Actor.FINANCE, {"bank_reference": "CMB-TEST-0001"})],
}


@contextlib.contextmanager
def database(app):
    """An app context with an open connection, for building data and reading it back."""
    with app.app_context(), db.connection_context():
        yield


def staff(role=Role.AGENT):
    """A support agent or finance officer."""
    return make_user(role=role)


def submit(shop, user, kind=RefundKind.SURPLUS, amount_fen=SURPLUS_FEN, now=None, resubmission_of=None):
    """Submit a request through ``refund_service.submit``; returns the request."""
    return refund_service.submit(shop.id, user, kind, amount_fen, uuid.uuid4().hex, POLICY, now=now,
                            resubmission_of=resubmission_of).request


def request_in(state, shop=None, user=None, now=None, kind=RefundKind.SURPLUS, amount_fen=SURPLUS_FEN,
               step=HOUR, **details):
    """A surplus request moved to ``state`` through the real transitions, one ``step`` apart.

    Extra ``details`` (``internal_note``, ...) go with every staff transition on the way.
    Returns ``(request, shop, seller)``.
    """
    if shop is None:
        shop, user = ready_seller()
    now = now or utcnow()
    refund = submit(shop, user, kind, amount_fen, now=now)
    agent = staff(Role.AGENT)
    finance = staff(Role.FINANCE)
    for offset, (target, role, path_details) in enumerate(_PATHS[state], start=1):
        actor = agent if role == Actor.AGENT else finance
        refund = refund_service.transition(refund.id, target, actor, role, now=now + offset * step,
                                      **{**path_details, **details})
    assert refund.state == state
    return refund, shop, user


def waiting_full_exit(days_to_wait=50):
    """A full exit in its waiting period: the 90-day quiet period after the last order still runs.

    Returns ``(request, shop, seller)``; the request's review starts ``days_to_wait`` days from now.
    """
    shop, seller = ready_seller(exit_notice_at=days_ago(45), last_order_at=days_ago(90 - days_to_wait))
    refund = submit(shop, seller, kind=RefundKind.FULL_EXIT, amount_fen=0)
    assert refund.state == RefundState.WAITING_PERIOD
    return refund, shop, seller


def with_reason_codes():
    """The reason codes ``init-db`` seeds (labels in the timeline come from them)."""
    seed.reference_data()


def held(request_id):
    """What the ledger holds for one request."""
    return refund_service.held_for(request_id)


def entries_of(request_id, entry_type):
    """The amounts of one request's ledger entries of a type, oldest first."""
    return [amount for (amount,) in LedgerEntry.select(LedgerEntry.amount_fen)
            .where((LedgerEntry.refund_request == request_id) & (LedgerEntry.entry_type == entry_type))
            .order_by(LedgerEntry.id).tuples()]


def event_count(request_id, to_state=None):
    """How many events a request has (into ``to_state`` when given)."""
    query = RefundEvent.select().where(RefundEvent.request == request_id)
    if to_state is not None:
        query = query.where(RefundEvent.to_state == to_state)
    return query.count()


def state_of(request_id):
    """A request's state as the database holds it now."""
    return RefundRequest.get_by_id(request_id).state


def paid_count(request_id):
    """How many REFUND_PAID entries a request has."""
    return (LedgerEntry.select(fn.COUNT(LedgerEntry.id))
            .where((LedgerEntry.refund_request == request_id)
                   & (LedgerEntry.entry_type == EntryType.REFUND_PAID)).scalar())


def backdate(request_id, moment):
    """Pretend a request last changed at ``moment`` (for the poll interval and the tick's due checks)."""
    RefundRequest.update(state_changed_at=moment).where(RefundRequest.id == request_id).execute()


def at_same_time(app, *actions, timeout=60):
    """Run each action in its own thread with its own connection, released together by a barrier.

    Returns one ``("ok", value)`` or ``("error", exception)`` per action, in order.
    """
    barrier = threading.Barrier(len(actions))
    outcomes = [None] * len(actions)

    def worker(index, action):
        with app.app_context():
            db.connect(reuse_if_open=True)
            try:
                barrier.wait(timeout)
                outcomes[index] = ("ok", action())
            except Exception as error:  # the test inspects what each thread met
                outcomes[index] = ("error", error)
            finally:
                if db.in_transaction():
                    db.rollback()
                db.close()

    threads = [threading.Thread(target=worker, args=(index, action)) for index, action in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a concurrent action hung"
    return outcomes


def free_port():
    """A local TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """An aiosmtpd handler that keeps every message it receives, parsed."""

    def __init__(self):
        """Start empty."""
        self.messages = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's hook name
        """Keep the message and accept it."""
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"


@contextlib.contextmanager
def smtp_server():
    """A real SMTP server on 127.0.0.1 (aiosmtpd), yielding ``(inbox, port)``."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def body_of(message):
    """The plain-text body of a received message."""
    return message.get_body(preferencelist=("plain",)).get_content()


def text_of(html):
    """A page's visible text with tags dropped and whitespace collapsed (good enough for assertions)."""
    without_tags = re.sub(r"<[^>]+>", " ", html)
    return " ".join(without_tags.split())
