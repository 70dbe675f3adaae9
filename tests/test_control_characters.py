"""Control characters (NUL first of all) never reach the database: every form refuses them beside the field.

PostgreSQL cannot store a NUL (the driver raises: a 500) and SQLite stores it silently; both
databases run every test here. The sweep finds each form by posting to every POST route and
noting which form the view validates, so a new form is swept without being listed.
"""
import hashlib
import hmac
import json
import time

import pytest
from flask_babel import force_locale
from wtforms import HiddenField, PasswordField, StringField

from portal.accounts.models import LoginAttempt, SignInSession, User
from portal.audit.models import AuditLog
from portal.core import characters
from portal.core.vocabulary import RefundState
from portal.disputes.models import Dispute
from portal.payouts.models import WebhookEvent
from portal.refunds.models import RefundRequest
from portal.risk import service as risk_service
from portal.tickets.models import TicketMessage
from portal.web.forms import CONTROL_CHARACTER, Form
from tests.desk_helpers import request_in
from tests.factories import Page, sign_in
from tests.ticket_helpers import open_ticket
from tests.widget_helpers import load_demo, make_widget, open_request, public_urls, shop_of, token_of

TYPED = "typed\x00text"
SECRET = "control-character-test-secret"
# The state a desk form is offered in (the others are offered while a request is under review).
REQUEST_STATE_FOR = {"desk.release_request": RefundState.ON_HOLD, "desk.start_payout": RefundState.APPROVED,
                     "desk.record_payout": RefundState.PAYOUT_PROCESSING,
                     "desk.record_payout_failure": RefundState.PAYOUT_PROCESSING}
# Routes whose body is swept elsewhere here (the signed webhook).
NOT_FORMS = {"gateway.payout_event"}
# Button-only posts: no text field to sweep (CSRF, on for all of them, is tested in test_security).
BUTTON_ONLY = ["auth.end_all_sessions", "auth.end_session", "auth.logout_submit", "desk.assign_request",
               "desk.assign_ticket", "desk.reveal_payee", "disputes.ask_platform", "notifications.mark_all_read",
               "widgets.revoke_widget", "widgets.rotate_widget"]


@pytest.fixture
def world(app, monkeypatch):
    """The demo, plus a ticket and a widget of seller-ok's shop: an object behind every POST route."""
    load_demo(app, monkeypatch)
    seller = User.get(User.username == "seller-ok")
    with app.test_request_context():
        ticket = open_ticket(app, shop_of("seller-ok"), seller)
    risky = User.get(User.username == "seller-risky")
    dispute = Dispute.get(Dispute.shop == risky.shop_id)
    with app.test_request_context():
        dispute_ticket = open_ticket(app, shop_of("seller-risky"), risky, dispute_id=dispute.id)
    flag = risk_service.raise_flag(shop_of("seller-risky").id, None, "CHECK", "LOW", "NONE", "复核中。", "内部说明")
    # A request in each state a desk form is shown in, so the refused form is drawn again.
    requests = {state: request_in(state)[0] for state in (RefundState.UNDER_REVIEW, RefundState.ON_HOLD,
                                                           RefundState.APPROVED, RefundState.PAYOUT_PROCESSING)}
    # What the pages put in hidden fields: the sweep sends them as the page would, so the form's
    # error shows where that page shows it.
    hidden = {"flag_id": str(flag.id), "seen_message_id": "0", "idempotency_key": "0" * 32,
              "dispute_id": str(dispute.id)}
    return {"ticket": ticket, "widget": make_widget("seller-ok"), "app": app, "hidden": hidden,
            "requests": requests, "dispute_ticket": dispute_ticket}


def client_of(app, username):
    """A browser signed in as a demo user, asking for English pages."""
    client = app.test_client()
    client.set_cookie("lang", "en")
    sign_in(client, User.get(User.username == username))
    return client


