"""Staying safe: markup shows as text, links go through a warning page, staff-only text stays staff-only."""
import html as htmllib
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from flask_babel import force_locale, gettext
from hypothesis import given, settings
from hypothesis import strategies as st

from portal import create_app
from portal.core.vocabulary import RefundState
from portal.disputes.models import Dispute
from portal.notifications.models import Notification
from portal.risk import service as risk_service
from portal.web.text import message_text
from tests.desk_helpers import request_in
from tests.ticket_helpers import HX, Page, agent_client, open_ticket, seller, signed_in, staff, write

NOTICE = "Support never asks for your password, verification codes or payments through links."
NOTE_MARKER = "NOTE-MARKER-7f3a9c"
RATIONALE_MARKER = "RATIONALE-MARKER-b81e44"
TRANSITION_MARKER = "TRANSITION-MARKER-5d20e1"
CLEAR_MARKER = "CLEAR-MARKER-c0ffee"
MARKERS = (NOTE_MARKER, RATIONALE_MARKER, TRANSITION_MARKER, CLEAR_MARKER)
LINK = re.compile(r'<a class="outside-link" rel="nofollow noopener noreferrer" href="([^"]*)">([^<]*)</a>')


@pytest.fixture(scope="module")
def bare_app(tmp_path_factory):
    """An app for rendering alone (``message_text`` needs a request for ``url_for``; no database is touched)."""
    folder = tmp_path_factory.mktemp("phishing")
    return create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{folder}/unused.sqlite3",
                       "SECRET_KEY": "test-only", "UPLOAD_DIR": str(folder / "uploads")})


@pytest.fixture(scope="module")
def render(bare_app):
    """``message_text`` inside a request, returning plain ``str``."""
    def rendered(text):
        with bare_app.test_request_context():
            return str(message_text(text))
    return rendered


def links(html):
    """``[(href, text)]`` of the outside links in rendered text."""
    return LINK.findall(html)


def leaving_target(href):
    """The outside address a /leaving link carries."""
    parts = urlsplit(htmllib.unescape(href))
    assert parts.path == "/leaving"
    return parse_qs(parts.query)["to"][0]


# --- message_text -----------------------------------------------------------------------------------------

def test_markup_shows_as_text(render):
    """Tags, entities and quotes come out escaped: nothing in a message is interpreted as HTML."""
    assert render('<b>hi</b> & <script>alert("x")</script><img src=x onerror=alert(1)>') == (
        "&lt;b&gt;hi&lt;/b&gt; &amp; &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"
        "&lt;img src=x onerror=alert(1)&gt;")


def test_line_breaks_are_kept_for_pre_line(render, bare_app):
    """Line breaks stay in the text; the stylesheet shows them (``.message`` is ``white-space: pre-line``)."""
    assert render("第一行\n第二行\r\n第三行") == "第一行\n第二行\r\n第三行"
    with open(f"{bare_app.static_folder}/css/portal.css", encoding="utf-8") as stylesheet:
        assert re.search(r"^\.message\s*\{[^}]*white-space:\s*pre-line", stylesheet.read(), re.M)


def test_a_url_becomes_a_link_through_the_warning_page(render):
    """An http(s) address links to /leaving?to=…, never straight out, and shows the address as text."""
    url = "https://pay-verify.example.com/login?next=/a&b=1"
    out = render(f"请点击 {url} 完成验证")
    [(href, text)] = links(out)
    assert leaving_target(href) == url and htmllib.unescape(text) == url
    assert 'href="http' not in out and out.startswith("请点击 ") and out.endswith(" 完成验证")


@pytest.mark.parametrize("mark", list("，。！？、；：”’》」』）】") + [")"])
def test_chinese_punctuation_right_after_a_url_is_not_part_of_the_link(render, mark):
    """Sentence punctuation typed right after an address (commas, colons, closing quotes…) stays outside the link."""
    out = render(f"见https://a.example/path{mark}谢谢")
    [(href, _text)] = links(out)
    assert leaving_target(href) == "https://a.example/path"
    assert out.endswith(f"</a>{mark}谢谢")


