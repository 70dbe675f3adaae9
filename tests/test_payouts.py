"""Payouts: finance starts, books and fails them on the desk; the payment gateway's signed webhook does the same."""
import hashlib
import hmac
import importlib.util
import json
import pathlib
import re
import time
import uuid

import pytest

from portal.core.vocabulary import RefundState, Role
from portal.deposit.service import deposit_figures
from portal.payouts.models import PayoutAttempt, WebhookEvent
from portal.refunds import service as refund_service
from portal.refunds.models import RefundRequest
from portal.shops.models import Shop
from tests.desk_helpers import (
    AMOUNT_FEN,
    BANK_REFERENCE,
    attempts_of,
    audit_of,
    events_into,
    footprint,
    form,
    paid_entries,
    post,
    reason_codes,
    request_in,
    signed_in,
    staff,
    state_of,
    text_of,
)
from tests.factories import use_cheap_hashing

SECRET = "whsec_test_5b1f0c"
WEBHOOK = "/api/v1/gateway/payouts"
GATEWAY_TOOL = pathlib.Path(__file__).resolve().parent.parent / "tools" / "gateway.py"


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch):
    """Cheap password hashes: nothing here depends on their cost."""
    use_cheap_hashing(monkeypatch)


@pytest.fixture
def finance(app):
    """A finance officer, with the reason codes (failure codes among them) seeded."""
    reason_codes()
    return staff(Role.FINANCE, "finance-zhou")


@pytest.fixture
def cashier(app, finance):
    """The finance officer's browser, reading English pages."""
    return signed_in(app, finance)


@pytest.fixture
def gateway(app, finance):
    """A client playing the payment gateway, with the webhook secret configured."""
    app.config["GATEWAY_WEBHOOK_SECRET"] = SECRET
    return app.test_client()


def event(event_type, reference, **fields):
    """A gateway event with a fresh id."""
    return {"event_id": "evt_" + uuid.uuid4().hex, "type": event_type, "payout_reference": reference, **fields}


def succeeded(reference, **fields):
    """A payout.succeeded event for the attempt with this reference."""
    return event("payout.succeeded", reference, **{"bank_reference": "GW2026112600042", **fields})


def failed(reference, code="ACCOUNT_CLOSED"):
    """A payout.failed event for the attempt with this reference."""
    return event("payout.failed", reference, failure_code=code)


def deliver(client, payload=None, body=None, secret=SECRET, timestamp=None, signature=None):
    """POST an event the way the gateway does: HMAC-SHA256 over '<timestamp>.<body>', as sha256=<hex>."""
    body = json.dumps(payload).encode("utf-8") if body is None else body
    timestamp = int(time.time()) if timestamp is None else timestamp
    if signature is None:
        digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        signature = "sha256=" + digest
    return client.post(WEBHOOK, data=body, headers={"Content-Type": "application/json",
                                                    "X-Gateway-Timestamp": str(timestamp),
                                                    "X-Gateway-Signature": signature})


def money_state(request_id):
    """What a payout may change: the request's state, its events, ledger and attempts."""
    refund = RefundRequest.get_by_id(request_id)
    counts, _requests = footprint()
    return (refund.state, refund.version, counts["RefundEvent"], counts["LedgerEntry"], attempts_of(request_id))


def figures_of(shop):
    """A shop's deposit figures now."""
    return deposit_figures(Shop.get_by_id(shop.id))


def seller_page(app, seller, request_id, language="en"):
    """The seller's page of a request."""
    return signed_in(app, seller, language).get(f"/refunds/{request_id}").text


def fix_payee(app, seller, shop):
    """The seller saves new payee details (held by the shop's entity, a new account number)."""
    return signed_in(app, seller).post("/payee", data={
        "holder_name": shop.entity_name, "account_type": "CORPORATE", "bank_name": "中国工商银行杭州分行",
        "account_number": "6222020000001111"})


# --- finance on the desk ---------------------------------------------------------------------

