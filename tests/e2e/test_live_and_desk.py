"""The live status page and the support desk, in the browser.

Issue 3: a seller watches their request while support and finance move it; the page follows without
a reload, announces each change to screen readers, rests while the tab is hidden, catches up when
it is shown again, and stops asking once the request is final.

Issue 4: an agent decides inline on the desk, finance pays out, and the seller sees the money on
the request page and in the ledger; two agents deciding at once get one decision and a notice.

The server here is a gunicorn of this module's own (same set-up as conftest's ``live_server``),
started with 2-second poll intervals so the live page can be watched in real time. Sellers use a
phone context, staff a 1280×800 desktop context (and a phone, for the 360 px checks).
"""
import re
import time
import uuid
from decimal import Decimal
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from .conftest import PHONE, PortalDatabase, accessible, no_horizontal_scroll, save_screenshot, start_portal
from .conftest import sign_in as login

pytestmark = pytest.mark.e2e

POLL_SECONDS = 2  # POLL_FAST_SECONDS and POLL_SLOW_SECONDS of this module's server
# How late a change may show after it was made: one poll interval, plus the request and the swap.
SHOW_WITHIN = POLL_SECONDS + 2
DESKTOP = {"width": 1280, "height": 800}


# --- A server that polls fast -----------------------------------------------------------------


@pytest.fixture(scope="module")
def fast_server(tmp_path_factory):
    """conftest's live server, with demo data and CSRF on, but polling every 2 seconds.

    The session's ``live_server`` takes its settings from the environment when it starts, which
    may be before this module runs: this module starts its own the same way instead.
    """
    server = start_portal(tmp_path_factory.mktemp("e2e-live"), POLL_FAST_SECONDS=POLL_SECONDS,
                          POLL_SLOW_SECONDS=POLL_SECONDS)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server_db(fast_server):
    """``portal_db`` for this module's server."""
    return PortalDatabase(fast_server.env)


class Browsers:
    """Contexts on this module's server: a phone for sellers, a desktop for staff.

    Every page opened here fails the test on a script error or a console error (CSP included),
    like conftest's ``page`` fixture, and accepts the portal's confirmation dialogs.
    """

    def __init__(self, browser, phone, base_url):
        self.browser = browser
        self.phone = phone
        self.base_url = base_url
        self.contexts = []
        self.problems = []
        self.allowed = []  # console messages a test expects (patterns)
        self.dialogs = []  # every question a page asked, in order

    def allow(self, pattern):
        """Expect a console message: Chromium logs every 4xx answer, including the designed 409."""
        self.allowed.append(re.compile(pattern))

    def _open(self, answer="accept", **context_args):
        context = self.browser.new_context(base_url=self.base_url, locale="zh-CN", timezone_id="Asia/Shanghai",
                                           **context_args)
        self.contexts.append(context)
        page = context.new_page()
        name = f"page {len(self.contexts)}"

        def _console(message):
            source = message.location.get("url", "")
            if (message.type == "error" and not source.endswith("/favicon.ico")
                    and not any(pattern.search(f"{message.text} ({source})") for pattern in self.allowed)):
                self.problems.append(f"{name} console: {message.text} ({source})")

        page.on("pageerror", lambda error: self.problems.append(f"{name} script error: {error}"))
        page.on("console", _console)
        # Irreversible steps ask first (data-confirm → window.confirm): say yes (or no, when asked to).
        def _dialog(dialog):
            self.dialogs.append(dialog.message)
            dialog.accept() if answer == "accept" else dialog.dismiss()

        page.on("dialog", _dialog)
        return page

    def phone_page(self):
        """A new phone context (iPhone 12 size and touch, Chromium), in Chinese."""
        return self._open(**self.phone)

    def desktop_page(self, answer="accept"):
        """A new 1280×800 desktop context, in Chinese; ``answer="dismiss"`` says no to confirmations."""
        return self._open(answer, viewport=DESKTOP)

    def close(self):
        for context in self.contexts:
            context.close()


@pytest.fixture
def browsers(browser, playwright, device, fast_server):
    """Open phone and desktop pages on the fast server; fails the test on any browser error."""
    phone = dict(playwright.devices[device or PHONE])
    phone.pop("default_browser_type", None)
    opened = Browsers(browser, phone, fast_server.url)
    yield opened
    opened.close()
    assert not opened.problems, "the browser reported errors:\n" + "\n".join(opened.problems)


# --- Data, through the server's database -------------------------------------------------------