@pytest.mark.parametrize("text", [
    "javascript:alert(document.cookie)", "JavaScript:alert(1)", "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)", "//evil.example/login", "ftp://files.example/x", "www.evil.example",
])
def test_only_http_and_https_addresses_are_linked(render, text):
    """``javascript:``, ``data:``, scheme-relative and other addresses stay plain text."""
    out = render(f"点这里 {text}")
    assert links(out) == [] and "<a" not in out and "href" not in out


def test_a_link_cannot_break_out_of_its_attribute(render):
    """Quotes and angle brackets end an address; the rest is escaped text."""
    out = render('https://a.example/"onmouseover="alert(1)<b>x')
    [(href, _text)] = links(out)
    assert leaving_target(href) == "https://a.example/"
    assert '"onmouseover' not in out and "&#34;onmouseover=&#34;alert(1)&lt;b&gt;x" in out


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=20), st.sampled_from([
    "https://a.example/x", "http://b.example:8080/?q=<1>&r='2'", "javascript:alert(1)", "<script>", "\n", "，",
    "&amp;", '"', "https://", "HTTPS://C.EXAMPLE/Y"])), max_size=8))
def test_any_message_renders_only_warned_links_and_its_own_text(render, pieces):
    """Whatever is typed, the only markup is links to /leaving, and the visible text is exactly what was typed."""
    text = "".join(pieces)
    out = render(text)
    for href, _text in links(out):
        assert href.startswith("/leaving?to=")
    assert "<" not in LINK.sub("", out)
    assert htmllib.unescape(LINK.sub(lambda link: link.group(2), out)) == text


# --- /leaving ---------------------------------------------------------------------------------------------------

def test_the_leaving_page_names_the_host_and_warns(client):
    """The page names the real host, says it is not the portal, repeats the notice and offers to continue."""
    client.set_cookie("lang", "en")
    target = "http://portal.example.com@evil.example:8443/verify?code=1"
    response = client.get("/leaving", query_string={"to": target})
    assert response.status_code == 200
    html = response.text
    assert re.search(r'<p class="big-host"><strong>evil\.example</strong></p>', html)
    for shown in ("You are about to leave the portal", "This is not the deposit portal.",
                  "The connection to that site is not encrypted.", NOTICE):
        assert shown in html
    [onward] = [link for link in Page(html).find_all("a") if link.text.startswith("Continue to")]
    assert onward.text == "Continue to evil.example" and onward["href"] == target
    assert "noopener" in onward["rel"] and "noreferrer" in onward["rel"]


def test_a_link_back_into_the_portal_is_not_called_outside(client):
    """An address on the portal's own host is not flagged as a foreign site."""
    client.set_cookie("lang", "en")
    html = client.get("/leaving", query_string={"to": "https://localhost/deposit"}).text
    assert "This is not the deposit portal." not in html and "not encrypted" not in html


@pytest.mark.parametrize("target", [
    "javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:x",
    "//evil.example/", "ftp://files.example/x", "", "https://", "mailto:a@example.com",
])
def test_the_leaving_page_refuses_anything_but_http_and_https(client, target):
    """Other schemes, scheme-relative and host-less addresses answer 400 with no link to follow."""
    response = client.get("/leaving", query_string={"to": target})
    assert response.status_code == 400
    assert [link["href"] for link in Page(response.text).find_all("a") if not link["href"].startswith(("/", "#"))] == []


def test_a_full_width_colon_after_the_host_is_not_a_500(client, render):
    """``https://pay.example.com：立即领取`` links only the host, and the raw address gets a 400, not an error."""
    [(href, _text)] = links(render("访问 https://pay.example.com：立即领取"))
    assert leaving_target(href) == "https://pay.example.com"
    response = client.get("/leaving", query_string={"to": "https://pay.example.com：立即领取"})
    assert response.status_code == 400


# --- read as a browser reads it (WHATWG URL) -----------------------------------------------------------------

def big_host(html):
    """The host the leaving page names in large type."""
    return Page(html).with_class("big-host", "p")[0].text


