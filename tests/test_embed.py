"""What other sites load: the widget page and its refresh, the loader script, the JSON status and the SVG badge.

Checked as another site (and its visitors) would meet them: which tokens work, which headers come
back, what the widget shows and hides, how it refreshes, and when it says "too many requests".
"""
import datetime
import gzip
import json
import re
import uuid
import xml.etree.ElementTree as ET

import pytest
from babel.dates import format_date

from portal import create_app
from portal.accounts.models import User
from portal.core.clock import utcnow
from portal.core.vocabulary import Actor, RefundState
from portal.payee.models import PayeeAccount
from portal.refunds import service as refund_service
from portal.refunds.models import RefundRequest
from portal.web.security import is_sessionless
from portal.widgets import service as widget_service
from portal.widgets import tokens
from portal.widgets.models import Widget
from tests.factories import Page, make_shop
from tests.widget_helpers import ORIGINS, load_demo, make_widget, open_request, public_urls, shop_of, token_of

ALLOWED = ORIGINS[0]
# The moment the rate-limit tests freeze the limiter's clock at: half a minute to the next window.
FROZEN = datetime.datetime(2026, 3, 2, 10, 15, 30)
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def demo(app, monkeypatch):
    """The demo shops and requests; seller-review has one request under review."""
    return load_demo(app, monkeypatch)


def widget_and_token(app, username="seller-review", **fields):
    """A live widget of a demo seller's shop and its token."""
    widget = make_widget(username, **fields)
    return widget, token_of(app, widget)


def unhashed(url):
    """A static address without its content hash (``embed.<hash>.css`` is ``embed.css``)."""
    return re.sub(r"\.[0-9a-f]{12}(\.\w+)$", r"\1", url)


def body(response):
    """A response's text."""
    return response.get_data(as_text=True)


def set_cookies(response):
    """Every Set-Cookie header of a response."""
    return response.headers.getlist("Set-Cookie")


def csp(response):
    """A response's Content-Security-Policy as {directive: value}."""
    directives = (part.strip() for part in response.headers["Content-Security-Policy"].split(";"))
    return dict((part.split(" ", 1) + [""])[:2] for part in directives if part)


def act(refund_id, target, role=Actor.AGENT, username="agent", **details):
    """Move a request as support (or finance) would, through the portal's own transition."""
    return refund_service.transition(refund_id, target, User.get(User.username == username), role, **details)


def reject(refund_id):
    """Support rejects a request (a final state)."""
    return act(refund_id, RefundState.REJECTED, reason_code="PENDING_COMPLAINT", seller_message="有一笔投诉尚未结案。")


# --- which tokens work -----------------------------------------------------------------------------

def test_a_live_token_answers_on_every_public_route(app, client, demo):
    """Page, refresh, JSON and badge all answer 200 for the current token."""
    _, token = widget_and_token(app)
    for url in public_urls(token):
        assert client.get(url).status_code == 200, url


def flip(text, index):
    """The text with one character changed (to another one of the same base64 alphabet)."""
    return text[:index] + ("B" if text[index] != "B" else "C") + text[index + 1:]


def revoked(app, widget, token):
    """The token of a widget revoked since."""
    Widget.update(revoked_at=utcnow(), version=Widget.version + 1).where(Widget.id == widget.id).execute()
    return token


def rotated(app, widget, token):
    """The old token of a widget rotated since."""
    Widget.update(version=Widget.version + 1).where(Widget.id == widget.id).execute()
    return token


def payload_flipped(app, widget, token):
    """The token with one character of its payload changed."""
    payload, signature = token.split(".")
    return flip(payload, 1) + "." + signature


def signature_flipped(app, widget, token):
    """The token with one character of its signature changed."""
    payload, signature = token.split(".")
    return payload + "." + flip(signature, 0)


def other_key(app, widget, token):
    """A well-formed token for this widget signed with another secret key."""
    return tokens.make_token("not-the-portal-key", widget)


def other_widget_forged(app, widget, token):
    """Another live widget's id with this widget's signature pasted on."""
    other = make_widget("seller-ok")
    return token_of(app, other).split(".")[0] + "." + token.split(".")[1]


