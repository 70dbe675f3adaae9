"""The security baseline: headers on every page, CSRF, cookies, 404 for others' objects, size limit, health."""
import json
import re
import socket
import uuid
from urllib.parse import urlsplit

import pytest

from portal import create_app
from portal.accounts.models import LoginAttempt
from portal.core.vocabulary import RefundState, Role
from portal.payee.models import PayeeChange
from portal.refunds.models import RefundRequest
from tests.conftest import make_app, release_connections
from tests.factories import (
    PASSWORD,
    Page,
    csrf_token,
    htmx_destination,
    htmx_headers,
    idempotency_key,
    make_user,
    ready_seller,
    request_rows,
    sign_in,
)

TOO_BIG = "1" * (2 * 1024 * 1024)  # twice MAX_CONTENT_LENGTH


def seller_with_request(client):
    """Sign in a seller (English pages) who has one request under review; returns (user, request)."""
    shop, user = ready_seller(username="seller-a")
    refund = RefundRequest.create(shop=shop, kind="SURPLUS", requested_fen=10_000, state=RefundState.UNDER_REVIEW,
                                  idempotency_key=uuid.uuid4().hex, created_by=user)
    client.set_cookie("lang", "en")
    sign_in(client, user)
    return user, refund


def cookie_header(response, name):
    """The Set-Cookie header that sets ``name`` (fails the test when there is none)."""
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(name + "="):
            return header
    raise AssertionError(f"no {name} cookie was set")


def cookie_flags(header):
    """The attribute names and values of a Set-Cookie header, lower-cased."""
    return {part.split("=", 1)[0].strip().lower(): (part.split("=", 1)[1].strip() if "=" in part else True)
            for part in header.split(";")[1:]}


def free_port():
    """A local TCP port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_every_page_refuses_framing_and_inline_code(client, app):
    """Every page carries a strict CSP (frame-ancestors 'none', no unsafe-*) and has no inline script or style."""
    anonymous = ["/login", "/healthz", "/no-such-page"]
    responses = {url: client.get(url) for url in anonymous}
    user, refund = seller_with_request(client)
    for url in ("/deposit", "/payee", "/refunds", "/refunds/new", f"/refunds/{refund.id}", "/logout",
                "/deposit/exit-notice", "/static/js/portal.js"):
        responses[url] = client.get(url)
    assert responses["/deposit/exit-notice"].status_code == 405
    assert responses["/no-such-page"].status_code == 404
    for url, response in responses.items():
        policy = response.headers.get("Content-Security-Policy", "")
        directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
        assert directives.get("frame-ancestors") == ["'none'"], url
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, url
        assert directives.get("script-src") == ["'self'"] and "default-src" in directives, url
        assert response.headers.get("X-Frame-Options") == "DENY", url
        assert response.headers.get("X-Content-Type-Options") == "nosniff", url
        if response.mimetype == "text/html":
            page = Page(response.text)
            assert all(script.get("src") for script in page.find_all("script")), f"{url}: inline script"
            assert not page.find_all("style"), f"{url}: inline <style>"
            for element in page.elements:
                inline = [name for name in element[1] if name == "style" or name.startswith("on")]
                assert not inline, f"{url}: <{element[0]}> has {inline}"


def test_signed_in_pages_are_not_cached(client, app):
    """A signed-in seller's pages are marked private and no-store."""
    seller_with_request(client)
    cache = client.get("/deposit").headers.get("Cache-Control", "")
    assert "no-store" in cache and "private" in cache


def test_post_without_csrf_token_is_refused_and_writes_nothing(csrf_app):
    """With CSRF on, a form posted without its token gets a clear 400 page and creates nothing."""
    client = csrf_app.test_client()
    seller_with_request(client)
    RefundRequest.delete().execute()
    key = idempotency_key(client.get("/refunds/new").text)
    before = request_rows()
    response = client.post("/refunds/new", data={"kind": "SURPLUS", "amount": "100", "confirm_payee": "y",
                                                 "idempotency_key": key})
    assert response.status_code == 400
    page = Page(response.text)
    assert page.find("h1").text == "Please try again"
    assert "send it again" in page.find("main").text
    assert request_rows() == before


