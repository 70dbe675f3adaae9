"""Buyer disputes against the database: every rule about them in one place.

A dispute is negotiated by the seller first (who records the agreed outcome); if that fails the
seller asks the platform to step in (the dispute goes to review and a linked ticket opens), and an
agent decides. Open disputes block refunds (the OPEN_DISPUTE pre-check).
"""
from portal.audit import service as audit_service
from portal.core.clock import utcnow
from portal.core.db import write_transaction
from portal.core.vocabulary import OPEN_DISPUTE_STATES, DisputeStatus, TicketCategory
from portal.disputes.models import Dispute
from portal.shops.models import Shop
from portal.tickets import service as ticket_service


def record_dispute_outcome(dispute_id, shop_id, outcome, now=None):
    """The seller and buyer agreed: the seller records the outcome and the dispute is resolved.

    Only while they are still negotiating: once the platform reviews it, the platform decides.
    """
    now = now or utcnow()
    with write_transaction():
        return (Dispute.update(status=DisputeStatus.RESOLVED, outcome=outcome, resolved_at=now)
                .where((Dispute.id == dispute_id) & (Dispute.shop == shop_id)
                       & (Dispute.status == DisputeStatus.NEGOTIATING)).execute()) == 1


def resolve_dispute(dispute_id, user, outcome, now=None, ticket_id=None):
    """An agent decides a dispute the platform was asked to step into (from its ticket, when given)."""
    now = now or utcnow()
    with write_transaction():
        dispute = Dispute.get_by_id(dispute_id)
        changed = (Dispute.update(status=DisputeStatus.RESOLVED, outcome=outcome, resolved_at=now)
                   .where((Dispute.id == dispute_id) & Dispute.status.in_(OPEN_DISPUTE_STATES)).execute())
        if changed:
            audit_service.record(user, "dispute.resolve", None, dispute.shop_id, now, ticket_id=ticket_id,
                                 dispute=dispute_id,
                         outcome=outcome)
    return bool(changed)


def ask_platform(dispute, user, subject, body, upload_dir, calendar, sla_workdays, idempotency_key):
    """Ask the platform to step in: the dispute goes to review and a linked ticket opens.

    Returns the new ticket, or None when the dispute was no longer being negotiated.
    """
    with write_transaction():
        changed = (Dispute.update(status=DisputeStatus.PLATFORM_REVIEW)
                   .where((Dispute.id == dispute.id) & (Dispute.status == DisputeStatus.NEGOTIATING)).execute())
    if not changed:
        return None
    return ticket_service.open_ticket(
        Shop.get_by_id(dispute.shop_id), user, TicketCategory.DISPUTE_ESCALATION, subject, body, [], upload_dir,
        calendar, sla_workdays, idempotency_key, dispute_id=dispute.id)
