"""Every "your turn" state can be acted on where the seller is, and support's ticket replies reach the seller.

Each test goes through the pages (as a seller or a staff member would) and checks what the page
shows or what the database holds.
"""
import datetime
import json
import uuid

import pytest
from babel.dates import format_date

from portal.accounts.models import User
from portal.core.vocabulary import Actor, RefundKind, RefundState, Role
from portal.core.workdays import to_shanghai_date
from portal.notifications.models import Notification, OutboxEmail
from portal.ops import tick
from portal.payouts.models import PayoutAttempt
from portal.refunds import prechecks
from portal.refunds import service as refund_service
from portal.refunds.models import RefundAttachment, RefundEvent, RefundRequest
from portal.shops.models import Shop
from tests.desk_helpers import (
    BANK_REFERENCE,
    FAILED_MESSAGE,
    INFO_MESSAGE,
    attempts_of,
    audit_of,
    post,
    reason_codes,
    request_in,
    section,
    signed_in,
    staff,
    state_of,
    text_of,
)
from tests.desk_helpers import form as desk_form
from tests.factories import Page, fix_links, use_cheap_hashing
from tests.ticket_helpers import (
    CAMERA_MAKE,
    CLEAN_PDF,
    field_error,
    jpeg_with_exif,
    open_ticket,
    seller,
    stored_files,
    textarea,
    upload,
    write,
)
from tests.workflow_helpers import body_of, smtp_server

PUBLIC_URL = "https://deposit.example.com"


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch):
    """Cheap password hashes for the demo accounts some tests load."""
    use_cheap_hashing(monkeypatch)


def notices_of(user):
    """The user's notifications, newest first."""
    return list(Notification.select().where(Notification.user == user.id).order_by(Notification.id.desc()))


# --- support's replies to tickets ---------------------------------------------------------------

def test_a_support_reply_notifies_the_seller_in_the_app(app):
    """The desk replies: the seller's header counts it, the list names the ticket, opening it lands on the reply."""
    shop, owner = seller()
    ticket = open_ticket(app, shop, owner, subject="保证金金额疑问")
    agent = staff(Role.AGENT)
    desk = signed_in(app, agent)
    first = ticket.messages.get()
    response = desk.post(f"/desk/tickets/{ticket.id}/reply",
                         data={"message": "您好，已核对，金额无误。", "seen_message_id": str(first.id)})
    assert response.status_code in (200, 303)
    [notice] = notices_of(owner)
    assert notice.ticket_id == ticket.id and notice.read_at is None
    reply_id = notice.ticket_message_id

    browser = signed_in(app, owner)
    listing = browser.get("/notifications").text
    assert "Support replied to your ticket “保证金金额疑问”" in text_of(listing)
    opened = browser.get(f"/notifications/{notice.id}")
    assert opened.status_code == 303
    assert opened.headers["Location"] == f"/tickets/{ticket.id}#message-{reply_id}"
    assert Notification.get_by_id(notice.id).read_at is not None


def test_an_internal_note_notifies_nobody(app):
    """A note is for staff only: no notification, so nothing of it reaches the seller."""
    shop, owner = seller()
    ticket = open_ticket(app, shop, owner)
    write(app, ticket, staff(Role.AGENT), "内部备注：疑似重复申请。", internal=True)
    assert notices_of(owner) == []
    write(app, ticket, owner, "补充一下情况。")
    assert notices_of(owner) == [], "the seller's own message is no news to the seller"


def test_a_support_reply_is_mailed_when_smtp_is_configured(app):
    """With SMTP set, the tick mails the reply notice in the seller's language, linking the ticket."""
    shop, owner = seller()
    User.update(email="owner@shop.example.com", locale="en").where(User.id == owner.id).execute()
    ticket = open_ticket(app, shop, owner, subject="收款账户")
    write(app, ticket, staff(Role.AGENT), "请更新收款账户。")
    with smtp_server() as (inbox, port):
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_TIMEOUT=5, PUBLIC_URL=PUBLIC_URL,
                          SMTP_FROM="no-reply@deposit.example.com")
        with app.app_context():
            report = tick.run(app.config)
    assert (report.emails_queued, report.emails_sent) == (1, 1)
    [message] = inbox.messages
    assert message["Subject"] == f"Support replied to ticket No. {ticket.id}"
    assert f"{PUBLIC_URL}/tickets/{ticket.id}" in body_of(message)
    assert "请更新收款账户" not in body_of(message), "the reply itself is read in the portal, not in a mail"
    assert OutboxEmail.select().count() == 1


