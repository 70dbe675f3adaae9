"""No raw code on any page: every page of every demo account, desk included, in both languages.

A crawler signs in as each demo account, follows every link on the site it finds (plus every desk
request, shop and ticket by number), and reads each page's visible text: text nodes, the options
of a select, what a text field or text area holds (a prefilled value is read like any text), a
button's value, and the title, aria-label, placeholder and alt a reader meets. Scripts, styles,
hidden inputs and every other attribute are not text.

It runs twice: on the demo as loaded, and after a working day on it (a ticket answered in the other
language, a risk flag, an escalated dispute, a ban, a payout that failed and one that is running),
so that each kind of record appears at least once.
"""
import re
import uuid
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from portal.ops import demo

ACCOUNTS = ("seller-ok", "seller-risky", "seller-banned", "seller-review", "seller-info", "seller-approved",
            "seller-exit", "agent", "finance")
LANGUAGES = ("zh_CN", "en")
# Never followed: they sign out, switch language, leave the site, download files or serve machines.
NOT_PAGES = ("/static/", "/logout", "/lang/", "/leaving", "/favicon", "/healthz", "/api/", "/badge/",
             "/embed.js", "/gateway/")
MAX_PAGES = 400

# An upper-case code with an underscore (FALSE_ADVERTISING, ACCOUNT_BANNED, WAITING_SELLER).
UNDERSCORE_CODE = re.compile(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b")
# A bare upper-case word of two letters or more (PROCESSING, MEDIUM, DELAYS, PLATFORM) ...
UPPER_WORD = re.compile(r"\b[A-Z][A-Z0-9]+\b")
# ... except these, which are how people write them, in both languages.
UPPER_ALLOWED = {"PDF", "JPEG", "PNG", "MB", "SLA", "ERP", "AM", "PM"}
# References are identifiers people quote to a bank or to support: ours (PO-12-1) and a bank's
# (letters then at least six digits, e.g. CMB20260915000123).
REFERENCES = re.compile(r"\bPO-\d+-\d+\b|\b[A-Z]{2,6}\d{6,}\b")
# A dotted event code (refund.approved, risk.raise).
DOTTED_CODE = re.compile(r"\b[a-z]+\.[a-z]+(?:_[a-z]+)*\b")
DOTTED_ALLOWED = {"e.g", "i.e"}
# Addresses are not codes: http(s) URLs and the reserved example domains (RFC 2606) in hints.
ADDRESSES = re.compile(r"https?://\S+|\b[\w.-]+\.example\b|\b[\w.+-]+@[\w.-]+")
# An English gloss in a Chinese page: brackets around an English word of three letters or more.
BRACKETED_ENGLISH = re.compile(r"[（(][^()（）]*\b[A-Za-z]*[a-z]{3,}\b[^()（）]*[)）]")
# Untranslated English in a Chinese page: three English words in a row outside text marked with its
# own language (free text shown as typed is marked lang="en" and read apart).
ENGLISH_PHRASE = re.compile(r"\b[A-Za-z]{2,}(?:[ ,'-]+[A-Za-z]{2,}){2,}\b")


# How a date is written, by language: each page uses one of these only (the medium date, with the
# short time when there is a time: "2026年12月4日 19:40", "Dec 4, 2026, 7:40 PM").
DATE_SHAPES = {
    "zh_CN": {"medium": re.compile(r"\d{4}年\d{1,2}月\d{1,2}日"), "numeric": re.compile(r"\d{4}/\d{1,2}/\d{1,2}"),
              "iso": re.compile(r"\d{4}-\d{2}-\d{2}")},
    "en": {"medium": re.compile(r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{1,2}, \d{4}"),
           "long": re.compile(r"\b(?:January|February|March|April|June|July|August|September|October|November"
                              r"|December) \d{1,2}, \d{4}"),
           "numeric": re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b"), "iso": re.compile(r"\d{4}-\d{2}-\d{2}")},
}
TIME_WITH_SECONDS = re.compile(r"\b\d{1,2}:\d{2}:\d{2}\b")


class VisibleText(HTMLParser):
    """The text a reader meets on a page, and the same-site links it offers.

    Text inside an element marked ``lang`` (free text shown as typed, in its own language) is
    kept apart: it is the writer's words, not the portal's.
    """

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
    TEXT_INPUTS = {"text", "search", "email", "tel", "number", "url", ""}
    SPOKEN = ("title", "aria-label", "placeholder", "alt")

    def __init__(self):
        """Start with no text and no links."""
        super().__init__(convert_charrefs=True)
        self.parts, self.quoted, self.links = [], [], []
        self._stack = []  # (tag, skipped, quoted) of the open elements

    def _inside(self, flag):
        """True when an open element has the flag (0: skipped, 1: in another language)."""
        return any(entry[flag + 1] for entry in self._stack)

    def _keep(self, text):
        """File text as the portal's or as quoted free text."""
        (self.quoted if self._inside(1) else self.parts).append(text)

    def handle_starttag(self, tag, attrs):
        """Collect links and spoken attributes; note what the element's content is."""
        attributes = dict(attrs)
        for name in ("href", "hx-get", "src", "action"):
            value = attributes.get(name) or ""
            if value.startswith("/") and not value.startswith("//"):
                if name != "action" or (attributes.get("method") or "get").lower() == "get":
                    self.links.append(value)
        skipped = tag in ("script", "style", "template") or "hidden" in attributes and tag != "input"
        quoted = bool(attributes.get("lang")) and tag != "html"
        if tag == "input":
            kind = (attributes.get("type") or "").lower()
            if kind in self.TEXT_INPUTS or kind in ("submit", "button"):
                if attributes.get("value") and not self._inside(0):
                    self._keep(attributes["value"])
        if not self._inside(0) and not skipped:
            for name in self.SPOKEN:
                if attributes.get(name):
                    self._keep(attributes[name])
        if tag not in self.VOID:
            self._stack.append((tag, skipped, quoted))

    def handle_startendtag(self, tag, attrs):
        """A self-closed element has attributes but no content."""
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID and self._stack and self._stack[-1][0] == tag:
            self._stack.pop()

    def handle_endtag(self, tag):
        """Close the innermost open element of that name."""
        for index in range(len(self._stack) - 1, -1, -1):
            if self._stack[index][0] == tag:
                del self._stack[index:]
                break

    def handle_data(self, data):
        """Text outside scripts and styles is visible."""
        if not self._inside(0) and data.strip():
            self._keep(data)

    @property
    def text(self):
        """The portal's own visible text, with runs of white space as one space."""
        return " ".join(" ".join(self.parts).split())


def raw_codes(text, language):
    """The raw codes and untranslated glosses in a page's visible text."""
    text = ADDRESSES.sub(" ", REFERENCES.sub(" ", text))
    found = set(UNDERSCORE_CODE.findall(text))
    found |= {word for word in UPPER_WORD.findall(text) if word not in UPPER_ALLOWED and not word.isdigit()}
    found |= {code for code in DOTTED_CODE.findall(text) if code not in DOTTED_ALLOWED}
    if language == "zh_CN":
        found |= set(BRACKETED_ENGLISH.findall(text)) | set(ENGLISH_PHRASE.findall(text))
    return found


def date_shapes(text, language):
    """The ways of writing a date (and a time with seconds) that a page's text uses."""
    shapes = {name for name, shape in DATE_SHAPES[language].items() if shape.search(text)}
    if TIME_WITH_SECONDS.search(text):
        shapes.add("seconds")
    return shapes


def test_the_reader_finds_codes_glosses_and_event_names():
    """The checker itself: each kind of raw code is caught, and what people write is let through."""
    assert raw_codes("违规：FALSE_ADVERTISING", "en") == {"FALSE_ADVERTISING"}
    assert raw_codes("PO-10-1 (PROCESSING)", "en") == {"PROCESSING"}
    assert raw_codes("MEDIUM · DELAYS", "zh_CN") == {"MEDIUM", "DELAYS"}
    assert raw_codes("refund.approved · agent", "en") == {"refund.approved"}
    assert "(unpaid service fee)" in raw_codes("技术服务费欠缴 (unpaid service fee)", "zh_CN")
    assert raw_codes("(unpaid service fee)", "en") == set()
    assert raw_codes("状态：Waiting for you", "zh_CN") == {"Waiting for you"}
    allowed = ("JPEG, PNG or PDF up to 10 MB, e.g. https://erp.example/x.js; bank reference "
               "CMB20260915000123, payout PO-12-1, SLA at 9:30 AM (3C数码)")
    allowed_zh = ("JPEG、PNG 或 PDF，最大 10 MB，例如 https://erp.example/x.js；银行流水号 CMB20260915000123，"
                  "打款 PO-12-1（3C数码）")
    assert raw_codes(allowed, "en") == set() and raw_codes(allowed_zh, "zh_CN") == set()
    page = VisibleText()
    page.feed('<p title="Status: PAID">x<script>var A_B = 1;</script><span lang="en">typed NEEDS_INFO</span>'
              '<input type="hidden" value="SECRET_CODE"><input name="q" value="RISK_FLAG">'
              '<select><option value="OPEN">Open</option><option>FAKE_ORDERS</option></select>'
              '<a href="/desk/audit?x=1">a</a></p>')
    assert raw_codes(page.text, "en") == {"PAID", "RISK_FLAG", "FAKE_ORDERS"}
    assert page.quoted == ["typed NEEDS_INFO"] and page.links == ["/desk/audit?x=1"]
    assert date_shapes("Dec 4, 2026, 7:40 PM · Dec 1, 2026", "en") == {"medium"}
    assert date_shapes("12/4/26, 7:40 PM · December 4, 2026", "en") == {"numeric", "long"}
    assert date_shapes("2026年12月4日 19:40 · 2026/12/4 19:40:11", "zh_CN") == {"medium", "numeric", "seconds"}


def _signed_in(app, username, language):
    """A browser signed in as a demo account, in one language (the switch's cookie)."""
    browser = app.test_client()
    browser.set_cookie("lang", language)
    response = browser.post("/login", data={"username": username, "password": demo.PASSWORD})
    assert response.status_code in (302, 303), f"{username} could not sign in"
    return browser


def crawl(app, username, language):
    """``{url: (visible text)}`` of every page the account reaches, following links from its home page."""
    browser = _signed_in(app, username, language)
    queue = ["/"]
    if username in ("agent", "finance"):
        queue += ["/desk/audit", "/desk/payouts"]
    pages, seen, missing = {}, set(), {}
    while queue and len(seen) < MAX_PAGES:
        url = queue.pop(0)
        path = urlsplit(url).path
        numbered = re.fullmatch(r"(/desk/(?:refunds|shops|tickets))/(\d+)", path)
        if url in seen or any(part in url for part in NOT_PAGES) or "/files/" in path:
            continue
        if numbered and int(numbered.group(2)) >= missing.get(numbered.group(1), MAX_PAGES):
            continue
        seen.add(url)
        response = browser.get(url, follow_redirects=True)
        if numbered and response.status_code == 404:
            # Ids are handed out in order: past the first missing one, there are no more.
            missing[numbered.group(1)] = min(int(numbered.group(2)), missing.get(numbered.group(1), MAX_PAGES))
            continue
        assert response.status_code < 500, f"{username} {language} {url}: {response.status_code}"
        if response.status_code >= 400 or "html" not in (response.content_type or ""):
            continue
        reader = VisibleText()
        reader.feed(response.get_data(as_text=True))
        pages[url] = reader.text
        queue += [link.partition("#")[0] for link in reader.links if link.partition("#")[0] not in seen]
        if numbered:
            queue.append(f"{numbered.group(1)}/{int(numbered.group(2)) + 1}")
        if path == "/desk":
            queue += ["/desk/refunds/1", "/desk/shops/1", "/desk/tickets/1"]
    return pages


def sweep(app):
    """Every raw code on every page: ``{(account, language, url): codes}``, and the pages read."""
    found, read = {}, {}
    for username in ACCOUNTS:
        for language in LANGUAGES:
            pages = crawl(app, username, language)
            read[(username, language)] = pages
            for url, text in pages.items():
                codes = raw_codes(text, language)
                shapes = date_shapes(text, language) - {"medium"}
                if shapes:
                    codes |= {f"date written as {shape}" for shape in shapes}
                if codes:
                    found[(username, language, url)] = sorted(codes)
    return found, read


def report(found):
    """The findings, one page a line, for the assertion message."""
    return "\n".join(f"{user} {language} {url}: {', '.join(codes)}"
                     for (user, language, url), codes in sorted(found.items()))


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch):
    """Cheap password hashes for the demo accounts (the demo loads after this)."""
    from tests.factories import use_cheap_hashing

    use_cheap_hashing(monkeypatch)


def test_no_page_of_the_demo_shows_a_raw_code(demo_data):
    """The demo as loaded: no page of any account, in either language, shows a code."""
    found, read = sweep(demo_data)
    desk_pages = set(read[("agent", "en")])
    assert {"/desk", "/desk/audit", "/desk/payouts", "/desk/refunds/1", "/desk/shops/3"} <= desk_pages
    assert {"/deposit", "/refunds", "/tickets", "/payee", "/widgets"} <= set(read[("seller-risky", "zh_CN")])
    assert not found, "raw codes on pages:\n" + report(found)


def _post(browser, url, data, expect=(200, 302, 303)):
    """Send a form the way the page does (CSRF is off in tests) and insist it was accepted."""
    response = browser.post(url, data=data)
    assert response.status_code in expect, f"{url}: {response.status_code}\n{response.get_data(as_text=True)[:2000]}"
    return response


def _state_on(browser, request_id):
    """The state a desk request page says the request is in (what its forms send back)."""
    html = browser.get(f"/desk/refunds/{request_id}").get_data(as_text=True)
    return re.search(r'id="desk-state"[^>]*data-refund-state="([A-Z_]+)"', html).group(1)


def _day_at_the_desk(app):
    """A working day on the demo, through the pages: every kind of record the sweep should meet."""
    risky = _signed_in(app, "seller-risky", "zh_CN")
    ticket = _post(risky, "/tickets/new", {"category": "WRONG_AMOUNT", "subject": "可退金额不对",
                                           "message": "为什么可退金额是零？", "idempotency_key": uuid.uuid4().hex})
    ticket_url = urlsplit(ticket.headers["Location"]).path
    ticket_id = int(ticket_url.rsplit("/", 1)[1])
    _post(risky, "/disputes/1/escalate", {})

    agent = _signed_in(app, "agent", "en")
    _post(agent, f"/desk/tickets/{ticket_id}/assign", {})
    _post(agent, f"/desk/tickets/{ticket_id}/reply", {"message": "The figure is zero while the dispute is open.",
                                                        "seen_message_id": "999999"}, expect=(200, 303, 409))
    _post(agent, f"/desk/tickets/{ticket_id}/reply", {"message": "The figure is zero while the dispute is open.",
                                                        "seen_message_id": "999999"})
    _post(agent, f"/desk/tickets/{ticket_id}/note", {"note": "Checked the ledger: correct."})
    _post(agent, f"/desk/tickets/{ticket_id}/status", {"status": "WAITING_SELLER"})
    # seller-review's shop (4): a flag that delays refunds; its request (4) is approved for less.
    _post(agent, "/desk/shops/4/flags", {"flag-code": "FAKE_ORDERS", "flag-severity": "MEDIUM", "flag-effect": "DELAYS",
                                         "flag-seller_text": "近期订单存在异常，退款需人工复核。",
                                         "flag-how_to_fix": "", "flag-rationale": "Order spike last week."})
    _post(agent, "/desk/refunds/4/assign", {})
    _post(agent, "/desk/refunds/4/approve", {"approve-expected_state": _state_on(agent, 4), "approve-amount": "1000.00",
                                             "approve-internal_note": ""})
    # seller-exit's shop (7) is banned: its full-exit request is stopped as forfeited.
    _post(agent, "/desk/shops/7/ban", {"ban-reason": "Counterfeit reports from three buyers.",
                                       "ban-seller_message": "Your shop is banned for selling counterfeit goods."})

    finance = _signed_in(app, "finance", "zh_CN")
    # seller-approved's request (6): paid out, returned by the bank, then paid out again on new details.
    _post(finance, "/desk/refunds/6/payout/start", {"start-expected_state": _state_on(finance, 6)})
    _post(finance, "/desk/refunds/6/payout/failed", {"failed-expected_state": _state_on(finance, 6),
                                                     "failed-failure_code": "ACCOUNT_CLOSED",
                                                     "failed-seller_message": "收款账户已注销，请更新收款信息。"})
    approved = _signed_in(app, "seller-approved", "zh_CN")
    _post(approved, "/payee", {"holder_name": "北京北辰户外运动有限公司", "account_type": "CORPORATE",
                               "bank_name": "中国工商银行北京分行", "account_number": "6222020200112233"})
    if _state_on(finance, 6) == "PAYOUT_FAILED":
        _post(finance, "/desk/refunds/6/payout/start", {"start-expected_state": _state_on(finance, 6)})
    # seller-review's approved request (4) is paid with a bank reference.
    _post(finance, "/desk/refunds/4/payout/start", {"start-expected_state": _state_on(finance, 4)})
    _post(finance, "/desk/refunds/4/payout/paid", {"paid-expected_state": _state_on(finance, 4),
                                                   "paid-bank_reference": "ICBC2026120400017",
                                                   "paid-amount": "1000.00"})
    # seller-info answers the question; seller-ok shares a widget.
    info = _signed_in(app, "seller-info", "en")
    _post(info, "/refunds/5/answer", {"message": "Uploaded the bank slip from our last payment."},
          expect=(200, 303, 422))
    ok = _signed_in(app, "seller-ok", "zh_CN")
    _post(ok, "/widgets", {"variant": "DETAILED", "origins": "https://erp.example", "request": ""},
          expect=(200, 303, 422))


def test_no_page_shows_a_raw_code_after_a_day_of_work(demo_data):
    """After tickets, flags, a ban, payouts and answers: still no code on any page, in either language."""
    _day_at_the_desk(demo_data)
    found, read = sweep(demo_data)
    agent_pages = set(read[("agent", "zh_CN")])
    assert {"/desk/tickets/1", "/desk/shops/7", "/desk/refunds/6"} <= agent_pages
    assert not found, "raw codes on pages:\n" + report(found)


def test_the_desk_says_the_seller_is_waited_for(demo_data):
    """Where the seller reads "waiting for you", the desk reads "waiting for the seller", in both languages."""
    _day_at_the_desk(demo_data)
    for language, desk_words, seller_words in (("zh_CN", "待商家回复", "待您回复"),
                                                ("en", "Waiting for the seller", "Waiting for you")):
        agent = _signed_in(demo_data, "agent", language)
        for url in ("/desk/tickets/1", "/desk", "/desk/shops/2", "/desk/refunds/5"):
            text = VisibleText()
            text.feed(agent.get(url).get_data(as_text=True))
            assert seller_words not in text.text, (language, url)
        ticket = VisibleText()
        ticket.feed(agent.get("/desk/tickets/1").get_data(as_text=True))
        assert desk_words in ticket.text
        seller = VisibleText()
        seller.feed(_signed_in(demo_data, "seller-risky", language).get("/tickets/1").get_data(as_text=True))
        assert seller_words in seller.text and desk_words not in seller.text


def _seller_timeline(app, username, language, request_id):
    """The messages of a request's timeline as the seller reads them, with their markup."""
    html = _signed_in(app, username, language).get(f"/refunds/{request_id}").get_data(as_text=True)
    return re.findall(r'<p class="message">(.*?)</p>', html, re.S)


def test_an_unedited_reason_reads_in_the_sellers_language(demo_data):
    """An English agent rejects with the reason's template as prefilled: the Chinese seller reads the Chinese one."""
    from portal.refunds.models import ReasonCode, RefundEvent

    agent = _signed_in(demo_data, "agent", "en")
    template = ReasonCode.get(ReasonCode.code == "PENDING_COMPLAINT")
    _post(agent, "/desk/refunds/4/reject", {"reject-expected_state": _state_on(agent, 4),
                                            "reject-reason_code": "PENDING_COMPLAINT",
                                            "reject-seller_message": template.message_en + "\n"})
    event = RefundEvent.select().where(RefundEvent.request == 4).order_by(RefundEvent.id.desc()).get()
    assert (event.to_state, event.seller_message, event.seller_message_language) == ("REJECTED", "", "")
    assert template.message_zh in _seller_timeline(demo_data, "seller-review", "zh_CN", 4)
    assert template.message_en in _seller_timeline(demo_data, "seller-review", "en", 4)


def test_an_agents_own_words_stay_as_typed_marked_with_their_language(demo_data):
    """Words the agent wrote are kept as typed, with their language: a reader of the other language sees a marker."""
    from portal.refunds.models import RefundEvent

    agent = _signed_in(demo_data, "agent", "zh_CN")
    words = "Please close the complaint on order 6928 first, then apply again."
    _post(agent, "/desk/refunds/4/reject", {"reject-expected_state": _state_on(agent, 4),
                                            "reject-reason_code": "PENDING_COMPLAINT", "reject-seller_message": words})
    event = RefundEvent.select().where(RefundEvent.request == 4).order_by(RefundEvent.id.desc()).get()
    assert (event.seller_message, event.seller_message_language) == (words, "en")
    chinese = _seller_timeline(demo_data, "seller-review", "zh_CN", 4)
    assert f'<span lang="en">{words}</span> <span class="written-in">（原文为英文）</span>' in chinese
    assert words in _seller_timeline(demo_data, "seller-review", "en", 4)  # an English reader: no marker
    assert "written in" not in " ".join(_seller_timeline(demo_data, "seller-review", "en", 4))
