"""The seller's tickets: opening with evidence, refused files, downloads, the live thread, whose turn, access."""
import datetime
import io
import json
import os
import re

import pytest
from PIL import Image

from portal.core.vocabulary import EntryType, TicketCategory, TicketStatus
from portal.deposit.service import deposit_figures
from portal.disputes.models import Dispute
from portal.risk.models import RiskFlag
from portal.tickets import service as ticket_service
from portal.tickets.models import Attachment, Ticket, TicketMessage
from tests.desk_helpers import request_in, text_of
from tests.factories import add_entry, csrf_token, ready_seller, sign_in
from tests.ticket_helpers import (
    APPENDED_PAYLOAD,
    CALENDAR,
    CAMERA_MAKE,
    CLEAN_PDF,
    HTML_NAMED_JPG,
    HX,
    JPEG_MAGIC_POLYGLOT,
    PDF_WITH_JAVASCRIPT,
    PHP_NAMED_JPG,
    SVG_WITH_SCRIPT,
    TICKET_TEXT,
    Page,
    agent_client,
    assert_escaped,
    field_error,
    fresh,
    image_bytes,
    jpeg_bomb,
    jpeg_with_appended_script,
    jpeg_with_exif,
    message_bodies,
    noisy_png,
    open_ticket,
    png_bomb,
    seller,
    signed_in,
    staff,
    stored_files,
    textarea,
    thread_version,
    ticket_form,
    ticket_rows,
    upload,
    webp_bomb,
    write,
    xss,
)

MULTIPART = "multipart/form-data"
UTC_HOUR = datetime.timedelta(hours=1)


@pytest.fixture
def owner(app):
    """A seller with a shop; returns ``(shop, user)``."""
    return seller()


@pytest.fixture
def seller_client(app, owner):
    """The seller's browser, reading English pages."""
    return signed_in(app, owner[1])


def new_ticket(client, htmx=False, **fields):
    """POST the new-ticket form (as a plain form, or as htmx)."""
    return client.post("/tickets/new", data=ticket_form(**fields), content_type=MULTIPART,
                       headers=HX if htmx else {})


def reply(client, ticket, message="收到，已补充材料。", files=(), htmx=True):
    """POST a reply to the thread (as htmx by default, as the page does)."""
    return client.post(f"/tickets/{ticket.id}/reply", data={"message": message, "files": list(files)},
                       content_type=MULTIPART, headers=HX if htmx else {})


def only_ticket():
    """The one ticket the test made."""
    tickets = list(Ticket.select())
    assert len(tickets) == 1
    return tickets[0]


def attachment_named(name):
    """The attachment row stored under this download name."""
    return Attachment.get(Attachment.original_name == name)


# --- opening a ticket ----------------------------------------------------------------------------------

def test_new_ticket_form_is_prefilled_from_the_link(seller_client):
    """The form takes its category, subject and linked flag from where the seller came from."""
    html = seller_client.get("/tickets/new?category=ACCOUNT_APPEAL&subject=Ban%20appeal&flag=7").text
    page = Page(html)
    assert page.find("option", value="ACCOUNT_APPEAL").has("selected")
    assert page.find("input", name="subject")["value"] == "Ban appeal"
    assert page.find("input", name="risk_flag")["value"] == "7"
    assert re.fullmatch(r"[0-9a-f]{32}", page.find("input", name="idempotency_key")["value"])


def test_opening_a_ticket_puts_it_on_supports_desk(seller_client, owner):
    """A new ticket waits for support, due in two working days, and the seller lands on its thread."""
    response = new_ticket(seller_client, subject="押金金额不对")
    ticket = only_ticket()
    assert response.status_code == 303 and response.headers["Location"] == f"/tickets/{ticket.id}"
    assert (ticket.shop_id, ticket.status, ticket.paused_at) == (owner[0].id, TicketStatus.WAITING_SUPPORT, None)
    assert ticket.due_date == CALENDAR.add_workdays(ticket.created_at, 2)
    html = seller_client.get(f"/tickets/{ticket.id}").text
    assert Page(html).find("h1").text.startswith("押金金额不对")
    assert Page(html).find(data_ticket_status=TicketStatus.WAITING_SUPPORT).text == "Waiting for support"
    # Line breaks kept for CSS pre-line; written in Chinese on an English page, so marked as such.
    assert f'<p class="message"><span lang="zh-CN">{TICKET_TEXT}</span>' in html