# --- NEEDS_INFO: the question in the card, the answer with files ------------------------------------

def asked_for_information():
    """A request support asked about; returns ``(request, seller)``."""
    refund, _shop, owner = request_in(RefundState.NEEDS_INFO)
    return refund, owner


def test_the_question_sits_in_the_please_add_card(app):
    """The card that takes the answer quotes support's question, and the form takes files."""
    refund, owner = asked_for_information()
    page = Page(signed_in(app, owner).get(f"/refunds/{refund.id}").text)
    [card] = page.with_class("action-card")
    assert INFO_MESSAGE in card.text
    form = page.find("form", action=f"/refunds/{refund.id}/answer")
    assert form["enctype"] == "multipart/form-data"
    assert page.find("input", name="files", type="file").has("multiple")


def test_an_answer_with_files_stores_them_for_the_seller_and_the_desk(app):
    """A photo (EXIF stripped) and a PDF go with the answer; both sides see and download them."""
    refund, owner = asked_for_information()
    browser = signed_in(app, owner)
    response = browser.post(f"/refunds/{refund.id}/answer", content_type="multipart/form-data", data={
        "message": "已上传缴纳凭证。",
        "files": [upload(jpeg_with_exif(), "凭证.jpg", "image/jpeg"),
                  upload(CLEAN_PDF, "回单.pdf", "application/pdf")]})
    assert response.status_code == 303
    assert RefundRequest.get_by_id(refund.id).state == RefundState.UNDER_REVIEW
    files = {row.original_name: row for row in RefundAttachment.select().where(RefundAttachment.request == refund.id)}
    assert set(files) == {"凭证.jpg", "回单.pdf"}
    answer = RefundEvent.get(RefundEvent.request == refund.id, RefundEvent.to_state == RefundState.UNDER_REVIEW,
                             RefundEvent.actor_role == Actor.SELLER)
    assert {row.event_id for row in files.values()} == {answer.id}
    assert sorted(stored_files(app)) == sorted(row.stored_name for row in files.values())

    seller_page = Page(browser.get(f"/refunds/{refund.id}").text)
    photo = files["凭证.jpg"]
    link = seller_page.find("a", href=f"/refunds/{refund.id}/files/{photo.id}")
    assert link.text == "凭证.jpg"
    download = browser.get(link["href"])
    assert download.status_code == 200 and download.headers["X-Content-Type-Options"] == "nosniff"
    assert CAMERA_MAKE.encode() not in download.data, "the photo was re-encoded without its EXIF data"

    desk = signed_in(app, staff(Role.AGENT))
    desk_page = Page(desk.get(f"/desk/refunds/{refund.id}").text)
    desk_link = desk_page.find("a", href=f"/desk/refunds/{refund.id}/files/{files['回单.pdf'].id}")
    assert desk_link.text == "回单.pdf"
    assert desk.get(desk_link["href"]).data == CLEAN_PDF


def test_a_bad_file_refuses_the_answer_and_keeps_the_text(app):
    """A script disguised as a photo: refused beside the field, the answer kept, nothing stored or moved."""
    refund, owner = asked_for_information()
    response = signed_in(app, owner).post(
        f"/refunds/{refund.id}/answer", headers={"HX-Request": "true"}, content_type="multipart/form-data",
        data={"message": "凭证见附件", "files": [upload(b"<script>alert(1)</script>", "photo.jpg", "image/jpeg")]})
    assert response.status_code == 422
    assert "“photo.jpg”" in field_error(response.text, "files")
    assert textarea(response.text, "message") == "凭证见附件"
    assert RefundRequest.get_by_id(refund.id).state == RefundState.NEEDS_INFO
    assert RefundAttachment.select().count() == 0 and stored_files(app) == []


