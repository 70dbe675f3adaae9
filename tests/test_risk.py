"""Risk flags (raise, banner, seen, appeal, blocking, clear) and bans, from the desk to what the seller sees."""
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from portal.accounts.models import User
from portal.audit import service as audit_service
from portal.audit.models import AuditLog
from portal.core.vocabulary import EntryType, RefundState, Role
from portal.deposit.models import LedgerEntry
from portal.refunds import service as refund_service
from portal.refunds.models import RefundEvent, RefundRequest
from portal.risk import service as risk_service
from portal.risk.models import RiskFlag
from portal.shops.models import Shop
from portal.tickets.models import Ticket
from tests.desk_helpers import REJECT_MESSAGE, request_in, text_of
from tests.factories import Page, check_codes, ready_seller, sign_in, use_cheap_hashing
from tests.ticket_helpers import agent_client, assert_escaped, signed_in, staff, ticket_form, xss

SELLER_TEXT = "您的店铺近期存在异常交易，退款需人工复核。"
HOW_TO_FIX = "请上传最近 30 天的发货记录。"
RATIONALE = "staff-only: linked to a fraud ring, case R-1138"
FORFEIT_MESSAGE = "您的店铺因售假被封禁，依据平台规则保证金不予退还。如有异议，请提交申诉工单。"
BAN_REASON = "staff-only ban reason: 3 counterfeit reports, case B-77"


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch):
    """Cheap password hashes for the demo account_service."""
    use_cheap_hashing(monkeypatch)


@pytest.fixture
def shop_and_seller(app):
    """A seller nothing blocks (¥3,000.00 refundable); returns ``(shop, user)``."""
    return ready_seller()


@pytest.fixture
def seller_client(app, shop_and_seller):
    """The seller's browser (English)."""
    return signed_in(app, shop_and_seller[1])


@pytest.fixture
def agent_and_desk(app):
    """A support agent and their browser (English)."""
    return agent_client(app, "agent-lin")


@pytest.fixture
def desk(agent_and_desk):
    """The agent's browser."""
    return agent_and_desk[1]


def flag_form(**fields):
    """The desk's raise-flag form, with the ``flag-`` prefix; ``fields`` override the defaults."""
    values = {"code": "FAKE_ORDERS", "severity": "HIGH", "effect": "BLOCKS", "seller_text": SELLER_TEXT,
              "how_to_fix": HOW_TO_FIX, "rationale": RATIONALE}
    values.update(fields)
    return {f"flag-{name}": value for name, value in values.items()}


def raise_flag(desk, shop, **fields):
    """Raise a flag through the desk's shop page; returns the response."""
    return desk.post(f"/desk/shops/{shop.id}/flags", data=flag_form(**fields))


def clear_flag(desk, shop, flag, rationale="复核通过，解除。"):
    """Clear a flag through the desk's shop page; returns the response."""
    return desk.post(f"/desk/shops/{shop.id}/flags/clear",
                     data={"clear-flag_id": str(flag.id), "clear-rationale": rationale})


def ban(desk, shop, reason=BAN_REASON, message=FORFEIT_MESSAGE):
    """Ban a shop through the desk's shop page; returns the response."""
    return desk.post(f"/desk/shops/{shop.id}/ban", data={"ban-reason": reason, "ban-seller_message": message})


def banners(html):
    """The flag codes the page's risk banner shows."""
    return [element["data-flag"] for element in Page(html).with_class("banner", "div")]


def audit_rows(action):
    """The audit entries of one action, oldest first, with their details."""
    return [(entry, audit_service.details_of(entry)) for entry in
            AuditLog.select().where(AuditLog.action == action).order_by(AuditLog.id)]


# --- raising ---------------------------------------------------------------------------------------------

def test_raising_a_flag_is_audit_logged_with_its_rationale(desk, shop_and_seller, agent_and_desk):
    """The flag is stored as typed, the audit row carries the rationale, and the shop page lists it."""
    shop, _seller = shop_and_seller
    response = raise_flag(desk, shop)
    assert response.status_code == 303 and response.headers["Location"] == f"/desk/shops/{shop.id}"
    flag = RiskFlag.get()
    assert (flag.shop_id, flag.code, flag.severity, flag.effect, flag.seller_text, flag.how_to_fix,
            flag.rationale, flag.raised_by_id, flag.seen_at) == (
        shop.id, "FAKE_ORDERS", "HIGH", "BLOCKS", SELLER_TEXT, HOW_TO_FIX, RATIONALE, agent_and_desk[0].id, None)
    [(entry, details)] = audit_rows("risk.raise")
    assert (entry.shop_id, entry.actor_id, details["flag"], details["rationale"]) == (
        shop.id, agent_and_desk[0].id, flag.id, RATIONALE)
    html = desk.get(f"/desk/shops/{shop.id}").text
    assert "Flag raised. The seller sees it on their deposit page." in html
    item = Page(html).find("li", data_flag="FAKE_ORDERS").text
    assert RATIONALE in item and "not seen by the seller yet" in item