def test_opening_a_ticket_with_htmx_redirects_with_a_header(seller_client):
    """An htmx submit gets 204 and HX-Redirect to the new thread, not a 3xx swapped into the form."""
    response = new_ticket(seller_client, htmx=True)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == f"/tickets/{only_ticket().id}"


def test_the_same_idempotency_key_twice_opens_one_ticket(app, seller_client, owner):
    """A double submit (same key) lands on the same ticket; the rules give back the first ticket too."""
    form = ticket_form()
    first = seller_client.post("/tickets/new", data=dict(form), content_type=MULTIPART)
    second = seller_client.post("/tickets/new", data=dict(form), content_type=MULTIPART)
    assert first.headers["Location"] == second.headers["Location"]
    assert ticket_rows() == (1, 1, 0)
    shop, user = owner
    again = ticket_service.open_ticket(shop, user, TicketCategory.OTHER, "again", "again", [], app.config["UPLOAD_DIR"],
                                  CALENDAR, 2, form["idempotency_key"])
    assert again.id == only_ticket().id and ticket_rows() == (1, 1, 0)


def test_a_ticket_without_subject_or_message_is_refused_with_the_text_kept(seller_client):
    """Missing fields come back beside the fields, with what was typed; nothing is stored."""
    response = new_ticket(seller_client, subject="", message="只写了正文")
    assert response.status_code == 422
    assert field_error(response.text, "subject") == "Give the ticket a short subject."
    assert textarea(response.text, "message") == "只写了正文"
    assert ticket_rows() == (0, 0, 0)


def test_links_to_objects_of_another_shop_are_dropped(app, seller_client):
    """A dispute or flag id of another shop in the hidden fields does not link the ticket to it."""
    other_shop, _other = seller()
    dispute = Dispute.create(shop=other_shop, order_number="111", complaint="x")
    flag = RiskFlag.create(shop=other_shop, code="OTHER_SHOP", seller_text="x", rationale="x")
    new_ticket(seller_client, dispute=str(dispute.id), risk_flag=str(flag.id))
    ticket = only_ticket()
    assert (ticket.dispute_id, ticket.risk_flag_id) == (None, None)


def test_a_refund_request_of_another_shop_cannot_be_chosen(app, seller_client):
    """Only the seller's own requests are choices; another shop's request number is refused."""
    other_shop, other_user = ready_seller()
    refund, _shop, _seller = request_in(shop=other_shop, seller=other_user)
    response = new_ticket(seller_client, refund_request=str(refund.id))
    assert response.status_code == 422 and ticket_rows() == (0, 0, 0)


def test_a_ticket_about_an_own_request_links_it(app):
    """Choosing one of the seller's requests links the ticket, and the thread links back to the request."""
    refund, shop, user = request_in()
    client = signed_in(app, user)
    new_ticket(client, category=TicketCategory.REFUND_APPEAL, refund_request=str(refund.id))
    ticket = only_ticket()
    assert ticket.refund_request_id == refund.id
    assert f'href="/refunds/{refund.id}"' in client.get(f"/tickets/{ticket.id}").text


# --- evidence files ----------------------------------------------------------------------------------