def test_payouts_page_lists_what_waits_for_finance(cashier, app):
    """/desk/payouts lists approved, processing, failed and escalated requests, nothing else."""
    waiting = {state: request_in(state)[0].id for state in (RefundState.APPROVED, RefundState.PAYOUT_PROCESSING,
                                                             RefundState.PAYOUT_FAILED, RefundState.ESCALATED)}
    request_in(RefundState.UNDER_REVIEW)
    request_in(RefundState.COMPLETED)
    html = cashier.get("/desk/payouts").text
    listed = dict(re.findall(r'href="/desk/refunds/(\d+)".*?data-refund-state="(\w+)"', html, re.S))
    assert {int(number): state for number, state in listed.items()} == {
        request_id: state for state, request_id in waiting.items()}


def test_starting_a_payout_makes_attempt_one_with_its_reference(cashier, app, finance):
    """Start payout on an approved request: PAYOUT_PROCESSING and attempt PO-<id>-1 for the approved amount."""
    refund, _shop, _seller = request_in(RefundState.APPROVED)
    response = post(cashier, refund.id, "payout/start", form("payout/start"))
    assert response.status_code == 303
    assert state_of(refund.id) == RefundState.PAYOUT_PROCESSING
    [attempt] = PayoutAttempt.select().where(PayoutAttempt.request == refund.id)
    assert (attempt.reference, attempt.status, attempt.amount_fen) == (f"PO-{refund.id}-1", "PROCESSING", AMOUNT_FEN)
    [entry] = audit_of(refund.id, "payout.start")
    assert entry.actor_id == finance.id
    assert f"PO-{refund.id}-1" in cashier.get(f"/desk/refunds/{refund.id}").text


def test_recording_paid_without_a_bank_reference_is_refused_beside_the_field(cashier, app):
    """No bank reference: 422, the error beside the field, nothing written."""
    refund, _shop, _seller = request_in(RefundState.PAYOUT_PROCESSING)
    before = footprint()
    response = post(cashier, refund.id, "payout/paid", form("payout/paid", bank_reference="  "))
    assert response.status_code == 422
    error = re.search(r'id="paid-bank_reference-error"[^>]*>([^<]*)<', response.text)
    assert error and "The bank reference is required." in error.group(1)
    assert footprint() == before


def test_recording_a_different_amount_is_refused_naming_the_approved_one(cashier, app):
    """An amount other than the approved one: 422 naming the approved amount, nothing written."""
    refund, _shop, _seller = request_in(RefundState.PAYOUT_PROCESSING)
    before = footprint()
    for amount, message in (("999.99", "The amount paid must equal the approved amount, ¥1,000.00."),
                            ("1000.01", "The amount paid must equal the approved amount, ¥1,000.00."),
                            ("a lot", "Enter the amount paid in yuan.")):
        response = post(cashier, refund.id, "payout/paid", form("payout/paid", amount=amount))
        assert response.status_code == 422, amount
        assert message in response.text
    assert footprint() == before


def test_recording_paid_completes_and_books_the_payout_in_the_ledger(cashier, app, finance):
    """Paid with a bank reference: COMPLETED, one REFUND_PAID with it, balance down by exactly the amount, held 0."""
    refund, shop, seller = request_in(RefundState.PAYOUT_PROCESSING)
    before = figures_of(shop)
    response = post(cashier, refund.id, "payout/paid", form("payout/paid", bank_reference="CMB20261126000777"))
    assert response.status_code == 303
    assert state_of(refund.id) == RefundState.COMPLETED
    [entry] = paid_entries(refund.id)
    assert (entry.amount_fen, entry.bank_reference) == (AMOUNT_FEN, "CMB20261126000777")
    after = figures_of(shop)
    assert before.balance - after.balance == AMOUNT_FEN
    assert before.held == AMOUNT_FEN and after.held == 0 and refund_service.held_for(refund.id) == 0
    assert attempts_of(refund.id) == [(f"PO-{refund.id}-1", "PAID")]
    [audited] = audit_of(refund.id, "payout.paid")
    assert audited.actor_id == finance.id
    assert shown(seller_page(app, seller, refund.id)) == RefundState.COMPLETED
    deposit = signed_in(app, seller).get("/deposit").text
    assert "Bank reference CMB20261126000777" in deposit


def shown(html):
    """The state a page marks with ``data-refund-state``."""
    return re.search(r'data-refund-state="(\w+)"', html).group(1)