def test_forged_csrf_token_is_refused(csrf_app):
    """A made-up token, or one from another visitor's session, is refused with 400 and nothing written."""
    client = csrf_app.test_client()
    seller_with_request(client)
    RefundRequest.delete().execute()
    stranger = csrf_app.test_client()
    foreign_token = csrf_token(stranger.get("/login").text)
    html = client.get("/refunds/new").text
    before = request_rows()
    for token in ("forged", foreign_token, csrf_token(html)[:-2] + "xx"):
        response = client.post("/refunds/new", data={
            "csrf_token": token, "kind": "SURPLUS", "amount": "100", "confirm_payee": "y",
            "idempotency_key": idempotency_key(html)})
        assert response.status_code == 400, token
    assert request_rows() == before


def test_htmx_sends_the_token_as_a_header(csrf_app):
    """The token from the page's meta tag in X-CSRFToken (how portal.js sends it) is accepted."""
    client = csrf_app.test_client()
    seller_with_request(client)
    RefundRequest.delete().execute()
    html = client.get("/refunds/new").text
    response = client.post("/refunds/new", data={"kind": "SURPLUS", "amount": "100", "confirm_payee": "y",
                                                 "idempotency_key": idempotency_key(html)},
                           headers={**htmx_headers(), "X-CSRFToken": csrf_token(html)})
    assert response.status_code == 204
    refund = RefundRequest.get()
    assert urlsplit(htmx_destination(response)).path == f"/refunds/{refund.id}"


def test_form_token_is_accepted(csrf_app):
    """The token in the form's hidden field is accepted and the request is created."""
    client = csrf_app.test_client()
    seller_with_request(client)
    RefundRequest.delete().execute()
    page = Page(client.get("/refunds/new").text)
    data = {"csrf_token": page.find("input", name="csrf_token")["value"], "kind": "SURPLUS", "amount": "100",
            "confirm_payee": "y", "idempotency_key": page.find("input", name="idempotency_key")["value"]}
    assert client.post("/refunds/new", data=data).status_code == 303
    assert RefundRequest.select().count() == 1


def test_every_form_needs_the_token(csrf_app):
    """Sign-in, payee, sign-out and exit notice posts without a token are refused and change nothing."""
    client = csrf_app.test_client()
    assert client.post("/login", data={"username": "seller-a", "password": PASSWORD}).status_code == 400
    assert LoginAttempt.select().count() == 0
    user, refund = seller_with_request(client)
    assert client.post("/payee", data={"holder_name": "x", "account_type": "CORPORATE", "bank_name": "x",
                                       "account_number": "12345678"}).status_code == 400
    assert PayeeChange.select().count() == 1  # only the one the factory made
    assert client.post("/deposit/exit-notice").status_code == 400
    assert client.post("/logout").status_code == 400
    assert client.get("/deposit").status_code == 200  # still signed in


def test_session_cookie_is_httponly_and_lax(client, app):
    """The session cookie set at sign-in is HttpOnly and SameSite=Lax, and not Secure over plain http."""
    ready_seller(username="seller-a")
    response = client.post("/login", data={"username": "seller-a", "password": PASSWORD})
    flags = cookie_flags(cookie_header(response, app.config["SESSION_COOKIE_NAME"]))
    assert flags.get("httponly") is True
    assert flags.get("samesite", "").lower() == "lax"
    assert "secure" not in flags


def test_session_cookie_is_secure_over_https(client, app):
    """Over HTTPS the session cookie is also marked Secure."""
    ready_seller(username="seller-a")
    response = client.post("/login", data={"username": "seller-a", "password": PASSWORD},
                           base_url="https://localhost")
    assert response.status_code == 303
    flags = cookie_flags(cookie_header(response, app.config["SESSION_COOKIE_NAME"]))
    assert flags.get("secure") is True and flags.get("httponly") is True
    assert flags.get("samesite", "").lower() == "lax"


def test_another_sellers_request_answers_404(client, app):
    """Another seller's request id is 404 to view and to cancel, and the request stays as it was."""
    other_shop, other = ready_seller(username="seller-b")
    theirs = RefundRequest.create(shop=other_shop, kind="SURPLUS", requested_fen=100,
                                  state=RefundState.UNDER_REVIEW, idempotency_key=uuid.uuid4().hex)
    seller_with_request(client)
    assert client.get(f"/refunds/{theirs.id}").status_code == 404
    assert client.post(f"/refunds/{theirs.id}/cancel", data={"expected_state": "UNDER_REVIEW"}).status_code == 404
    assert RefundRequest.get_by_id(theirs.id).state == RefundState.UNDER_REVIEW


