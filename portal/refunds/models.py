"""Refund requests, the events that moved them, and the reason codes decisions give."""
from peewee import BooleanField, CharField, DateField, DateTimeField, ForeignKeyField, IntegerField, TextField

from portal.accounts.models import User
from portal.core.clock import utcnow
from portal.core.db import BaseModel, EnumField
from portal.core.vocabulary import TERMINAL_STATES, Actor, ReasonKind, RefundKind, RefundState, in_language
from portal.shops.models import Shop


class RefundRequest(BaseModel):
    """A seller's request to get (part of) the deposit back."""

    shop = ForeignKeyField(Shop, backref="refund_requests", on_delete="RESTRICT")
    kind = EnumField(RefundKind)
    requested_fen = IntegerField()
    approved_fen = IntegerField(null=True)
    state = EnumField(RefundState)
    idempotency_key = CharField()
    note = TextField(default="")
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    state_changed_at = DateTimeField(default=utcnow)
    review_starts_at = DateTimeField(null=True)  # end of the waiting period for a full exit
    resubmission_of = ForeignKeyField("self", null=True, backref="resubmissions", on_delete="SET NULL")
    assigned_to = ForeignKeyField(User, null=True, on_delete="SET NULL")
    version = IntegerField(default=1)  # bumped by every transition; the live poll compares it
    due_date = DateField(null=True)  # the last working day of the 3-7 day window: the desk's queue order
    info_due_date = DateField(null=True)  # while NEEDS_INFO: the last day the seller can answer

    class Meta:
        indexes = ((("shop", "idempotency_key"), True),)

    @classmethod
    def for_shop(cls, shop_id):
        """A shop's requests, newest first."""
        return cls.select().where(cls.shop == shop_id).order_by(cls.id.desc())


# At most one request per shop that is not final, enforced by the database itself (a partial unique
# index, which SQLite and PostgreSQL both have), so no race in the app can create a second one.
RefundRequest.add_index(
    RefundRequest.index(RefundRequest.shop, unique=True, name="refund_request_one_open_per_shop")
    .where(RefundRequest.state.not_in(TERMINAL_STATES)))
# The desk's counts read only these two columns of open requests (an index-only scan).
RefundRequest.add_index(
    RefundRequest.index(RefundRequest.due_date, RefundRequest.assigned_to, name="refund_request_open_counts")
    .where(RefundRequest.state.not_in(TERMINAL_STATES)))
# The desk's queue reads open requests by due date; this index serves it at any size.
RefundRequest.add_index(
    RefundRequest.index(RefundRequest.due_date, RefundRequest.id, name="refund_request_open_by_due")
    .where(RefundRequest.state.not_in(TERMINAL_STATES)))


class RefundEvent(BaseModel):
    """One transition of a refund request: the timeline and the audit trail are built from these."""

    request = ForeignKeyField(RefundRequest, backref="events", on_delete="CASCADE")
    actor = ForeignKeyField(User, null=True, on_delete="SET NULL")
    actor_role = EnumField(Actor)
    from_state = EnumField(RefundState, null=True)
    to_state = EnumField(RefundState)
    reason_code = CharField(default="")
    seller_message = TextField(default="")
    # The language the message was written in; empty: the reason's own message, shown in the
    # reader's language, or text from before languages were recorded.
    seller_message_language = CharField(default="")
    internal_note = TextField(default="")
    blocker_codes = CharField(default="")  # pre-check codes that stopped a system step, comma-separated
    created_at = DateTimeField(default=utcnow)


class ReasonCode(BaseModel):
    """A reason an agent or the gateway gives for a decision, with its seller-facing texts in both languages.

    Data, not code: seeded by ``init-db`` and edited with ``flask --app portal reasons``.
    """

    code = CharField(unique=True)
    kind = EnumField(ReasonKind)
    label_zh = CharField()
    label_en = CharField()
    message_zh = TextField(default="")  # the editable template of the message to the seller
    message_en = TextField(default="")
    active = BooleanField(default=True)
    sort_order = IntegerField(default=100)

    def label(self, locale):
        """The label in a locale ('zh_CN' or 'en')."""
        return in_language(locale, self.label_zh, self.label_en)

    def message(self, locale):
        """The message template in a locale."""
        return in_language(locale, self.message_zh, self.message_en)

    @classmethod
    def of_kind(cls, kind):
        """Active codes of one kind, in their display order."""
        return (cls.select().where((cls.kind == kind) & (cls.active == True))  # noqa: E712
                .order_by(cls.sort_order, cls.code))


class RefundAttachment(BaseModel):
    """An evidence file the seller sent with an answer to support's question, stored like a ticket's."""

    request = ForeignKeyField(RefundRequest, backref="attachments", on_delete="CASCADE")
    event = ForeignKeyField(RefundEvent, backref="attachments", on_delete="CASCADE")  # the answer
    stored_name = CharField(unique=True)
    original_name = CharField()
    content_type = CharField()
    size = IntegerField()
    created_at = DateTimeField(default=utcnow)

    @classmethod
    def of_request(cls, request_id, attachment_id):
        """One file of one request, or None (a file of another request is not found)."""
        return cls.get_or_none((cls.id == attachment_id) & (cls.request == request_id))