def route_target(rule, world):
    """Who posts to a route, and the URL with real objects in it."""
    endpoint = rule.endpoint
    ids = {}
    if endpoint == "desk.resolve_ticket_dispute":
        user = "agent"
        ids = {"ticket_id": world["dispute_ticket"].id}
    elif endpoint.startswith("desk."):
        user = "finance" if "payout" in rule.rule or "payee" in rule.rule else "agent"
        state = REQUEST_STATE_FOR.get(endpoint, RefundState.UNDER_REVIEW)
        ids = {"request_id": world["requests"][state].id, "shop_id": shop_of("seller-risky").id,
               "ticket_id": world["ticket"].id}
    elif endpoint.startswith("disputes."):
        user = "seller-risky"
        ids = {"dispute_id": Dispute.get(Dispute.shop == shop_of("seller-risky").id).id}
    elif endpoint in ("refunds.cancel_request", "refunds.answer_request"):
        user = "seller-info"
        ids = {"request_id": open_request("seller-info").id}
    else:
        user = "seller-ok"
        owner = User.get(User.username == user)
        session = SignInSession.open_for(owner.id).first()
        ids = {"ticket_id": world["ticket"].id, "widget_id": world["widget"].id,
               "session_id": session.id if session else 2**31 - 1}
    with world["app"].test_request_context():
        from flask import url_for

        url = url_for(endpoint, **{name: ids[name] for name in rule.arguments})
    return user, url


@pytest.fixture
def validated_forms(monkeypatch):
    """Every (form class, prefix) a view validates, in order."""
    seen = []
    original = Form.validate

    def noting(self, extra_validators=None):
        """Note the form, then validate it as usual."""
        seen.append((type(self), self._prefix))
        return original(self, extra_validators)

    monkeypatch.setattr(Form, "validate", noting)
    return seen


def form_fields(app, form_class, prefix):
    """The text fields a person (or a hand-edited request) can send to a form (files: a test of their own)."""
    with app.test_request_context():
        form = form_class(formdata=None, prefix=prefix)
        # A password is never drawn again, and a choice shows its options, not what was sent.
        return [(field.name, field.short_name, isinstance(field, HiddenField), not isinstance(field, PasswordField))
                for field in form if isinstance(field, StringField) and field.name != "csrf_token"]


def error_beside(html, name, message):
    """True when the input named ``name`` points (aria-describedby) at an error holding ``message``.

    Choice fields drawn as a list of boxes carry no aria-describedby on each box: for them an
    error paragraph with the field's id is enough.
    """
    page = Page(html)
    for element in page.find_all(name=name):
        for error_id in element.attrs.get("aria-describedby", "").split():
            if any(message in found.text for found in page.find_all(id=error_id)):
                return True
    return any(message in found.text for found in page.find_all(id=f"{name}-error"))


def post_routes(app):
    """Every POST route of the portal."""
    return sorted((rule for rule in app.url_map.iter_rules() if "POST" in rule.methods),
                  key=lambda rule: rule.endpoint)


def test_every_form_refuses_a_nul_in_every_field_beside_it_and_keeps_the_text(world, validated_forms):
    """A NUL in any field of any form: 422 with the message beside that field and the text kept; hidden: 400."""
    app = world["app"]
    swept, formless, statuses, forms = set(), [], [], {}
    with force_locale("en"):
        message = str(CONTROL_CHARACTER)
    # First find each route's form: an empty post is refused by a form with a required field (and is
    # the whole action of a button-only post, which is why nothing is counted until the sweep).
    for rule in post_routes(app):
        if rule.endpoint in NOT_FORMS:
            continue
        username, url = route_target(rule, world)
        client = client_of(app, username)
        validated_forms.clear()
        client.post(url, data={})
        if validated_forms:
            forms[rule.endpoint] = (client, url, *validated_forms[0])
        else:
            formless.append(rule.endpoint)
    before = (RefundRequest.select().count(), TicketMessage.select().count(), AuditLog.select().count(),
              LoginAttempt.select().count())
    for endpoint, (client, url, form_class, prefix) in forms.items():
        fields = form_fields(app, form_class, prefix)
        known = {**world["hidden"], "expected_state": REQUEST_STATE_FOR.get(endpoint, RefundState.UNDER_REVIEW)}
        page_values = {name: known[short] for name, short, hidden, _text in fields if hidden and short in known}
        for name, _short, hidden, keeps_text in fields:
            response = client.post(url, data={**page_values, name: TYPED})
            statuses.append((endpoint, name, response.status_code))
            if hidden:
                assert response.status_code == 400, (endpoint, name)
                continue
            assert response.status_code == 422, (endpoint, name, response.status_code)
            if Page(response.text).find_all(name=name):
                assert error_beside(response.text, name, message), (endpoint, name)
                assert not keeps_text or TYPED in response.text, (endpoint, name)
                swept.add(endpoint)
            # else: a field this form's page never draws (e.g. a note on the release button): only a hand-made
            # request sends it, and the 422 is the whole answer.
    assert [status for status in statuses if status[2] >= 500] == []
    # Every route but the button-only ones validated a form that was swept.
    assert formless == BUTTON_ONLY
    assert len(swept) >= 20, sorted(swept)
    assert (RefundRequest.select().count(), TicketMessage.select().count(), AuditLog.select().count(),
            LoginAttempt.select().count()) == before
    assert not any("\x00" in (message.body or "") for message in TicketMessage.select())