def test_good_files_are_stored_under_random_names_outside_static(app, seller_client):
    """A PNG, a WebP, a clean PDF and a JPEG are accepted, stored under UPLOAD_DIR with random names."""
    files = [upload(image_bytes("PNG"), "截图.png", "image/png"), upload(image_bytes("WEBP"), "scan.webp"),
             upload(CLEAN_PDF, "回单.pdf", "application/pdf"), upload(jpeg_with_exif(), "家里.jpg", "image/jpeg")]
    response = new_ticket(seller_client, files=files)
    assert response.status_code == 303
    rows = {row.original_name: row for row in Attachment.select()}
    assert {name: row.content_type for name, row in rows.items()} == {
        "截图.png": "image/png", "scan.webp": "image/webp", "回单.pdf": "application/pdf", "家里.jpg": "image/jpeg"}
    stored = stored_files(app)
    assert stored == sorted(row.stored_name for row in rows.values())
    for name in stored:
        assert re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{32}\.(png|webp|pdf|jpg)", name)
    upload_dir = os.path.realpath(app.config["UPLOAD_DIR"])
    static_dir = os.path.realpath(app.static_folder)
    assert os.path.commonpath([upload_dir, static_dir]) != static_dir
    html = seller_client.get(f"/tickets/{only_ticket().id}").text
    for name, row in rows.items():
        assert Page(html).find("a", href=f"/tickets/{row.ticket_id}/files/{row.id}").text == name


def test_a_downloaded_photo_has_no_exif_and_the_same_picture(seller_client):
    """The photo comes back without camera or GPS data, the same size, as a download nobody sniffs or renders."""
    new_ticket(seller_client, files=[upload(jpeg_with_exif(size=(20, 14)), "location.jpg", "image/jpeg")])
    row = attachment_named("location.jpg")
    response = seller_client.get(f"/tickets/{row.ticket_id}/files/{row.id}")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert CAMERA_MAKE.encode() not in response.data
    with Image.open(io.BytesIO(response.data)) as image:
        assert not image.getexif() and image.size == (20, 14)


def test_a_jpeg_with_a_script_appended_is_stored_as_pixels_only(seller_client):
    """A real JPEG with ``<script>`` after its data is accepted; the download has the pixels, not the script."""
    new_ticket(seller_client, files=[upload(jpeg_with_appended_script(), "receipt.jpg", "image/jpeg")])
    row = attachment_named("receipt.jpg")
    data = seller_client.get(f"/tickets/{row.ticket_id}/files/{row.id}").data
    assert APPENDED_PAYLOAD not in data and b"<script" not in data
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG" and image.size == (12, 8)


def test_a_clean_pdf_downloads_unchanged(seller_client):
    """A clean PDF comes back byte for byte, as an attachment."""
    new_ticket(seller_client, files=[upload(CLEAN_PDF, "bill.pdf", "application/pdf")])
    row = attachment_named("bill.pdf")
    response = seller_client.get(f"/tickets/{row.ticket_id}/files/{row.id}")
    assert response.data == CLEAN_PDF and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment")


# Each bad file: how it is sent, and the words of the message beside the file field.
BAD_FILES = {
    "php-named-jpg": ("shell.jpg", PHP_NAMED_JPG, "is not a JPEG, PNG, WebP or PDF file"),
    "html-named-jpg": ("page.jpg", HTML_NAMED_JPG, "is not a JPEG, PNG, WebP or PDF file"),
    "svg-with-script": ("logo.svg", SVG_WITH_SCRIPT, "is not a JPEG, PNG, WebP or PDF file"),
    "jpeg-magic-polyglot": ("photo.jpg", JPEG_MAGIC_POLYGLOT, "cannot be read"),
    "zero-bytes": ("empty.png", b"", "is empty"),
    "pdf-javascript": ("invoice.pdf", PDF_WITH_JAVASCRIPT, "is a PDF with scripts or embedded files"),
    "over-the-limit": ("big.png", None, "is larger than"),
    "jpeg-bomb": ("8944x8944.jpg", jpeg_bomb(), "has more pixels than we can take (at most 40 megapixels)"),
    "webp-bomb": ("16383x4880.webp", webp_bomb(), "has more pixels than we can take (at most 40 megapixels)"),
    "png-bomb": ("empty.png", "png-bomb", "has more pixels than we can take (at most 40 megapixels)"),
}


