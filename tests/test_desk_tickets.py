"""The desk's side of tickets: replies that never go out blind, internal notes, canned replies, status, audit."""
import pytest

from portal.audit import service as audit_service
from portal.audit.models import AuditLog
from portal.core.vocabulary import Role, TicketCategory, TicketStatus
from portal.disputes.models import Dispute
from portal.ops import seed
from portal.tickets import service as ticket_service
from portal.tickets.models import Attachment, Ticket, TicketMessage
from tests.desk_helpers import section
from tests.factories import csrf_token, sign_in
from tests.ticket_helpers import (
    HX,
    PHP_NAMED_JPG,
    Page,
    agent_client,
    assert_escaped,
    field_error,
    fresh,
    image_bytes,
    message_bodies,
    noisy_png,
    open_ticket,
    seen_message_id,
    seller,
    signed_in,
    staff,
    stored_files,
    textarea,
    ticket_rows,
    upload,
    write,
    xss,
)

MULTIPART = "multipart/form-data"


@pytest.fixture
def owner(app):
    """A seller with a shop; returns ``(shop, user)``."""
    return seller()


@pytest.fixture
def ticket(app, owner):
    """A ticket the seller opened."""
    return open_ticket(app, *owner)


@pytest.fixture
def agent_and_desk(app):
    """A support agent and their browser (English)."""
    return agent_client(app, "agent-lin")


@pytest.fixture
def desk(agent_and_desk):
    """The agent's browser."""
    return agent_and_desk[1]


def desk_reply(desk, ticket, message, seen, htmx=True, resolve=False, files=()):
    """POST the desk's reply form with the last message id the agent saw."""
    data = {"message": message, "seen_message_id": str(seen), "files": list(files)}
    if resolve:
        data["resolve"] = "y"
    return desk.post(f"/desk/tickets/{ticket.id}/reply", data=data, content_type=MULTIPART,
                     headers=HX if htmx else {})


def seen_on_page(desk, ticket):
    """The seen-message id the desk page carries now (what the agent "has read")."""
    return seen_message_id(desk.get(f"/desk/tickets/{ticket.id}").text)


def bodies():
    """Every stored message and note, oldest first."""
    return [message.body for message in TicketMessage.select().order_by(TicketMessage.id)]


def ticket_audit(ticket):
    """The actions the audit log holds for a ticket, oldest first."""
    return [entry.action for entry in AuditLog.select().where(AuditLog.ticket_id == ticket.id).order_by(AuditLog.id)]


# --- the page, notes ------------------------------------------------------------------------------------

def test_an_internal_note_shows_on_the_desk_tagged_staff_only(ticket, desk, app, owner):
    """A note (htmx) shows in the thread with the staff-only tag; status and clock do not move."""
    response = desk.post(f"/desk/tickets/{ticket.id}/note", data={"note": "核实过流水，确有重复扣款。"}, headers=HX)
    assert response.status_code == 200 and "<html" not in response.text
    assert Page(response.text).find(role="status").text == "Note added."
    note = Page(response.text).with_class("kind-internal_note", "li")
    assert len(note) == 1 and "Internal note: staff only" in note[0].text and "核实过流水" in note[0].text
    current = fresh(ticket)
    assert (current.status, current.paused_at) == (TicketStatus.WAITING_SUPPORT, None)
    assert ticket_audit(ticket) == ["ticket.note"]
    seller_html = signed_in(app, owner[1]).get(f"/tickets/{ticket.id}").text
    assert "核实过流水" not in seller_html and "Internal note" not in seller_html


def test_a_note_without_javascript_redirects_back_with_a_message(ticket, desk):
    """A plain note post answers 303 to the ticket, which then says the note was added."""
    response = desk.post(f"/desk/tickets/{ticket.id}/note", data={"note": "plain note"})
    assert response.status_code == 303 and response.headers["Location"] == f"/desk/tickets/{ticket.id}"
    html = desk.get(f"/desk/tickets/{ticket.id}").text
    assert "Note added." in html and "plain note" in message_bodies(html)


