"""Tickets and status widgets in Chromium: evidence photos, inline replies on both sides, inert payloads,
and the widget embedded on another site (and refused on a site not on its list).

This module runs its own live server (the same gunicorn child process as ``live_server`` in the
conftest, on its own SQLite file with demo data and CSRF on) with short live-update intervals, so
"the page updates within one interval" takes seconds, not minutes. Its pages come from ``browsing``,
which opens phone and desktop contexts on that server, fails the test on script errors and CSP
violations (except on pages made to tolerate an expected one) and on any dialog the portal did not
ask for itself.
"""
import io
import os
import re
import threading
import time
import uuid
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from PIL import Image, ImageOps
from playwright.sync_api import expect

from .conftest import PHONE, PortalDatabase, accessible, no_horizontal_scroll, sign_in, start_portal

# Short live-update intervals for this module's server (settings read from the environment).
POLL_FAST_SECONDS = 2
POLL_SLOW_SECONDS = 3
POLL_IDLE_SECONDS = 5
# What "within one interval" allows on top of the interval: the poll's own round trip and a swap.
SLACK_SECONDS = 2.5
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
EMBED_DEFAULT_HEIGHT = "140px"  # what static/js/embed.js gives the iframe before the widget reports

TICKET_URL = re.compile(r"/tickets/(\d+)$")
DESK_TICKET_URL = re.compile(r"/desk/tickets/(\d+)$")
WIDGET_URL = re.compile(r"/widgets#widget-(\d+)$")

# EXIF tags the portal must strip from a photo (Pillow numbers): camera make, model, GPS block.
EXIF_MAKE, EXIF_MODEL, EXIF_GPS = 0x010F, 0x0110, 0x8825


# --- This module's server ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory, chromium_installed):
    """The portal with demo data, served by gunicorn like ``live_server``, with short poll intervals."""
    live = start_portal(tmp_path_factory.mktemp("e2e-tickets-widgets"), POLL_FAST_SECONDS=POLL_FAST_SECONDS,
                        POLL_SLOW_SECONDS=POLL_SLOW_SECONDS, POLL_IDLE_SECONDS=POLL_IDLE_SECONDS)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def server_db(server):
    """``portal_db`` for this module's server."""
    return PortalDatabase(server.env)


# --- Browser pages on that server ----------------------------------------------------------------


class Browsing:
    """Opens pages on the module's server; records console errors and dialogs nobody expected."""

    def __init__(self, browser, phone, base_url):
        self.browser = browser
        self.phone = phone
        self.base_url = base_url
        self.contexts = []
        self.problems = []
        self.dialogs = []  # dialogs the portal did not ask for: must stay empty
        self.confirmed = []  # the portal's own confirmations, accepted inside expect_confirm()
        self._confirm_allowed = False
        self._refusal_allowed = False

    def context(self, kind="phone"):
        """A fresh browser context (no cookies): a phone in Chinese, or a desktop."""
        args = {"locale": "zh-CN", "timezone_id": "Asia/Shanghai", "base_url": self.base_url}
        args.update(self.phone if kind == "phone" else DESKTOP)
        context = self.browser.new_context(**args)
        self.contexts.append(context)
        return context

    def page(self, kind="phone", strict=True, context=None):
        """A page in a new context (or in ``context``); ``strict``: console errors fail the test."""
        page = (context or self.context(kind)).new_page()
        if strict:
            def _console(message):
                source = message.location.get("url", "")
                if message.type != "error" or source.endswith("/favicon.ico"):
                    return
                # Chromium logs a refused form's 422 page as a failed load: expected inside expect_refusal().
                if self._refusal_allowed and "status of 422" in message.text:
                    return
                self.problems.append(f"console: {message.text} ({source})")

            page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
            page.on("console", _console)
        page.on("dialog", lambda dialog: self._dialog(page, dialog))
        return page

    def _dialog(self, page, dialog):
        if dialog.type == "confirm" and self._confirm_allowed:
            self.confirmed.append(dialog.message)
            dialog.accept() if self._confirm_allowed == "accept" else dialog.dismiss()
            return
        self.dialogs.append(f"{dialog.type} {dialog.message!r} on {page.url}")
        dialog.dismiss()

    @contextmanager
    def expect_confirm(self, accept=True):
        """Inside: the portal's own "are you sure?" is answered (outside, any dialog is a failure)."""
        before = len(self.confirmed)
        self._confirm_allowed = "accept" if accept else "dismiss"
        try:
            yield
        finally:
            self._confirm_allowed = False
        assert len(self.confirmed) > before, "the portal did not ask to confirm"

    @contextmanager
    def expect_refusal(self):
        """Inside: a form the server refuses (422) is what the test wants, not a browser error."""
        self._refusal_allowed = True
        try:
            yield
        finally:
            self._refusal_allowed = False

    def close(self):
        for context in self.contexts:
            context.close()


