"""Collisions on the desk: two people (or a person and the gateway) acting on one request at once.

Each actor is its own test client in its own thread (so its own database connection), released
together by a barrier. Whatever the interleaving, exactly one action applies and the other is told
who decided first; never a 500. Every test runs on SQLite and on PostgreSQL.
"""
import hashlib
import hmac
import json
import re
import time
import uuid

import pytest

from portal.core.vocabulary import EntryType, RefundState, Role
from portal.payouts.models import WebhookEvent
from tests.desk_helpers import (
    AMOUNT_FEN,
    LEADS_TO,
    attempts_of,
    audit_of,
    entries_of,
    events_into,
    footprint,
    form,
    paid_entries,
    post,
    reason_codes,
    request_in,
    signed_in,
    simultaneously,
    staff,
    state_of,
    text_of,
)
from tests.factories import use_cheap_hashing

SECRET = "whsec_concurrency"
DECISIONS = ("approve", "reject")
STATE_LABELS = {RefundState.APPROVED: "Approved, awaiting payout", RefundState.REJECTED: "Rejected",
                RefundState.NEEDS_INFO: "Waiting for your information", RefundState.COMPLETED: "Refunded",
                RefundState.PAYOUT_PROCESSING: "Payout in progress"}


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch):
    """Cheap password hashes: nothing here depends on their cost."""
    use_cheap_hashing(monkeypatch)


@pytest.fixture
def agents(app):
    """Two support agents, each with a browser of their own."""
    reason_codes()
    first, second = staff(Role.AGENT, "agent-a"), staff(Role.AGENT, "agent-b")
    return (first, signed_in(app, first)), (second, signed_in(app, second))


@pytest.fixture
def cashiers(app):
    """Two finance officers, each with a browser of their own."""
    reason_codes()
    first, second = staff(Role.FINANCE, "finance-a"), staff(Role.FINANCE, "finance-b")
    return (first, signed_in(app, first)), (second, signed_in(app, second))


def assert_conflict_notice(response, winner, state):
    """A 409 with the "someone else decided first" notice naming who and what, and the request as it is now."""
    assert response.status_code == 409
    match = re.search(r'<div[^>]*id="conflict"[^>]*>(.*?)</div>', response.text, re.S)
    assert match, "no #conflict notice"
    notice = text_of(match.group(1))
    assert "Someone else decided first" in notice
    assert f"{winner} moved this request to “{STATE_LABELS[state]}”" in notice
    assert "Your decision was not applied." in notice
    assert re.search(rf'id="desk-state"[^>]*data-refund-state="{state}"', response.text)


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_approve_and_reject_at_once_apply_exactly_one(app, agents, htmx):
    """Approve and reject released together, three times: one applies, the other gets 409 naming the winner."""
    (first, first_desk), (second, second_desk) = agents
    for _round in range(3):
        refund, _shop, _seller = request_in()
        results = simultaneously(lambda request_id=refund.id: post(first_desk, request_id, "approve", htmx=htmx),
                                 lambda request_id=refund.id: post(second_desk, request_id, "reject", htmx=htmx))
        assert all(not isinstance(result, Exception) for result in results), results
        statuses = [result.status_code for result in results]
        success = 200 if htmx else 303
        assert sorted(statuses) == sorted([success, 409]), statuses
        winner_index = statuses.index(success)
        winner = (first, second)[winner_index]
        decided = LEADS_TO[DECISIONS[winner_index]]
        assert state_of(refund.id) == decided
        assert events_into(refund.id, RefundState.APPROVED) + events_into(refund.id, RefundState.REJECTED) == 1
        decisions = [entry for entry in audit_of(refund.id) if entry.action in ("refund.approved", "refund.rejected")]
        assert [entry.actor_id for entry in decisions] == [winner.id]
        released = [entry.amount_fen for entry in entries_of(refund.id, EntryType.REFUND_HOLD_RELEASE)]
        assert released == ([AMOUNT_FEN] if decided == RefundState.REJECTED else [])
        assert_conflict_notice(results[1 - winner_index], winner.username, decided)