def bad_upload(app, case):
    """The bad file of a case, with the limit lowered for the over-the-limit case."""
    name, data, words = BAD_FILES[case]
    if data == "png-bomb":
        data = png_bomb()  # made when needed: a second's work
    if data is None:
        app.config["EVIDENCE_MAX_BYTES"] = 2000
        data = noisy_png((40, 40))
        assert len(data) > 2000
    return name, upload(data, name, "image/jpeg"), words


def assert_refused_beside_the_field(html, name, words):
    """The refusal names the file and says why, beside the file field."""
    error = field_error(html, "files")
    assert f"“{name}”" in error and words in error
    assert "Nothing was sent. Your text is kept; choose the files again." in error


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_refuses_the_new_ticket_and_keeps_the_text(app, seller_client, case):
    """The file is refused by name beside the field, subject and message are kept, nothing is stored."""
    name, bad, words = bad_upload(app, case)
    good = upload(image_bytes("PNG"), "good.png", "image/png")
    response = new_ticket(seller_client, subject="扣款有误", message="请核对这笔扣款。\n谢谢", files=[good, bad])
    assert response.status_code == 422
    assert_refused_beside_the_field(response.text, name, words)
    assert Page(response.text).find("input", name="subject")["value"] == "扣款有误"
    assert "请核对这笔扣款。\n谢谢" in response.text and textarea(response.text, "message") == "请核对这笔扣款。 谢谢"
    assert ticket_rows() == (0, 0, 0) and stored_files(app) == []


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_refuses_the_reply_and_keeps_the_text(app, seller_client, owner, case):
    """In the thread too: the reply form comes back (htmx, 422) with the reason and the draft; nothing stored."""
    ticket = open_ticket(app, *owner)
    before, version = ticket_rows(), fresh(ticket).version
    name, bad, words = bad_upload(app, case)
    response = reply(seller_client, ticket, message="补充材料见附件", files=[bad])
    assert response.status_code == 422
    assert_refused_beside_the_field(response.text, name, words)
    assert textarea(response.text, "message") == "补充材料见附件"
    assert Page(response.text).find("form", id="ticket-reply")
    assert ticket_rows() == before and fresh(ticket).version == version and stored_files(app) == []


def test_too_many_files_are_refused(app, seller_client, owner):
    """More files than EVIDENCE_MAX_FILES are refused with the limit named; nothing is stored."""
    app.config["EVIDENCE_MAX_FILES"] = 2
    files = [upload(image_bytes("PNG"), f"p{number}.png", "image/png") for number in range(3)]
    response = new_ticket(seller_client, message="三张截图", files=files)
    assert response.status_code == 422
    assert "At most 2 files per message." in field_error(response.text, "files")
    assert textarea(response.text, "message") == "三张截图"
    ticket = open_ticket(app, *owner)
    before = ticket_rows()
    response = reply(seller_client, ticket, files=[upload(image_bytes("PNG"), f"r{n}.png") for n in range(3)])
    assert response.status_code == 422 and "At most 2 files" in response.text
    assert ticket_rows() == before and stored_files(app) == []


def test_a_refused_file_on_the_plain_reply_form_shows_the_whole_page(app, seller_client, owner):
    """Without JavaScript the reply comes back as the whole page (422) with the reason and the draft."""
    ticket = open_ticket(app, *owner)
    response = reply(seller_client, ticket, message="见附件", files=[upload(PHP_NAMED_JPG, "x.jpg")], htmx=False)
    assert response.status_code == 422
    assert Page(response.text).find("h1") and "“x.jpg”" in field_error(response.text, "files")
    assert textarea(response.text, "message") == "见附件"


def test_a_refused_file_on_the_htmx_new_ticket_form_comes_back_as_a_form(app, seller_client):
    """An htmx submit with a bad file gets 422 and a page whose #ticket-form htmx swaps in."""
    response = new_ticket(seller_client, htmx=True, files=[upload(SVG_WITH_SCRIPT, "a.svg")])
    assert response.status_code == 422 and Page(response.text).find("form", id="ticket-form")
    assert "“a.svg”" in field_error(response.text, "files") and ticket_rows() == (0, 0, 0)