def test_a_bad_flag_is_refused_with_nothing_written(desk, shop_and_seller):
    """A lower-case code or a missing rationale comes back (422) beside the fields; nothing is stored."""
    shop, _seller = shop_and_seller
    response = raise_flag(desk, shop, code="fake orders", rationale="")
    assert response.status_code == 422
    page = Page(response.text)
    assert page.find(id="flag-code-error") and page.find(id="flag-rationale-error")
    assert page.find("textarea", name="flag-seller_text").text == SELLER_TEXT
    assert RiskFlag.select().count() == 0 and AuditLog.select().count() == 0


def test_finance_and_sellers_cannot_raise_clear_or_ban(app, shop_and_seller, seller_client):
    """Finance is told it may not (403); a seller does not even find the desk (404); nothing is written."""
    shop, _seller = shop_and_seller
    flag = risk_service.raise_flag(shop.id, None, "X", "LOW", "NONE", "x", "x")
    finance = signed_in(app, staff(Role.FINANCE))
    for client, status in ((finance, 403), (seller_client, 404)):
        assert raise_flag(client, shop).status_code == status
        assert clear_flag(client, shop, flag).status_code == status
        assert ban(client, shop).status_code == status
    assert seller_client.get(f"/desk/shops/{shop.id}").status_code == 404
    assert RiskFlag.select().count() == 1 and not Shop.get_by_id(shop.id).banned
    assert RiskFlag.get_by_id(flag.id).cleared_at is None


# --- what the seller sees -----------------------------------------------------------------------------------

def test_a_flag_shows_as_a_banner_on_the_deposit_page_and_the_refund_form(desk, shop_and_seller, seller_client):
    """Both pages carry the banner with the seller's text; the rationale is nowhere."""
    shop, _seller = shop_and_seller
    raise_flag(desk, shop)
    for url in ("/deposit", "/refunds/new"):
        html = seller_client.get(url).text
        assert banners(html) == ["FAKE_ORDERS"], url
        banner = Page(html).find("div", data_flag="FAKE_ORDERS").text
        assert SELLER_TEXT in banner and "Blocks refunds" in banner
        assert RATIONALE not in html


def test_the_risk_page_explains_the_flag_and_offers_an_appeal(desk, shop_and_seller, seller_client):
    """/risk shows severity, effect, how to fix, and an appeal button that opens a prefilled ticket form."""
    shop, _seller = shop_and_seller
    raise_flag(desk, shop, severity="MEDIUM", effect="DELAYS")
    flag = RiskFlag.get()
    html = seller_client.get("/risk").text
    card = Page(html).find("section", id=f"flag-{flag.id}")
    assert card["data-flag"] == "FAKE_ORDERS"
    for shown in (SELLER_TEXT, "Severity Medium", "Effect on refunds Delays refunds", "How to fix it", HOW_TO_FIX):
        assert shown in text_of(html), shown
    assert RATIONALE not in html
    [appeal] = [link for link in Page(html).with_class("button", "a") if link["href"].startswith("/tickets/new")]
    assert appeal.text == "Appeal through a ticket"
    link = urlsplit(appeal["href"])
    query = parse_qs(link.query)
    assert link.path == "/tickets/new"
    assert (query["category"], query["flag"]) == (["ACCOUNT_APPEAL"], [str(flag.id)])

    form = Page(seller_client.get(appeal["href"]).text)
    assert form.find("option", value="ACCOUNT_APPEAL").has("selected")
    assert form.find("input", name="risk_flag")["value"] == str(flag.id)
    assert form.find("input", name="subject")["value"] == "Appeal: Suspected fake orders"
    response = seller_client.post("/tickets/new", content_type="multipart/form-data", data=ticket_form(
        category="ACCOUNT_APPEAL", subject="Appeal: Suspected fake orders", risk_flag=str(flag.id),
        message="这些订单都是真实交易，附发货记录。"))
    ticket = Ticket.get()
    assert response.headers["Location"] == f"/tickets/{ticket.id}"
    assert (ticket.category, ticket.risk_flag_id) == ("ACCOUNT_APPEAL", flag.id)