def test_two_agents_approving_at_once_approve_once(app, agents):
    """The same decision twice at once is still one transition: one 303, one 409, one event, one audit row."""
    (first, first_desk), (second, second_desk) = agents
    refund, _shop, _seller = request_in()
    results = simultaneously(lambda: post(first_desk, refund.id, "approve"),
                             lambda: post(second_desk, refund.id, "approve"))
    statuses = sorted(result.status_code for result in results)
    assert statuses == [303, 409]
    assert events_into(refund.id, RefundState.APPROVED) == 1
    assert len(audit_of(refund.id, "refund.approved")) == 1


def test_a_decision_on_a_stale_page_is_a_conflict(app, agents):
    """Deciding on a page still saying UNDER_REVIEW after a colleague rejected: 409 naming them, nothing written."""
    (first, first_desk), (_second, second_desk) = agents
    refund, _shop, _seller = request_in()
    assert post(first_desk, refund.id, "reject").status_code == 303
    before = footprint()
    for late in ("approve", "reject", "needs-info", "hold"):
        response = post(second_desk, refund.id, late, form(late, expected_state=RefundState.UNDER_REVIEW), htmx=True)
        assert_conflict_notice(response, first.username, RefundState.REJECTED)
        assert "<html" not in response.text
    plain = post(second_desk, refund.id, "approve", form("approve", expected_state=RefundState.UNDER_REVIEW))
    assert_conflict_notice(plain, first.username, RefundState.REJECTED)
    assert "<html" in plain.text  # without htmx the whole page, with the notice, status 409
    assert footprint() == before


def test_two_finance_users_recording_paid_at_once_pay_once(app, cashiers):
    """Two officers book the same payout at once: exactly one REFUND_PAID and one COMPLETED event."""
    (first, first_desk), (second, second_desk) = cashiers
    refund, _shop, _seller = request_in(RefundState.PAYOUT_PROCESSING)
    results = simultaneously(
        lambda: post(first_desk, refund.id, "payout/paid", form("payout/paid", bank_reference="CMB-A")),
        lambda: post(second_desk, refund.id, "payout/paid", form("payout/paid", bank_reference="CMB-B")))
    statuses = [result.status_code for result in results]
    assert sorted(statuses) == [303, 409]
    winner_index = statuses.index(303)
    assert state_of(refund.id) == RefundState.COMPLETED
    assert events_into(refund.id, RefundState.COMPLETED) == 1
    [entry] = paid_entries(refund.id)
    assert (entry.amount_fen, entry.bank_reference) == (AMOUNT_FEN, ("CMB-A", "CMB-B")[winner_index])
    assert [audited.actor_id for audited in audit_of(refund.id, "payout.paid")] == [(first, second)[winner_index].id]
    assert_conflict_notice(results[1 - winner_index], (first, second)[winner_index].username, RefundState.COMPLETED)


def test_two_finance_users_starting_a_payout_at_once_make_one_attempt(app, cashiers):
    """Start payout twice at once: one attempt PO-<id>-1, one PAYOUT_PROCESSING event, the other gets 409."""
    (_first, first_desk), (_second, second_desk) = cashiers
    refund, _shop, _seller = request_in(RefundState.APPROVED)
    results = simultaneously(lambda: post(first_desk, refund.id, "payout/start"),
                             lambda: post(second_desk, refund.id, "payout/start"))
    assert sorted(result.status_code for result in results) == [303, 409]
    assert attempts_of(refund.id) == [(f"PO-{refund.id}-1", "PROCESSING")]
    assert events_into(refund.id, RefundState.PAYOUT_PROCESSING) == 1