def test_an_upload_over_one_megabyte_goes_through_with_csrf_on(csrf_app):
    """A 1.3 MB photo (under the 10 MB evidence limit) is accepted with CSRF on, as in production."""
    with csrf_app.app_context():
        _shop, user = seller()
    client = csrf_app.test_client()
    sign_in(client, user)
    token = csrf_token(client.get("/tickets/new").text)
    photo = noisy_png((660, 660))
    assert len(photo) > 1024 * 1024
    response = client.post("/tickets/new", data=ticket_form(csrf_token=token, files=[upload(photo, "big.png")]),
                           content_type=MULTIPART)
    assert response.status_code == 303
    with csrf_app.app_context():
        assert ticket_rows() == (1, 1, 1)
    # Someone not signed in keeps the portal-wide 1 MB limit.
    visitor = csrf_app.test_client().post("/tickets/new", content_type=MULTIPART,
                                          data=ticket_form(csrf_token=token, files=[upload(photo, "big.png")]))
    assert visitor.status_code == 413


def test_a_body_over_the_upload_allowance_gets_a_413_page(app, seller_client):
    """Past files × size limit (plus 1 MB for the text) the body is refused with the 413 page, nothing stored."""
    app.config.update(EVIDENCE_MAX_FILES=1, EVIDENCE_MAX_BYTES=1000)
    photo = noisy_png((660, 660))
    response = new_ticket(seller_client, files=[upload(photo, "big.png")])
    assert response.status_code == 413 and Page(response.text).find("h1").text == "Too large"
    assert ticket_rows() == (0, 0, 0) and stored_files(app) == []


# --- the thread --------------------------------------------------------------------------------------

def test_the_thread_fragment_is_204_until_support_answers(app, seller_client, owner):
    """The poll gets 204 while nothing changed and the new reply once support answered."""
    ticket = open_ticket(app, *owner)
    version = thread_version(seller_client.get(f"/tickets/{ticket.id}").text)
    assert seller_client.get(f"/tickets/{ticket.id}/thread?v={version}", headers=HX).status_code == 204
    write(app, ticket, staff(), "您好，请上传付款截图。")
    response = seller_client.get(f"/tickets/{ticket.id}/thread?v={version}", headers=HX)
    assert response.status_code == 200
    assert message_bodies(response.text)[-1] == "您好，请上传付款截图。"
    assert Page(response.text).find(data_ticket_status=TicketStatus.WAITING_SELLER).text == "Waiting for you"
    assert "<html" not in response.text and 'id="ticket-reply"' not in response.text
    newer = thread_version(response.text)
    assert newer > version
    assert seller_client.get(f"/tickets/{ticket.id}/thread?v={newer}", headers=HX).status_code == 204


def test_the_thread_fragment_url_also_works_as_a_page(app, seller_client, owner):
    """Opened without htmx (a bookmark, no JavaScript) the thread URL shows the whole page, not a 500."""
    ticket = open_ticket(app, *owner)
    response = seller_client.get(f"/tickets/{ticket.id}/thread?v=0")
    assert response.status_code == 200
    assert Page(response.text).find("form", id="ticket-reply")
    assert message_bodies(response.text) == ["第一行：金额不对 second line, kept"]


def test_an_inline_reply_returns_an_empty_form_and_the_thread_out_of_band(app, seller_client, owner):
    """The htmx reply gets the form back empty and the thread (hx-swap-oob) with the new message."""
    ticket = open_ticket(app, *owner)
    response = reply(seller_client, ticket, message="已上传付款截图。", files=[upload(image_bytes("PNG"), "pay.png")])
    assert response.status_code == 200
    page = Page(response.text)
    assert textarea(response.text, "message") == ""
    thread = page.find("div", id="ticket-thread")
    assert thread["hx-swap-oob"] == "true"
    assert message_bodies(response.text)[-1] == "已上传付款截图。"
    assert "pay.png" in thread.text
    assert [message.body for message in TicketMessage.select().order_by(TicketMessage.id)][-1] == "已上传付款截图。"


