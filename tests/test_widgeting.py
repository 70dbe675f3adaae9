"""The widget rules without Flask: allowed origins, signed tokens, the target request and the shared rate limiter.

Tokens and counters live in the database, so those tests bind it through the ``app`` fixture (both
SQLite and PostgreSQL) and call the rules directly, outside any request.
"""
import datetime
import re
import threading
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer

from portal.core.clock import utcnow
from portal.core.db import db
from portal.core.vocabulary import RefundState
from portal.refunds.models import RefundRequest
from portal.widgets import service as widget_service
from portal.widgets import tokens
from portal.widgets.models import RateCounter, Widget
from tests.factories import make_shop

# What a CSP source expression for an origin may contain: scheme, host, port; nothing that could
# end the directive (";"), start another source (space) or quote a keyword.
SAFE_ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(:\d+)?$")
MINUTE = datetime.timedelta(minutes=1)


@pytest.fixture
def database(app):
    """The test database, bound and connected, with no request around it."""
    with db.connection_context():
        yield db


def new_widget(shop=None, request=None, **fields):
    """A live widget (of a new shop unless one is given)."""
    shop = shop or make_shop()
    return Widget.create(shop=shop, request=request, origins="https://erp.example.com", **fields)


def new_request(shop, state=RefundState.UNDER_REVIEW):
    """A refund request of a shop, straight in the database."""
    return RefundRequest.create(shop=shop, kind="SURPLUS", requested_fen=10_000, state=state,
                                idempotency_key=uuid.uuid4().hex)


# --- allowed origins -------------------------------------------------------------------------------

@pytest.mark.parametrize("typed, stored", [
    ("https://erp.example.com", "https://erp.example.com"),
    ("https://ERP.Example.com/", "https://erp.example.com"),
    ("  https://erp.example.com:8443  ", "https://erp.example.com:8443"),
    ("http://localhost:8080", "http://localhost:8080"),
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
])
def test_parse_origins_accepts_https_and_local_testing_origins(typed, stored):
    """An https origin, or http on localhost/127.0.0.1 with a port, is kept in its normal form."""
    assert tokens.parse_origins(typed) == ([stored], [])


@pytest.mark.parametrize("typed", [
    "http://example.com",  # plain http for a real site
    "http://localhost",  # local http needs a port
    "http://127.0.0.1",
    "https://erp.example.com/status",  # a path
    "https://erp.example.com/?q=1",
    "https://erp.example.com#top",
    "https://user@erp.example.com",
    "javascript:alert(1)",
    "data:text/html,<b>x</b>",
    "erp.example.com",
    "*",
    "'self'",
    "https://*.example.com",
    "https://a.example.com https://b.example.com",  # two on one line
    "https://erp.example.com; script-src *",  # an attempt to add a CSP directive
    "ftp://erp.example.com",
    "not a site at all",
])
def test_parse_origins_rejects_everything_else(typed):
    """Plain http, paths, other schemes, wildcards and garbage are reported back as typed, not kept."""
    assert tokens.parse_origins(typed) == ([], [typed])


def test_parse_origins_skips_blank_lines_and_duplicates():
    """Blank lines are ignored and an origin typed twice is kept once, in the order typed."""
    text = "https://b.example.com\n\n https://a.example.com \r\nHTTPS://B.EXAMPLE.COM/\n"
    assert tokens.parse_origins(text) == (["https://b.example.com", "https://a.example.com"], [])


def test_parse_origins_reports_only_the_bad_lines():
    """A mix keeps the good origins and lists each bad line once."""
    origins, bad = tokens.parse_origins("https://ok.example.com\nhttp://example.com\njavascript:x")
    assert origins == ["https://ok.example.com"]
    assert bad == ["http://example.com", "javascript:x"]


@given(st.text(max_size=200))
def test_parse_origins_never_keeps_anything_unsafe_for_a_header(text):
    """Whatever is typed, every kept origin is a bare scheme://host[:port], safe to put in a CSP header."""
    origins, bad = tokens.parse_origins(text)
    for origin in origins:
        assert SAFE_ORIGIN.match(origin), origin
        assert origin.startswith("https://") or origin.split("//")[1].split(":")[0] in ("localhost", "127.0.0.1")
    assert len(origins) == len(set(origins))
    assert tokens.parse_origins("\n".join(origins)) == (origins, [])