def signed_delivery(app, payload):
    """A callable that posts this event, signed, from a gateway client of its own."""
    client = app.test_client()
    body = json.dumps(payload).encode()

    def deliver():
        timestamp = int(time.time())
        digest = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        return client.post("/api/v1/gateway/payouts", data=body, headers={
            "Content-Type": "application/json", "X-Gateway-Timestamp": str(timestamp),
            "X-Gateway-Signature": "sha256=" + digest})
    return deliver


def test_identical_webhooks_arriving_at_once_are_applied_once(app, cashiers):
    """Four copies of one signed event at once: one "applied", three "duplicate", one REFUND_PAID."""
    app.config["GATEWAY_WEBHOOK_SECRET"] = SECRET
    refund, _shop, _seller = request_in(RefundState.PAYOUT_PROCESSING)
    payload = {"event_id": "evt_" + uuid.uuid4().hex, "type": "payout.succeeded",
               "payout_reference": f"PO-{refund.id}-1", "bank_reference": "GW-ONCE", "amount_fen": AMOUNT_FEN}
    results = simultaneously(*(signed_delivery(app, payload) for _copy in range(4)))
    assert all(not isinstance(result, Exception) for result in results), results
    assert [result.status_code for result in results] == [200] * 4
    assert sorted(result.json["status"] for result in results) == ["applied", "duplicate", "duplicate", "duplicate"]
    assert [entry.bank_reference for entry in paid_entries(refund.id)] == ["GW-ONCE"]
    assert events_into(refund.id, RefundState.COMPLETED) == 1
    assert WebhookEvent.select().count() == 1


def test_the_gateway_and_finance_booking_the_same_payout_at_once_pay_once(app, cashiers):
    """The gateway's success and finance's manual booking at once: one REFUND_PAID; the other is stale or a 409."""
    app.config["GATEWAY_WEBHOOK_SECRET"] = SECRET
    (_first, first_desk), _second = cashiers
    refund, _shop, _seller = request_in(RefundState.PAYOUT_PROCESSING)
    payload = {"event_id": "evt_" + uuid.uuid4().hex, "type": "payout.succeeded",
               "payout_reference": f"PO-{refund.id}-1", "bank_reference": "GW-RACE", "amount_fen": AMOUNT_FEN}
    webhook, desk = simultaneously(
        signed_delivery(app, payload),
        lambda: post(first_desk, refund.id, "payout/paid", form("payout/paid", bank_reference="CMB-RACE")))
    assert webhook.status_code == 200
    outcomes = (webhook.json["status"], desk.status_code)
    assert outcomes in {("applied", 409), ("stale", 303)}, outcomes
    assert state_of(refund.id) == RefundState.COMPLETED
    [entry] = paid_entries(refund.id)
    assert entry.bank_reference == ("GW-RACE" if outcomes[0] == "applied" else "CMB-RACE")
    assert events_into(refund.id, RefundState.COMPLETED) == 1


def test_identical_refused_webhooks_arriving_at_once_are_answered_without_an_error(app, cashiers):
    """Four copies of one wrong-amount event at once: each refused or a duplicate (never a 500), nothing paid."""
    app.config["GATEWAY_WEBHOOK_SECRET"] = SECRET
    refund, _shop, _seller = request_in(RefundState.PAYOUT_PROCESSING)
    payload = {"event_id": "evt_" + uuid.uuid4().hex, "type": "payout.succeeded",
               "payout_reference": f"PO-{refund.id}-1", "bank_reference": "GW-WRONG", "amount_fen": AMOUNT_FEN + 1}
    results = simultaneously(*(signed_delivery(app, payload) for _copy in range(4)))
    assert all(not isinstance(result, Exception) for result in results), results
    answers = sorted((result.status_code, result.json["status"]) for result in results)
    assert answers[-1] == (422, "refused")
    assert set(answers) <= {(200, "duplicate"), (422, "refused")}
    assert state_of(refund.id) == RefundState.PAYOUT_PROCESSING and paid_entries(refund.id) == []
    assert [outcome for (outcome,) in WebhookEvent.select(WebhookEvent.outcome).tuples()] == ["REFUSED:amount_mismatch"]