_NEW_REQUEST = """
import uuid
from portal.core.vocabulary import RefundKind
from portal.refunds import service as refund_service
from portal.core.vocabulary import OPEN_STATES, Actor, RefundState
from portal.refunds.models import RefundRequest
from portal.accounts.models import User

seller = User.get(User.username == params["username"])
agent = User.get(User.username == "agent")
for refund in RefundRequest.select().where((RefundRequest.shop == seller.shop_id)
                                           & RefundRequest.state.in_(OPEN_STATES)):
    if refund.state == RefundState.APPROVED:
        # Left approved by an earlier test: the seller can withdraw it once support holds it.
        refund_service.transition(refund.id, RefundState.ON_HOLD, agent, Actor.AGENT, seller_message="e2e reset")
    refund_service.transition(refund.id, RefundState.CANCELLED, seller, Actor.SELLER)
submission = refund_service.submit(seller.shop_id, seller, RefundKind.SURPLUS, params["fen"], uuid.uuid4().hex,
                              refund_service.policy_from(app.config), timing=refund_service.timing_for(app.config))
result = {"id": submission.request.id, "state": submission.request.state}
"""

_APPROVE = """
import time
from portal.refunds import service as refund_service
from portal.core.vocabulary import OPEN_STATES, Actor, RefundState
from portal.accounts.models import User

agent = User.get(User.username == "agent")
refund_service.transition(params["id"], RefundState.APPROVED, agent, Actor.AGENT,
                          expected_state=RefundState.UNDER_REVIEW)
result = time.time()
"""

_START_PAYOUT = """
import time
from portal.payouts import service as payout_service
from portal.core.vocabulary import OPEN_STATES, Actor, RefundState
from portal.accounts.models import User

finance = User.get(User.username == "finance")
payout_service.start(params["id"], finance, Actor.FINANCE, RefundState.APPROVED)
result = time.time()
"""

_RECORD_PAID = """
import time
from portal.payouts import service as payout_service
from portal.core.vocabulary import OPEN_STATES, Actor, RefundState
from portal.refunds.models import RefundRequest
from portal.accounts.models import User

finance = User.get(User.username == "finance")
refund = RefundRequest.get_by_id(params["id"])
payout_service.record_paid(refund.id, finance, Actor.FINANCE, params["bank_reference"], refund.approved_fen)
result = time.time()
"""

_SECOND_AGENT = """
from portal.accounts import service as account_service
from portal.core.vocabulary import Role
from portal.accounts.models import User

if not User.select().where(User.username == params["username"]).exists():
    User.create(username=params["username"], password_hash=account_service.hash_password(params["password"]),
                role=Role.AGENT, display_name=params["display_name"])
result = params["username"]
"""

_DECISIONS = """
from portal.deposit.models import LedgerEntry
from portal.refunds.models import RefundEvent

events = RefundEvent.select().where(RefundEvent.request == params["id"]).order_by(RefundEvent.id)
entries = LedgerEntry.select().where(LedgerEntry.refund_request == params["id"]).order_by(LedgerEntry.id)
result = {"events": [[event.from_state, event.to_state] for event in events],
          "ledger": [[entry.entry_type, entry.amount_fen] for entry in entries]}
"""


def new_request(server_db, username, yuan):
    """A fresh UNDER_REVIEW surplus request of ``username`` (their open ones are withdrawn first).

    Every test starts from its own request, so the tests do not depend on their order.
    """
    created = server_db.run(_NEW_REQUEST, username=username, fen=yuan * 100)
    assert created["state"] == "UNDER_REVIEW", created
    return created["id"]


# --- Helpers ------------------------------------------------------------------------------------


def fen_of(text):
    """'¥3,800.00' → 380000."""
    cleaned = text.strip().replace("¥", "").replace(",", "").replace("\u00a0", "")
    return int(Decimal(cleaned) * 100)


def watch_status_polls(page):
    """Record every request the page makes to a ``/status`` URL: [(monotonic time, url)], and the answers."""
    requests, answers = [], []

    def _is_status(url):
        return urlparse(url).path.endswith("/status")

    page.on("request", lambda request: _is_status(request.url) and requests.append((time.monotonic(), request.url)))
    page.on("response", lambda response: _is_status(response.url) and answers.append(response.status))
    return requests, answers