def test_an_empty_note_is_refused(ticket, desk):
    """A note without text is refused (422) and nothing is stored."""
    before = ticket_rows()
    response = desk.post(f"/desk/tickets/{ticket.id}/note", data={"note": ""}, headers=HX)
    assert response.status_code == 422 and ticket_rows() == before


def test_markup_in_a_note_and_a_reply_is_shown_as_text(ticket, desk, app, owner):
    """An agent's note and reply with markup come back escaped on the desk and the seller's pages."""
    desk.post(f"/desk/tickets/{ticket.id}/note", data={"note": xss("note")})
    desk_reply(desk, ticket, xss("agent reply"), seen_on_page(desk, ticket))
    desk_html = desk.get(f"/desk/tickets/{ticket.id}").text
    assert_escaped(desk_html, "note")
    assert_escaped(desk_html, "agent reply")
    assert_escaped(signed_in(app, owner[1]).get(f"/tickets/{ticket.id}").text, "agent reply")


# --- replies ----------------------------------------------------------------------------------------------

def test_a_reply_goes_to_the_seller_and_stops_the_clock(ticket, desk, app, owner):
    """The reply is stored, the ticket waits for the seller (clock paused), and the seller sees it."""
    response = desk_reply(desk, ticket, "您好，请上传付款截图。", seen_on_page(desk, ticket))
    assert response.status_code == 200 and Page(response.text).find(role="status").text == "Reply sent."
    assert textarea(response.text, "message") == ""
    current = fresh(ticket)
    assert current.status == TicketStatus.WAITING_SELLER and current.paused_at is not None
    seller_page = signed_in(app, owner[1]).get(f"/tickets/{ticket.id}").text
    assert message_bodies(seller_page)[-1] == "您好，请上传付款截图。"
    # Stored with the language it was written in; the seller reads English, so it is marked.
    assert TicketMessage.select().order_by(TicketMessage.id.desc()).first().language == "zh_CN"
    assert '<span lang="zh-CN">您好，请上传付款截图。</span>' in seller_page
    assert Page(seller_page).with_class("message", "p")[-1].text.endswith("(written in Chinese)")
    assert ticket_audit(ticket) == ["ticket.reply"]


def test_a_reply_without_javascript_redirects(ticket, desk):
    """A plain reply answers 303 back to the ticket page."""
    response = desk_reply(desk, ticket, "plain reply", seen_on_page(desk, ticket), htmx=False)
    assert response.status_code == 303 and response.headers["Location"] == f"/desk/tickets/{ticket.id}"
    assert bodies()[-1] == "plain reply"


def test_a_reply_that_resolves_closes_the_ticket(ticket, desk):
    """Ticking "resolve" with the reply resolves the ticket."""
    desk_reply(desk, ticket, "已为您处理完毕。", seen_on_page(desk, ticket), resolve=True)
    assert fresh(ticket).status == TicketStatus.RESOLVED
    assert audit_service.details_of(AuditLog.get(AuditLog.ticket_id == ticket.id))["resolved"] is True


def test_an_agents_file_reaches_the_seller_without_metadata(ticket, desk, app, owner):
    """An agent attaches a file; the seller downloads it from their own ticket URL."""
    desk_reply(desk, ticket, "见附件", seen_on_page(desk, ticket), files=[upload(image_bytes("PNG"), "说明.png")])
    attachment = Attachment.get()
    response = signed_in(app, owner[1]).get(f"/tickets/{ticket.id}/files/{attachment.id}")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.headers["Content-Disposition"].startswith("attachment")


def test_a_bad_file_holds_the_reply_back_with_the_draft_kept(ticket, desk, app):
    """A disguised file refuses the reply (422): the reason beside the field, the draft kept, nothing stored."""
    before = ticket_rows()
    response = desk_reply(desk, ticket, "草稿：请看附件", seen_on_page(desk, ticket),
                          files=[upload(PHP_NAMED_JPG, "shell.jpg")])
    assert response.status_code == 422
    assert "“shell.jpg”" in field_error(response.text, "files")
    assert textarea(response.text, "message") == "草稿：请看附件"
    assert ticket_rows() == before and stored_files(app) == []


