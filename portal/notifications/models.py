"""In-app notifications, and the e-mails sent for them."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from portal.accounts.models import User
from portal.core.clock import utcnow
from portal.core.db import BaseModel, EnumField
from portal.core.vocabulary import EmailStatus, RefundState
from portal.refunds.models import RefundEvent, RefundRequest
from portal.tickets.models import Ticket, TicketMessage


class Notification(BaseModel):
    """An in-app notice to one user: a seller-visible change of a request, or support's reply to a ticket."""

    user = ForeignKeyField(User, backref="notifications", on_delete="CASCADE")
    request = ForeignKeyField(RefundRequest, null=True, on_delete="CASCADE")
    event = ForeignKeyField(RefundEvent, null=True, on_delete="CASCADE")
    state = EnumField(RefundState, null=True)  # the state the request moved to (None for a ticket reply)
    ticket = ForeignKeyField(Ticket, null=True, on_delete="CASCADE")
    ticket_message = ForeignKeyField(TicketMessage, null=True, on_delete="CASCADE")  # support's reply
    created_at = DateTimeField(default=utcnow)
    read_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("user", "event"), True), (("user", "read_at"), False), (("user", "ticket_message"), True))

    @classmethod
    def unread_count(cls, user_id):
        """How many notices the user has not opened."""
        return cls.select().where((cls.user == user_id) & cls.read_at.is_null()).count()


class OutboxEmail(BaseModel):
    """An e-mail to send for a notification: at most one per notification, sent by ``tick``."""

    notification = ForeignKeyField(Notification, unique=True, on_delete="CASCADE")
    to_address = CharField()
    message_id = CharField(unique=True)  # stable across retries, so a receiver can drop a repeat
    status = EnumField(EmailStatus, default=EmailStatus.PENDING)
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(default=utcnow, index=True)
    claimed_at = DateTimeField(null=True)
    sent_at = DateTimeField(null=True)
    subject = TextField(default="")
    last_error = TextField(default="")
    created_at = DateTimeField(default=utcnow)