def set_hidden(page, hidden):
    """Emulate the tab being hidden or shown again: document.hidden, visibilityState, visibilitychange."""
    page.evaluate("""hidden => {
        if (!window.__visibilityEmulated) {
            Object.defineProperty(document, "hidden", {configurable: true, get: () => window.__hidden});
            Object.defineProperty(document, "visibilityState", {configurable: true,
                                  get: () => (window.__hidden ? "hidden" : "visible")});
            window.__visibilityEmulated = true;
        }
        window.__hidden = hidden;
        document.dispatchEvent(new Event("visibilitychange"));
    }""", hidden)


def mark_page(page):
    """A marker only this document carries: if the page reloads or navigates, it is gone."""
    page.evaluate("() => { window.__marker = 1; }")


def assert_not_reloaded(page, url):
    """The page is still the same document at the same address."""
    assert page.evaluate("() => window.__marker") == 1, "the page was reloaded (the marker is gone)"
    assert page.url == url, f"the page navigated from {url} to {page.url}"


def wait_until(page, found, seconds, message):
    """Wait until ``found()`` is truthy, at most ``seconds``, while ``page`` reports its events."""
    deadline = time.monotonic() + seconds
    while not found():
        assert time.monotonic() < deadline, message
        # Not time.sleep: Playwright delivers the page's events only while it is called.
        page.wait_for_timeout(100)


def check_page(page):
    """axe (nothing serious or critical) and no sideways scrolling at 360 px."""
    accessible(page)
    no_horizontal_scroll(page)


def state_of(page, scope="#refund-status"):
    return page.locator(f"{scope} [data-refund-state]")


# --- Issue 3: the live status page -------------------------------------------------------------


def test_seller_page_follows_the_request_live_and_stops_when_final(browsers, server_db):
    """seller-review watches a request move UNDER_REVIEW → APPROVED → PAYOUT_PROCESSING → COMPLETED."""
    request_id = new_request(server_db, "seller-review", 1200)
    page = browsers.phone_page()
    login(page, "seller-review")
    page.goto(f"/refunds/{request_id}")
    url = page.url
    expect(state_of(page)).to_have_attribute("data-refund-state", "UNDER_REVIEW")
    # The server chose the short interval this server is configured with.
    poll = page.locator("#refund-poll")
    expect(poll).to_have_attribute("hx-trigger", re.compile(rf"\bevery {POLL_SECONDS}s\b"))
    polls, answers = watch_status_polls(page)
    mark_page(page)

    # Nothing changed yet: the page asks, and the server answers 204 (nothing to swap).
    wait_until(page, lambda: answers, 2 * POLL_SECONDS + 2, "the page never asked for news")
    assert set(answers) == {204}, f"an unchanged request answered {answers}"

    # Support approves in the background; the page shows it within one interval, without a reload.
    approval = server_db.start(_APPROVE, delay=1.0, id=request_id)
    approved_at = approval.wait()
    page.locator("#refund-status [data-refund-state='APPROVED']").wait_for(timeout=(SHOW_WITHIN + 2) * 1000)
    late = time.time() - approved_at
    assert late <= SHOW_WITHIN, f"the approval showed {late:.1f} s after it happened (interval {POLL_SECONDS} s)"
    assert 200 in answers, f"the change did not come through the status poll: {answers}"
    assert_not_reloaded(page, url)
    label = state_of(page).inner_text().strip()
    announce = page.locator("#refund-announce")
    expect(announce).to_have_count(1)
    expect(announce).to_have_attribute("aria-live", "polite")
    expect(announce).to_contain_text(label)
    # The timeline and the turn came along with the state.
    expect(page.locator(".timeline li[data-event-state='APPROVED']")).to_have_count(1)
    accessible(page)

    # The tab is hidden: no polls at all, while finance starts the payout.
    set_hidden(page, True)
    # A poll sent just before hiding may be reported a moment later: let it arrive, then count.
    page.wait_for_timeout(300)
    hidden_from = len(polls)
    server_db.start(_START_PAYOUT, id=request_id).wait()
    page.wait_for_timeout((2 * POLL_SECONDS + 1) * 1000)
    during = [found[1] for found in polls[hidden_from:]]
    assert not during, f"the hidden tab polled {len(during)} time(s): {during}"
    expect(state_of(page)).to_have_attribute("data-refund-state", "APPROVED")

    # Shown again: it asks at once (portal:resume), not at the next tick, and catches up. The page
    # notes what set off each request it really sends, and when (its own clock, so no lag here counts).
    page.evaluate("""() => {
        window.__sent = [];
        document.addEventListener("htmx:beforeSend", event => {
            const trigger = event.detail.requestConfig.triggeringEvent;
            window.__sent.push({trigger: trigger ? trigger.type : "every", at: performance.now()});
        });
    }""")
    shown_from = len(polls)
    set_hidden(page, False)
    shown_at = page.evaluate("() => performance.now()")
    expect(state_of(page)).to_have_attribute("data-refund-state", "PAYOUT_PROCESSING", timeout=POLL_SECONDS * 1000)
    assert polls[shown_from:], "no poll after the tab was shown again"
    sent = page.evaluate("() => window.__sent")
    assert sent and sent[0]["trigger"] == "portal:resume", f"the first request after showing the tab: {sent}"
    assert sent[0]["at"] <= shown_at, f"the catch-up poll was not sent at once: {sent}, shown at {shown_at}"
    expect(page.locator("#refund-announce")).to_contain_text(state_of(page).inner_text().strip())
    assert_not_reloaded(page, url)

    # The payout is booked: COMPLETED shows, and polling stops for good.
    server_db.start(_RECORD_PAID, delay=0.5, id=request_id, bank_reference=f"E2E{uuid.uuid4().hex[:10].upper()}")
    expect(state_of(page)).to_have_attribute("data-refund-state", "COMPLETED", timeout=(SHOW_WITHIN + 3) * 1000)
    expect(page.locator("#refund-poll")).to_have_count(0)
    expect(page.locator("#refund-announce")).to_contain_text(state_of(page).inner_text().strip())
    assert_not_reloaded(page, url)
    stopped_from = len(polls)
    page.wait_for_timeout((3 * POLL_SECONDS + 0.5) * 1000)
    # Hiding and showing the tab again must not wake a poll that is gone either.
    set_hidden(page, True)
    set_hidden(page, False)
    page.wait_for_timeout(1000)
    after = [found[1] for found in polls[stopped_from:]]
    assert not after, f"a final request was still polled {len(after)} time(s): {after}"