def test_a_reply_without_javascript_redirects_to_the_thread(app, seller_client, owner):
    """A plain form post answers 303 back to the thread, where the reply shows."""
    ticket = open_ticket(app, *owner)
    response = reply(seller_client, ticket, message="no JavaScript here", htmx=False)
    assert response.status_code == 303 and response.headers["Location"] == f"/tickets/{ticket.id}"
    assert message_bodies(seller_client.get(f"/tickets/{ticket.id}").text)[-1] == "no JavaScript here"


def test_an_empty_reply_is_refused(app, seller_client, owner):
    """A reply without text is refused beside the field and not stored."""
    ticket = open_ticket(app, *owner)
    before = ticket_rows()
    response = reply(seller_client, ticket, message="   ")
    assert response.status_code == 422 and field_error(response.text, "message") == "Write your reply."
    assert ticket_rows() == before


def test_the_ticket_list_puts_tickets_waiting_for_the_seller_first(app, seller_client, owner):
    """Tickets waiting on the seller come first, each with whose turn it is."""
    waiting_support = open_ticket(app, *owner, subject="still with support")
    waiting_seller = open_ticket(app, *owner, subject="support asked me")
    write(app, waiting_seller, staff(), "请补充。")
    write(app, waiting_support, owner[1], "one more thing")  # the most recently updated, still second
    page = Page(seller_client.get("/tickets").text)
    statuses = [element["data-ticket-status"] for element in page.find_all(data_ticket_status=True)]
    assert statuses == [TicketStatus.WAITING_SELLER, TicketStatus.WAITING_SUPPORT]
    assert [element.text for element in page.with_class("request-number")] == ["support asked me",
                                                                               "still with support"]


# --- whose turn, and the SLA clock ---------------------------------------------------------------------

def test_waiting_on_the_seller_over_national_day_pushes_the_due_date(app, owner):
    """Support answers on Fri 26 Sep 2025; the seller replies on Thu 9 Oct: 4 working days are added."""
    shop, user = owner
    agent = staff()
    opened = datetime.datetime(2025, 9, 26, 2, 0)  # Friday 10:00 in Shanghai
    ticket = open_ticket(app, shop, user, now=opened)
    assert fresh(ticket).due_date == datetime.date(2025, 9, 29)  # Sunday 28 Sep is a make-up working day
    write(app, ticket, agent, "请补充付款截图。", now=opened + UTC_HOUR)
    waiting = fresh(ticket)
    assert (waiting.status, waiting.paused_at) == (TicketStatus.WAITING_SELLER, opened + UTC_HOUR)
    assert waiting.due_date == datetime.date(2025, 9, 29)
    write(app, ticket, user, "已补充。", now=datetime.datetime(2025, 10, 9, 2, 0))
    resumed = fresh(ticket)
    assert (resumed.status, resumed.paused_at) == (TicketStatus.WAITING_SUPPORT, None)
    # Waited: 28, 29, 30 Sep and 9 Oct; pushed on: 30 Sep, 9 Oct, 10 Oct, Sat 11 Oct (make-up day).
    assert resumed.due_date == datetime.date(2025, 10, 11)