def test_seen_is_recorded_the_first_time_the_seller_sees_the_flag(desk, shop_and_seller, seller_client):
    """The desk looking does not count; the seller's first view sets seen_at, later views keep it."""
    shop, _seller = shop_and_seller
    raise_flag(desk, shop)
    desk.get(f"/desk/shops/{shop.id}")
    assert RiskFlag.get().seen_at is None
    seller_client.get("/deposit")
    first = RiskFlag.get().seen_at
    assert first is not None
    for url in ("/risk", "/refunds/new", "/deposit"):
        seller_client.get(url)
        assert RiskFlag.get().seen_at == first, url
    desk_item = Page(desk.get(f"/desk/shops/{shop.id}").text).find("li", data_flag="FAKE_ORDERS")
    assert "seen by the seller" in desk_item.text


@pytest.mark.parametrize(("effect", "blocks"), [("BLOCKS", True), ("DELAYS", False), ("NONE", False)])
def test_only_a_blocking_flag_blocks_the_refund_form(desk, shop_and_seller, seller_client, effect, blocks):
    """Effect BLOCKS adds a blocking RISK_FLAG check naming the code; other effects only show the banner."""
    shop, _seller = shop_and_seller
    raise_flag(desk, shop, effect=effect)
    html = seller_client.get("/refunds/new").text
    assert ("RISK_FLAG" in check_codes(html)) is blocks
    if blocks:
        check = Page(html).find("li", data_check="RISK_FLAG")
        assert "check-blocking" in check["class"] and "blocks refunds: Suspected fake orders." in check.text
        assert Page(html).with_class("fix", "a")[0]["href"].startswith("/risk")


# --- clearing -------------------------------------------------------------------------------------------------

def test_clearing_a_flag_removes_the_banner_and_is_audit_logged(desk, shop_and_seller, seller_client):
    """Cleared with a reason: banner and block gone, listed as cleared on /risk, one audit row."""
    shop, _seller = shop_and_seller
    raise_flag(desk, shop)
    flag = RiskFlag.get()
    response = clear_flag(desk, shop, flag, "复核通过：订单真实。")
    assert response.status_code == 303
    cleared = RiskFlag.get_by_id(flag.id)
    assert cleared.cleared_at is not None and cleared.clear_rationale == "复核通过：订单真实。"
    [(_entry, details)] = audit_rows("risk.clear")
    assert (details["flag"], details["rationale"]) == (flag.id, "复核通过：订单真实。")
    assert "Flag cleared." in desk.get(f"/desk/shops/{shop.id}").text
    assert banners(seller_client.get("/deposit").text) == []
    new_form = seller_client.get("/refunds/new").text
    assert banners(new_form) == [] and "RISK_FLAG" not in check_codes(new_form)
    risk_page = seller_client.get("/risk").text
    assert not Page(risk_page).find_all("section", id=f"flag-{flag.id}")
    assert "No warnings on your account." in risk_page and "Cleared warnings" in risk_page
    assert "复核通过" not in risk_page  # the clearing reason is the staff's


def test_clearing_twice_says_so_and_logs_once(desk, shop_and_seller):
    """The second clear changes nothing, says the flag was already cleared, and writes no second audit row."""
    shop, _seller = shop_and_seller
    raise_flag(desk, shop)
    flag = RiskFlag.get()
    clear_flag(desk, shop, flag, "first")
    desk.get(f"/desk/shops/{shop.id}")  # reads the first flash
    clear_flag(desk, shop, flag, "second")
    assert "That flag was already cleared by someone else." in desk.get(f"/desk/shops/{shop.id}").text
    assert len(audit_rows("risk.clear")) == 1 and RiskFlag.get().clear_rationale == "first"


def test_clearing_needs_a_reason_and_the_shops_own_flag(desk, shop_and_seller):
    """No reason: a message and nothing changes; another shop's flag through this shop: 404."""
    shop, _seller = shop_and_seller
    raise_flag(desk, shop)
    flag = RiskFlag.get()
    response = clear_flag(desk, shop, flag, "")
    assert response.status_code == 422 and "Say why the flag is cleared" in response.text
    typed = "理由" * 1100
    kept = clear_flag(desk, shop, flag, typed)
    assert kept.status_code == 422 and typed in kept.text
    other_shop, _other = ready_seller()
    assert clear_flag(desk, other_shop, flag).status_code == 404
    assert RiskFlag.get().cleared_at is None and audit_rows("risk.clear") == []