def test_a_lower_approved_amount_is_what_is_paid(cashier, app):
    """Approved ¥600 of ¥1,000: finance must book ¥600; the ledger pays ¥600 and nothing stays held."""
    reason_codes()
    refund, shop, _seller = request_in()
    agent_desk = signed_in(app, staff(Role.AGENT))
    assert post(agent_desk, refund.id, "approve", form("approve", amount="600.00")).status_code == 303
    assert post(cashier, refund.id, "payout/start", form("payout/start")).status_code == 303
    assert PayoutAttempt.get(PayoutAttempt.request == refund.id).amount_fen == 60_000
    before = figures_of(shop)
    refused = post(cashier, refund.id, "payout/paid", form("payout/paid", amount="1000.00"))
    assert refused.status_code == 422 and "the approved amount, ¥600.00." in refused.text
    assert post(cashier, refund.id, "payout/paid", form("payout/paid", amount="600")).status_code == 303
    assert [entry.amount_fen for entry in paid_entries(refund.id)] == [60_000]
    after = figures_of(shop)
    assert before.balance - after.balance == 60_000 and after.held == 0


def test_a_failed_payout_tells_the_seller_and_new_payee_details_start_attempt_two(cashier, app):
    """ACCOUNT_CLOSED: PAYOUT_FAILED and the seller reads why; saving new payee details starts PO-<id>-2."""
    refund, shop, seller = request_in(RefundState.PAYOUT_PROCESSING)
    message = "收款账户已注销，请更新收款信息后我们将重新打款。"
    data = form("payout/failed", failure_code="ACCOUNT_CLOSED", seller_message=message)
    assert post(cashier, refund.id, "payout/failed", data).status_code == 303
    assert state_of(refund.id) == RefundState.PAYOUT_FAILED
    html = seller_page(app, seller, refund.id)
    assert shown(html) == RefundState.PAYOUT_FAILED and "Payout failed" in html
    assert "Reason: Payee account closed" in text_of(html) and message in html
    assert paid_entries(refund.id) == [] and refund_service.held_for(refund.id) == AMOUNT_FEN
    response = fix_payee(app, seller, shop)
    assert response.status_code == 303
    assert state_of(refund.id) == RefundState.PAYOUT_PROCESSING
    assert attempts_of(refund.id) == [(f"PO-{refund.id}-1", "FAILED"), (f"PO-{refund.id}-2", "PROCESSING")]
    assert f"PO-{refund.id}-2" in cashier.get(f"/desk/refunds/{refund.id}").text


def test_repeated_failures_escalate_and_finance_then_pays_by_hand(cashier, app, finance):
    """PAYOUT_MAX_ATTEMPTS failures: ESCALATED; finance records the manual payment: COMPLETED, paid once."""
    refund, shop, _seller = request_in(RefundState.PAYOUT_PROCESSING)
    before = figures_of(shop)
    for attempt in range(1, app.config["PAYOUT_MAX_ATTEMPTS"] + 1):
        assert post(cashier, refund.id, "payout/failed", form("payout/failed")).status_code == 303
        if attempt < app.config["PAYOUT_MAX_ATTEMPTS"]:
            assert state_of(refund.id) == RefundState.PAYOUT_FAILED
            restart = form("payout/start", expected_state=RefundState.PAYOUT_FAILED,
                           override_reason="the bank asked for a retry on the same account")
            assert post(cashier, refund.id, "payout/start", restart).status_code == 303
    assert state_of(refund.id) == RefundState.ESCALATED
    assert [status for _reference, status in attempts_of(refund.id)] == ["FAILED"] * 3
    page = cashier.get(f"/desk/refunds/{refund.id}").text
    assert shown(page) == RefundState.ESCALATED and f'action="/desk/refunds/{refund.id}/payout/paid"' in page
    data = form("payout/paid", expected_state=RefundState.ESCALATED, bank_reference="MANUAL-0001")
    assert post(cashier, refund.id, "payout/paid", data).status_code == 303
    assert state_of(refund.id) == RefundState.COMPLETED
    paid = [(entry.amount_fen, entry.bank_reference) for entry in paid_entries(refund.id)]
    assert paid == [(AMOUNT_FEN, "MANUAL-0001")]
    assert before.balance - figures_of(shop).balance == AMOUNT_FEN


# --- the gateway's webhook -------------------------------------------------------------------