@pytest.mark.parametrize("spoil", [revoked, rotated, payload_flipped, signature_flipped, other_key,
                                   other_widget_forged], ids=lambda spoil: spoil.__name__)
def test_a_dead_or_tampered_token_answers_404_everywhere(app, client, demo, spoil):
    """Revoked, rotated, tampered and forged tokens all get a 404 on every public route, naming no request.

    The frame page says, styled, that the status is no longer shared (the same words for every kind of
    dead token); the other routes answer a plain 404.
    """
    widget, token = widget_and_token(app)
    bad = spoil(app, widget, token)
    frame, *others = public_urls(bad)
    response = client.get(frame)
    assert response.status_code == 404
    assert re.search(r'<main class="gone" data-widget-gone>\s*<p class="label">', body(response))
    assert unhashed(Page(body(response)).find("link", rel="stylesheet")["href"]) == "/static/css/embed.css"
    assert "style=" not in body(response) and "<script" not in body(response)
    assert "审核中" not in body(response) and "UNDER_REVIEW" not in body(response)
    assert csp(response)["style-src"] == "'self'"
    for url in others:
        response = client.get(url)
        assert response.status_code == 404, url
        assert "<html" not in body(response)
        assert "审核中" not in body(response) and "UNDER_REVIEW" not in body(response)


def test_a_revoked_widget_says_so_inside_the_frames_of_its_own_sites(app, client, demo):
    """A revoked or rotated widget's note may be framed by the widget's sites; a forged token's by none."""
    widget, token = widget_and_token(app, origins=("https://erp.example.com",))
    revoked(app, widget, token)
    response = client.get(f"/embed/{token}")
    assert response.status_code == 404
    assert csp(response)["frame-ancestors"].split() == ["'self'", "https://erp.example.com"]
    assert "X-Frame-Options" not in response.headers
    english = client.get(f"/embed/{token}?lang=en")
    assert "This status is no longer shared." in body(english) and '<html lang="en">' in body(english)
    forged = client.get(f"/embed/{other_key(app, widget, token)}")
    assert forged.status_code == 404 and csp(forged)["frame-ancestors"] == "'none'"


def test_rotation_gives_a_new_working_token(app, client, demo):
    """After rotation the new token works on every route and the old one on none."""
    widget, old = widget_and_token(app)
    rotated(app, widget, old)
    new = token_of(app, widget)
    assert new != old
    for new_url, old_url in zip(public_urls(new), public_urls(old), strict=True):
        assert client.get(new_url).status_code == 200
        assert client.get(old_url).status_code == 404


# --- no cookies, no session, framing -------------------------------------------------------------

def widget_urls(token):
    """Every widget route, the loader and a 404 included."""
    return [*public_urls(token), f"/embed/{token}/status?v=0", "/embed.js", "/embed/nonsense", "/badge/x.svg"]


def test_widget_routes_set_no_cookie_for_anonymous_visitors(app, client, demo):
    """No widget route, not even a 404, sets a cookie."""
    _, token = widget_and_token(app)
    for url in widget_urls(token):
        response = client.get(url, headers={"Origin": ALLOWED})
        assert set_cookies(response) == [], url


def test_widget_routes_ignore_a_signed_in_sellers_session(app, client, auth, demo):
    """With the owner's session cookie the answers are byte for byte the anonymous ones; no cookie, no Vary: Cookie."""
    _, token = widget_and_token(app)
    anonymous = app.test_client()
    assert auth.login("seller-review").status_code == 303
    assert client.get_cookie(app.config["SESSION_COOKIE_NAME"]) is not None
    for url in widget_urls(token):
        signed_in, plain = client.get(url), anonymous.get(url)
        assert set_cookies(signed_in) == [], url
        assert signed_in.status_code == plain.status_code, url
        assert signed_in.get_data() == plain.get_data(), url
        assert "cookie" not in signed_in.headers.get("Vary", "").lower(), url
        assert "private" not in signed_in.headers.get("Cache-Control", ""), url
    app.config["WIDGET_RATE_PER_TOKEN"] = 0  # a 429 too sets no cookie and ignores the session
    signed_in, plain = client.get(f"/embed/{token}"), anonymous.get(f"/embed/{token}")
    assert signed_in.status_code == plain.status_code == 429
    assert set_cookies(signed_in) == []
    assert "cookie" not in signed_in.headers.get("Vary", "").lower()
    # The seller's own session survived untouched.
    assert client.get("/deposit").status_code == 200