@given(st.lists(st.from_regex(r"https://[a-z]{1,12}\.example\.com(:[1-9][0-9]{0,3})?", fullmatch=True),
                min_size=1, max_size=5))
def test_parse_origins_keeps_every_well_formed_https_origin(typed):
    """A list of well-formed https origins comes back whole, in order, without duplicates."""
    origins, bad = tokens.parse_origins("\n".join(typed))
    assert bad == []
    assert origins == list(dict.fromkeys(typed))


@pytest.mark.parametrize("typed", ["https://.", "https://-", "https://a..example.com", "https://-erp.example.com",
                                   "https://erp.example.com:99999", "https://erp.example.com:0",
                                   "http://localhost:", "http://localhost:70000"])
def test_parse_origins_rejects_malformed_hosts_and_ports(typed):
    """A host must be a host name (labels between dots) and a port at most 65535."""
    assert tokens.parse_origins(typed) == ([], [typed])


# --- tokens ----------------------------------------------------------------------------------------

def test_a_token_names_its_live_widget(database):
    """The current token of a widget leads back to that widget."""
    widget = new_widget()
    token = tokens.make_token("secret-a", widget)
    assert widget_service.widget_for_token("secret-a", token).id == widget.id


def test_bumping_the_version_retires_every_old_token(database):
    """After a rotation the old token names nothing; the new one names the widget."""
    widget = new_widget()
    old = tokens.make_token("secret-a", widget)
    Widget.update(version=Widget.version + 1).where(Widget.id == widget.id).execute()
    new = tokens.make_token("secret-a", Widget.get_by_id(widget.id))
    assert new != old
    assert widget_service.widget_for_token("secret-a", old) is None
    assert widget_service.widget_for_token("secret-a", new).id == widget.id


def test_a_revoked_widget_answers_to_no_token(database):
    """A revoked widget is not found even with a token of its current version."""
    widget = new_widget(revoked_at=utcnow())
    assert widget_service.widget_for_token("secret-a", tokens.make_token("secret-a", widget)) is None


def flip(text, index):
    """The text with one character replaced by a different one of the same alphabet."""
    replacement = "B" if text[index] != "B" else "C"
    return text[:index] + replacement + text[index + 1:]


def test_tampered_and_foreign_tokens_name_nothing(database):
    """A changed payload or signature, another key, or another widget's id under a copied signature: None."""
    widget = new_widget()
    other = new_widget()
    token = tokens.make_token("secret-a", widget)
    payload, signature = token.split(".")
    other_payload = tokens.make_token("secret-a", other).split(".")[0]
    forged = [
        flip(payload, 1) + "." + signature,
        payload + "." + flip(signature, 0),
        tokens.make_token("another-secret", widget),
        other_payload + "." + signature,
        payload,
        "",
        "not-a-token",
        "." * 5,
    ]
    for candidate in forged:
        assert widget_service.widget_for_token("secret-a", candidate) is None, candidate
    assert widget_service.widget_for_token("secret-a", token).id == widget.id


@pytest.mark.parametrize("payload", [["1", 1], [1], [1, 1, 1], {"id": 1}, "1", None, [1.0, 1]])
def test_a_well_signed_payload_of_the_wrong_shape_names_nothing(database, payload):
    """Even correctly signed, anything but [widget id, version] as two integers is refused."""
    new_widget()
    token = URLSafeSerializer("secret-a", salt="refund-status-widget").dumps(payload)
    assert widget_service.widget_for_token("secret-a", token) is None


# --- the request a widget shows --------------------------------------------------------------------

