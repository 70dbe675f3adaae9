"""Regressions from a read-through review: crafted input is a 4xx, and a banned shop is never paid."""
import time

import pytest

from portal.core.vocabulary import RefundState, Role
from portal.refunds.models import RefundRequest
from portal.risk import service as risk_service
from portal.shops.models import Shop
from tests.desk_helpers import reason_codes, request_in, signed_in, staff
from tests.factories import use_cheap_hashing

SECRET = "whsec_hardening"


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch):
    """Cheap password hashes: nothing here depends on their cost."""
    use_cheap_hashing(monkeypatch)


def test_a_banned_shop_gets_no_new_payout_attempt_when_it_fixes_its_payee(app):
    """A failed payout of a shop banned since then is left for finance: saving payee details starts nothing."""
    reason_codes()
    finance = staff(Role.FINANCE, "finance-hardening")
    refund, shop, seller = request_in(RefundState.PAYOUT_FAILED, finance=finance)
    risk_service.ban_shop(shop.id, staff(Role.AGENT, "agent-hardening"), "fraud", "店铺已封禁，保证金不予退还。")
    client = signed_in(app, seller)
    entity = Shop.get_by_id(shop.id).entity_name
    response = client.post("/payee", data={"holder_name": entity, "account_type": "CORPORATE",
                                          "bank_name": "工商银行", "account_number": "6222020000000001"})
    assert response.status_code == 303
    assert RefundRequest.get_by_id(refund.id).state == RefundState.PAYOUT_FAILED


@pytest.mark.parametrize("value", ["9" * 25, "\u00b2", "12abc"])
def test_a_crafted_resubmit_id_is_ignored_not_a_500(app, value):
    """``?resubmit=`` and ``resubmission_of`` with absurd values show the plain form or a form error."""
    _refund, _shop, seller = request_in(RefundState.UNDER_REVIEW)
    client = signed_in(app, seller)
    assert client.get("/refunds/new", query_string={"resubmit": value}).status_code == 200
    posted = client.post("/refunds/new", data={"kind": "SURPLUS", "amount": "1", "confirm_payee": "y",
                                               "idempotency_key": "a" * 32, "resubmission_of": value})
    assert posted.status_code in (303, 422)


def test_a_non_ascii_webhook_signature_is_refused_not_a_500(app):
    """A signature header with characters outside ASCII is a bad signature (401)."""
    app.config["GATEWAY_WEBHOOK_SECRET"] = SECRET
    response = app.test_client().post("/api/v1/gateway/payouts", data=b"{}", headers={
        "X-Gateway-Timestamp": str(int(time.time())), "X-Gateway-Signature": "sha256=\u00e9"})
    assert response.status_code == 401


@pytest.mark.parametrize("query", ["\u00b2", "9" * 30])
def test_a_crafted_queue_search_is_not_a_500(app, query):
    """Digits outside ASCII or far too many digits are searched as text."""
    reason_codes()
    assert signed_in(app, staff(Role.AGENT, "agent-search")).get("/desk", query_string={"q": query}).status_code == 200


def test_widget_routes_take_their_language_from_the_query_not_a_cookie(app):
    """With a ``lang=en`` cookie, an unknown widget still answers in the language of ``?lang=`` (default Chinese)."""
    client = app.test_client()
    client.set_cookie("lang", "en")
    chinese = client.get("/embed/not-a-token").text
    client.delete_cookie("lang")
    assert client.get("/embed/not-a-token").text == chinese