@pytest.mark.parametrize("path, username", [("/login", None), ("/deposit", "seller-review"),
                                            ("/refunds/{refund}", "seller-review"), ("/desk", "agent")])
def test_the_portals_own_pages_refuse_framing(app, client, auth, demo, path, username):
    """Every portal page says DENY to framing, in both the old header and the CSP."""
    if username:
        auth.login(username)
    response = client.get(path.format(refund=open_request("seller-review").id))
    assert response.status_code == 200
    assert response.headers["X-Frame-Options"] == "DENY"
    assert csp(response)["frame-ancestors"] == "'none'"


def test_the_widget_page_may_be_framed_by_exactly_its_sites(app, client, demo):
    """frame-ancestors names 'self' and the widget's origins, nothing else; no X-Frame-Options; strict CSP."""
    _, token = widget_and_token(app, origins=("https://erp.example.com", "https://b.example.cn:8443"))
    for url in (f"/embed/{token}", f"/embed/{token}/status"):
        response = client.get(url)
        policy = csp(response)
        assert policy["frame-ancestors"].split() == ["'self'", "https://erp.example.com", "https://b.example.cn:8443"]
        assert "X-Frame-Options" not in response.headers
        header = response.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in header and "unsafe-eval" not in header
        assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"


def test_the_widget_page_has_no_inline_script_or_style(app, client, demo):
    """Every script is a file and nothing is styled inline, so the strict CSP holds."""
    _, token = widget_and_token(app)
    page = Page(body(client.get(f"/embed/{token}")))
    scripts = page.find_all("script")
    assert scripts and all(script.get("src") and not script.text for script in scripts)
    assert page.find_all("style") == []
    assert page.find_all(style=True) == []
    assert not any(name.startswith("on") for element in page.find_all() for name in element.attrs)


def test_each_widget_lists_only_its_own_sites(app, client, demo):
    """Two widgets of one shop each frame-allow only their own origins."""
    _, first = widget_and_token(app, origins=("https://one.example.com",))
    _, second = widget_and_token(app, origins=("https://two.example.com",))
    assert csp(client.get(f"/embed/{first}"))["frame-ancestors"] == "'self' https://one.example.com"
    assert csp(client.get(f"/embed/{second}"))["frame-ancestors"] == "'self' https://two.example.com"


def test_which_paths_are_public_widget_routes(app):
    """The widget routes (and only they) are the ones without session and with their own framing."""
    with app.app_context():
        for path in ("/embed/abc", "/embed/abc/status", "/embed.js", "/api/v1/status/abc", "/badge/abc.svg"):
            assert is_sessionless(path), path
        for path in ("/widgets", "/deposit", "/login", "/refunds/1", "/desk", "/api/v1/other", "/static/js/widget.js"):
            assert not is_sessionless(path), path


# --- what the widget shows ---------------------------------------------------------------------------

PRIVATE = ("青禾家居", "苏州青禾家居用品有限公司", "王经理", "13800001234", "招商银行", "6214830012345678", "5678",
           "seller-review")


def test_the_public_widget_shows_stage_dates_and_nothing_private(app, client, demo):
    """Stage, expected date and last change are shown; no amount, shop, company, contact or payee."""
    refund = open_request("seller-review")
    _, token = widget_and_token(app)
    html = body(client.get(f"/embed/{token}?lang=en"))
    status = client.get(f"/api/v1/status/{token}").get_json()
    page = Page(html)
    stage = page.find(data_refund_state=True)
    assert stage["data-refund-state"] == "UNDER_REVIEW"
    assert stage.text == "Under review"
    terms = {dt.text: dd.text for dt, dd in zip(page.find_all("dt"), page.find_all("dd"), strict=True)}
    expected = format_date(datetime.date.fromisoformat(status["expected_date"]), "medium", locale="en")
    assert terms["Expected by"].rstrip("*") == expected
    assert page.find("time")["datetime"] == refund.state_changed_at.isoformat() + "Z" == status["last_change"]
    assert "Last change" in terms
    badge = body(client.get(f"/badge/{token}.svg"))
    for text in (html, json.dumps(status, ensure_ascii=False), badge):
        assert "¥" not in text
        assert "120000" not in text and "1,200" not in text
        for private in PRIVATE:
            assert private not in text
    assert "amount_fen" not in status
    assert PayeeAccount.get(PayeeAccount.shop == shop_of("seller-review").id).bank_name.startswith("招商银行")