def test_target_is_the_chosen_request_or_the_shops_latest(database):
    """A widget for one request keeps showing it; a "latest" widget moves to a newer request."""
    shop = make_shop()
    first = new_request(shop, RefundState.COMPLETED)
    pinned = new_widget(shop, request=first)
    latest = new_widget(shop)
    assert widget_service.target_request(pinned).id == first.id
    assert widget_service.target_request(latest).id == first.id
    second = new_request(shop)
    assert widget_service.target_request(pinned).id == first.id
    assert widget_service.target_request(latest).id == second.id


def test_latest_ignores_other_shops_requests(database):
    """"Latest" means the widget's own shop: a newer request of another shop is not shown."""
    shop = make_shop()
    own = new_request(shop)
    new_request(make_shop(name="别家小店"))
    assert widget_service.target_request(new_widget(shop)).id == own.id
    assert widget_service.target_request(new_widget(make_shop(name="空店"))) is None


# --- the rate limiter ------------------------------------------------------------------------------

def test_hit_allows_the_limit_then_asks_to_wait_until_the_next_minute(database):
    """Three hits in a minute pass, the fourth waits for the minute's end; the next minute starts afresh."""
    start = datetime.datetime(2026, 3, 2, 10, 15, 0)
    assert widget_service.hit("widget:1", 3, now=start + datetime.timedelta(seconds=5)) == 0
    assert widget_service.hit("widget:1", 3, now=start + datetime.timedelta(seconds=20)) == 0
    assert widget_service.hit("widget:1", 3, now=start + datetime.timedelta(seconds=40)) == 0
    assert widget_service.hit("widget:1", 3, now=start + datetime.timedelta(seconds=45)) == 15
    assert widget_service.hit("widget:1", 3, now=start + datetime.timedelta(seconds=59)) == 1
    assert widget_service.hit("widget:1", 3, now=start + MINUTE) == 0
    windows = {row.window: row.count for row in RateCounter.select().where(RateCounter.key == "widget:1")}
    minute = int(start.replace(tzinfo=datetime.UTC).timestamp()) // 60
    assert windows == {minute: 5, minute + 1: 1}


def test_hit_counts_each_key_apart(database):
    """One key at its limit does not limit another."""
    now = datetime.datetime(2026, 3, 2, 10, 15, 30)
    assert widget_service.hit("addr:10.0.0.1", 1, now=now) == 0
    assert widget_service.hit("addr:10.0.0.1", 1, now=now) == 30
    assert widget_service.hit("addr:10.0.0.2", 1, now=now) == 0


def test_hit_waits_between_1_and_60_seconds_whatever_the_second(database):
    """Retry-After is never 0 (that would mean "now") nor more than a minute."""
    start = datetime.datetime(2026, 3, 2, 10, 15, 0)
    for second in range(60):
        now = start + datetime.timedelta(seconds=second)
        key = f"widget:s{second}"
        widget_service.hit(key, 0, now=now)
        wait = widget_service.hit(key, 0, now=now)
        assert 1 <= wait <= 60
        assert wait == 60 - second


def test_hit_counts_every_hit_from_many_connections_at_once(database):
    """Hits from several connections at once (as from several processes) are all counted: no lost update."""
    now = datetime.datetime(2026, 3, 2, 10, 15, 30)
    errors = []

    def hammer():
        try:
            with db.connection_context():
                for _ in range(5):
                    widget_service.hit("widget:busy", 1000, now=now)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=hammer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert RateCounter.get(RateCounter.key == "widget:busy").count == 30


def test_forget_old_counts_keeps_this_and_the_last_minute(database):
    """Counters older than the previous minute are deleted; the current and previous minute stay."""
    now = datetime.datetime(2026, 3, 2, 10, 15, 30)
    for minutes_ago in (0, 1, 2, 30):
        widget_service.hit("widget:old", 100, now=now - minutes_ago * MINUTE)
    assert widget_service.forget_old_counts(now=now) == 2
    minute = int(now.replace(tzinfo=datetime.UTC).timestamp()) // 60
    assert sorted(row.window for row in RateCounter.select()) == [minute - 1, minute]
    assert widget_service.hit("widget:old", 100, now=now) == 0
    assert RateCounter.get(RateCounter.window == minute).count == 2