def test_staff_cannot_use_seller_pages(client, app):
    """A support agent signed in gets 404 on every seller page."""
    sign_in(client, make_user("agent-1", role=Role.AGENT))
    for url in ("/deposit", "/payee", "/refunds", "/refunds/new"):
        assert client.get(url).status_code == 404, url


def test_body_over_the_limit_gets_a_413_page(client, app):
    """A body over MAX_CONTENT_LENGTH gets a clear 413 page and nothing is written."""
    seller_with_request(client)
    before = request_rows()
    response = client.post("/refunds/new", data={"kind": "SURPLUS", "amount": TOO_BIG, "confirm_payee": "y"})
    assert response.status_code == 413
    assert Page(response.text).find("h1").text == "Too large"
    assert request_rows() == before
    assert client.post("/payee", data={"holder_name": TOO_BIG}).status_code == 413


def test_body_over_the_limit_with_csrf_on(csrf_app):
    """With CSRF on (which reads the form first) an oversized body is still a 413, not a 400 or 500."""
    client = csrf_app.test_client()
    seller_with_request(client)
    before = request_rows()
    response = client.post("/refunds/new", data={"amount": TOO_BIG},
                           headers={"X-CSRFToken": csrf_token(client.get("/refunds/new").text)})
    assert response.status_code == 413
    assert request_rows() == before


