"""Buyer disputes: negotiate and record the outcome, ask the platform to step in, the desk decides."""
import datetime

import pytest

from portal.audit import service as audit_service
from portal.audit.models import AuditLog
from portal.core.vocabulary import TicketCategory, TicketStatus
from portal.disputes.models import Dispute
from portal.tickets.models import Ticket
from tests.desk_helpers import text_of
from tests.factories import Page, check_codes, days_ago, ready_seller
from tests.ticket_helpers import HX, agent_client, assert_escaped, open_ticket, signed_in, xss

ORDER = "6928374651029384756"
COMPLAINT = "买家称收到的商品已过期，要求退款并赔偿。"


@pytest.fixture
def shop_and_seller(app):
    """A seller nothing else blocks; returns ``(shop, user)``."""
    return ready_seller()


@pytest.fixture
def seller_client(app, shop_and_seller):
    """The seller's browser (English)."""
    return signed_in(app, shop_and_seller[1])


@pytest.fixture
def dispute(shop_and_seller):
    """The shop's one open dispute, still being negotiated."""
    return Dispute.create(shop=shop_and_seller[0], order_number=ORDER, complaint=COMPLAINT, opened_at=days_ago(4))


@pytest.fixture
def desk(app):
    """A support agent's browser (English)."""
    return agent_client(app, "agent-lin")[1]


def fresh(dispute):
    """The dispute as the database holds it now."""
    return Dispute.get_by_id(dispute.id)


def record(client, dispute, outcome="已与买家协商一致：全额退款。"):
    """The seller records the negotiated outcome."""
    return client.post(f"/disputes/{dispute.id}/outcome", data={"outcome": outcome})


def escalate(client, dispute, htmx=False):
    """The seller asks the platform to step in."""
    return client.post(f"/disputes/{dispute.id}/escalate", headers=HX if htmx else {})


def blocked_by_disputes(client):
    """Whether the refund form shows the OPEN_DISPUTE blocker."""
    return "OPEN_DISPUTE" in check_codes(client.get("/refunds/new").text)


def dispute_audits():
    """The dispute decisions in the audit log, with their details."""
    return [(entry, audit_service.details_of(entry)) for entry in
            AuditLog.select().where(AuditLog.action == "dispute.resolve").order_by(AuditLog.id)]


# --- the seller's page -----------------------------------------------------------------------------------

def test_the_seller_sees_open_disputes_first_with_order_complaint_and_status(seller_client, shop_and_seller,
                                                                               dispute):
    """Open disputes come before resolved ones, each with its order, complaint, status and next steps."""
    shop, _seller = shop_and_seller
    reviewing = Dispute.create(shop=shop, order_number="111222333", complaint="未按时发货", status="PLATFORM_REVIEW")
    done = Dispute.create(shop=shop, order_number="999888777", complaint="少发配件", status="RESOLVED",
                          outcome="补发配件", resolved_at=days_ago(1))
    html = seller_client.get("/disputes").text
    sections = Page(html).find_all("section", data_dispute_status=True)
    assert [section["id"] for section in sections] == [f"dispute-{reviewing.id}", f"dispute-{dispute.id}",
                                                       f"dispute-{done.id}"]
    negotiating = Page(html).find("section", id=f"dispute-{dispute.id}").text
    for shown in (f"Order {ORDER}", COMPLAINT, "Negotiating with the buyer", "Record the agreement",
                  "Ask the platform to step in"):
        assert shown in negotiating
    assert "The platform is reviewing" in Page(html).find("section", id=f"dispute-{reviewing.id}").text
    resolved = Page(html).find("section", id=f"dispute-{done.id}").text
    assert "Resolved" in resolved and "Outcome: 补发配件" in resolved and "Record the agreement" not in resolved


def test_no_disputes_says_so(seller_client):
    """Without disputes the page says there are none."""
    assert "No buyer disputes." in seller_client.get("/disputes").text


def test_the_open_dispute_blocker_links_to_the_dispute_page(seller_client, dispute):
    """The refund form's OPEN_DISPUTE finding says what to do and links to /disputes."""
    html = seller_client.get("/refunds/new").text
    check = Page(html).find("li", data_check="OPEN_DISPUTE")
    assert "ask the platform to step in" in check.text
    assert Page(html).with_class("fix", "a")[0]["href"] == "/disputes"


# --- negotiated outcome -----------------------------------------------------------------------------------