def test_a_weekend_wait_costs_no_working_days_and_resolving_then_writing_reopens(app, owner):
    """Fri → Mon waiting adds one working day; a resolving reply closes it; the seller writing reopens it."""
    shop, user = owner
    agent = staff()
    friday = datetime.datetime(2025, 6, 13, 2, 0)
    ticket = open_ticket(app, shop, user, now=friday)
    assert fresh(ticket).due_date == datetime.date(2025, 6, 17)
    write(app, ticket, agent, "请确认收款账户。", now=friday + UTC_HOUR)
    write(app, ticket, user, "确认无误。", now=datetime.datetime(2025, 6, 16, 2, 0))
    assert (fresh(ticket).status, fresh(ticket).due_date) == (TicketStatus.WAITING_SUPPORT, datetime.date(2025, 6, 18))
    write(app, ticket, agent, "已处理，工单关闭。", resolve=True, now=datetime.datetime(2025, 6, 16, 3, 0))
    resolved = fresh(ticket)
    assert resolved.status == TicketStatus.RESOLVED and resolved.paused_at is not None
    write(app, ticket, user, "还有一个问题。", now=datetime.datetime(2025, 6, 17, 2, 0))
    reopened = fresh(ticket)
    assert (reopened.status, reopened.paused_at) == (TicketStatus.WAITING_SUPPORT, None)
    assert reopened.due_date == datetime.date(2025, 6, 19)


def test_a_resolved_ticket_says_writing_reopens_it_and_stops_polling(app, seller_client, owner):
    """The resolved thread shows its status, stops polling, and a reply from the page reopens it."""
    ticket = open_ticket(app, *owner)
    write(app, ticket, staff(), "已解决。", resolve=True)
    html = seller_client.get(f"/tickets/{ticket.id}").text
    assert Page(html).find(data_ticket_status=TicketStatus.RESOLVED).text == "Resolved"
    assert "Writing again reopens it." in html and "/thread?v=" not in html
    reply(seller_client, ticket, message="重新打开")
    assert fresh(ticket).status == TicketStatus.WAITING_SUPPORT


# --- "the amount is wrong" -------------------------------------------------------------------------------

def test_a_wrong_amount_ticket_carries_the_itemised_calculation(app):
    """The portal attaches balance, each deduction with its ledger entry, held, required and refundable."""
    shop, user = ready_seller()  # ¥5,000.00 paid in, ¥2,000.00 required
    deduction = add_entry(shop, EntryType.DEDUCTION, 20_000, reason="违规扣款：延迟发货")
    reversal = add_entry(shop, EntryType.DEDUCTION_REVERSAL, 5_000, reason="申诉成功，退回部分扣款")
    add_entry(shop, EntryType.FREEZE, 30_000, reason="frozen during a complaint")
    add_entry(shop, EntryType.REFUND_HOLD, 100_000, reason="refund_hold")
    client = signed_in(app, user)
    new_ticket(client, category=TicketCategory.WRONG_AMOUNT, subject="可退金额不对")
    ticket = only_ticket()
    calculation = TicketMessage.get((TicketMessage.ticket == ticket.id) & (TicketMessage.kind == "CALCULATION"))
    assert calculation.author_role == "system"
    figures = json.loads(calculation.body)
    assert {key: figures[key] for key in ("balance_fen", "frozen_fen", "held_fen", "required_fen",
                                          "refundable_fen")} == {
        "balance_fen": 485_000, "frozen_fen": 30_000, "held_fen": 100_000, "required_fen": 200_000,
        "refundable_fen": 155_000}
    assert figures["refundable_fen"] == deposit_figures(shop).refundable
    assert [(item["entry"], item["type"], item["amount_fen"]) for item in figures["deductions"]] == [
        (deduction.id, EntryType.DEDUCTION, 20_000), (reversal.id, EntryType.DEDUCTION_REVERSAL, 5_000)]
    html = client.get(f"/tickets/{ticket.id}").text
    table = text_of(re.search(r'<table class="plain calculation">.*?</table>', html, re.S).group(0))
    for shown in ("Paid in ¥5,000.00", f"Deducted · ledger entry {deduction.id} 违规扣款：延迟发货 −¥200.00",
                  f"ledger entry {reversal.id} 申诉成功，退回部分扣款 +¥50.00", "Balance ¥4,850.00",
                  "Frozen −¥300.00", "Held for refunds −¥1,000.00", "Required by your categories −¥2,000.00",
                  "Refundable now ¥1,550.00"):
        assert shown in table, shown


# --- access ---------------------------------------------------------------------------------------------