def test_the_detailed_widget_adds_the_amount_only(app, client, demo):
    """The detailed variant shows the requested amount, and still no shop or payee data."""
    _, token = widget_and_token(app, variant="DETAILED")
    html = body(client.get(f"/embed/{token}?lang=en"))
    assert Page(html).with_class("amount")[0].text == "¥1,200.00"
    assert client.get(f"/api/v1/status/{token}").get_json()["amount_fen"] == 120_000
    for private in PRIVATE:
        assert private not in html


def test_the_detailed_widget_shows_the_approved_amount_once_approved(app, client, demo):
    """After approval the amount shown is the approved one."""
    refund = open_request("seller-review")
    act(refund.id, RefundState.APPROVED, approved_fen=100_000)
    _, token = widget_and_token(app, variant="DETAILED")
    assert client.get(f"/api/v1/status/{token}").get_json()["amount_fen"] == 100_000
    assert "¥1,000.00" in body(client.get(f"/embed/{token}"))


def test_the_widget_speaks_chinese_unless_english_is_asked_for(app, client, demo):
    """Chinese by default (also for an unknown lang), English for lang=en."""
    _, token = widget_and_token(app)
    for url in (f"/embed/{token}", f"/embed/{token}?lang=fr"):
        page = Page(body(client.get(url)))
        assert page.find("html")["lang"] == "zh-CN"
        assert page.find(data_refund_state=True).text == "审核中"
        assert [dt.text for dt in page.find_all("dt")] == ["预计完成日期", "最近更新"]
    page = Page(body(client.get(f"/embed/{token}?lang=en")))
    assert page.find("html")["lang"] == "en"
    assert page.find(data_refund_state=True).text == "Under review"
    assert [dt.text for dt in page.find_all("dt")] == ["Expected by", "Last change"]


def test_the_chinese_widget_has_no_english_words(app, client, demo):
    """The default (Chinese) widget, its empty state and the badge use the widget's own words in Chinese."""
    _, token = widget_and_token(app)
    page = Page(body(client.get(f"/embed/{token}")))
    assert page.find("title").text == "退还进度"
    assert page.with_class("label", "p")[0].text == "保证金退还"
    badge = ET.fromstring(body(client.get(f"/badge/{token}.svg")))
    assert badge.find(f"{SVG}title").text == "退还: 审核中"
    widget = Widget.create(shop=make_shop(), origins=ALLOWED)
    assert Page(body(client.get(f"/embed/{token_of(app, widget)}"))).find("main").text == "暂无退还申请。"


def test_a_latest_widget_follows_the_new_request_after_the_old_one_ends(app, client, demo):
    """When the request ends and the seller applies again, a "latest" widget moves on; a pinned one stays."""
    old = open_request("seller-review")
    _, latest = widget_and_token(app)
    _, pinned = widget_and_token(app, request=old.id)
    reject(old.id)
    assert Page(body(client.get(f"/embed/{latest}"))).find(data_refund_state=True)["data-refund-state"] == "REJECTED"
    ended_version = client.get(f"/embed/{latest}").headers["X-Widget-Version"]
    new = RefundRequest.create(shop=shop_of("seller-review"), kind="SURPLUS", requested_fen=50_000,
                               state=RefundState.UNDER_REVIEW, idempotency_key=uuid.uuid4().hex)
    refreshed = client.get(f"/embed/{latest}/status", query_string={"v": ended_version})
    assert refreshed.status_code == 200
    assert f'data-refund-state="{RefundState.UNDER_REVIEW}"' in body(refreshed)
    assert refreshed.headers["X-Widget-Final"] == "0"
    assert client.get(f"/api/v1/status/{latest}").get_json()["state"] == "UNDER_REVIEW"
    assert client.get(f"/api/v1/status/{pinned}").get_json()["state"] == "REJECTED"
    assert new.id > old.id