@pytest.fixture
def browsing(browser, playwright, device, server):
    """Pages on this module's server; fails on console errors, CSP violations and stray dialogs."""
    phone = dict(playwright.devices[device or PHONE])
    phone.pop("default_browser_type", None)
    session = Browsing(browser, phone, server.url)
    yield session
    session.close()
    assert not session.dialogs, "dialogs opened:\n" + "\n".join(session.dialogs)
    assert not session.problems, "the browser reported errors:\n" + "\n".join(session.problems)


def check_page(page):
    """What every page must pass: axe (nothing serious or critical), no sideways scroll at 360 px."""
    accessible(page)
    no_horizontal_scroll(page)


def set_marker(page, name):
    """Leave a value in the page's JavaScript; it survives anything but a reload or a navigation."""
    page.evaluate("name => { window[name] = 'still here'; }", name)


def marker(page, name):
    """The value ``set_marker`` left, or None after a reload."""
    return page.evaluate("name => window[name] || null", name)


def count_navigations(page):
    """A list that gets every main-frame navigation of the page from now on."""
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    return navigations


# --- Issue 5: a ticket with a photo, answered inline on both sides -------------------------------


def make_photo(path):
    """A JPEG of noise (about half a megabyte, so the upload takes a moment) with camera and GPS EXIF."""
    image = Image.frombytes("RGB", (900, 600), os.urandom(900 * 600 * 3))
    exif = Image.Exif()
    exif[EXIF_MAKE] = "TestCam"
    exif[EXIF_MODEL] = "Spy 3000"
    exif[EXIF_GPS] = {1: "N", 2: (30.0, 15.0, 12.5), 3: "E", 4: (120.0, 9.0, 45.0)}
    image.save(path, "JPEG", quality=85, exif=exif)
    with Image.open(path) as written:  # the test is only worth something if the metadata is there
        tags = written.getexif()
        assert tags.get(EXIF_MAKE) == "TestCam" and tags.get_ifd(EXIF_GPS).get(1) == "N"
    return path