def test_recording_the_agreement_resolves_the_only_dispute_and_unblocks_refunds(seller_client, dispute):
    """The outcome is stored, the dispute resolved, and the OPEN_DISPUTE blocker gone from the refund form."""
    assert blocked_by_disputes(seller_client)
    response = record(seller_client, dispute)
    assert response.status_code == 303 and response.headers["Location"] == "/disputes"
    resolved = fresh(dispute)
    assert (resolved.status, resolved.outcome) == ("RESOLVED", "已与买家协商一致：全额退款。")
    assert resolved.resolved_at is not None
    html = seller_client.get("/disputes").text
    assert "Recorded. The dispute is resolved." in html and "Outcome: 已与买家协商一致：全额退款。" in text_of(html)
    assert not blocked_by_disputes(seller_client)


def test_a_too_long_agreement_comes_back_with_what_was_typed(seller_client, dispute):
    """An outcome over the limit is refused with a message beside the field, the text kept, nothing stored."""
    typed = "协商结果：" + "全" * 2100
    response = record(seller_client, dispute, typed)
    assert response.status_code == 422
    assert typed in response.text and 'aria-invalid="true"' in response.text
    assert fresh(dispute).status == "NEGOTIATING"


def test_resolving_one_of_two_disputes_still_blocks(seller_client, shop_and_seller, dispute):
    """With another dispute still open, the refund stays blocked."""
    Dispute.create(shop=shop_and_seller[0], order_number="222", complaint="破损")
    record(seller_client, dispute)
    assert fresh(dispute).status == "RESOLVED" and blocked_by_disputes(seller_client)


def test_an_empty_agreement_changes_nothing(seller_client, dispute):
    """Without a description the dispute stays open and the page asks for one."""
    response = record(seller_client, dispute, "  ")
    assert response.status_code == 422
    assert fresh(dispute).status == "NEGOTIATING"
    assert "Describe the agreement, e.g. a full refund to the buyer." in response.text


def test_a_dispute_under_review_cannot_be_settled_by_the_seller_alone(seller_client, dispute):
    """Once the platform reviews it, the seller's "agreement" is refused with a message."""
    Dispute.update(status="PLATFORM_REVIEW").where(Dispute.id == dispute.id).execute()
    record(seller_client, dispute)
    assert fresh(dispute).status == "PLATFORM_REVIEW" and fresh(dispute).outcome == ""
    assert "This dispute is no longer open." in seller_client.get("/disputes").text


# --- platform intervention --------------------------------------------------------------------------------

def test_asking_the_platform_opens_a_linked_ticket(seller_client, dispute):
    """The dispute goes to review, a DISPUTE_ESCALATION ticket opens linked to it, and the seller lands on it."""
    response = escalate(seller_client, dispute)
    ticket = Ticket.get()
    assert response.status_code == 303 and response.headers["Location"] == f"/tickets/{ticket.id}"
    assert fresh(dispute).status == "PLATFORM_REVIEW"
    assert (ticket.category, ticket.dispute_id, ticket.status) == (TicketCategory.DISPUTE_ESCALATION, dispute.id,
                                                                   TicketStatus.WAITING_SUPPORT)
    assert ORDER in ticket.subject
    page = seller_client.get(f"/tickets/{ticket.id}").text
    assert "The platform will look at the dispute. Add your evidence to the ticket." in page
    card = Page(seller_client.get("/disputes").text).find("section", id=f"dispute-{dispute.id}")
    assert "The platform is reviewing" in card.text and "Follow the ticket" in card.text
    assert blocked_by_disputes(seller_client)  # still open until the platform decides


def test_asking_twice_leads_to_the_same_ticket(seller_client, dispute):
    """A second request (htmx this time) goes to the existing ticket; no second ticket opens."""
    first = escalate(seller_client, dispute)
    second = escalate(seller_client, dispute, htmx=True)
    assert second.status_code == 204 and second.headers["HX-Redirect"] == first.headers["Location"]
    assert Ticket.select().count() == 1


def test_another_sellers_dispute_is_404(app, dispute):
    """Another seller can neither record an outcome for nor escalate someone else's dispute."""
    _shop, intruder = ready_seller()
    client = signed_in(app, intruder)
    assert record(client, dispute).status_code == 404
    assert escalate(client, dispute).status_code == 404
    assert fresh(dispute).status == "NEGOTIATING" and Ticket.select().count() == 0
    assert f"Order {ORDER}" not in client.get("/disputes").text


# --- the desk decides -------------------------------------------------------------------------------------------