def test_a_desk_upload_over_one_megabyte_goes_through_with_csrf_on(csrf_app):
    """With CSRF on (as in production) an agent's 1.3 MB attachment is accepted, not a 413."""
    with csrf_app.app_context():
        shop, user = seller()
        ticket = open_ticket(csrf_app, shop, user)
        agent = staff()
    desk = csrf_app.test_client()
    sign_in(desk, agent)
    html = desk.get(f"/desk/tickets/{ticket.id}").text
    photo = noisy_png((660, 660))
    response = desk.post(f"/desk/tickets/{ticket.id}/reply", content_type=MULTIPART, data={
        "csrf_token": csrf_token(html), "message": "大图", "seen_message_id": str(seen_message_id(html)),
        "files": [upload(photo, "big.png")]})
    assert response.status_code == 303
    with csrf_app.app_context():
        assert Attachment.select().count() == 1


# --- no blind double answers ------------------------------------------------------------------------------

@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_a_reply_is_held_back_when_the_seller_wrote_meanwhile(ticket, desk, app, owner, htmx):
    """The seller wrote after the agent opened the thread: 409, not sent, the new message shown, draft kept."""
    seen = seen_on_page(desk, ticket)
    signed_in(app, owner[1]).post(f"/tickets/{ticket.id}/reply", data={"message": "补充：订单号 123456"},
                                  headers=HX)
    arrived = TicketMessage.select().order_by(TicketMessage.id.desc()).get()
    before = ticket_rows()
    response = desk_reply(desk, ticket, "我的草稿回复", seen, htmx=htmx)
    assert response.status_code == 409
    assert ticket_rows() == before and "我的草稿回复" not in bodies()
    assert fresh(ticket).status == TicketStatus.WAITING_SUPPORT
    assert message_bodies(section(response.text, "arrived")) == ["补充：订单号 123456"]
    assert textarea(response.text, "message") == "我的草稿回复"
    assert seen_message_id(response.text) == arrived.id
    assert "Send anyway" in response.text
    again = desk_reply(desk, ticket, "我的草稿回复", seen_message_id(response.text), htmx=htmx)
    assert again.status_code in (200, 303)
    assert bodies()[-1] == "我的草稿回复" and fresh(ticket).status == TicketStatus.WAITING_SELLER


def test_another_agents_reply_also_holds_a_reply_back(ticket, desk, app):
    """A colleague answered meanwhile: the agent sees that answer before theirs goes out."""
    seen = seen_on_page(desk, ticket)
    _colleague, colleague_desk = agent_client(app, "agent-zhou")
    desk_reply(colleague_desk, ticket, "同事已回复", seen_on_page(colleague_desk, ticket))
    response = desk_reply(desk, ticket, "重复的回复", seen)
    assert response.status_code == 409
    assert message_bodies(section(response.text, "arrived")) == ["同事已回复"]
    assert "重复的回复" not in bodies()


def test_own_replies_and_anyones_notes_do_not_hold_a_reply_back(ticket, desk, app):
    """Notes (anyone's) and the agent's own replies since the page loaded are no news: the reply goes out."""
    seen = seen_on_page(desk, ticket)
    _colleague, colleague_desk = agent_client(app, "agent-zhou")
    colleague_desk.post(f"/desk/tickets/{ticket.id}/note", data={"note": "同事的备注"})
    desk.post(f"/desk/tickets/{ticket.id}/note", data={"note": "我的备注"})
    assert desk_reply(desk, ticket, "第一条回复", seen).status_code == 200
    assert desk_reply(desk, ticket, "第二条回复", seen).status_code == 200
    assert bodies()[-2:] == ["第一条回复", "第二条回复"]


def test_the_rules_hold_a_reply_back_with_the_new_messages(ticket, app, owner):
    """``ticket_service.reply`` raises TicketConflict with the messages that arrived, and stores nothing."""
    agent = staff()
    first = TicketMessage.get()
    seller_message = write(app, ticket, owner[1], "新消息")
    with pytest.raises(ticket_service.TicketConflict) as conflict:
        write(app, ticket, agent, "盲答", seen_message_id=first.id)
    assert [message.id for message in conflict.value.messages] == [seller_message.id]
    assert "盲答" not in bodies()


