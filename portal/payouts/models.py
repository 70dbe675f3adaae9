"""Payout attempts, and the payment gateway's events about them."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from portal.accounts.models import User
from portal.core.clock import utcnow
from portal.core.db import BaseModel, EnumField
from portal.core.vocabulary import PayoutStatus
from portal.refunds.models import RefundRequest


class PayoutAttempt(BaseModel):
    """One attempt to pay a request out, with the unique reference the bank or gateway echoes back."""

    request = ForeignKeyField(RefundRequest, backref="payout_attempts", on_delete="RESTRICT")
    attempt_no = IntegerField()
    reference = CharField(unique=True)  # ours, e.g. PO-12-1: one per attempt, so none is paid twice
    amount_fen = IntegerField()
    status = EnumField(PayoutStatus, default=PayoutStatus.PROCESSING)
    bank_reference = CharField(null=True)
    failure_code = CharField(default="")
    paid_to = CharField(default="")  # the payee account as it was when the attempt started, masked
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    settled_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("request", "attempt_no"), True),)


class WebhookEvent(BaseModel):
    """A payment gateway event, stored by its id so a replay is recognised and handled once."""

    event_id = CharField(unique=True)
    event_type = CharField()
    payout_reference = CharField(default="")
    outcome = CharField()  # APPLIED, STALE (arrived after the attempt was settled)
    payload = TextField()
    received_at = DateTimeField(default=utcnow)