def test_webhook_is_unavailable_until_its_secret_is_configured(app, finance):
    """Without GATEWAY_WEBHOOK_SECRET the webhook answers 503 and changes nothing."""
    refund, _shop, _seller = request_in(RefundState.PAYOUT_PROCESSING)
    before = money_state(refund.id)
    response = deliver(app.test_client(), succeeded(f"PO-{refund.id}-1", amount_fen=AMOUNT_FEN))
    assert response.status_code == 503
    assert money_state(refund.id) == before


def test_webhook_refuses_a_bad_signature_and_changes_nothing(gateway, app):
    """Wrong secret, a body changed after signing, or no signature at all: 401, nothing changes."""
    refund, _shop, _seller = request_in(RefundState.PAYOUT_PROCESSING)
    before = money_state(refund.id)
    payload = succeeded(f"PO-{refund.id}-1", amount_fen=AMOUNT_FEN)
    assert deliver(gateway, payload, secret="not-the-secret").status_code == 401
    timestamp = int(time.time())
    signed = json.dumps(payload).encode()
    digest = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + signed, hashlib.sha256).hexdigest()
    tampered = signed.replace(b"GW2026112600042", b"GW9999999999999")
    response = deliver(gateway, body=tampered, timestamp=timestamp, signature="sha256=" + digest)
    assert response.status_code == 401 and response.json["error"] == "bad_signature"
    assert gateway.post(WEBHOOK, data=signed, headers={"Content-Type": "application/json"}).status_code == 401
    assert money_state(refund.id) == before
    assert WebhookEvent.select().count() == 0


def test_webhook_refuses_a_timestamp_outside_the_tolerance(gateway, app):
    """A correctly signed event whose timestamp is more than GATEWAY_TOLERANCE_SECONDS off: 401, nothing changes."""
    refund, _shop, _seller = request_in(RefundState.PAYOUT_PROCESSING)
    before = money_state(refund.id)
    tolerance = app.config["GATEWAY_TOLERANCE_SECONDS"]
    for skew in (-tolerance - 5, tolerance + 5, -3600):
        response = deliver(gateway, succeeded(f"PO-{refund.id}-1", amount_fen=AMOUNT_FEN),
                           timestamp=int(time.time()) + skew)
        assert response.status_code == 401 and response.json["error"] == "stale", skew
    assert deliver(gateway, succeeded(f"PO-{refund.id}-1", amount_fen=AMOUNT_FEN),
                   timestamp="yesterday").status_code == 401
    assert money_state(refund.id) == before


def test_webhook_success_completes_the_request_with_the_gateways_bank_reference(gateway, app):
    """A valid payout.succeeded: 200 applied, COMPLETED, one REFUND_PAID carrying the gateway's bank reference."""
    refund, shop, seller = request_in(RefundState.PAYOUT_PROCESSING)
    before = figures_of(shop)
    response = deliver(gateway, succeeded(f"PO-{refund.id}-1", amount_fen=AMOUNT_FEN))
    assert response.status_code == 200 and response.json["status"] == "applied"
    assert state_of(refund.id) == RefundState.COMPLETED
    [entry] = paid_entries(refund.id)
    assert (entry.amount_fen, entry.bank_reference) == (AMOUNT_FEN, "GW2026112600042")
    assert before.balance - figures_of(shop).balance == AMOUNT_FEN
    assert attempts_of(refund.id) == [(f"PO-{refund.id}-1", "PAID")]
    assert events_into(refund.id, RefundState.COMPLETED) == 1
    assert shown(seller_page(app, seller, refund.id)) == RefundState.COMPLETED


def test_a_replayed_event_is_a_duplicate_and_pays_nothing_more(gateway, app):
    """The same event id twice: the second answers 200 "duplicate"; still exactly one REFUND_PAID."""
    refund, _shop, _seller = request_in(RefundState.PAYOUT_PROCESSING)
    payload = succeeded(f"PO-{refund.id}-1", amount_fen=AMOUNT_FEN)
    assert deliver(gateway, payload).json["status"] == "applied"
    after_first = money_state(refund.id)
    replay = deliver(gateway, payload)
    assert replay.status_code == 200 and replay.json["status"] == "duplicate"
    assert money_state(refund.id) == after_first
    assert len(paid_entries(refund.id)) == 1


