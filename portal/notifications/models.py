"""In-app notifications, and the e-mails sent for them."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from portal.accounts.models import User
from portal.core.clock import utcnow
from portal.core.db import BaseModel, EnumField
from portal.core.vocabulary import EmailStatus, RefundState
from portal.refunds.models import RefundEvent, RefundRequest


class Notification(BaseModel):
    """An in-app notice to one user about one seller-visible change of a request."""

    user = ForeignKeyField(User, backref="notifications", on_delete="CASCADE")
    request = ForeignKeyField(RefundRequest, null=True, on_delete="CASCADE")
    event = ForeignKeyField(RefundEvent, null=True, on_delete="CASCADE")
    state = EnumField(RefundState)  # the state the request moved to
    created_at = DateTimeField(default=utcnow)
    read_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("user", "event"), True), (("user", "read_at"), False))

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