def test_a_shop_without_requests_shows_that_there_is_none(app, client):
    """A "latest" widget of a shop that never applied says so, and is final (nothing to poll)."""
    widget = Widget.create(shop=make_shop(), origins=ALLOWED)
    token = token_of(app, widget)
    response = client.get(f"/embed/{token}?lang=en")
    assert "No refund request yet." in body(response)
    assert response.headers["X-Widget-Final"] == "1"
    assert client.get(f"/api/v1/status/{token}").get_json() == {"state": None, "final": True}


# --- refresh -----------------------------------------------------------------------------------------

def test_refresh_is_204_while_nothing_changed(app, client, demo):
    """The version the page holds is current: 204 and an empty body (the page keeps what it shows)."""
    _, token = widget_and_token(app)
    page = client.get(f"/embed/{token}")
    version = page.headers["X-Widget-Version"]
    assert Page(body(page)).find("main", id="widget")["data-version"] == version
    response = client.get(f"/embed/{token}/status", query_string={"v": version})
    assert response.status_code == 204
    assert response.get_data() == b""


def test_refresh_brings_the_new_state_and_version_after_a_change(app, client, demo):
    """After support approves, the refresh answers 200 with the new stage, a new version and a short interval."""
    refund = open_request("seller-review")
    _, token = widget_and_token(app)
    before = client.get(f"/embed/{token}").headers
    assert int(before["X-Widget-Interval"]) == app.config["POLL_SLOW_SECONDS"]
    act(refund.id, RefundState.APPROVED)
    response = client.get(f"/embed/{token}/status", query_string={"v": before["X-Widget-Version"], "lang": "en"})
    assert response.status_code == 200
    assert response.headers["X-Widget-Version"] != before["X-Widget-Version"]
    assert response.headers["X-Widget-Final"] == "0"
    assert int(response.headers["X-Widget-Interval"]) == app.config["POLL_FAST_SECONDS"]
    fragment = body(response)
    assert "<html" not in fragment and 'id="widget"' not in fragment
    assert 'data-refund-state="APPROVED"' in fragment
    assert "Approved, awaiting payout" in fragment
    again = client.get(f"/embed/{token}/status", query_string={"v": response.headers["X-Widget-Version"]})
    assert again.status_code == 204


def test_refresh_stops_at_a_final_state(app, client, demo):
    """Once rejected the widget is final: X-Widget-Final 1, X-Widget-Interval 0, and no expected date."""
    refund = open_request("seller-review")
    _, token = widget_and_token(app)
    version = client.get(f"/embed/{token}").headers["X-Widget-Version"]
    reject(refund.id)
    response = client.get(f"/embed/{token}/status", query_string={"v": version})
    assert response.status_code == 200
    assert response.headers["X-Widget-Final"] == "1"
    assert response.headers["X-Widget-Interval"] == "0"
    assert 'data-refund-state="REJECTED"' in body(response)
    page = Page(body(client.get(f"/embed/{token}")))
    assert page.find("main", id="widget")["data-final"] == "1"
    assert page.find("main", id="widget")["data-interval"] == "0"
    status = client.get(f"/api/v1/status/{token}").get_json()
    assert status["final"] is True and status["expected_date"] is None


# --- JSON ----------------------------------------------------------------------------------------------

def test_json_status_fields(app, client, demo):
    """state, both labels, expected date (and whether estimated), last change, final; no amount when public."""
    refund = open_request("seller-review")
    _, token = widget_and_token(app)
    response = client.get(f"/api/v1/status/{token}")
    status = response.get_json()
    assert response.mimetype == "application/json"
    assert set(status) == {"state", "label", "expected_date", "expected_is_estimate", "last_change", "final"}
    assert status["state"] == "UNDER_REVIEW"
    assert status["label"] == {"zh_CN": "审核中", "en": "Under review"}
    assert datetime.date.fromisoformat(status["expected_date"]) > refund.created_at.date()
    assert isinstance(status["expected_is_estimate"], bool)
    assert status["last_change"] == refund.state_changed_at.isoformat() + "Z"
    assert status["final"] is False
    assert response.headers["Cache-Control"] == "no-cache"