# --- markup in flags --------------------------------------------------------------------------------------------

def test_markup_in_a_flag_shows_as_text_to_seller_and_desk(desk, shop_and_seller, seller_client):
    """seller_text, how_to_fix and rationale with script come back escaped wherever they show."""
    shop, _seller = shop_and_seller
    raise_flag(desk, shop, seller_text=xss("seller_text"), how_to_fix=xss("how_to_fix"), rationale=xss("rationale"))
    assert_escaped(seller_client.get("/deposit").text, "seller_text")
    assert_escaped(seller_client.get("/refunds/new").text, "seller_text")
    risk_page = seller_client.get("/risk").text
    assert_escaped(risk_page, "seller_text")
    assert_escaped(risk_page, "how_to_fix")
    desk_page = desk.get(f"/desk/shops/{shop.id}").text
    assert_escaped(desk_page, "seller_text")
    assert_escaped(desk_page, "rationale")


# --- bans -------------------------------------------------------------------------------------------------------

def test_banning_a_shop_stops_its_running_request_as_forfeited(demo_data):
    """seller-review's request goes ON_HOLD → REJECTED (ACCOUNT_BANNED), hold released, forfeiture shown."""
    app = demo_data
    shop = Shop.get(Shop.name == "青禾家居")
    refund = RefundRequest.get(RefundRequest.shop == shop.id)
    assert refund.state == RefundState.UNDER_REVIEW and refund_service.held_for(refund.id) > 0
    desk = app.test_client()
    desk.set_cookie("lang", "en")
    sign_in(desk, User.get(User.username == "agent"))
    response = ban(desk, shop)
    assert response.status_code == 303
    banned = Shop.get_by_id(shop.id)
    assert banned.banned and banned.banned_at is not None
    flag = RiskFlag.get((RiskFlag.shop == shop.id) & (RiskFlag.code == "ACCOUNT_BANNED"))
    assert (flag.severity, flag.effect, flag.seller_text, flag.rationale) == ("HIGH", "BLOCKS", FORFEIT_MESSAGE,
                                                                            BAN_REASON)
    events = list(RefundEvent.select().where(RefundEvent.request == refund.id).order_by(RefundEvent.id))
    assert [(event.from_state, event.to_state, event.reason_code, event.seller_message) for event in events[-2:]] == [
        (RefundState.UNDER_REVIEW, RefundState.ON_HOLD, "ACCOUNT_BANNED", FORFEIT_MESSAGE),
        (RefundState.ON_HOLD, RefundState.REJECTED, "ACCOUNT_BANNED", FORFEIT_MESSAGE)]
    assert RefundRequest.get_by_id(refund.id).state == RefundState.REJECTED
    assert refund_service.held_for(refund.id) == 0
    assert LedgerEntry.select().where((LedgerEntry.refund_request == refund.id)
                                      & (LedgerEntry.entry_type == EntryType.REFUND_HOLD_RELEASE)).count() == 1
    assert [entry.action for entry in AuditLog.select().where(AuditLog.shop == shop.id).order_by(AuditLog.id)] == [
        "shop.ban", "refund.rejected"]

    seller = signed_in(app, User.get(User.username == "seller-review"))
    request_page = seller.get(f"/refunds/{refund.id}").text
    assert Page(request_page).find(data_refund_state=True)["data-refund-state"] == RefundState.REJECTED
    assert FORFEIT_MESSAGE in request_page
    deposit = seller.get("/deposit").text
    status = Page(deposit).find("section", id="account-status").text
    assert "This shop is banned" in status and "forfeited (not refundable)" in status
    [appeal] = [link for link in Page(deposit).with_class("button", "a") if link["href"].startswith("/tickets/new")]
    assert appeal.text == "Appeal the ban"
    assert parse_qs(urlsplit(appeal["href"]).query)["category"] == ["ACCOUNT_APPEAL"]
    assert banners(deposit) == ["ACCOUNT_BANNED"]
    assert "ACCOUNT_BANNED" in check_codes(seller.get("/refunds/new").text)