def test_another_sellers_answer_files_are_not_found(app):
    """Someone else's request file answers 404, like a missing one."""
    refund, owner = asked_for_information()
    signed_in(app, owner).post(f"/refunds/{refund.id}/answer", content_type="multipart/form-data", data={
        "message": "见附件", "files": [upload(CLEAN_PDF, "回单.pdf", "application/pdf")]})
    row = RefundAttachment.get()
    _other_shop, other = seller()
    assert signed_in(app, other).get(f"/refunds/{refund.id}/files/{row.id}").status_code == 404


# --- PAYOUT_FAILED: what went wrong, where to fix it, and no blind retry ----------------------------

def failed_payout():
    """A request whose payout failed (ACCOUNT_CLOSED); returns ``(request, shop, seller, finance)``."""
    reason_codes()
    finance = staff(Role.FINANCE)
    refund, shop, owner = request_in(RefundState.PAYOUT_FAILED, finance=finance)
    return refund, shop, owner, finance


def save_new_payee(app, owner, shop):
    """The seller saves new payee details through the payee page."""
    return signed_in(app, owner).post("/payee", data={
        "holder_name": shop.entity_name, "account_type": "CORPORATE", "bank_name": "中国工商银行杭州分行",
        "account_number": "6222020000001111"})


def test_a_failed_payout_says_what_went_wrong_links_the_payee_page_and_shows_no_date(app):
    """The seller reads the failure in words, gets a button to the payee page, and no stale expected date."""
    refund, _shop, owner, _finance = failed_payout()
    page = Page(signed_in(app, owner).get(f"/refunds/{refund.id}").text)
    [card] = page.find_all(data_payout_failure=True)
    assert "Payee account closed" in card.text and FAILED_MESSAGE in card.text
    assert "ACCOUNT_CLOSED" not in card.text
    assert "Correct the payee details" in [link.text for link in page.find_all("a", href="/payee")]
    assert not page.find_all(data_expected=True), "no expected date while the seller has to act"
    assert "working days (工作日) from the start of review" not in page.find("main").text


def test_finance_cannot_retry_until_the_payee_details_change(app):
    """A retry on unchanged details is refused with the reason; after the seller's change one attempt starts."""
    refund, shop, owner, finance = failed_payout()
    cashier = signed_in(app, finance)
    page = Page(cashier.get(f"/desk/refunds/{refund.id}").text)
    assert page.find_all(data_payee_unchanged=True)
    response = post(cashier, refund.id, "payout/start",
                    desk_form("payout/start", expected_state=RefundState.PAYOUT_FAILED))
    assert response.status_code == 422
    assert "has not changed the payee details" in text_of(response.text)
    assert state_of(refund.id) == RefundState.PAYOUT_FAILED
    assert attempts_of(refund.id) == [(f"PO-{refund.id}-1", "FAILED")]

    assert save_new_payee(app, owner, shop).status_code == 303
    # Saving the new details starts the next attempt by itself, into the new account.
    assert state_of(refund.id) == RefundState.PAYOUT_PROCESSING
    attempt = PayoutAttempt.get(PayoutAttempt.request == refund.id, PayoutAttempt.attempt_no == 2)
    assert attempt.paid_to == "中国工商银行杭州分行 •••• 1111"


def test_finance_may_override_with_a_reason_and_it_is_audited(app):
    """With a reason the same details are tried again; the audit log keeps who and why."""
    refund, _shop, _owner, finance = failed_payout()
    cashier = signed_in(app, finance)
    reason = "银行确认账户已恢复，按原账户重试"
    data = desk_form("payout/start", expected_state=RefundState.PAYOUT_FAILED, override_reason=reason)
    assert post(cashier, refund.id, "payout/start", data).status_code == 303
    assert state_of(refund.id) == RefundState.PAYOUT_PROCESSING
    assert [status for _reference, status in attempts_of(refund.id)] == ["FAILED", "PROCESSING"]
    [entry] = audit_of(refund.id, "payout.retry_override")
    assert entry.actor_id == finance.id
    assert json.loads(entry.details)["reason"] == reason


# --- paid: the bank reference and the account paid into --------------------------------------------

def test_a_paid_request_shows_the_bank_reference_and_the_masked_account(app):
    """The account is recorded when the payout starts; a later payee change does not rewrite it."""
    refund, shop, owner = request_in(RefundState.COMPLETED)
    save_new_payee(app, owner, shop)
    page = Page(signed_in(app, owner).get(f"/refunds/{refund.id}").text)
    assert page.find(data_bank_reference=True).text == BANK_REFERENCE
    assert page.find(data_paid_to=True).text == "招商银行杭州分行 •••• 5678"
    assert "6214830012345678" not in page.find("main").text