def test_json_status_of_a_detailed_widget_adds_amount_fen(app, client, demo):
    """The detailed variant adds amount_fen, nothing else."""
    _, token = widget_and_token(app, variant="DETAILED")
    status = client.get(f"/api/v1/status/{token}").get_json()
    assert set(status) == {"state", "label", "expected_date", "expected_is_estimate", "last_change", "final",
                           "amount_fen"}
    assert status["amount_fen"] == 120_000


@pytest.mark.parametrize("origin, allowed", [
    ("https://erp.example.com", "https://erp.example.com"),
    ("http://localhost:8080", "http://localhost:8080"),
    ("https://evil.example.com", None),
    ("https://erp.example.com.evil.example", None),
    ("http://erp.example.com", None),
    ("null", None),
    (None, None),
])
def test_json_cors_answers_only_the_allowed_origins(app, client, demo, origin, allowed):
    """Access-Control-Allow-Origin echoes an allowed Origin and is absent for any other; Vary: Origin always."""
    _, token = widget_and_token(app)
    for url in (f"/api/v1/status/{token}", f"/badge/{token}.svg"):
        response = client.get(url, headers={"Origin": origin} if origin else {})
        assert response.headers.get("Access-Control-Allow-Origin") == allowed
        assert "Origin" in [value.strip() for value in response.headers["Vary"].split(",")]
        assert "cookie" not in response.headers["Vary"].lower()
        assert "Access-Control-Allow-Credentials" not in response.headers


def test_json_etag_gives_304_until_the_state_changes(app, client, demo):
    """If-None-Match with the ETag is a 304 with no body; after a change the ETag is new and the body comes."""
    refund = open_request("seller-review")
    _, token = widget_and_token(app)
    url = f"/api/v1/status/{token}"
    first = client.get(url, headers={"Origin": ALLOWED})
    etag = first.headers["ETag"]
    cached = client.get(url, headers={"If-None-Match": etag, "Origin": ALLOWED})
    assert cached.status_code == 304
    assert cached.get_data() == b""
    assert cached.headers["ETag"] == etag
    assert cached.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert cached.headers["Cache-Control"] == "no-cache"
    act(refund.id, RefundState.APPROVED)
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert changed.get_json()["state"] == "APPROVED"


# --- badge ---------------------------------------------------------------------------------------------