# --- canned replies, assignment, status ---------------------------------------------------------------------

@pytest.mark.parametrize(("language", "expected"), [
    ("en", "Hello, we have your ticket and are checking it; expect an answer within 2 working days."),
    ("zh_CN", "您好，我们已收到您的工单，正在核实，预计 2 个工作日内给您答复。"),
])
def test_a_canned_reply_comes_in_the_current_language(app, agent_and_desk, ticket, language, expected):
    """Choosing a canned reply swaps its text, in the page's language, into the reply box."""
    seed.reference_data()
    desk = signed_in(app, agent_and_desk[0], language)
    page = Page(desk.get(f"/desk/tickets/{ticket.id}").text)
    assert page.find("option", value="RECEIVED")
    response = desk.get("/desk/canned?canned=RECEIVED", headers=HX)
    assert response.status_code == 200 and "<html" not in response.text
    assert textarea(response.text, "message") == expected
    assert Page(response.text).find("textarea", id="message")
    assert textarea(desk.get("/desk/canned?canned=RECEIVED").text, "message") == expected  # without htmx too


def test_an_unknown_canned_reply_is_404(app, desk):
    """A canned reply that does not exist answers 404."""
    seed.reference_data()
    assert desk.get("/desk/canned?canned=NOPE", headers=HX).status_code == 404


def test_assigning_takes_the_ticket(ticket, desk, agent_and_desk):
    """"Assign to me" records the agent, shows their name and is audit-logged."""
    response = desk.post(f"/desk/tickets/{ticket.id}/assign", headers=HX)
    assert response.status_code == 200
    assert Page(response.text).find(role="status").text == "The ticket is assigned to you."
    assert "agent-lin" in response.text and "Assign to me" not in response.text
    assert fresh(ticket).assigned_to_id == agent_and_desk[0].id
    assert ticket_audit(ticket) == ["ticket.assign"]


def test_status_changes_move_the_clock(ticket, desk):
    """Waiting for the seller pauses the clock, taking it back resumes it; each change is audit-logged."""
    assert desk.post(f"/desk/tickets/{ticket.id}/status", data={"status": TicketStatus.WAITING_SELLER},
                     headers=HX).status_code == 200
    assert fresh(ticket).status == TicketStatus.WAITING_SELLER and fresh(ticket).paused_at is not None
    response = desk.post(f"/desk/tickets/{ticket.id}/status", data={"status": TicketStatus.WAITING_SUPPORT})
    assert response.status_code == 303
    assert fresh(ticket).status == TicketStatus.WAITING_SUPPORT and fresh(ticket).paused_at is None
    desk.post(f"/desk/tickets/{ticket.id}/status", data={"status": TicketStatus.RESOLVED}, headers=HX)
    assert fresh(ticket).status == TicketStatus.RESOLVED
    details = [audit_service.details_of(entry) for entry in AuditLog.select().where(AuditLog.ticket_id == ticket.id)
               .order_by(AuditLog.id)]
    assert [(entry["previous"], entry["status"]) for entry in details] == [
        (TicketStatus.WAITING_SUPPORT, TicketStatus.WAITING_SELLER),
        (TicketStatus.WAITING_SELLER, TicketStatus.WAITING_SUPPORT),
        (TicketStatus.WAITING_SUPPORT, TicketStatus.RESOLVED)]


def test_an_unknown_status_is_refused(ticket, desk):
    """A status that does not exist answers 400 and changes nothing."""
    assert desk.post(f"/desk/tickets/{ticket.id}/status", data={"status": "CLOSED"}).status_code == 400
    assert fresh(ticket).status == TicketStatus.WAITING_SUPPORT and ticket_audit(ticket) == []