def test_the_demo_completed_request_shows_where_it_was_paid(demo_data):
    """seller-ok's paid demo request went through a real payout attempt."""
    owner = User.get(User.username == "seller-ok")
    paid = RefundRequest.get(RefundRequest.shop == owner.shop_id, RefundRequest.state == RefundState.COMPLETED)
    page = Page(signed_in(demo_data, owner).get(f"/refunds/{paid.id}").text)
    assert page.find(data_bank_reference=True).text == "CMB20260915000123"
    assert page.find(data_paid_to=True).text.endswith("•••• 5678")


# --- ended requests: apply again, or open a ticket ----------------------------------------------------

@pytest.mark.parametrize("ending", [RefundState.REJECTED, RefundState.CANCELLED])
def test_an_ended_request_offers_apply_again_prefilled_and_a_ticket(app, ending):
    """Rejected or cancelled: "apply again" opens the form with the old amount; "open a ticket" is about it."""
    if ending == RefundState.REJECTED:
        refund, _shop, owner = request_in(RefundState.REJECTED)
    else:
        refund, _shop, owner = request_in(RefundState.UNDER_REVIEW)
        signed_in(app, owner).post(f"/refunds/{refund.id}/cancel", data={"expected_state": RefundState.UNDER_REVIEW})
        assert state_of(refund.id) == RefundState.CANCELLED
    browser = signed_in(app, owner)
    page = Page(browser.get(f"/refunds/{refund.id}").text)
    [steps] = page.find_all(data_next_steps=True)
    again = page.find("a", href=f"/refunds/new?resubmit={refund.id}")
    assert again.text == "Apply again"
    form = Page(browser.get(again["href"]).text)
    assert form.find("input", name="amount")["value"] == "1000.00"
    assert form.find("input", name="resubmission_of")["value"] == str(refund.id)
    ticket_link = [link for link in page.find_all("a") if link.text == "Open a ticket"][0]
    category = "REFUND_APPEAL" if ending == RefundState.REJECTED else "OTHER"
    assert f"category={category}" in ticket_link["href"] and f"request={refund.id}" in ticket_link["href"]
    ticket_form = Page(browser.get(ticket_link["href"]).text)
    assert ticket_form.find("option", value=str(refund.id)).has("selected")


def test_the_request_list_has_an_apply_button(app):
    """/refunds: an "apply" button, also when the seller has never applied."""
    from tests.factories import ready_seller

    _shop, owner = ready_seller()
    page = Page(signed_in(app, owner).get("/refunds").text)
    assert page.find("a", href="/refunds/new").text == "Apply for a refund"


# --- exit notice: confirmed, dated, withdrawable --------------------------------------------------

def test_exit_notice_needs_confirmation_and_shows_the_date_to_apply_from(app):
    """Without the tick nothing is stored (422, the reason beside the box); with it the date is shown."""
    from tests.factories import ready_seller

    shop, owner = ready_seller()
    browser = signed_in(app, owner)
    refused = browser.post("/deposit/exit-notice", data={})
    assert refused.status_code == 422
    assert "Tick the box to confirm the exit notice." in text_of(refused.text)
    assert Shop.get_by_id(shop.id).exit_notice_at is None

    assert browser.post("/deposit/exit-notice", data={"confirm": "y"}).status_code == 303
    given = Shop.get_by_id(shop.id).exit_notice_at
    assert given is not None
    page = Page(browser.get("/deposit").text)
    expected = to_shanghai_date(given + datetime.timedelta(days=app.config["EXIT_NOTICE_DAYS"]))
    shown = page.find(data_exit_from=True)
    assert shown["data-exit-from"] == expected.isoformat()
    assert format_date(expected, "medium", locale="en") in shown.text


