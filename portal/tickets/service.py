"""Tickets against the database: open, reply, change status, keep the SLA clock honest.

Whose turn it is follows from the status: WAITING_SUPPORT (support's), WAITING_SELLER (the
seller's; the SLA clock is paused), RESOLVED (nobody's, until the seller writes again). The due
date counts working days; time spent waiting on the seller pushes it back by as many working days.
"""
import json
import os

from peewee import IntegrityError

from portal.audit import service as audit_service
from portal.core.clock import utcnow
from portal.core.db import lock_for_update, write_transaction
from portal.core.vocabulary import N_, Actor, EntryType, MessageKind, RefundKind, Role, TicketCategory, TicketStatus
from portal.deposit import ledger
from portal.deposit.models import LedgerEntry
from portal.deposit.service import deposit_figures
from portal.notifications.service import notify_ticket_reply
from portal.tickets import evidence
from portal.tickets.models import Attachment, Ticket, TicketMessage

CATEGORIES = {
    TicketCategory.REFUND_APPEAL: N_("Appeal a rejected refund"),
    TicketCategory.WRONG_AMOUNT: N_("The amount is wrong"),
    TicketCategory.ACCOUNT_APPEAL: N_("Account anomaly or ban appeal"),
    TicketCategory.VIOLATION_APPEAL: N_("Appeal a violation"),
    TicketCategory.ARREARS: N_("Money owed to the platform"),
    TicketCategory.PAYEE: N_("Payee details"),
    TicketCategory.DISPUTE_ESCALATION: N_("Buyer dispute: platform intervention"),
    TicketCategory.OTHER: N_("Something else"),
}

STATUSES = {
    TicketStatus.WAITING_SUPPORT: N_("Waiting for support"),
    TicketStatus.WAITING_SELLER: N_("Waiting for you"),
    TicketStatus.RESOLVED: N_("Resolved"),
}
# The same statuses as the desk reads them: where the seller is told "waiting for you", staff are
# told who they wait for.
STAFF_STATUSES = {
    TicketStatus.WAITING_SUPPORT: N_("Waiting for support"),
    TicketStatus.WAITING_SELLER: N_("Waiting for the seller"),
    TicketStatus.RESOLVED: N_("Resolved"),
}


class TicketConflict(Exception):
    """Messages arrived since the agent loaded the thread; ``messages`` are the new ones."""

    def __init__(self, messages):
        super().__init__(len(messages))
        self.messages = messages


def amount_calculation(shop):
    """The itemised refundable calculation a "wrong amount" ticket carries, as JSON text."""
    figures = deposit_figures(shop)
    deductions = [
        {"entry": entry.id, "type": entry.entry_type, "amount_fen": entry.amount_fen, "reason": entry.reason,
         "violation": entry.violation.code if entry.violation_id else None, "at": entry.created_at.isoformat()}
        for entry in LedgerEntry.select()
        .where((LedgerEntry.shop == shop.id)
               & LedgerEntry.entry_type.in_((EntryType.DEDUCTION, EntryType.DEDUCTION_REVERSAL)))
        .order_by(LedgerEntry.id)
    ]
    return json.dumps({
        "paid_in_fen": figures.paid_in, "deducted_fen": figures.deducted, "balance_fen": figures.balance,
        "frozen_fen": figures.frozen, "held_fen": figures.held, "required_fen": figures.required,
        "refundable_fen": ledger.refundable(figures, RefundKind.SURPLUS, shop.banned, shop.ban_reason).fen,
        "deductions": deductions,
    })


def _store_files(files, upload_dir):
    """Write cleaned files to disk first; returns their records for the database."""
    stored = []
    for data, content_type, extension, name in files:
        stored.append((evidence.store(upload_dir, data, extension), name, content_type, len(data), extension))
    return stored


def _remove_files(stored, upload_dir):
    """Take back files whose database rows were never written."""
    for stored_name, *_rest in stored:
        try:
            os.remove(evidence.path_for(upload_dir, stored_name))
        except OSError:
            pass


def _attach(ticket_id, message_id, stored, now):
    """Rows for a message's stored files."""
    for stored_name, name, content_type, size, extension in stored:
        Attachment.create(ticket=ticket_id, message=message_id, stored_name=stored_name,
                          original_name=evidence.safe_download_name(name, extension), content_type=content_type,
                          size=size, created_at=now)


def open_ticket(shop, user, category, subject, body, files, upload_dir, calendar, sla_workdays,
                idempotency_key, refund_request_id=None, dispute_id=None, risk_flag_id=None, now=None, language=""):
    """Open a ticket with its first message and files; the same key twice returns the first ticket."""
    now = now or utcnow()
    existing = Ticket.get_or_none((Ticket.shop == shop.id) & (Ticket.idempotency_key == idempotency_key))
    if existing is not None:
        return existing
    stored = _store_files(files, upload_dir)
    try:
        with write_transaction():
            ticket = Ticket.create(
                shop=shop.id, created_by=user.id, category=category, subject=subject,
                status=TicketStatus.WAITING_SUPPORT,
                refund_request=refund_request_id, dispute=dispute_id, risk_flag=risk_flag_id,
                due_date=calendar.add_workdays(now, sla_workdays), idempotency_key=idempotency_key,
                created_at=now, updated_at=now)
            message = TicketMessage.create(ticket=ticket.id, author=user.id, author_role=user.role, body=body,
                                           language=language, created_at=now)
            _attach(ticket.id, message.id, stored, now)
            if category == TicketCategory.WRONG_AMOUNT:
                TicketMessage.create(ticket=ticket.id, author=None, author_role=Actor.SYSTEM,
                                     kind=MessageKind.CALCULATION,
                                     body=amount_calculation(shop), created_at=now)
    except IntegrityError:
        _remove_files(stored, upload_dir)
        again = Ticket.get_or_none((Ticket.shop == shop.id) & (Ticket.idempotency_key == idempotency_key))
        if again is None:
            raise
        return again
    except Exception:
        _remove_files(stored, upload_dir)
        raise
    return ticket