def assert_no_camera_metadata(data):
    """The image bytes carry no make, model or GPS EXIF (and decode as an image)."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        tags = image.getexif()
        found = {name: tags.get(tag) for name, tag in (("make", EXIF_MAKE), ("model", EXIF_MODEL))
                 if tags.get(tag) is not None}
        gps = dict(tags.get_ifd(EXIF_GPS))
        assert not found and not gps and EXIF_GPS not in tags, f"metadata survived: {found} GPS={gps}"
        assert b"TestCam" not in data and b"Spy 3000" not in data
        assert ImageOps.exif_transpose(image).size == (900, 600)


# Records the upload progress bar's values where the next page can read them (same tab, same origin).
_RECORD_PROGRESS = """() => {
  sessionStorage.setItem("upload-progress", "[]");
  document.addEventListener("htmx:xhr:progress", event => {
    const bar = event.target.closest("[data-upload]").querySelector(".upload-progress");
    const seen = JSON.parse(sessionStorage.getItem("upload-progress"));
    seen.push({value: bar.value, hidden: bar.hidden});
    sessionStorage.setItem("upload-progress", JSON.stringify(seen));
  });
}"""


def test_ticket_with_photo_answered_inline(browsing, tmp_path, screenshot):
    """A seller on a phone opens a ticket with a photo; an agent answers inline; the seller sees it live."""
    photo = make_photo(tmp_path / "退款凭证.jpg")
    subject = f"退款金额不对 {uuid.uuid4().hex[:6]}"

    seller = browsing.page("phone")
    sign_in(seller, "seller-ok")
    seller.goto("/tickets/new")
    check_page(seller)
    seller.locator("#category").select_option("WRONG_AMOUNT")
    seller.locator("#subject").fill(subject)
    seller.locator("#message").fill("可退金额比我算的少了 ¥200.00，请核对。照片是银行回单。")
    seller.locator("#files").set_input_files(str(photo))
    seller.evaluate(_RECORD_PROGRESS)
    seller.locator("#ticket-form button[type=submit]").click()

    # htmx posts the form with its file, the bar shows the upload, and the server sends us on.
    expect(seller).to_have_url(TICKET_URL, timeout=20_000)
    ticket_id = int(TICKET_URL.search(seller.url).group(1))
    progress = seller.evaluate("() => JSON.parse(sessionStorage.getItem('upload-progress') || '[]')")
    assert progress, "no upload progress event reached the form"
    assert progress[-1] == {"value": 100, "hidden": False}, progress
    thread = seller.locator("#ticket-thread")
    expect(thread.locator("[data-ticket-status]")).to_have_attribute("data-ticket-status", "WAITING_SUPPORT")
    expect(thread).to_contain_text("可退金额比我算的少了")
    expect(thread.locator(".files a")).to_have_text("退款凭证.jpg")
    check_page(seller)
    set_marker(seller, "sellerMarker")
    seller_navigations = count_navigations(seller)

    # The agent, at a desk, finds the ticket in the queue and answers without leaving the page.
    agent = browsing.page("desktop")
    sign_in(agent, "agent")
    agent.goto("/desk")
    agent.locator("#queue-q").fill(subject)
    agent.locator("#queue-q").press("Enter")
    listed = agent.locator(f"#queue-results a[href$='/desk/tickets/{ticket_id}']")
    expect(listed).to_have_text(subject)
    listed.click()
    expect(agent).to_have_url(DESK_TICKET_URL)
    expect(agent.locator("#desk-ticket .thread")).to_contain_text("可退金额比我算的少了")
    set_marker(agent, "agentMarker")
    agent_navigations = count_navigations(agent)

    reply = f"您好，已核对：差额是 3C 类目保证金要求。{uuid.uuid4().hex[:6]}"
    agent.locator("#desk-reply #message").fill(reply)
    agent.locator("#desk-reply button[type=submit]").click()
    expect(agent.locator("#desk-ticket .thread .from-agent").filter(has_text=reply)).to_have_count(1, timeout=10_000)
    expect(agent.locator("#desk-ticket .flash")).to_be_visible()
    expect(agent.locator("#desk-reply #message")).to_have_value("")
    expect(agent.locator("#desk-ticket [data-ticket-status]")).to_have_attribute("data-ticket-status",
                                                                                 "WAITING_SELLER")
    assert marker(agent, "agentMarker") == "still here", "the desk page was reloaded"
    assert agent_navigations == [], f"the desk page navigated: {agent_navigations}"
    replied_at = time.monotonic()

    # The seller's page shows the answer by itself, within one interval, without a reload.
    expect(thread).to_contain_text(reply, timeout=(POLL_SLOW_SECONDS + SLACK_SECONDS) * 1000)
    waited = time.monotonic() - replied_at
    expect(thread.locator("[data-ticket-status]")).to_have_attribute("data-ticket-status", "WAITING_SELLER")
    assert marker(seller, "sellerMarker") == "still here", "the seller's page was reloaded"
    assert seller_navigations == [], f"the seller's page navigated: {seller_navigations}"
    assert waited <= POLL_SLOW_SECONDS + SLACK_SECONDS
    screenshot(seller, "ticket-thread")

    # The agent downloads the photo: the pixels are there, the camera and the location are not.
    with agent.expect_download() as download_info:
        agent.locator("#desk-ticket .files a").first.click()
    download = download_info.value
    assert download.suggested_filename.endswith(".jpg")
    data = open(download.path(), "rb").read()
    assert_no_camera_metadata(data)
    assert data != photo.read_bytes()


# --- Script payloads stay text -------------------------------------------------------------------

PARTS = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '"><svg onload=alert(1)>',
         "javascript:alert(1)", "https://evil.example/login")
EVIL_HOST = "evil.example"


def payload(tag, limit=None):
    """Every payload in one text, led by a tag naming the field; shortened to fit ``limit``."""
    parts = list(PARTS)
    text = f"[{tag}] " + " ".join(parts)
    for spare in ("javascript:alert(1)", "https://evil.example/login", *PARTS):
        if not limit or len(text) <= limit:
            break
        parts.remove(spare)
        text = f"[{tag}] " + " ".join(parts)
    return text


# Anything the payloads could have turned into: elements, handlers, script URLs, direct outside links.
_INJECTION_SCRIPT = """() => {
  const describe = element => element.outerHTML.slice(0, 160);
  const injected = [...document.querySelectorAll(
      'script:not([src]), img[src="x"], svg[onload], object, embed, base')].map(describe);
  const handlers = [];
  for (const element of document.querySelectorAll("*")) {
    for (const attribute of element.attributes) {
      if (attribute.name.toLowerCase().startsWith("on")) { handlers.push(describe(element)); }
    }
  }
  const scriptUrls = [...document.querySelectorAll("[href], [src], [action], [formaction]")]
    .filter(element => ["href", "src", "action", "formaction"].some(
      name => /^\\s*javascript:/i.test(element.getAttribute(name) || "")))
    .map(describe);
  const outside = [...document.querySelectorAll("a[href]")]
    .filter(link => link.href.includes("evil.example"))
    .filter(link => new URL(link.href).origin !== location.origin || new URL(link.href).pathname !== "/leaving")
    .map(describe);
  const warned = [...document.querySelectorAll("a[href]")]
    .filter(link => new URL(link.href).pathname === "/leaving"
                    && new URL(link.href).searchParams.get("to") === "https://evil.example/login")
    .map(link => link.getAttribute("href"));
  return {injected, handlers, scriptUrls, outside, warned};
}"""


def assert_inert(page, shown=(), hidden=(), values=(), links=None, leaving=False):
    """Nothing the payloads carry ran or became markup; ``shown`` texts are visible literally.

    ``hidden`` texts must not be on the page at all (internal notes on a seller's page),
    ``values`` are (selector, text) pairs a refused form gave back, and ``links`` says whether
    the outside address must appear as a link through the warning page. On the warning page
    itself (``leaving``) the one link that does leave is the point.
    """
    page.wait_for_load_state("load")
    found = page.evaluate(_INJECTION_SCRIPT)
    where = page.url
    assert not found["injected"], f"{where}: injected elements {found['injected']}"
    assert not found["handlers"], f"{where}: event handler attributes {found['handlers']}"
    assert not found["scriptUrls"], f"{where}: javascript: URLs {found['scriptUrls']}"
    if not leaving:
        assert not found["outside"], f"{where}: links straight to the outside {found['outside']}"
    for text in shown:
        expect(page.locator("body").get_by_text(text).first).to_be_visible()
    for text in hidden:
        expect(page.locator("html")).not_to_contain_text(text)
    for selector, text in values:
        expect(page.locator(selector)).to_have_value(text)
    if links is not None:
        assert bool(found["warned"]) == links, (
            f"{where}: expected {'a' if links else 'no'} link through /leaving, found {found['warned']}")
    return found


def assert_leaving_page_names_the_host(page):
    """Follow the page's first outside link: the warning page names evil.example and links nowhere else."""
    link = page.locator("a.outside-link[href*='evil.example']").first
    href = link.get_attribute("href")
    parts = urlsplit(href)
    assert parts.path == "/leaving" and parse_qs(parts.query)["to"] == ["https://evil.example/login"], href
    link.click()
    expect(page).to_have_url(re.compile(r"/leaving\?to="))
    expect(page.locator(".big-host")).to_have_text(EVIL_HOST)
    expect(page.locator("main")).to_contain_text("https://evil.example/login")
    expect(page.locator("main a[href^='https://evil.example']")).to_have_count(1)
    assert_inert(page, leaving=True)
    page.go_back()


def _ids(server_db):
    """The demo's shops and requests this test writes to."""
    return server_db.run("""
        from portal.refunds.models import RefundRequest
        from portal.shops.models import Shop
        from portal.accounts.models import User
        def shop_of(username):
            return User.get(User.username == username).shop_id
        review = RefundRequest.select().where(RefundRequest.shop == shop_of("seller-review")) \\
            .order_by(RefundRequest.id.desc()).get()
        result = {"risky": shop_of("seller-risky"), "review_request": review.id, "review_state": review.state}
    """)


def test_script_payloads_stay_text_for_seller_and_agent(browsing, server_db):
    """Payloads typed into every seller and agent text field stay text on every page that shows them."""
    ids = _ids(server_db)
    assert ids["review_state"] == "UNDER_REVIEW", ids
    text = {tag: payload(tag) for tag in ("message", "reply", "origins", "outcome-seller",
                                          "complaint", "desk-reply", "note", "flag-text", "flag-fix",
                                          "flag-rationale", "outcome-desk", "info", "info-note", "answer")}
    # Fields with a maxlength get what fits: the subject (120) and the payee fields (100).
    text.update(subject=payload("subject", limit=120), holder=payload("holder", limit=100),
                bank=payload("bank", limit=100))

    # --- The seller (seller-risky) fills in everything a seller can. ---
    seller = browsing.page("phone")
    sign_in(seller, "seller-risky")
    seller.goto("/tickets/new")
    seller.locator("#category").select_option("ACCOUNT_APPEAL")
    seller.locator("#subject").fill(text["subject"])
    seller.locator("#message").fill(text["message"])
    seller.locator("#ticket-form button[type=submit]").click()
    expect(seller).to_have_url(TICKET_URL)
    ticket_id = int(TICKET_URL.search(seller.url).group(1))
    seller.locator("#ticket-reply #message").fill(text["reply"])
    seller.locator("#ticket-reply button[type=submit]").click()
    expect(seller.locator("#ticket-thread")).to_contain_text(text["reply"])
    expect(seller.locator("#ticket-reply #message")).to_have_value("")

    # Payee details: the holder is not the shop's entity, so the form comes back with what was typed.
    seller.goto("/payee")
    seller.locator("#holder_name").fill(text["holder"])
    seller.locator("#bank_name").fill(text["bank"])
    with browsing.expect_refusal():
        seller.locator("form[action$='/payee'] button[type=submit]").click()
        expect(seller.locator("#holder_name")).to_have_attribute("aria-invalid", "true")
    assert_inert(seller, values=[("#holder_name", text["holder"]), ("#bank_name", text["bank"])])

    # A widget's sites: refused line by line, and the lines come back as text (and in the error).
    seller.goto("/widgets")
    seller.locator("#origins").fill(text["origins"])
    with browsing.expect_refusal():
        seller.locator("form[action$='/widgets'] button[type=submit]").click()
        expect(seller.locator("#origins")).to_have_attribute("aria-invalid", "true")
    assert_inert(seller, shown=[text["origins"]], values=[("#origins", text["origins"])])

    # The buyer dispute of the demo: the seller records what they agreed.
    seller.goto("/disputes")
    negotiating = seller.locator("[data-dispute-status='NEGOTIATING']").first
    negotiating.locator("textarea[name=outcome]").fill(text["outcome-seller"])
    negotiating.locator("form[action$='/outcome'] button[type=submit]").click()
    expect(seller.locator("main")).to_contain_text(text["outcome-seller"])

    # A second dispute, from a buyer whose complaint carries the payloads, for the agent to decide.
    dispute_id = server_db.run("""
        from portal.disputes.models import Dispute
        result = Dispute.create(shop=params["shop"], order_number="6928374651029300001",
                                complaint=params["complaint"]).id
    """, shop=ids["risky"], complaint=text["complaint"])

    # --- The agent fills in everything an agent can. ---
    agent = browsing.page("desktop")
    sign_in(agent, "agent")
    agent.goto(f"/desk/tickets/{ticket_id}")
    agent.locator("#desk-reply #message").fill(text["desk-reply"])
    agent.locator("#desk-reply button[type=submit]").click()
    expect(agent.locator("#desk-ticket .thread")).to_contain_text(text["desk-reply"])
    agent.locator("#note").fill(text["note"])
    agent.locator("form[action$='/note'] button[type=submit]").click()
    expect(agent.locator("#desk-ticket .thread")).to_contain_text(text["note"])

    agent.goto(f"/desk/shops/{ids['risky']}")
    agent.locator("details:has(form[action$='/flags']) > summary").click()
    agent.locator("#flag-code").select_option("OTHER_RISK")  # risks are chosen from the named list
    agent.locator("#flag-severity").select_option("MEDIUM")
    agent.locator("#flag-effect").select_option("DELAYS")
    agent.locator("#flag-seller_text").fill(text["flag-text"])
    agent.locator("#flag-how_to_fix").fill(text["flag-fix"])
    agent.locator("#flag-rationale").fill(text["flag-rationale"])
    agent.locator("form[action$='/flags'] button[type=submit]").click()
    expect(agent.locator("[data-flag='OTHER_RISK']")).to_contain_text(text["flag-text"])
    agent.locator(f"#dispute-{dispute_id}").fill(text["outcome-desk"])
    with browsing.expect_confirm():
        agent.locator(f"form:has(#dispute-{dispute_id}) button[type=submit]").click()
        expect(agent.locator("main")).to_contain_text(text["outcome-desk"])

    # A refund request of another seller: ask for information, with a note only staff read.
    agent.goto(f"/desk/refunds/{ids['review_request']}")
    agent.locator("details:has(form[action$='/needs-info']) > summary").click()
    agent.locator("#info-seller_message").fill(text["info"])
    agent.locator("#info-internal_note").fill(text["info-note"])
    agent.locator("form[action$='/needs-info'] button[type=submit]").click()
    expect(agent.locator("[data-refund-state]").first).to_have_attribute("data-refund-state", "NEEDS_INFO")

    # ... which that seller answers.
    other = browsing.page("phone")
    sign_in(other, "seller-review")
    other.goto(f"/refunds/{ids['review_request']}")
    other.locator("form[action$='/answer'] #message").fill(text["answer"])
    other.locator("form[action$='/answer'] button[type=submit]").click()
    expect(other.locator("[data-refund-state]").first).to_have_attribute("data-refund-state", "UNDER_REVIEW")

    # --- Every page that shows them, as the seller and as the agent. ---
    ticket_texts = [text["subject"], text["message"], text["reply"], text["desk-reply"]]
    seller_pages = [
        ("/tickets", [text["subject"]], [], None),
        (f"/tickets/{ticket_id}", ticket_texts, [text["note"]], True),
        ("/disputes", [text["outcome-seller"], text["complaint"], text["outcome-desk"]], [], True),
        ("/risk", [text["flag-text"], text["flag-fix"]], [text["flag-rationale"]], True),
        ("/deposit", [text["flag-text"]], [text["flag-rationale"]], True),
        ("/refunds/new", [text["flag-text"]], [text["flag-rationale"]], True),
    ]
    for path, shown, hidden, links in seller_pages:
        seller.goto(path)
        assert_inert(seller, shown=shown, hidden=hidden, links=links)
    other.goto(f"/refunds/{ids['review_request']}")
    assert_inert(other, shown=[text["info"], text["answer"]], hidden=[text["info-note"]])
    other.goto("/notifications")
    assert_inert(other)

    agent_pages = [
        ("/desk", [text["subject"]], None),
        (f"/desk/tickets/{ticket_id}", [*ticket_texts, text["note"]], True),
        (f"/desk/shops/{ids['risky']}", [text["flag-text"], text["flag-rationale"], text["outcome-seller"],
                                         text["outcome-desk"], text["complaint"], text["subject"]], True),
        (f"/desk/refunds/{ids['review_request']}", [text["info"], text["info-note"], text["answer"]], None),
        ("/desk/audit", [], None),
    ]
    for path, shown, links in agent_pages:
        agent.goto(path)
        assert_inert(agent, shown=shown, links=links)

    # The outside address leads to the warning page, which names the host, for both of them.
    seller.goto(f"/tickets/{ticket_id}")
    assert_leaving_page_names_the_host(seller)
    agent.goto(f"/desk/tickets/{ticket_id}")
    assert_leaving_page_names_the_host(agent)


def test_cancelling_the_desk_confirmation_sends_nothing(browsing, server_db):
    """An agent who answers Cancel to "Decide this dispute? The decision is final." decides nothing."""
    ticket_id, dispute_id = server_db.run("""
        import uuid
        from portal.tickets import service as ticket_service
        from portal.core.vocabulary import TicketCategory, TicketStatus
        from portal.disputes.models import Dispute
        from portal.shops.models import Shop
        from portal.accounts.models import User
        from portal.core.calendar import working_calendar
        seller = User.get(User.username == "seller-info")
        dispute = Dispute.create(shop=seller.shop_id, order_number="6928374651029300002", status="PLATFORM_REVIEW",
                                 complaint="买家称少发了一件。")
        ticket = ticket_service.open_ticket(Shop.get_by_id(seller.shop_id), seller, TicketCategory.DISPUTE_ESCALATION,
                                       "平台介入：订单 6928374651029300002", "请平台介入。", [],
                                       app.config["UPLOAD_DIR"], working_calendar(), 2, uuid.uuid4().hex,
                                       dispute_id=dispute.id)
        result = [ticket.id, dispute.id]
    """)
    agent = browsing.page("desktop")
    sign_in(agent, "agent")
    agent.goto(f"/desk/tickets/{ticket_id}")
    agent.locator("#outcome").fill("支持买家：退一件的货款。")
    with browsing.expect_confirm(accept=False):
        agent.locator("form[action$='/dispute'] button[type=submit]").click()
    agent.wait_for_timeout(1500)  # time for a request that should not have gone out to come back
    status = server_db.run("""
        from portal.disputes.models import Dispute
        result = Dispute.get_by_id(params["dispute"]).status
    """, dispute=dispute_id)
    assert status == "PLATFORM_REVIEW", f"the agent cancelled, yet the dispute is {status}"
    expect(agent.locator("#desk-ticket form[action$='/dispute']")).to_have_count(1)


def test_seller_pages_fit_a_phone(browsing, server_db):
    """/risk (with a warning on it) and /disputes pass axe and fit 360 px."""
    server_db.run("""
        from portal.risk import service as risk_service
        from portal.risk.models import RiskFlag
        from portal.accounts.models import User
        seller = User.get(User.username == "seller-risky")
        if not RiskFlag.active_for(seller.shop_id).exists():
            risk_service.raise_flag(seller.shop_id, User.get(User.username == "agent"), "REVIEW_PENDING", "MEDIUM",
                             "DELAYS", "您的账户正在安全复核中，退款可能延迟。", "routine",
                             "无需操作，复核完成后自动解除。")
    """)
    seller = browsing.page("phone")
    sign_in(seller, "seller-risky")
    for path in ("/risk", "/disputes"):
        seller.goto(path)
        expect(seller.locator("h1")).to_be_visible()
        check_page(seller)


# --- Issue 6: the status widget on another site ---------------------------------------------------


class _HostHandler(BaseHTTPRequestHandler):
    """Serves the pages the test put in ``server.pages``; a 204 for anything else."""

    def do_GET(self):  # noqa: N802 - the name http.server calls
        body = self.server.pages.get(urlsplit(self.path).path)
        if body is None:
            self.send_response(204)
            self.end_headers()
            return
        data = body.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        """Quiet."""


class HostSite:
    """Another web site on 127.0.0.1, on a port of its own: an ERP that embeds the widget."""

    def __init__(self):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _HostHandler)
        self.httpd.pages = {}
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def put(self, path, html):
        self.httpd.pages[path] = html
        return self.origin + path

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def host_sites():
    """Two other sites: one the widget will allow, one it will not."""
    allowed, other = HostSite(), HostSite()
    yield allowed, other
    allowed.stop()
    other.stop()