def onward(html):
    """The "Continue to …" link of the leaving page."""
    [link] = [link for link in Page(html).find_all("a") if link.text.startswith("Continue to")]
    return link


@pytest.mark.parametrize(("target", "host", "href"), [
    # A browser reads "\\" as "/" in http(s) addresses: the "@localhost" is part of the path.
    ("https://evil.example\\@localhost/verify", "evil.example", "https://evil.example/@localhost/verify"),
    ("https:evil.example", "evil.example", "https://evil.example/"),
    ("https:\\\\evil.example/x", "evil.example", "https://evil.example/x"),
    ("https:///evil.example/", "evil.example", "https://evil.example/"),
    ("https://ev\til.exa\nmple/pay", "evil.example", "https://evil.example/pay"),
    ("https://%65vil.example/", "evil.example", "https://evil.example/"),
    ("https://EVIL.example./", "evil.example.", "https://evil.example./"),
    ("http://0x7f.1/", "127.0.0.1", "http://127.0.0.1/"),
    ("http://2130706433/", "127.0.0.1", "http://127.0.0.1/"),
    ("http://0177.0.0.01/", "127.0.0.1", "http://127.0.0.1/"),
])
def test_the_leaving_page_names_the_host_a_browser_would_open(client, target, host, href):
    """Backslashes, a missing "//", tabs and line breaks, %-encoded and numeric hosts: the real host is named."""
    client.set_cookie("lang", "en")
    response = client.get("/leaving", query_string={"to": target})
    assert response.status_code == 200
    assert big_host(response.text) == host
    assert "This is not the deposit portal." in response.text
    assert onward(response.text)["href"] == href


def test_a_name_before_an_at_sign_is_shown_as_a_disguise(client):
    """``https://localhost@evil.example`` goes to evil.example, and the page says the "localhost@" is decoration."""
    client.set_cookie("lang", "en")
    html = client.get("/leaving", query_string={"to": "https://localhost@evil.example/login"}).text
    assert big_host(html) == "evil.example"
    assert "This is not the deposit portal." in html
    assert ("The address starts with “localhost@”, which only looks like a site name. The site is evil.example."
            in Page(html).with_class("userinfo", "p")[0].text)


@pytest.mark.parametrize("target", ["https://中国.example/支付", "https://xn--fiqs8s.example/%E6%94%AF%E4%BB%98"])
def test_an_international_name_is_shown_in_unicode_and_as_punycode(client, target):
    """A Chinese host name is shown as people read it and as the address bar may show it (xn--)."""
    client.set_cookie("lang", "en")
    html = client.get("/leaving", query_string={"to": target}).text
    assert big_host(html) == "中国.example"
    assert ("Your browser's address bar may show this name as xn--fiqs8s.example."
            in Page(html).with_class("punycode", "p")[0].text)
    assert onward(html)["href"] == "https://xn--fiqs8s.example/%E6%94%AF%E4%BB%98"


@pytest.mark.parametrize("target", [
    "https://a b.example/", "https://[::1/", "https://exa%00mple.com/", "http://999.1.1.1/", "http://1.2.3.4.5/",
    "https://a.example:99999/",
])
def test_an_address_a_browser_cannot_open_is_refused(client, target):
    """What the URL standard calls a failure answers 400, with no link out."""
    response = client.get("/leaving", query_string={"to": target})
    assert response.status_code == 400
    assert [link["href"] for link in Page(response.text).find_all("a") if not link["href"].startswith(("/", "#"))] == []


@pytest.mark.parametrize("text", ["https://[::1/x", "https://exa%00mple.com/", "http://999.1.1.1/"])
def test_an_address_a_browser_cannot_open_is_not_linked_in_a_message(render, text):
    """A message keeps such an address as plain text: there is no link to follow."""
    out = render(f"请访问 {text} 谢谢")
    assert links(out) == [] and "<a" not in out