# --- Issue 4: the desk, finance and the seller ---------------------------------------------------


def test_agent_approves_finance_pays_and_the_seller_sees_the_money(browsers, server_db):
    """seller-ok asks for ¥1,000.00; the agent approves ¥800.00 inline; finance pays it; the seller sees it."""
    request_id = new_request(server_db, "seller-ok", 1000)
    approved_yuan, approved_fen = "800.00", 80000
    bank_reference = f"CMB{uuid.uuid4().hex[:12].upper()}"

    # The seller (phone): the balance before, then the request page, left open.
    seller = browsers.phone_page()
    login(seller, "seller-ok")
    seller.goto("/deposit")
    balance_before = fen_of(seller.locator("#figures [data-figure='balance']").inner_text())
    seller.goto(f"/refunds/{request_id}")
    seller_url = seller.url
    expect(state_of(seller)).to_have_attribute("data-refund-state", "UNDER_REVIEW")
    mark_page(seller)

    # The agent (desktop): the queue lists the request, under review.
    agent = browsers.desktop_page()
    login(agent, "agent")
    agent.goto("/desk")
    row = agent.locator("#queue-rows tr", has=agent.locator(f"a[href$='/desk/refunds/{request_id}']"))
    expect(row).to_have_count(1)
    link = row.locator(f"a[href$='/desk/refunds/{request_id}']")
    expect(row.locator("[data-refund-state]")).to_have_attribute("data-refund-state", "UNDER_REVIEW")
    expect(row).to_contain_text("¥1,000.00")
    accessible(agent)
    no_horizontal_scroll(agent)
    save_screenshot(agent, "desk-queue")

    link.click()
    expect(agent).to_have_url(re.compile(rf"/desk/refunds/{request_id}$"))
    desk_url = agent.url
    expect(state_of(agent, "#desk-request")).to_have_attribute("data-refund-state", "UNDER_REVIEW")
    accessible(agent)
    no_horizontal_scroll(agent)
    mark_page(agent)

    # Approve inline for less than asked: htmx posts the form and swaps #desk-request in place.
    approve = agent.locator("form[action$='/approve']")
    agent.locator("details.decision", has=approve).locator("summary").click()
    expect(agent.locator("#approve-amount")).to_have_value("1000.00")
    agent.locator("#approve-amount").fill(approved_yuan)
    with agent.expect_response(lambda response: response.url.endswith("/approve")) as answered:
        approve.locator("button[type=submit]").click()
    assert answered.value.status == 200, answered.value.status
    expect(state_of(agent, "#desk-request")).to_have_attribute("data-refund-state", "APPROVED")
    expect(agent.locator("#desk-request .status-card")).to_contain_text("¥800.00")
    assert_not_reloaded(agent, desk_url)
    accessible(agent)

    # The seller's page follows on its own.
    expect(state_of(seller)).to_have_attribute("data-refund-state", "APPROVED", timeout=(SHOW_WITHIN + 2) * 1000)
    expect(seller.locator(".status-card")).to_contain_text("¥800.00")

    # Finance (another desktop): start the payout, then record it with the bank reference.
    finance = browsers.desktop_page()
    login(finance, "finance")
    finance.goto(f"/desk/refunds/{request_id}")
    finance_url = finance.url
    expect(state_of(finance, "#desk-request")).to_have_attribute("data-refund-state", "APPROVED")
    mark_page(finance)
    finance.locator("form[action$='/payout/start'] button[type=submit]").click()
    expect(state_of(finance, "#desk-request")).to_have_attribute("data-refund-state", "PAYOUT_PROCESSING")
    paid = finance.locator("form[action$='/payout/paid']")
    expect(paid).to_be_visible()
    expect(finance.locator("#paid-amount")).to_have_value(approved_yuan)
    finance.locator("#paid-bank_reference").fill(bank_reference)
    finance.locator("#paid-amount").fill(approved_yuan)
    paid.locator("button[type=submit]").click()
    expect(state_of(finance, "#desk-request")).to_have_attribute("data-refund-state", "COMPLETED")
    expect(finance.locator("#desk-request")).to_contain_text(bank_reference)
    assert_not_reloaded(finance, finance_url)

    # The seller's page shows the refund completed, still without a reload.
    expect(state_of(seller)).to_have_attribute("data-refund-state", "COMPLETED", timeout=(SHOW_WITHIN + 2) * 1000)
    expect(seller.locator("#refund-poll")).to_have_count(0)
    assert_not_reloaded(seller, seller_url)
    accessible(seller)
    no_horizontal_scroll(seller)
    save_screenshot(seller, "refund-completed")

    # The ledger has the payout with its bank reference; the balance is lower by exactly that much.
    seller.goto("/deposit")
    payout = seller.locator("#ledger-list [data-entry-type='REFUND_PAID']").filter(has_text=bank_reference)
    expect(payout).to_have_count(1)
    expect(payout.locator(".entry-amount")).to_contain_text("¥800.00")
    balance_after = fen_of(seller.locator("#figures [data-figure='balance']").inner_text())
    assert balance_before - balance_after == approved_fen, (
        f"the balance went from {balance_before} to {balance_after} fen, not down by {approved_fen}")
    # Nothing is held any more for this request: the ¥200.00 not approved went back.
    recorded = server_db.run(_DECISIONS, id=request_id)
    assert recorded["ledger"] == [["REFUND_HOLD", 100000], ["REFUND_HOLD_RELEASE", 20000],
                                  ["REFUND_PAID", approved_fen]], recorded