def test_a_failure_arriving_after_the_success_is_stale(gateway, app):
    """payout.failed for an attempt already paid: 200 "stale", the request stays COMPLETED, nothing changes."""
    refund, _shop, _seller = request_in(RefundState.PAYOUT_PROCESSING)
    reference = f"PO-{refund.id}-1"
    assert deliver(gateway, succeeded(reference, amount_fen=AMOUNT_FEN)).json["status"] == "applied"
    before = money_state(refund.id)
    response = deliver(gateway, failed(reference))
    assert response.status_code == 200 and response.json["status"] == "stale"
    assert money_state(refund.id) == before
    assert WebhookEvent.select().where(WebhookEvent.outcome == "STALE").count() == 1


def test_a_gateway_failure_is_explained_in_the_sellers_language_and_older_attempts_go_stale(gateway, app):
    """Attempt 1 fails (the seller reads the code's message); after attempt 2 starts, news of attempt 1 is stale."""
    refund, shop, seller = request_in(RefundState.PAYOUT_PROCESSING)
    first, second = f"PO-{refund.id}-1", f"PO-{refund.id}-2"
    response = deliver(gateway, failed(first, "ACCOUNT_CLOSED"))
    assert response.status_code == 200 and response.json["status"] == "applied"
    assert state_of(refund.id) == RefundState.PAYOUT_FAILED
    assert "The payee account is closed. Update your payee details and we will pay again." in seller_page(
        app, seller, refund.id, "en")
    assert "收款账户已注销，请更新收款信息，我们将重新打款。" in seller_page(app, seller, refund.id, "zh_CN")
    assert fix_payee(app, seller, shop).status_code == 303
    assert attempts_of(refund.id)[-1] == (second, "PROCESSING")
    before = money_state(refund.id)
    for late in (succeeded(first, amount_fen=AMOUNT_FEN), failed(first)):
        response = deliver(gateway, late)
        assert response.status_code == 200 and response.json["status"] == "stale"
    assert money_state(refund.id) == before
    assert deliver(gateway, succeeded(second, amount_fen=AMOUNT_FEN)).json["status"] == "applied"
    assert state_of(refund.id) == RefundState.COMPLETED and len(paid_entries(refund.id)) == 1


def test_an_unknown_payout_reference_is_404(gateway, app):
    """An event for a reference the portal never issued answers 404 and changes nothing."""
    refund, _shop, _seller = request_in(RefundState.PAYOUT_PROCESSING)
    before = money_state(refund.id)
    response = deliver(gateway, succeeded("PO-999999-1", amount_fen=AMOUNT_FEN))
    assert response.status_code == 404 and response.json["status"] == "unknown"
    assert money_state(refund.id) == before


def test_a_malformed_body_is_400(gateway, app):
    """A correctly signed body that is not a JSON object with an event id and a known type answers 400."""
    refund, _shop, _seller = request_in(RefundState.PAYOUT_PROCESSING)
    before = money_state(refund.id)
    reference = f"PO-{refund.id}-1"
    for body in (b"{not json", b"[1, 2, 3]", b'"payout.succeeded"', b"", b"{}",
                 json.dumps({"type": "payout.succeeded", "payout_reference": reference}).encode(),
                 json.dumps(event("payout.reversed", reference)).encode()):
        assert deliver(gateway, body=body).status_code == 400, body
    assert money_state(refund.id) == before


def test_a_deeply_nested_body_is_422_with_a_json_error(gateway, app):
    """A signed body nesting 100,000 arrays is refused with 422 and a JSON reason, never a RecursionError 500."""
    refund, _shop, _seller = request_in(RefundState.PAYOUT_PROCESSING)
    before = money_state(refund.id)
    event_json = json.dumps(succeeded(f"PO-{refund.id}-1", amount_fen=AMOUNT_FEN))
    body = (event_json[:-1] + ', "extra": ' + "[" * 100_000 + "]" * 100_000 + "}").encode()
    app.config["WEBHOOK_MAX_BYTES"] = len(body)  # the depth alone decides here
    response = deliver(gateway, body=body)
    assert response.status_code == 422
    assert response.json == {"error": "the body nests deeper than 32 levels"}
    assert money_state(refund.id) == before


