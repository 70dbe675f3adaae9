"""Support tickets: the thread, its evidence files, and the canned replies agents use."""
from peewee import BooleanField, CharField, DateField, DateTimeField, ForeignKeyField, IntegerField, TextField

from portal.accounts.models import User
from portal.core.clock import utcnow
from portal.core.db import BaseModel, EnumField
from portal.core.vocabulary import Actor, MessageKind, TicketCategory, TicketStatus
from portal.disputes.models import Dispute
from portal.refunds.models import RefundRequest
from portal.risk.models import RiskFlag
from portal.shops.models import Shop


class Ticket(BaseModel):
    """A seller's support case: a thread of messages, with whose turn it is and an SLA due date."""

    shop = ForeignKeyField(Shop, backref="tickets", on_delete="RESTRICT")
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    category = EnumField(TicketCategory)
    subject = CharField()
    refund_request = ForeignKeyField(RefundRequest, null=True, backref="tickets", on_delete="SET NULL")
    dispute = ForeignKeyField(Dispute, null=True, backref="tickets", on_delete="SET NULL")
    risk_flag = ForeignKeyField(RiskFlag, null=True, backref="tickets", on_delete="SET NULL")
    status = EnumField(TicketStatus, default=TicketStatus.WAITING_SUPPORT)
    assigned_to = ForeignKeyField(User, null=True, on_delete="SET NULL")
    due_date = DateField(null=True)  # in working days; pushed back by the time spent waiting on the seller
    paused_at = DateTimeField(null=True)  # set while waiting on the seller: the SLA clock is stopped
    version = IntegerField(default=1)  # bumped by every message or status change; the live poll compares it
    idempotency_key = CharField()
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("shop", "idempotency_key"), True), (("status", "due_date"), False))


class TicketMessage(BaseModel):
    """One message of a ticket's thread: the seller's, support's, an internal note, or a calculation."""

    ticket = ForeignKeyField(Ticket, backref="messages", on_delete="CASCADE")
    author = ForeignKeyField(User, null=True, on_delete="SET NULL")
    author_role = EnumField(Actor)
    kind = EnumField(MessageKind, default=MessageKind.MESSAGE)
    body = TextField()
    language = CharField(default="")  # the language the author wrote in (its script, else their page's)
    created_at = DateTimeField(default=utcnow)

    @classmethod
    def visible_to_seller(cls, ticket_id):
        """A thread as the seller sees it: internal notes are not even selected."""
        return (cls.select().where((cls.ticket == ticket_id) & (cls.kind != MessageKind.INTERNAL_NOTE))
                .order_by(cls.id))


class Attachment(BaseModel):
    """An evidence file of a message, stored under UPLOAD_DIR with a random name."""

    ticket = ForeignKeyField(Ticket, backref="attachments", on_delete="CASCADE")
    message = ForeignKeyField(TicketMessage, backref="attachments", on_delete="CASCADE")
    stored_name = CharField(unique=True)
    original_name = CharField()
    content_type = CharField()
    size = IntegerField()
    created_at = DateTimeField(default=utcnow)


class CannedReply(BaseModel):
    """A prepared answer agents insert and edit, in both languages."""

    code = CharField(unique=True)
    title_zh = CharField()
    title_en = CharField()
    body_zh = TextField()
    body_en = TextField()
    active = BooleanField(default=True)