def test_the_badge_is_an_svg_naming_the_stage(app, client, demo):
    """Valid SVG, served as image/svg+xml with an ETag, whose text is the stage's label."""
    _, token = widget_and_token(app)
    response = client.get(f"/badge/{token}.svg")
    assert response.mimetype == "image/svg+xml"
    root = ET.fromstring(response.get_data())
    assert root.tag == f"{SVG}svg"
    texts = [text.text for text in root.iter(f"{SVG}text")]
    assert texts[-1] == "审核中"
    english = ET.fromstring(client.get(f"/badge/{token}.svg?lang=en").get_data())
    assert [text.text for text in english.iter(f"{SVG}text")] == ["Refund", "Under review"]
    assert english.get("aria-label") == "Refund: Under review"
    etag = response.headers["ETag"]
    cached = client.get(f"/badge/{token}.svg", headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.get_data() == b""
    assert response.headers["Content-Security-Policy"] == "default-src 'none'"


def test_the_badge_changes_with_the_stage(app, client, demo):
    """After a rejection the badge says so, with a new ETag."""
    refund = open_request("seller-review")
    _, token = widget_and_token(app)
    before = client.get(f"/badge/{token}.svg?lang=en")
    reject(refund.id)
    after = client.get(f"/badge/{token}.svg?lang=en")
    assert after.headers["ETag"] != before.headers["ETag"]
    assert [text.text for text in ET.fromstring(after.get_data()).iter(f"{SVG}text")] == ["Refund", "Rejected"]


# --- rate limits ---------------------------------------------------------------------------------------

@pytest.fixture
def frozen_clock(monkeypatch):
    """The limiter's clock stands still half way through a minute, so no test straddles two windows."""
    monkeypatch.setattr(widget_service, "utcnow", lambda: FROZEN)
    return FROZEN


def assert_too_many(response):
    """A 429 with a Retry-After of 1..60 seconds (30 at the frozen clock), plain text, no cookie."""
    assert response.status_code == 429
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert retry_after == 30
    assert "Too many requests" in body(response) or "请求" in body(response)
    assert set_cookies(response) == []


def test_too_many_requests_for_one_token(app, client, demo, frozen_clock):
    """With 3 per token per minute the 4th request (any route) is a 429; another widget is unaffected."""
    app.config["WIDGET_RATE_PER_TOKEN"] = 3
    _, token = widget_and_token(app)
    _, other = widget_and_token(app)
    for url in public_urls(token)[:3]:
        assert client.get(url).status_code == 200
    for url in public_urls(token):
        assert_too_many(client.get(url))
    assert client.get(f"/embed/{other}").status_code == 200


def test_too_many_requests_from_one_address(app, client, demo, frozen_clock):
    """With 3 per address per minute the 4th request from one address is a 429, even for a fresh token."""
    app.config["WIDGET_RATE_PER_ADDRESS"] = 3
    tokens = [widget_and_token(app)[1] for _ in range(4)]
    here, elsewhere = {"REMOTE_ADDR": "203.0.113.7"}, {"REMOTE_ADDR": "198.51.100.9"}
    for token in tokens[:3]:
        assert client.get(f"/api/v1/status/{token}", environ_base=here).status_code == 200
    assert_too_many(client.get(f"/api/v1/status/{tokens[3]}", environ_base=here))
    assert_too_many(client.get(f"/embed/{tokens[3]}", environ_base=here))
    assert client.get(f"/api/v1/status/{tokens[3]}", environ_base=elsewhere).status_code == 200


def test_the_limit_is_shared_by_every_app_process(app, client, demo, frozen_clock):
    """Counts live in the database: two app instances (and clients) together get 3 requests, not 3 each."""
    app.config["WIDGET_RATE_PER_TOKEN"] = 3
    _, token = widget_and_token(app)
    second = create_app({"TESTING": True, "DATABASE_URL": app.config["DATABASE_URL"],
                         "SECRET_KEY": app.config["SECRET_KEY"], "UPLOAD_DIR": app.config["UPLOAD_DIR"],
                         "WIDGET_RATE_PER_TOKEN": 3})
    other_client = second.test_client()
    assert client.get(f"/embed/{token}").status_code == 200
    assert other_client.get(f"/embed/{token}").status_code == 200
    assert app.test_client().get(f"/api/v1/status/{token}").status_code == 200
    assert_too_many(other_client.get(f"/badge/{token}.svg"))
    assert_too_many(client.get(f"/embed/{token}"))


def test_the_next_minute_starts_afresh(app, client, demo, monkeypatch):
    """A widget limited in one minute answers again in the next."""
    app.config["WIDGET_RATE_PER_TOKEN"] = 1
    _, token = widget_and_token(app)
    monkeypatch.setattr(widget_service, "utcnow", lambda: FROZEN)
    assert client.get(f"/embed/{token}").status_code == 200
    assert client.get(f"/embed/{token}").status_code == 429
    monkeypatch.setattr(widget_service, "utcnow", lambda: FROZEN + datetime.timedelta(seconds=30))
    assert client.get(f"/embed/{token}").status_code == 200


# --- scripts and weight -----------------------------------------------------------------------------

def test_the_loader_is_small_safe_javascript(client):
    """/embed.js is JavaScript under 2 KB, without eval, Function or innerHTML, and posts no message itself."""
    response = client.get("/embed.js")
    source = body(response)
    assert response.status_code == 200
    assert response.mimetype in ("text/javascript", "application/javascript")
    assert len(response.get_data()) < 2048
    assert not re.search(r"\beval\s*\(|\bFunction\s*\(|innerHTML|outerHTML|document\.write", source)
    assert "postMessage" not in source
    assert set_cookies(response) == []


def test_the_loader_only_listens_to_the_portals_own_frame(client):
    """The message listener drops anything whose event.origin is not the portal's origin (or not our frame)."""
    source = body(client.get("/embed.js"))
    assert re.search(r"var portal = new URL\(script\.src\)\.origin", source)
    assert re.search(r"event\.origin !== portal", source)
    assert re.search(r"event\.source !== frame\.contentWindow", source)


def test_the_widget_tells_its_height_only_to_a_named_origin(client):
    """widget.js posts to the parent with an explicit target origin, never "*", and fetches without cookies."""
    source = body(client.get("/static/js/widget.js"))
    calls = re.findall(r"postMessage\(([^;]*?)\)\s*;", source, flags=re.S)
    assert calls
    for call in calls:
        assert call.rsplit(",", 1)[1].strip() == "parentOrigin"
    assert '"*"' not in source and "'*'" not in source
    assert 'credentials: "omit"' in source


@pytest.mark.parametrize("parent, kept", [
    ("https://erp.example.com", "https://erp.example.com"),
    ("HTTPS://ERP.EXAMPLE.COM/", "https://erp.example.com"),
    ("https://evil.example.com", ""),
    ("*", ""),
])
def test_the_page_names_the_parent_only_when_it_is_an_allowed_site(app, client, demo, parent, kept):
    """The loader's ?parent= becomes widget.js's target origin only when it is one of the widget's sites."""
    _, token = widget_and_token(app)
    page = Page(body(client.get(f"/embed/{token}", query_string={"parent": parent})))
    assert page.find("main", id="widget")["data-parent"] == kept


def test_first_load_of_the_widget_is_under_20_kb_gzipped(app, client, demo):
    """HTML + embed.css + widget.js, each gzipped at level 9, weigh under 20 KB together (a size, not a time)."""
    _, token = widget_and_token(app, variant="DETAILED")
    html = client.get(f"/embed/{token}").get_data()
    page = Page(html.decode("utf-8"))
    assets = [page.find("link", rel="stylesheet")["href"], page.find("script")["src"]]
    assert [unhashed(url) for url in assets] == ["/static/css/embed.css", "/static/js/widget.js"]
    parts = [html, *(client.get(url).get_data() for url in assets)]
    sizes = [len(gzip.compress(part, compresslevel=9)) for part in parts]
    print(f"widget first load, gzip -9: html {sizes[0]} B + css {sizes[1]} B + js {sizes[2]} B = {sum(sizes)} B")
    assert sum(sizes) < 20 * 1024


@pytest.mark.parametrize("language, accept_language, expected", [
    ("zh_CN", "en-US,en", "zh-CN"), ("en", "zh-CN,zh", "en"), ("AUTO", "en-US,en;q=0.9", "en"),
    ("AUTO", "en-US,en;q=0.9,zh;q=0.3", "zh-CN"), ("AUTO", None, "zh-CN")])
def test_the_widget_speaks_the_language_its_seller_chose(app, client, demo, language, accept_language, expected):
    """Without ?lang= the frame, its refresh and the badge use the widget's language; AUTO follows the viewer."""
    widget, token = widget_and_token(app)
    Widget.update(language=language).where(Widget.id == widget.id).execute()
    headers = {"Accept-Language": accept_language} if accept_language else {}
    page = body(client.get(f"/embed/{token}", headers=headers))
    assert f'<html lang="{expected}">' in page
    assert ("Under review" if expected == "en" else "审核中") in page
    refresh = body(client.get(f"/embed/{token}/status", headers=headers))
    assert ("Under review" if expected == "en" else "审核中") in refresh
    badge = body(client.get(f"/badge/{token}.svg", headers=headers))
    assert ("Refund: Under review" if expected == "en" else "退还: 审核中") in badge
    # ?lang= on the snippet still wins.
    other = "zh" if expected == "en" else "en"
    assert f'<html lang="{"zh-CN" if other == "zh" else "en"}">' in body(client.get(f"/embed/{token}?lang={other}"))
