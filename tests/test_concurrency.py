"""Double-refund defences under real concurrency: twenty simultaneous submissions, on both databases."""
import threading
import uuid
from urllib.parse import urlsplit

import pytest
from peewee import IntegrityError

from portal.core.db import db
from portal.core.vocabulary import OPEN_STATES, TERMINAL_STATES, EntryType, RefundState
from portal.deposit.models import LedgerEntry
from portal.payee.models import PayeeAccount, PayeeChange
from portal.refunds.models import RefundRequest
from tests.factories import ENTITY, make_shop, make_user, ready_seller, sign_in

SUBMISSIONS = 20


def submit_all_at_once(app, user, keys):
    """POST one application per key, each from its own thread and client, all at once; (status, Location)s."""
    # Any exception in a thread is collected and fails the test in the main thread.
    barrier = threading.Barrier(len(keys))
    results = [None] * len(keys)
    errors = []

    def submit(index, key):
        """One seller's browser tab: sign in, wait for the others, submit."""
        try:
            client = app.test_client()
            sign_in(client, user)
            barrier.wait(timeout=30)
            response = client.post("/refunds/new", data={"kind": "SURPLUS", "amount": "100",
                                                         "confirm_payee": "y", "idempotency_key": key})
            results[index] = (response.status_code, response.headers.get("Location"))
        except BaseException as error:  # noqa: B036 - reported to the main thread below
            errors.append(error)
        finally:
            if not db.is_closed():
                db.close()

    threads = [threading.Thread(target=submit, args=(index, key)) for index, key in enumerate(keys)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert all(result is not None for result in results)
    return results


@pytest.fixture
def seller(app):
    """A seller with ¥3,000.00 refundable and nothing blocking."""
    return ready_seller(username="seller-a")[1]


def holds():
    """Every REFUND_HOLD entry: (request id, amount)."""
    return list(LedgerEntry.select(LedgerEntry.refund_request, LedgerEntry.amount_fen)
                .where(LedgerEntry.entry_type == EntryType.REFUND_HOLD).tuples())


def test_twenty_identical_submissions_make_one_request_and_one_hold(app, seller):
    """Twenty tabs posting the same form at once (same key) create one request and one hold, all landing on it."""
    key = uuid.uuid4().hex
    results = submit_all_at_once(app, seller, [key] * SUBMISSIONS)
    refunds = list(RefundRequest.select())
    assert len(refunds) == 1
    assert holds() == [(refunds[0].id, 10_000)]
    assert {status for status, _ in results} == {303}
    assert {urlsplit(location).path for _, location in results} == {f"/refunds/{refunds[0].id}"}


def test_twenty_different_submissions_make_one_request(app, seller):
    """Twenty different applications at once: exactly one wins; the rest are refused with 422, never a 500."""
    results = submit_all_at_once(app, seller, [uuid.uuid4().hex for _ in range(SUBMISSIONS)])
    refunds = list(RefundRequest.select())
    assert len(refunds) == 1
    assert holds() == [(refunds[0].id, 10_000)]
    statuses = sorted(status for status, _ in results)
    assert statuses == [303] + [422] * (SUBMISSIONS - 1)


def test_the_database_allows_one_open_request_per_shop(app, seller):
    """The partial unique index refuses a second open request for a shop, but not a finished one."""
    shop_id = seller.shop_id

    def create(state):
        """Insert a request directly, bypassing every check in the app."""
        with db.atomic():
            return RefundRequest.create(shop=shop_id, kind="SURPLUS", requested_fen=100, state=state,
                                        idempotency_key=uuid.uuid4().hex)

    create(RefundState.UNDER_REVIEW)
    for state in OPEN_STATES:
        with pytest.raises(IntegrityError):
            create(state)
    for state in TERMINAL_STATES:
        create(state)
    assert RefundRequest.select().count() == 1 + len(TERMINAL_STATES)


def test_the_database_refuses_a_repeated_idempotency_key(app, seller):
    """The same idempotency key twice for one shop is refused by the database itself."""
    key = uuid.uuid4().hex
    with db.atomic():
        RefundRequest.create(shop=seller.shop_id, kind="SURPLUS", requested_fen=100, state=RefundState.CANCELLED,
                             idempotency_key=key)
    with pytest.raises(IntegrityError), db.atomic():
        RefundRequest.create(shop=seller.shop_id, kind="SURPLUS", requested_fen=100, state=RefundState.REJECTED,
                             idempotency_key=key)


# --- payee details: the first save, twenty times at once -----------------------------------------------

def post_all_at_once(app, user, path, forms):
    """POST one form per thread, each from its own signed-in client, all at once; the status codes."""
    barrier = threading.Barrier(len(forms))
    statuses = [None] * len(forms)
    errors = []

    def post(index, form):
        """One browser tab: wait for the others, then send the form."""
        try:
            client = app.test_client()
            sign_in(client, user)
            barrier.wait(timeout=30)
            statuses[index] = client.post(path, data=form).status_code
        except BaseException as error:  # noqa: B036 - reported to the main thread below
            errors.append(error)
        finally:
            if not db.is_closed():
                db.close()

    threads = [threading.Thread(target=post, args=(index, form)) for index, form in enumerate(forms)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return statuses


@pytest.fixture
def seller_without_payee(app):
    """A seller whose shop has no payee details yet."""
    shop = make_shop()
    return make_user("seller-new", shop=shop)


def payee_form(number):
    """The payee form for the shop's entity with ``number``."""
    return {"holder_name": ENTITY, "account_type": "CORPORATE", "bank_name": "中国工商银行杭州分行",
            "account_number": number}


def test_twenty_identical_first_saves_make_one_payee_and_one_change(app, seller_without_payee):
    """The same first payee details sent twenty times at once: every tab is answered, one account, one record."""
    statuses = post_all_at_once(app, seller_without_payee, "/payee", [payee_form("62220200000011110")] * SUBMISSIONS)
    assert statuses == [303] * SUBMISSIONS
    assert [payee.account_number for payee in PayeeAccount.select()] == ["62220200000011110"]
    assert [change.summary for change in PayeeChange.select()] == [
        "created: 杭州测试科技有限公司 / CORPORATE / 中国工商银行杭州分行 / ****1110"]


def test_twenty_different_first_saves_leave_a_consistent_history(app, seller_without_payee):
    """Twenty different numbers at once: one account; one creation, then nineteen changes, each from the last."""
    numbers = [f"6222020000{index:06d}" for index in range(SUBMISSIONS)]
    statuses = post_all_at_once(app, seller_without_payee, "/payee", [payee_form(number) for number in numbers])
    assert statuses == [303] * SUBMISSIONS
    payees = list(PayeeAccount.select())
    assert len(payees) == 1 and payees[0].account_number in numbers
    summaries = [change.summary for change in PayeeChange.select().order_by(PayeeChange.id)]
    assert len(summaries) == SUBMISSIONS and summaries[0].startswith("created: ")
    # Each change starts from what the one before it saved, and the last one is what is on file.
    saved = summaries[0].removeprefix("created: ")
    for summary in summaries[1:]:
        before, after = summary.split(" -> ")
        assert before == saved
        saved = after
    assert saved.endswith("****" + payees[0].account_number[-4:])
    assert sorted(summary[-4:] for summary in summaries) == sorted(number[-4:] for number in numbers)