def test_banning_twice_is_harmless(app, desk):
    """The second ban says the shop was already banned and adds no flag, event or audit row."""
    refund, shop, _seller = request_in()
    ban(desk, shop)
    before = (RiskFlag.select().count(), RefundEvent.select().count(), AuditLog.select().count(),
              LedgerEntry.select().count())
    desk.get(f"/desk/shops/{shop.id}")
    assert ban(desk, shop).status_code == 303
    assert "The shop was already banned." in desk.get(f"/desk/shops/{shop.id}").text
    assert (RiskFlag.select().count(), RefundEvent.select().count(), AuditLog.select().count(),
            LedgerEntry.select().count()) == before


@pytest.mark.parametrize("state", [RefundState.NEEDS_INFO, RefundState.APPROVED, RefundState.ON_HOLD])
def test_a_ban_stops_a_request_in_any_running_state(app, desk, state):
    """A request waiting for information, approved, or already on hold ends REJECTED with its hold released."""
    refund, shop, _seller = request_in(state)
    ban(desk, shop)
    assert RefundRequest.get_by_id(refund.id).state == RefundState.REJECTED
    assert refund_service.held_for(refund.id) == 0
    last = RefundEvent.select().where(RefundEvent.request == refund.id).order_by(RefundEvent.id.desc()).get()
    assert (last.to_state, last.reason_code, last.seller_message) == (RefundState.REJECTED, "ACCOUNT_BANNED",
                                                                     FORFEIT_MESSAGE)


def test_a_ban_leaves_finished_requests_alone(app, desk):
    """A request that already ended stays as it was; the shop is still banned."""
    refund, shop, _seller = request_in(RefundState.REJECTED)
    events = RefundEvent.select().count()
    ban(desk, shop)
    assert Shop.get_by_id(shop.id).banned and RefundRequest.get_by_id(refund.id).state == RefundState.REJECTED
    assert RefundEvent.select().count() == events
    assert RefundEvent.select().order_by(RefundEvent.id.desc()).get().seller_message == REJECT_MESSAGE


def test_a_ban_needs_a_reason_and_a_message(app, desk):
    """Without both fields the form comes back (422) and the shop is not banned."""
    _refund, shop, _seller = request_in()
    response = ban(desk, shop, reason="", message="")
    assert response.status_code == 422
    assert Page(response.text).find(id="ban-reason-error") and Page(response.text).find(id="ban-seller_message-error")
    assert not Shop.get_by_id(shop.id).banned and RiskFlag.select().count() == 0


def test_the_staff_ban_reason_never_reaches_the_seller(app, desk):
    """The "Reason (staff only)" of a ban shows on no seller page; the seller reads the message meant for them."""
    refund, shop, seller = request_in()
    ban(desk, shop)
    client = signed_in(app, seller)
    for url in ("/deposit", "/risk", "/refunds", f"/refunds/{refund.id}", "/refunds/new", "/tickets/new"):
        html = client.get(url).text
        assert BAN_REASON not in html, url
    assert FORFEIT_MESSAGE in client.get("/deposit").text
    assert BAN_REASON in desk.get(f"/desk/shops/{shop.id}").text  # staff still see it


def test_markup_in_a_ban_message_shows_as_text(app, desk):
    """A ban message with script comes back escaped on the seller's deposit, risk and request pages."""
    refund, shop, seller = request_in()
    ban(desk, shop, message=xss("ban message"))
    client = signed_in(app, seller)
    for url in ("/deposit", "/risk", f"/refunds/{refund.id}"):
        assert_escaped(client.get(url).text, "ban message")


def test_the_ban_form_sits_behind_a_closed_disclosure_until_it_has_an_error(desk, shop_and_seller):
    """The desk shop page keeps the ban form in a closed <details>; a refused ban comes back with it open."""
    shop, _seller = shop_and_seller
    html = desk.get(f"/desk/shops/{shop.id}").text
    disclosure = re.search(r'<details class="disclosure" id="ban-disclosure"([^>]*)>(.*?)</details>', html, re.S)
    assert disclosure, "the ban form is not behind a disclosure"
    assert "open" not in disclosure.group(1)
    assert f'action="/desk/shops/{shop.id}/ban"' in disclosure.group(2)
    refused = ban(desk, shop, reason="", message="")
    assert refused.status_code == 422
    reopened = re.search(r'<details class="disclosure" id="ban-disclosure"([^>]*)>', refused.text)
    assert "open" in reopened.group(1)