@pytest.mark.parametrize("character", ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\x9b", "\x0b", "\r"])
def test_a_single_line_field_refuses_any_control_character(app, character):
    """Sign-in (the first route in the report) refuses C0, DEL and C1 controls with a 422, and records nothing."""
    client = app.test_client()
    client.set_cookie("lang", "en")
    response = client.post("/login", data={"username": f"seller{character}ok", "password": "x"})
    assert response.status_code == 422
    page = Page(response.text)
    with force_locale("en"):
        assert str(CONTROL_CHARACTER) in page.find(id="username-error").text
    assert page.find("input", id="username").attrs["value"] == f"seller{character}ok"
    assert LoginAttempt.select().count() == 0


def test_a_text_area_keeps_tabs_and_line_breaks_and_stores_crlf_as_lf(world):
    """A reply with CR LF, a lone CR and a tab is stored with LF and the tab; a NUL in it is refused."""
    app = world["app"]
    client = client_of(app, "seller-ok")
    ticket = world["ticket"]
    refused = client.post(f"/tickets/{ticket.id}/reply", data={"message": "第一行\r\n第二\x00行"})
    assert refused.status_code == 422
    assert "第一行\n第二\x00行" in refused.text
    response = client.post(f"/tickets/{ticket.id}/reply", data={"message": "第一行\r\n第二行\r第三\t行"})
    assert response.status_code in (200, 303)
    latest = TicketMessage.select().where(TicketMessage.ticket == ticket.id).order_by(TicketMessage.id.desc()).get()
    assert latest.body == "第一行\n第二行\n第三\t行"


def test_a_control_character_in_an_uploaded_file_name_is_refused_beside_the_field(world):
    """A file named with a NUL (a hand-made request) comes back 422 with the message beside the file field."""
    import io

    app = world["app"]
    client = client_of(app, "seller-ok")
    ticket = world["ticket"]
    count = TicketMessage.select().count()
    response = client.post(f"/tickets/{ticket.id}/reply", content_type="multipart/form-data",
                           data={"message": "见附件", "files": (io.BytesIO(b"%PDF-1.4"), "bad\x00name.pdf")})
    assert response.status_code == 422
    with force_locale("en"):
        assert str(CONTROL_CHARACTER) in Page(response.text).find(id="files-error").text
    assert TicketMessage.select().count() == count


def query_cases(world):
    """(who, URL, query) for every query-string input that is not a form: each gets a control character."""
    token = token_of(world["app"], world["widget"])
    cases = [
        ("agent", "/desk", {"q": "晨光\x00"}), ("agent", "/desk", {"state": "\x00"}),
        ("agent", "/desk", {"view": "\x00"}), ("agent", "/desk", {"after": "2026-01-01.1\x00"}),
        ("agent", "/desk/audit", {"action": "payee.reveal\x00"}), ("agent", "/desk/audit", {"actor": "agent\x00"}),
        ("agent", "/desk/audit", {"request": "1\x00"}), ("agent", "/desk/audit", {"before": "\x00"}),
        ("agent", "/desk/canned", {"canned": "\x00"}),
        ("agent", "/desk/reasons/message", {"form": "reject", "reject-reason_code": "PENDING_COMPLAINT\x00"}),
        ("seller-ok", "/tickets/new", {"subject": "问\x00题"}), ("seller-ok", "/tickets/new", {"request": "1\x00"}),
        ("seller-ok", "/tickets/new", {"category": "\x00"}), ("seller-ok", "/refunds/new", {"kind": "\x00"}),
        ("seller-ok", "/refunds/new", {"resubmit": "1\x00"}), ("seller-ok", "/deposit", {"before": "\x00"}),
        (None, "/login", {"next": "/deposit\x00"}), (None, "/lang/en", {"next": "/\x00"}),
        (None, "/leaving", {"to": "https://a.example/\x00"}), (None, "/leaving", {"to": "https://a\x00.example/"}),
    ]
    cases += [(None, url, {"parent": "https://erp.example.com\x00", "lang": "\x00", "v": "\x00"})
              for url in public_urls(token)]
    return cases


def test_a_control_character_in_any_query_string_is_never_a_500(world):
    """Desk search, audit filters, prefills, cursors, next, widget parameters: a 400 page or an answer, never a 500."""
    app = world["app"]
    answers = {}
    for who, url, query in query_cases(world):
        client = client_of(app, who) if who else app.test_client()
        answers[(url, tuple(query))] = client.get(url, query_string=query).status_code
    assert {key: status for key, status in answers.items() if status >= 500} == {}
    # What is looked up in the database as text is refused outright, with the 400 page (the audit's
    # person filter is a staff id from a list: anything else is no filter, like a bad cursor).
    for key in [("/desk", ("q",)), ("/desk/audit", ("action",)),
                ("/desk/canned", ("canned",)), ("/desk/reasons/message", ("form", "reject-reason_code"))]:
        assert answers[key] == 400, key
    # A control character in ?next= drops it: the sign-in form carries no place to go.
    html = app.test_client().get("/login", query_string={"next": "/deposit\x00"}).text
    assert Page(html).find("input", id="next").attrs.get("value", "") == ""


def signed_post(client, body):
    """POST a webhook body signed as the gateway signs it."""
    timestamp = int(time.time())
    digest = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return client.post("/api/v1/gateway/payouts", data=body, headers={
        "Content-Type": "application/json", "X-Gateway-Timestamp": str(timestamp),
        "X-Gateway-Signature": "sha256=" + digest})


@pytest.mark.parametrize("field", ["event_id", "payout_reference", "bank_reference", "type"])
def test_a_signed_webhook_with_a_nul_in_a_string_is_refused_not_a_500(app, field):
    """``"\\u0000"`` is valid JSON but cannot be stored: a 422, and no event row."""
    app.config["GATEWAY_WEBHOOK_SECRET"] = SECRET
    payload = {"event_id": "evt_1", "type": "payout.succeeded", "payout_reference": "PO-1-1",
               "bank_reference": "GW-1", "amount_fen": 100}
    payload[field] += "\u0000"
    response = signed_post(app.test_client(), json.dumps(payload).encode())
    assert response.status_code == 422
    assert response.get_json() == {"error": "text in the body must not contain control characters"}
    assert WebhookEvent.select().count() == 0


def test_nested_json_is_walked_without_recursion():
    """A control character deep inside lists and objects is found; clean text is not flagged."""
    deep = {"a": [{"b": [{"c": "ok"}]}]}
    assert not characters.json_has_control_characters(deep)
    deep["a"][0]["b"].append({"d\x01": 1})
    assert characters.json_has_control_characters(deep)
    nested = "x"
    for _ in range(5000):
        nested = [nested]
    assert not characters.json_has_control_characters(nested)


def test_every_form_of_the_portal_is_a_portal_form(app):
    """No form skips the check: every FlaskForm the app defines inherits Form."""
    from flask_wtf import FlaskForm

    found, pending = [], list(FlaskForm.__subclasses__())
    while pending:
        form_class = pending.pop()
        pending.extend(form_class.__subclasses__())
        if form_class.__module__.startswith("portal."):
            found.append(form_class)
    outside = [form_class.__qualname__ for form_class in found
               if form_class is not Form and not issubclass(form_class, Form)]
    assert outside == []
    assert len(found) > 20