def test_a_message_link_with_a_backslash_leads_to_a_page_naming_the_real_host(render, client):
    """The href built from the message text carries the address unchanged, and /leaving reads it as a browser."""
    [(href, _text)] = links(render("核对 https://evil.example\\@localhost/verify 即可"))
    assert leaving_target(href) == "https://evil.example\\@localhost/verify"
    assert big_host(client.get(htmllib.unescape(href)).text) == "evil.example"


# --- the standing notice --------------------------------------------------------------------------------------

def test_ticket_pages_carry_the_standing_notice_in_english_and_chinese(app):
    """"Support never asks for your password…" is on the new-ticket page and on a thread, in both languages."""
    with app.test_request_context(), force_locale("zh_CN"):
        chinese = gettext(NOTICE)
    assert chinese != NOTICE and "密码" in chinese
    shop, user = seller()
    ticket = open_ticket(app, shop, user)
    for language, notice in (("en", NOTICE), ("zh_CN", chinese)):
        client = signed_in(app, user, language)
        for url in ("/tickets/new", f"/tickets/{ticket.id}"):
            notices = re.findall(r'<p class="notice">(.*?)</p>', client.get(url).text)
            assert any(text.startswith(notice) for text in notices), (language, url)


# --- staff-only text never reaches a seller ---------------------------------------------------------------------

def seller_responses(client, refund, ticket):
    """Every page and fragment a seller can fetch about their account, as ``{url: body}``."""
    urls = ["/deposit", "/refunds", f"/refunds/{refund.id}", "/refunds/new", "/tickets", f"/tickets/{ticket.id}",
            "/risk", "/disputes", "/notifications", "/widgets", "/payee", "/tickets/new"]
    bodies = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        bodies[url] = response.text
    for url in (f"/refunds/{refund.id}/status?v=0", f"/tickets/{ticket.id}/thread?v=0"):
        for headers in ({}, HX):
            response = client.get(url, headers=headers)
            assert response.status_code == 200, url
            bodies[f"{url} {headers}"] = response.text
    notification = Notification.select().where(Notification.request == refund.id).first()
    response = client.get(f"/notifications/{notification.id}", follow_redirects=True)
    bodies["/notifications/<id>"] = response.text
    return bodies


def test_internal_notes_rationales_and_transition_notes_never_reach_the_seller(app):
    """Notes, a flag's rationale, a clearing reason and a transition's internal note appear on no seller page."""
    agent, desk = agent_client(app)
    refund, shop, owner = request_in(RefundState.ON_HOLD, agent=agent, internal_note=TRANSITION_MARKER)
    ticket = open_ticket(app, shop, owner, refund_request_id=refund.id)
    write(app, ticket, agent, f"internal: {NOTE_MARKER}", internal=True)
    desk.post(f"/desk/tickets/{ticket.id}/note", data={"note": f"second note {NOTE_MARKER}"})
    write(app, ticket, staff(), "您好，我们正在核实。")  # a public reply between the notes
    risk_service.raise_flag(shop.id, agent, "FAKE_ORDERS", "HIGH", "BLOCKS", "异常交易复核中。", RATIONALE_MARKER,
                     "请上传发货记录。")
    cleared = risk_service.raise_flag(shop.id, agent, "OLD_CHECK", "LOW", "NONE", "旧的提示。", RATIONALE_MARKER)
    risk_service.clear_flag(cleared.id, agent, CLEAR_MARKER)
    Dispute.create(shop=shop, order_number="6928374651029384756", complaint="买家投诉")

    for language in ("en", "zh_CN"):
        client = signed_in(app, owner, language)
        for url, body in seller_responses(client, refund, ticket).items():
            for marker in MARKERS:
                assert marker not in body, (language, url, marker)

    # The markers are real: the desk shows each of them.
    assert NOTE_MARKER in desk.get(f"/desk/tickets/{ticket.id}").text
    assert TRANSITION_MARKER in desk.get(f"/desk/refunds/{refund.id}").text
    shop_page = desk.get(f"/desk/shops/{shop.id}").text
    assert RATIONALE_MARKER in shop_page and CLEAR_MARKER in shop_page