def new_messages_since(ticket_id, seen_message_id):
    """Thread messages (not internal notes) that arrived after the one the reader last saw."""
    return list(TicketMessage.select()
                .where((TicketMessage.ticket == ticket_id) & (TicketMessage.id > seen_message_id)
                       & (TicketMessage.kind != MessageKind.INTERNAL_NOTE))
                .order_by(TicketMessage.id))


def _resume_clock(ticket, calendar, now):
    """Push the due date back by the working days spent waiting on the seller."""
    if ticket.paused_at is None or ticket.due_date is None:
        return ticket.due_date
    paused = calendar.workdays_between(ticket.paused_at, now)
    return calendar.add_workdays(ticket.due_date, paused) if paused > 0 else ticket.due_date


def reply(ticket_id, user, body, files, upload_dir, calendar, *, internal=False, seen_message_id=None,
          resolve=False, now=None, language=""):
    """Add a message (or an internal note) and move the ticket to whoever's turn it is now.

    A staff reply with ``seen_message_id`` is held back (``TicketConflict``) when other messages
    arrived since: nobody answers blind.
    """
    now = now or utcnow()
    staff = user.role != Role.SELLER
    stored = _store_files(files, upload_dir)
    try:
        with write_transaction():
            ticket = lock_for_update(Ticket.select().where(Ticket.id == ticket_id)).get()
            if staff and not internal and seen_message_id is not None:
                arrived = [message for message in new_messages_since(ticket.id, seen_message_id)
                           if message.author_id != user.id]
                if arrived:
                    raise TicketConflict(arrived)
            message = TicketMessage.create(ticket=ticket.id, author=user.id, author_role=user.role,
                                           kind=MessageKind.INTERNAL_NOTE if internal else MessageKind.MESSAGE,
                                           body=body, language=language, created_at=now)
            _attach(ticket.id, message.id, stored, now)
            changes = {Ticket.version: Ticket.version + 1, Ticket.updated_at: now}
            if not staff:
                # The seller wrote: support's turn again (a resolved ticket reopens), clock running.
                changes[Ticket.status] = TicketStatus.WAITING_SUPPORT
                changes[Ticket.due_date] = _resume_clock(ticket, calendar, now)
                changes[Ticket.paused_at] = None
            elif not internal:
                changes[Ticket.status] = TicketStatus.RESOLVED if resolve else TicketStatus.WAITING_SELLER
                if ticket.paused_at is None:
                    changes[Ticket.paused_at] = now
            Ticket.update(changes).where(Ticket.id == ticket.id).execute()
            if staff:
                audit_service.record(user, "ticket.note" if internal else "ticket.reply", None, ticket.shop_id, now,
                             ticket_id=ticket.id, message=message.id, resolved=bool(resolve))
            if staff and not internal:
                notify_ticket_reply(ticket, message, now)
    except Exception:
        _remove_files(stored, upload_dir)
        raise
    return message


def set_status(ticket_id, user, status, calendar, now=None):
    """Staff change a ticket's status (e.g. resolve it, or take it back from the seller)."""
    now = now or utcnow()
    with write_transaction():
        ticket = lock_for_update(Ticket.select().where(Ticket.id == ticket_id)).get()
        changes = {Ticket.status: status, Ticket.version: Ticket.version + 1, Ticket.updated_at: now}
        if status == TicketStatus.WAITING_SELLER and ticket.paused_at is None:
            changes[Ticket.paused_at] = now
        elif status != TicketStatus.WAITING_SELLER and ticket.paused_at is not None:
            changes[Ticket.due_date] = _resume_clock(ticket, calendar, now)
            changes[Ticket.paused_at] = None
        Ticket.update(changes).where(Ticket.id == ticket.id).execute()
        audit_service.record(user, "ticket.status", None, ticket.shop_id, now, ticket_id=ticket.id,
                     previous=ticket.status, status=status)


def assign(ticket_id, user, now=None):
    """An agent takes a ticket."""
    now = now or utcnow()
    with write_transaction():
        ticket = Ticket.get_by_id(ticket_id)
        (Ticket.update(assigned_to=user.id, version=Ticket.version + 1, updated_at=now)
         .where(Ticket.id == ticket_id).execute())
        audit_service.record(user, "ticket.assign", None, ticket.shop_id, now, ticket_id=ticket_id,
                     previous=ticket.assigned_to_id)


def parse_calculation(message):
    """The itemised calculation stored on a CALCULATION message (None when it cannot be read)."""
    try:
        return json.loads(message.body)
    except ValueError:
        return None