def test_the_agent_decides_from_the_ticket_page(seller_client, dispute, desk):
    """The agent's decision on the escalation ticket resolves the dispute (audit-logged) and unblocks refunds."""
    escalate(seller_client, dispute)
    ticket = Ticket.get()
    page = desk.get(f"/desk/tickets/{ticket.id}").text
    assert f"Order {ORDER}" in page and COMPLAINT in page
    response = desk.post(f"/desk/tickets/{ticket.id}/dispute", data={"outcome": "平台判定：卖家全额退款。"}, headers=HX)
    assert response.status_code == 200
    assert Page(response.text).find(role="status").text == "The dispute is resolved."
    assert "Resolved: 平台判定：卖家全额退款。" in text_of(response.text)
    assert (fresh(dispute).status, fresh(dispute).outcome) == ("RESOLVED", "平台判定：卖家全额退款。")
    [(entry, details)] = dispute_audits()
    assert (entry.ticket_id, entry.shop_id, details["dispute"]) == (ticket.id, dispute.shop_id, dispute.id)
    assert "Outcome: 平台判定：卖家全额退款。" in text_of(seller_client.get("/disputes").text)
    assert not blocked_by_disputes(seller_client)
    again = desk.post(f"/desk/tickets/{ticket.id}/dispute", data={"outcome": "second"}, headers=HX)
    assert Page(again.text).find(role="status").text == "That dispute was already resolved."
    assert len(dispute_audits()) == 1 and fresh(dispute).outcome == "平台判定：卖家全额退款。"


def test_a_too_long_decision_on_the_shop_page_keeps_the_text(shop_and_seller, dispute, desk):
    """A refused decision comes back (422) with the agent's text in the dispute's field; nothing decided."""
    shop, _seller = shop_and_seller
    typed = "平台判定" * 600
    response = desk.post(f"/desk/shops/{shop.id}/disputes",
                         data={"dispute-dispute_id": str(dispute.id), "dispute-outcome": typed})
    assert response.status_code == 422 and typed in response.text
    assert fresh(dispute).status == "NEGOTIATING"


def test_the_agent_decides_from_the_shop_page(seller_client, shop_and_seller, dispute, desk):
    """The shop page resolves the dispute too, audit-logged; a second decision changes nothing."""
    shop, _seller = shop_and_seller
    url = f"/desk/shops/{shop.id}/disputes"
    response = desk.post(url, data={"dispute-dispute_id": str(dispute.id), "dispute-outcome": "驳回买家诉求"})
    assert response.status_code == 303 and response.headers["Location"] == f"/desk/shops/{shop.id}"
    assert "The dispute is resolved." in desk.get(f"/desk/shops/{shop.id}").text
    assert (fresh(dispute).status, fresh(dispute).outcome) == ("RESOLVED", "驳回买家诉求")
    assert len(dispute_audits()) == 1
    desk.post(url, data={"dispute-dispute_id": str(dispute.id), "dispute-outcome": "again"})
    assert "That dispute was already resolved." in desk.get(f"/desk/shops/{shop.id}").text
    assert len(dispute_audits()) == 1 and not blocked_by_disputes(seller_client)


def test_the_shop_page_does_not_decide_another_shops_dispute(shop_and_seller, desk, app):
    """A dispute id of another shop posted through this shop's page answers 404 and changes nothing."""
    other_shop, _other = ready_seller()
    other = Dispute.create(shop=other_shop, order_number="333", complaint="x")
    response = desk.post(f"/desk/shops/{shop_and_seller[0].id}/disputes",
                         data={"dispute-dispute_id": str(other.id), "dispute-outcome": "x"})
    assert response.status_code == 404 and fresh(other).status == "NEGOTIATING" and dispute_audits() == []


def test_a_ticket_without_a_dispute_has_no_dispute_decision(seller_client, desk, shop_and_seller, app):
    """Posting a decision to a ticket that is not about a dispute answers 404."""
    ticket = open_ticket(app, *shop_and_seller)
    assert desk.post(f"/desk/tickets/{ticket.id}/dispute", data={"outcome": "x"}).status_code == 404
    assert dispute_audits() == []


# --- markup -------------------------------------------------------------------------------------------------------

def test_markup_in_outcomes_and_complaints_shows_as_text(seller_client, shop_and_seller, desk):
    """A complaint and the seller's and the agent's outcomes with script come back escaped everywhere."""
    shop, _seller = shop_and_seller
    settled = Dispute.create(shop=shop, order_number="1", complaint=xss("complaint"),
                             opened_at=datetime.datetime(2025, 1, 2))
    decided = Dispute.create(shop=shop, order_number="2", complaint="x")
    record(seller_client, settled, xss("seller outcome"))
    escalate(seller_client, decided)
    ticket = Ticket.get()
    desk.post(f"/desk/tickets/{ticket.id}/dispute", data={"outcome": xss("agent outcome")})
    disputes_page = seller_client.get("/disputes").text
    shop_page = desk.get(f"/desk/shops/{shop.id}").text
    for label in ("complaint", "seller outcome", "agent outcome"):
        assert_escaped(disputes_page, label)
        assert_escaped(shop_page, label)
    assert_escaped(desk.get(f"/desk/tickets/{ticket.id}").text, "agent outcome")