HOST_PAGE = """<!doctype html>
<html lang="zh-CN">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>代运营工作台</title></head>
<body style="font-family: sans-serif; margin: 16px">
<h1 style="font-size: 20px">代运营工作台 · 北辰户外</h1>
<p>保证金退还进度（来自商家后台的状态小组件）：</p>
{snippet}
<p style="color: #666">本页由第三方网站提供。</p>
</body>
</html>
"""


def _frame_height(page):
    return page.locator("[data-refund-widget] iframe").evaluate("frame => frame.style.height")


def test_widget_on_an_allowed_site_updates_live(browsing, server, server_db, host_sites, screenshot):
    """Create a widget in /widgets; embed it on an allowed site: it shows the stage, sizes itself,
    follows a state change within one interval, and neither reads nor sets a cookie."""
    allowed, _other = host_sites
    request_id = server_db.run("""
        from portal.refunds.models import RefundRequest
        from portal.accounts.models import User
        shop = User.get(User.username == "seller-approved").shop_id
        refund = RefundRequest.select().where(RefundRequest.shop == shop).order_by(RefundRequest.id.desc()).get()
        result = [refund.id, refund.state]
    """)
    assert request_id[1] == "APPROVED", request_id
    request_id = request_id[0]

    seller = browsing.page("phone")
    sign_in(seller, "seller-approved")
    seller.goto("/widgets")
    check_page(seller)
    seller.locator("#target").select_option(str(request_id))
    seller.locator("input[name=variant][value=PUBLIC]").check()
    seller.locator("#origins").fill(allowed.origin + "/")
    seller.locator("form[action$='/widgets'] button[type=submit].primary").click()
    expect(seller).to_have_url(WIDGET_URL)
    widget_id = int(WIDGET_URL.search(seller.url).group(1))
    card = seller.locator(f"#widget-{widget_id}")
    expect(card).to_contain_text(allowed.origin)
    preview = seller.frame_locator(f"#widget-{widget_id} iframe.widget-preview")
    expect(preview.locator("[data-refund-state]")).to_have_attribute("data-refund-state", "APPROVED")
    check_page(seller)
    screenshot(seller, "widgets")

    # The seller copies the loader snippet into the other site's page.
    snippet = seller.locator(f"#snippet-{widget_id}-loader").inner_text()
    assert f'src="{server.url}/embed.js"' in snippet, snippet
    host_url = allowed.put("/dashboard", HOST_PAGE.format(snippet=snippet))

    # Everything the portal answers on widget routes, in the seller's own signed-in browser.
    embed_traffic = []
    seller.context.on("response", lambda response: embed_traffic.append(response)
                      if urlsplit(response.url).path.startswith("/embed") else None)
    cookies = seller.context.cookies(server.url)
    assert any(cookie["name"] == "portal_session" for cookie in cookies), "the seller is not signed in"

    host = seller
    host.goto(host_url)
    iframe = host.locator("[data-refund-widget] iframe")
    frame = host.frame_locator("[data-refund-widget] iframe")
    expect(frame.locator("[data-refund-state]")).to_have_attribute("data-refund-state", "APPROVED")
    expect(frame.locator("[data-refund-state]")).to_have_text(re.compile(r"\S"))
    expect(iframe).to_have_attribute("src", re.compile(re.escape("parent=" + quote(allowed.origin, safe=""))))
    # The widget told the host page its height (postMessage to the named origin), replacing the default.
    host.wait_for_function(f"() => document.querySelector('[data-refund-widget] iframe').style.height !== "
                           f"'{EMBED_DEFAULT_HEIGHT}'")
    widget_frame = iframe.element_handle().content_frame()
    set_marker(host, "hostMarker")
    set_marker(widget_frame, "widgetMarker")
    host_navigations = count_navigations(host)

    # Finance starts the payout in the background: the widget follows within one interval.
    server_db.start("""
        from portal.payouts import service as payout_service
        from portal.core.vocabulary import OPEN_STATES, Actor, RefundState
        from portal.accounts.models import User
        payout_service.start(params["request"], User.get(User.username == "finance"), Actor.FINANCE, "APPROVED")
        result = "started"
    """, delay=0.5, request=request_id).wait()
    changed_at = time.monotonic()
    expect(frame.locator("[data-refund-state]")).to_have_attribute(
        "data-refund-state", "PAYOUT_PROCESSING", timeout=(POLL_SLOW_SECONDS + SLACK_SECONDS) * 1000)
    assert time.monotonic() - changed_at <= POLL_SLOW_SECONDS + SLACK_SECONDS
    assert marker(host, "hostMarker") == "still here", "the host page was reloaded"
    assert marker(widget_frame, "widgetMarker") == "still here", \
        "the widget reloaded its whole page instead of refreshing in place"
    assert host_navigations == [], host_navigations
    assert _frame_height(host) != EMBED_DEFAULT_HEIGHT
    screenshot(host, "widget-embedded")

    # No cookie set on any widget route; the refreshes do not even send one.
    assert embed_traffic, "no widget traffic was seen"
    for response in embed_traffic:
        headers = response.all_headers()
        assert "set-cookie" not in headers, f"{response.url} sets a cookie: {headers['set-cookie']}"
    refreshes = [response.request for response in embed_traffic if "/status" in urlsplit(response.url).path]
    assert refreshes, "the widget never refreshed"
    for request in refreshes:
        assert "cookie" not in request.all_headers(), f"{request.url} was sent with a cookie"
    signed_in_view = frame.locator("#widget").inner_text()

    # The same widget in a browser that never signed in looks exactly the same.
    stranger = browsing.page("phone")
    stranger.goto(host_url)
    stranger_frame = stranger.frame_locator("[data-refund-widget] iframe")
    expect(stranger_frame.locator("[data-refund-state]")).to_have_attribute("data-refund-state", "PAYOUT_PROCESSING")
    assert stranger.context.cookies(server.url) == []
    assert stranger_frame.locator("#widget").inner_text() == signed_in_view