def test_an_event_nesting_within_the_limit_is_applied(gateway, app):
    """Nesting up to WEBHOOK_MAX_DEPTH is an ordinary event: applied."""
    refund, _shop, _seller = request_in(RefundState.PAYOUT_PROCESSING)
    extra = json.loads("[" * 31 + "]" * 31)  # 31 arrays inside the event object: 32 levels
    response = deliver(gateway, succeeded(f"PO-{refund.id}-1", amount_fen=AMOUNT_FEN, extra=extra))
    assert response.status_code == 200 and response.json["status"] == "applied"
    assert RefundRequest.get_by_id(refund.id).state == RefundState.COMPLETED


def test_a_body_over_the_webhook_limit_is_422(gateway, app):
    """A signed event padded past WEBHOOK_MAX_BYTES (64 KB) is refused with 422 and changes nothing."""
    refund, _shop, _seller = request_in(RefundState.PAYOUT_PROCESSING)
    before = money_state(refund.id)
    response = deliver(gateway, succeeded(f"PO-{refund.id}-1", amount_fen=AMOUNT_FEN, note="x" * 70_000))
    assert response.status_code == 422
    assert response.json == {"error": "the body is larger than 65536 bytes"}
    assert money_state(refund.id) == before


def test_an_amount_that_is_not_a_whole_number_of_fen_is_400(gateway, app):
    """amount_fen as text, null, a fraction, a list or a boolean is malformed: 400, never a 500 or a rounded payment."""
    refund, _shop, _seller = request_in(RefundState.PAYOUT_PROCESSING)
    before = money_state(refund.id)
    for amount in ("a lot", None, 100_000.5, [100_000], True, -100_000):
        response = deliver(gateway, succeeded(f"PO-{refund.id}-1", amount_fen=amount))
        assert response.status_code == 400 and response.json["status"] == "invalid", amount
    assert money_state(refund.id) == before


def test_an_unusable_bank_reference_or_event_id_is_400(gateway, app):
    """A bank reference that is not short text, or an absurdly long event id, is malformed: 400, never a 500."""
    refund, _shop, _seller = request_in(RefundState.PAYOUT_PROCESSING)
    before = money_state(refund.id)
    for fields in ({"bank_reference": 12345}, {"bank_reference": "R" * 65}, {"event_id": "e" * 300}):
        response = deliver(gateway, {**succeeded(f"PO-{refund.id}-1", amount_fen=AMOUNT_FEN), **fields})
        assert response.status_code == 400 and response.json["status"] == "invalid", fields
    assert money_state(refund.id) == before


def test_an_amount_mismatch_is_refused_and_changes_nothing(gateway, app):
    """A success for another amount than the attempt's: 422 "refused", the request stays PAYOUT_PROCESSING."""
    refund, _shop, _seller = request_in(RefundState.PAYOUT_PROCESSING)
    before = money_state(refund.id)
    response = deliver(gateway, succeeded(f"PO-{refund.id}-1", amount_fen=AMOUNT_FEN - 1))
    assert response.status_code == 422
    assert response.json == {"status": "refused", "detail": "amount_mismatch"}
    assert money_state(refund.id) == before
    assert paid_entries(refund.id) == []


def test_the_gateway_tool_signs_requests_the_way_the_portal_checks(gateway, app):
    """tools/gateway.py's signed_request, sent through the test client, is accepted and applied."""
    spec = importlib.util.spec_from_file_location("gateway_tool", GATEWAY_TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    refund, _shop, _seller = request_in(RefundState.PAYOUT_PROCESSING)
    payload = succeeded(f"PO-{refund.id}-1", amount_fen=AMOUNT_FEN, bank_reference=BANK_REFERENCE)
    prepared = tool.signed_request("http://portal.test" + WEBHOOK, SECRET, payload, int(time.time()))
    response = gateway.post(WEBHOOK, data=prepared.data, headers=dict(prepared.header_items()))
    assert response.status_code == 200 and response.json["status"] == "applied"
    assert [entry.bank_reference for entry in paid_entries(refund.id)] == [BANK_REFERENCE]
    stale = tool.signed_request("http://portal.test" + WEBHOOK, SECRET, succeeded(f"PO-{refund.id}-1"),
                                int(time.time()) - 600)
    assert gateway.post(WEBHOOK, data=stale.data, headers=dict(stale.header_items())).status_code == 401