def test_healthz_answers_ok(client, app):
    """With the database up /healthz answers 200 'ok', uncached."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.text.strip() == "ok"
    assert "no-store" in response.headers.get("Cache-Control", "")


@pytest.fixture(params=["sqlite", "postgres"])
def unreachable_app(request, tmp_path):
    """An app whose database cannot be reached: a SQLite file in a missing folder, or a closed port."""
    if request.param == "sqlite":
        url = "sqlite:///" + str(tmp_path / "missing-folder" / "portal.sqlite3")
    else:
        url = f"postgresql://postgres@127.0.0.1:{free_port()}/portal"
    return create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "test-" + uuid.uuid4().hex,
                       "UPLOAD_DIR": str(tmp_path / "uploads"), "WTF_CSRF_ENABLED": False})


def test_healthz_is_503_when_the_database_is_unreachable(unreachable_app):
    """/healthz answers 503 (not ok) when the database does not answer."""
    response = unreachable_app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.text.strip() != "ok"


def test_readiness_and_liveness_answer_ok_with_the_database_up(client, app):
    """/healthz/ready and /healthz/live answer 200 'ok', uncached, like /healthz."""
    for path in ("/healthz/ready", "/healthz/live"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.text == "ok\n"
        assert "no-store" in response.headers.get("Cache-Control", "")


def test_readiness_is_503_but_liveness_200_when_the_database_is_unreachable(unreachable_app, capsys):
    """Database down: /healthz/ready is 503 (out of the pool), /healthz/live still 200 (do not restart)."""
    client = unreachable_app.test_client()
    capsys.readouterr()
    ready = client.get("/healthz/ready", headers={"X-Request-Id": "lb-probe-1"})
    assert ready.status_code == 503
    assert ready.text.strip() != "ok"
    live = client.get("/healthz/live")
    assert live.status_code == 200
    assert live.text == "ok\n"
    # The failure's own log line (JSON, with its traceback) names the request it belongs to.
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    failures = [line for line in logged if line["level"] == "ERROR" and line.get("request_id") == "lb-probe-1"]
    assert failures and "exc_info" in failures[0]
    (request_line,) = [line for line in logged if line["logger"] == "portal.requests"
                       and line["request_id"] == "lb-probe-1"]
    assert (request_line["route"], request_line["status"]) == ("/healthz/ready", 503)


def test_pages_give_a_clean_503_when_the_database_is_unreachable(unreachable_app):
    """Pages, signed in or not, GET or POST, answer a readable 503 page, never a stack trace."""
    client = unreachable_app.test_client()
    client.set_cookie("lang", "en")
    responses = [client.get("/login"), client.post("/login", data={"username": "a", "password": "b"})]
    with client.session_transaction() as session:
        session["_user_id"] = "1"  # someone signed in before the database went away
        session["_fresh"] = True
    responses += [client.get("/deposit"), client.get("/refunds/new", headers=htmx_headers())]
    for response in responses:
        assert response.status_code == 503
        assert Page(response.text).find("h1").text == "Temporarily unavailable"
        assert "Traceback" not in response.text and "OperationalError" not in response.text


def test_language_switch_sets_a_cookie_and_goes_back(client, app):
    """/lang/en?next=/deposit remembers English in a cookie and returns to /deposit."""
    response = client.get("/lang/en?next=/deposit")
    assert response.status_code == 303
    assert response.headers["Location"] == "/deposit"
    header = cookie_header(response, "lang")
    assert header.startswith("lang=en;")
    assert cookie_flags(header).get("samesite", "").lower() == "lax"


@pytest.mark.parametrize("target", ["https://evil.example", "//evil.example", "/\\evil.example",
                                    "/deposit\r\nX-Injected: 1"])
def test_language_switch_never_redirects_off_site(client, app, target):
    """The switch refuses a ``next`` that leaves the site (or would break the header) and goes home."""
    response = client.get("/lang/en", query_string={"next": target})
    assert response.status_code == 303
    location = response.headers["Location"]
    assert urlsplit(location).netloc in ("", "localhost")
    assert not re.match(r"^[/\\]{2}", location)
    assert "X-Injected" not in response.headers


def test_unknown_language_sets_no_cookie(client, app):
    """A language the portal does not have is not remembered."""
    response = client.get("/lang/xx?next=/login")
    assert response.status_code == 303
    assert not [header for header in response.headers.getlist("Set-Cookie") if header.startswith("lang=")]


# --- HSTS: only over HTTPS, as long as HSTS_SECONDS says ------------------------------------------------

HTTPS_FROM_PROXY = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}


@pytest.fixture
def portal_client(database_url, tmp_path):
    """A client of a portal made with the settings given (one portal per test)."""
    yield lambda **settings: make_app(database_url, tmp_path, **settings).test_client()
    release_connections()


def test_hsts_is_sent_behind_an_https_proxy(portal_client):
    """With PROXY_HOPS=1 and the proxy saying https, every answer carries a year of Strict-Transport-Security."""
    client = portal_client(PROXY_HOPS=1)
    for path in ("/login", "/healthz", "/no-such-page"):
        response = client.get(path, headers=HTTPS_FROM_PROXY)
        assert response.headers.get("Strict-Transport-Security") == "max-age=31536000", path


def test_hsts_is_sent_on_a_direct_https_request(app):
    """A request that reached the app over HTTPS itself gets the header too."""
    response = app.test_client().get("/login", base_url="https://portal.example")
    assert response.headers.get("Strict-Transport-Security") == "max-age=31536000"


def test_hsts_is_never_sent_over_plain_http(portal_client):
    """Plain HTTP gets no HSTS, even with a trusted proxy in front."""
    client = portal_client(PROXY_HOPS=1)
    assert "Strict-Transport-Security" not in client.get("/login").headers
    assert "Strict-Transport-Security" not in client.get("/login", headers={"X-Forwarded-Proto": "http"}).headers


def test_hsts_ignores_an_https_claim_from_an_untrusted_proxy(app):
    """Without PROXY_HOPS, X-Forwarded-Proto is anyone's to send: no HSTS on its word."""
    assert "Strict-Transport-Security" not in app.test_client().get("/login", headers=HTTPS_FROM_PROXY).headers


@pytest.mark.parametrize(("seconds", "expected"), [("600", "max-age=600"), ("0", None)])
def test_hsts_max_age_comes_from_the_environment(portal_client, monkeypatch, seconds, expected):
    """HSTS_SECONDS from the environment sets max-age; 0 turns the header off."""
    monkeypatch.setenv("HSTS_SECONDS", seconds)
    monkeypatch.setenv("PROXY_HOPS", "1")
    client = portal_client()
    assert client.get("/login", headers=HTTPS_FROM_PROXY).headers.get("Strict-Transport-Security") == expected