def test_desk_pages_fit_an_agents_phone(browsers, server_db):
    """The queue and a request page on an agent's phone: axe, and nothing scrolls sideways at 360 px."""
    request_id = new_request(server_db, "seller-review", 500)
    agent = browsers.phone_page()
    login(agent, "agent")
    agent.goto("/desk")
    expect(agent.locator(f"#queue-rows a[href$='/desk/refunds/{request_id}']")).to_have_count(1)
    check_page(agent)

    agent.goto(f"/desk/refunds/{request_id}")
    expect(state_of(agent, "#desk-request")).to_have_attribute("data-refund-state", "UNDER_REVIEW")
    # With a decision opened, as an agent would have it.
    agent.locator("details.decision", has=agent.locator("form[action$='/reject']")).locator("summary").click()
    expect(agent.locator("#reject-seller_message")).to_be_visible()
    check_page(agent)
    save_screenshot(agent, "desk-request")


def test_two_agents_decide_at_once_the_second_sees_who_was_first(browsers, server_db):
    """Agent A approves; agent B, on the page as it was, rejects: B gets #conflict and the state now."""
    request_id = new_request(server_db, "seller-info", 600)
    server_db.run(_SECOND_AGENT, username="agent-b", password="demo-pass-2026", display_name="客服 小周")

    first = browsers.desktop_page()
    login(first, "agent")
    second = browsers.desktop_page()
    login(second, "agent-b")
    for page in (first, second):
        page.goto(f"/desk/refunds/{request_id}")
        expect(state_of(page, "#desk-request")).to_have_attribute("data-refund-state", "UNDER_REVIEW")
    second_url = second.url
    mark_page(second)

    # B has the rejection ready (reason and message prefilled) when A approves.
    reject = second.locator("form[action$='/reject']")
    second.locator("details.decision", has=reject).locator("summary").click()
    expect(second.locator("#reject-seller_message")).not_to_be_empty()

    approve = first.locator("form[action$='/approve']")
    first.locator("details.decision", has=approve).locator("summary").click()
    approve.locator("button[type=submit]").click()
    expect(state_of(first, "#desk-request")).to_have_attribute("data-refund-state", "APPROVED")

    # The collision answers 409 (htmx is configured to swap it); Chromium logs any 4xx answer.
    browsers.allow(rf"status of 409 .*/desk/refunds/{request_id}/reject\)$")
    with second.expect_response(lambda response: response.url.endswith("/reject")) as answered:
        reject.locator("button[type=submit]").click()
    assert answered.value.status == 409, answered.value.status
    conflict = second.locator("#conflict")
    expect(conflict).to_be_visible()
    expect(conflict).to_have_attribute("role", "alert")
    expect(conflict).to_contain_text("客服 小林")  # agent A's name: who decided first
    expect(state_of(second, "#desk-request")).to_have_attribute("data-refund-state", "APPROVED")
    expect(conflict).to_contain_text(state_of(second, "#desk-request").inner_text().strip())
    # The request as it is now: the rejection is no longer offered, and no error was shown.
    expect(second.locator("form[action$='/reject']")).to_have_count(0)
    expect(second.locator("#request-problem")).to_be_hidden()
    assert_not_reloaded(second, second_url)
    check_page(second)

    # Exactly one decision was applied, and the hold was not released by the refused rejection.
    recorded = server_db.run(_DECISIONS, id=request_id)
    decisions = [event for event in recorded["events"] if event[0] == "UNDER_REVIEW"]
    assert decisions == [["UNDER_REVIEW", "APPROVED"]], recorded
    assert recorded["ledger"] == [["REFUND_HOLD", 60000]], recorded