def test_widget_refused_on_a_site_not_on_its_list(browsing, server, server_db, host_sites):
    """A site not on the widget's list cannot frame it (CSP frame-ancestors); nor any other portal page."""
    allowed, other = host_sites
    token = server_db.run("""
        from portal.widgets import service as widget_service
        from portal.widgets import tokens
        from portal.accounts.models import User
        from portal.widgets.models import Widget
        shop = User.get(User.username == "seller-info").shop_id
        widget = Widget.create(shop=shop, request=None, variant="PUBLIC", origins=params["origin"])
        result = tokens.make_token(app.config["SECRET_KEY"], widget)
    """, origin=allowed.origin)
    snippet = (f'<div data-refund-widget="{token}" data-lang="zh_CN"></div>\n'
               f'<script src="{server.url}/embed.js" defer></script>\n'
               f'<iframe id="portal-page" title="portal page" src="{server.url}/login"></iframe>')
    # The framing refusal is logged by Chromium as a console error: expected on this page only.
    page = browsing.page("desktop", strict=False)
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(other.put("/dashboard", HOST_PAGE.format(snippet=snippet)))
    page.wait_for_load_state("load")

    def blocked(frame):
        """True when the frame does not hold the portal's page."""
        try:
            html = frame.content()
        except Exception:  # noqa: BLE001 - a frame the browser refused may not even answer
            return True
        return 'id="widget"' not in html and 'name="password"' not in html

    widget_frame = page.locator("[data-refund-widget] iframe").element_handle().content_frame()
    portal_frame = page.locator("#portal-page").element_handle().content_frame()
    page.wait_for_timeout(1500)  # time for a widget that did load to render and report its height
    assert blocked(widget_frame), f"the widget rendered inside {other.origin}: {widget_frame.url}"
    assert blocked(portal_frame), f"a portal page rendered inside {other.origin}: {portal_frame.url}"
    assert _frame_height(page) == EMBED_DEFAULT_HEIGHT, "a refused widget still reported its height"
    refusals = [text for text in console if "frame-ancestors" in text]
    assert refusals, f"no CSP frame-ancestors refusal was logged: {console}"

    # On the allowed site the same token works (the refusal above is about the site, not the token).
    good = browsing.page("desktop")
    good.goto(allowed.put("/other-dashboard", HOST_PAGE.format(snippet=snippet.split("\n<iframe")[0])))
    expect(good.frame_locator("[data-refund-widget] iframe").locator("[data-refund-state]")).to_have_count(1)