def test_every_desk_action_on_a_ticket_is_audit_logged_with_it(app, desk, owner):
    """Reply, note, status, assignment and the dispute decision each write an audit row with the ticket id."""
    dispute = Dispute.create(shop=owner[0], order_number="6928374651029384756", complaint="商品破损",
                             status="PLATFORM_REVIEW")
    ticket = open_ticket(app, *owner, category=TicketCategory.DISPUTE_ESCALATION, dispute_id=dispute.id)
    desk_reply(desk, ticket, "reply", seen_on_page(desk, ticket))
    desk.post(f"/desk/tickets/{ticket.id}/note", data={"note": "note"})
    desk.post(f"/desk/tickets/{ticket.id}/status", data={"status": TicketStatus.WAITING_SUPPORT})
    desk.post(f"/desk/tickets/{ticket.id}/assign")
    desk.post(f"/desk/tickets/{ticket.id}/dispute", data={"outcome": "平台判定：买家退货退款"})
    assert ticket_audit(ticket) == ["ticket.reply", "ticket.note", "ticket.status", "ticket.assign",
                                    "dispute.resolve"]
    assert all(entry.actor.username == "agent-lin" for entry in AuditLog.select())


# --- files and access -----------------------------------------------------------------------------------------

def test_staff_download_any_tickets_files_safely(app, desk, owner):
    """An agent downloads a seller's evidence from the desk, with the same safe headers."""
    ticket = open_ticket(app, *owner, files=[(image_bytes("PNG"), "image/png", ".png", "证据.png")])
    other = open_ticket(app, *owner)
    attachment = Attachment.get()
    response = desk.get(f"/desk/tickets/{ticket.id}/files/{attachment.id}")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert desk.get(f"/desk/tickets/{other.id}/files/{attachment.id}").status_code == 404
    assert Page(desk.get(f"/desk/tickets/{ticket.id}").text).find(
        "a", href=f"/desk/tickets/{ticket.id}/files/{attachment.id}").text == "证据.png"


def test_desk_ticket_urls_are_404_for_sellers(app, owner):
    """Every desk ticket URL, even for the seller's own ticket, answers 404 to a seller and writes nothing."""
    ticket = open_ticket(app, *owner, files=[(image_bytes("PNG"), "image/png", ".png", "a.png")])
    attachment = Attachment.get()
    seed.reference_data()
    client = signed_in(app, owner[1])
    before = (ticket_rows(), AuditLog.select().count(), fresh(ticket).version)
    base = f"/desk/tickets/{ticket.id}"
    for url in (base, f"{base}/files/{attachment.id}", "/desk/canned?canned=RECEIVED"):
        assert client.get(url).status_code == 404, url
        assert client.get(url, headers=HX).status_code == 404, url
    for action, data in (("reply", {"message": "x", "seen_message_id": "99"}), ("note", {"note": "x"}),
                         ("status", {"status": TicketStatus.RESOLVED}), ("assign", {}), ("dispute", {"outcome": "x"})):
        assert client.post(f"{base}/{action}", data=data).status_code == 404, action
    assert (ticket_rows(), AuditLog.select().count(), fresh(ticket).version) == before


def test_finance_may_reply_but_not_decide_disputes(app, owner):
    """Finance answers tickets (money questions) but a dispute decision is an agent's (403)."""
    dispute = Dispute.create(shop=owner[0], order_number="1", complaint="x", status="PLATFORM_REVIEW")
    ticket = open_ticket(app, *owner, dispute_id=dispute.id)
    finance = signed_in(app, staff(Role.FINANCE))
    assert desk_reply(finance, ticket, "打款已安排", seen_on_page(finance, ticket)).status_code == 200
    assert finance.post(f"/desk/tickets/{ticket.id}/dispute", data={"outcome": "x"}).status_code == 403
    assert Dispute.get_by_id(dispute.id).status == "PLATFORM_REVIEW"


def test_an_unknown_ticket_is_404(desk):
    """A ticket id that does not exist answers 404 on the desk."""
    assert desk.get("/desk/tickets/999999").status_code == 404
    assert desk.post("/desk/tickets/999999/note", data={"note": "x"}).status_code == 404
    assert Ticket.select().count() == 0