def test_exit_notice_can_be_withdrawn_while_no_full_exit_request_exists(app):
    """Withdrawing clears the notice; with a full-exit request running it is refused and kept."""
    from tests.factories import days_ago, ready_seller

    shop, owner = ready_seller(exit_notice_at=days_ago(40))
    browser = signed_in(app, owner)
    assert "Withdraw the exit notice" in text_of(browser.get("/deposit").text)
    assert browser.post("/deposit/exit-notice/withdraw").status_code == 303
    assert Shop.get_by_id(shop.id).exit_notice_at is None
    assert "Exit notice withdrawn." in text_of(browser.get("/deposit").text)

    Shop.update(exit_notice_at=days_ago(40)).where(Shop.id == shop.id).execute()
    refund = refund_service.submit(shop.id, owner, RefundKind.FULL_EXIT, 0, uuid.uuid4().hex,
                                   prechecks.Policy()).request
    assert browser.post("/deposit/exit-notice/withdraw").status_code == 303
    assert Shop.get_by_id(shop.id).exit_notice_at is not None
    page = browser.get("/deposit").text
    assert "cannot be withdrawn while a full-exit request is in progress" in text_of(page)
    assert f'href="/refunds/{refund.id}"' in page


def test_a_seller_with_a_full_exit_request_is_not_told_to_wait_for_the_notice(demo_data):
    """seller-exit has applied: the deposit page follows the request, no "apply 30 days after" advice."""
    owner = User.get(User.username == "seller-exit")
    refund = RefundRequest.get(RefundRequest.shop == owner.shop_id)
    html = signed_in(demo_data, owner).get("/deposit").text
    section_text = text_of(html.split('id="exit-notice"')[1].split("</section>")[0])
    assert f"Your full-exit request No. {refund.id} is in progress." in section_text
    assert "can be applied for" not in section_text and "Give exit notice" not in section_text
    assert "Withdraw" not in section_text


# --- blockers link to actions that exist; /risk lists what blocks ------------------------------------

def test_violation_and_arrears_blockers_lead_to_an_appeal_and_to_how_to_pay(demo_data):
    """seller-risky's form: each blocker's link lands on an appeal ticket (fitting category) or payment steps."""
    owner = User.get(User.username == "seller-risky")
    browser = signed_in(demo_data, owner)
    links = fix_links(browser.get("/refunds/new").text)
    violations_url, arrears_url = links["VIOLATION_OPEN"], links["ARREARS"]
    deposit = browser.get(violations_url.split("#")[0]).text
    violations = section(deposit, violations_url.split("#")[1])
    appeal = Page(violations).find("a", data_appeal_violation=True)
    assert "category=VIOLATION_APPEAL" in appeal["href"]
    ticket_form = Page(browser.get(appeal["href"]).text)
    assert ticket_form.find("option", value="VIOLATION_APPEAL").has("selected")
    assert ticket_form.find("input", name="subject")["value"].startswith("Appeal of a violation found on")
    arrears = section(deposit, arrears_url.split("#")[1])
    steps = Page(arrears).find("ol", data_how_to_pay=True).text
    assert "Billing centre" in steps and "¥150.00" in steps


def test_the_risk_page_lists_open_violations_disputes_and_arrears_and_is_in_the_navigation(demo_data):
    """seller-risky no longer reads "no warnings": each open matter is listed with its effect and an action."""
    owner = User.get(User.username == "seller-risky")
    browser = signed_in(demo_data, owner, language="zh_CN")
    deposit = Page(browser.get("/deposit").text)
    nav = [link.text for link in deposit.find_all("a", href="/risk")]
    assert "账户风险提示" in nav, "the risk page is in the navigation"
    page = Page(browser.get("/risk").text)
    assert "您的账户暂无风险提示" not in page.find("main").text
    matters = {element["data-matter"]: element.text for element in page.find_all("li", data_matter=True)}
    assert set(matters) == {"violation", "dispute", "arrears"}
    assert "全网最低价" in matters["violation"] and "6928374651029384756" in matters["dispute"]
    assert "¥150.00" in matters["arrears"]
    assert all("阻止退还" in text for text in matters.values())
    assert page.find("a", data_appeal_violation=True)
    assert page.find("a", href="/disputes")


def test_the_risk_page_is_empty_only_when_nothing_blocks(app):
    """A shop with nothing open reads the all-clear."""
    from tests.factories import ready_seller

    _shop, owner = ready_seller()
    page = Page(signed_in(app, owner).get("/risk").text)
    assert "No warnings on your account." in page.find("main").text
    assert not page.find_all("li", data_matter=True)