def test_another_seller_reaches_nothing_of_a_ticket(app, owner):
    """Seller B gets 404 for A's ticket, thread, reply and file, and writes nothing."""
    ticket = open_ticket(app, *owner, files=[(image_bytes("PNG"), "image/png", ".png", "a.png")])
    attachment = Attachment.get()
    _other_shop, intruder = seller()
    client = signed_in(app, intruder)
    own = open_ticket(app, _other_shop, intruder)
    before, version = ticket_rows(), fresh(ticket).version
    for url in (f"/tickets/{ticket.id}", f"/tickets/{ticket.id}/thread?v=0",
                f"/tickets/{ticket.id}/files/{attachment.id}", f"/tickets/{own.id}/files/{attachment.id}"):
        assert client.get(url).status_code == 404, url
        assert client.get(url, headers=HX).status_code == 404, url
    assert reply(client, ticket, message="intruder").status_code == 404
    assert reply(client, ticket, message="intruder", htmx=False).status_code == 404
    assert ticket_rows() == before and fresh(ticket).version == version
    assert "intruder" not in [message.body for message in TicketMessage.select()]


def test_staff_and_visitors_do_not_use_the_seller_ticket_pages(app, owner):
    """An agent gets 404 on the seller's URLs; a visitor is sent to sign in."""
    ticket = open_ticket(app, *owner)
    _agent, desk = agent_client(app)
    assert desk.get(f"/tickets/{ticket.id}").status_code == 404
    assert desk.get("/tickets").status_code == 404
    visitor = app.test_client().get(f"/tickets/{ticket.id}")
    assert visitor.status_code == 302 and visitor.headers["Location"].startswith("/login")


# --- markup in what sellers type -------------------------------------------------------------------------

def test_script_in_subject_and_messages_shows_as_text_everywhere(app, seller_client, owner):
    """Subject, first message and reply come back escaped on the seller's and the desk's pages."""
    new_ticket(seller_client, subject=xss("subject"), message=xss("message"))
    ticket = only_ticket()
    reply(seller_client, ticket, message=xss("reply"))
    _agent, desk = agent_client(app)
    everything, subject_only, messages_only = ("subject", "message", "reply"), ("subject",), ("message", "reply")
    pages = [
        (seller_client.get("/tickets").text, subject_only),
        (seller_client.get(f"/tickets/{ticket.id}").text, everything),
        (seller_client.get(f"/tickets/{ticket.id}/thread?v=0", headers=HX).text, messages_only),
        (desk.get(f"/desk/tickets/{ticket.id}").text, everything),
        (desk.get("/desk").text, subject_only),
        (desk.get(f"/desk/shops/{owner[0].id}").text, subject_only),
    ]
    for html, labels in pages:
        for label in labels:
            assert_escaped(html, label)


def test_script_in_the_prefilled_subject_stays_in_the_field(seller_client):
    """A crafted /tickets/new link cannot put markup on the page: the subject is an escaped value."""
    html = seller_client.get("/tickets/new", query_string={"subject": xss("link")}).text
    assert_escaped(html, "link")
    assert Page(html).find("input", name="subject")["value"] == xss("link")


def test_refused_file_names_are_shown_as_text(app, seller_client):
    """A file name with markup is named in the refusal, escaped."""
    response = new_ticket(seller_client, files=[upload(PHP_NAMED_JPG, '<img src=x onerror=alert(1)>.jpg')])
    assert response.status_code == 422
    assert "<img src=x onerror" not in response.text
    assert "&lt;img src=x onerror=alert(1)&gt;.jpg" in response.text


def test_a_message_that_looks_like_a_calculation_is_just_text(app, seller_client, owner):
    """Only the portal's own CALCULATION message becomes a table; a seller's JSON shows as typed."""
    body = json.dumps({"balance_fen": 1, "deductions": []})
    ticket = open_ticket(app, *owner, body=body)
    html = seller_client.get(f"/tickets/{ticket.id}").text
    assert 'class="plain calculation"' not in html and message_bodies(html) == [body]