def test_saying_no_to_the_confirmation_sends_nothing(browsers, server_db):
    """An agent who answers "no" to "Approve this refund?" has approved nothing."""
    request_id = new_request(server_db, "seller-review", 300)
    agent = browsers.desktop_page(answer="dismiss")
    login(agent, "agent")
    agent.goto(f"/desk/refunds/{request_id}")
    posted = []
    agent.on("request", lambda request: request.method == "POST" and posted.append(request.url))
    approve = agent.locator("form[action$='/approve']")
    agent.locator("details.decision", has=approve).locator("summary").click()
    approve.locator("button[type=submit]").click()
    agent.wait_for_timeout(1500)
    assert len(browsers.dialogs) == 1, browsers.dialogs
    assert posted == [], f"the dismissed approval was sent: {posted}"
    expect(state_of(agent, "#desk-request")).to_have_attribute("data-refund-state", "UNDER_REVIEW")
    recorded = server_db.run(_DECISIONS, id=request_id)
    assert ["UNDER_REVIEW", "APPROVED"] not in recorded["events"], recorded


def test_choosing_a_reject_reason_asks_nothing_and_fills_in_its_message(browsers, server_db):
    """Changing the reason only swaps in that reason's message: no question, nothing decided."""
    request_id = new_request(server_db, "seller-review", 300)
    agent = browsers.desktop_page()  # says yes to any question, so only the question itself is wrong
    login(agent, "agent")
    agent.goto(f"/desk/refunds/{request_id}")
    reject = agent.locator("form[action$='/reject']")
    agent.locator("details.decision", has=reject).locator("summary").click()
    message = agent.locator("#reject-seller_message")
    first_message = message.input_value()
    reasons = agent.locator("#reject-reason_code option").evaluate_all("options => options.map(o => o.value)")
    assert len(reasons) > 1, reasons
    with agent.expect_response(lambda response: "/desk/reasons/message" in response.url):
        agent.locator("#reject-reason_code").select_option(reasons[1])
    assert browsers.dialogs == [], f"choosing a reason asked: {browsers.dialogs}"
    expect(agent.locator("#reject-seller_message")).not_to_have_value(first_message)
    expect(state_of(agent, "#desk-request")).to_have_attribute("data-refund-state", "UNDER_REVIEW")
