"""The portal's tables, and the queries that belong to one table as classmethods."""
from peewee import (
    BooleanField,
    Case,
    CharField,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
    fn,
)

from portal import ledger, workflow
from portal.db import BaseModel, utcnow

SELLER = "seller"
AGENT = "agent"
FINANCE = "finance"
ROLES = (SELLER, AGENT, FINANCE)


class Shop(BaseModel):
    """A seller's shop: its registered entity and the platform facts the pre-checks use.

    Order, after-sales and last-order facts are synced from the platform's order system; the portal
    only reads them.
    """

    name = CharField()
    entity_name = CharField()  # 主体名称: the registered company or person the shop belongs to
    status = CharField(default="ACTIVE")  # ACTIVE or BANNED
    banned_at = DateTimeField(null=True)
    ban_reason = TextField(default="")
    last_order_at = DateTimeField(null=True)
    unfinished_orders = IntegerField(default=0)
    open_after_sales = IntegerField(default=0)
    exit_notice_at = DateTimeField(null=True)
    contact_name = CharField(default="")
    contact_phone = CharField(default="")
    created_at = DateTimeField(default=utcnow)

    @property
    def banned(self):
        """True when the platform has banned the shop."""
        return self.status == "BANNED"

    def profile_missing(self):
        """Names of the profile fields support needs but the shop has not filled in."""
        missing = []
        if not self.contact_name.strip():
            missing.append("contact_name")
        if not self.contact_phone.strip():
            missing.append("contact_phone")
        return tuple(missing)


class User(BaseModel):
    """Someone who signs in: a seller (with a shop), a support agent or a finance officer."""

    username = CharField(unique=True)
    password_hash = CharField()
    role = CharField(default=SELLER)
    display_name = CharField(default="")
    shop = ForeignKeyField(Shop, null=True, backref="users", on_delete="RESTRICT")
    email = CharField(null=True)  # where notifications are mailed, when SMTP is configured
    locale = CharField(default="zh_CN")  # the language of those e-mails
    active = BooleanField(default=True)
    created_at = DateTimeField(default=utcnow)

    # Flask-Login's user protocol.
    is_anonymous = False

    @property
    def is_authenticated(self):
        """Flask-Login: a loaded user is signed in."""
        return True

    @property
    def is_active(self):
        """Flask-Login: a deactivated account cannot sign in."""
        return self.active

    def get_id(self):
        """Flask-Login: the id kept in the session."""
        return str(self.id)

    @property
    def is_staff(self):
        """Support agents and finance officers use the desk."""
        return self.role in (AGENT, FINANCE)


class LoginAttempt(BaseModel):
    """One sign-in attempt, kept to throttle guessing per account and per address."""

    username = CharField(index=True)
    address = CharField(index=True)
    succeeded = BooleanField()
    created_at = DateTimeField(default=utcnow, index=True)


class CategoryRequirement(BaseModel):
    """The deposit one business category requires of a shop."""

    shop = ForeignKeyField(Shop, backref="categories", on_delete="CASCADE")
    code = CharField()
    name_zh = CharField()
    name_en = CharField()
    required_fen = IntegerField()

    class Meta:
        indexes = ((("shop", "code"), True),)


class Violation(BaseModel):
    """A rule violation found against a shop; an open one blocks refunds."""

    shop = ForeignKeyField(Shop, backref="violations", on_delete="CASCADE")
    code = CharField()
    description = TextField()
    status = CharField(default="OPEN")  # OPEN, CLOSED
    opened_at = DateTimeField(default=utcnow)
    closed_at = DateTimeField(null=True)

    @classmethod
    def open_for(cls, shop_id):
        """Open violations of a shop, newest first."""
        return cls.select().where((cls.shop == shop_id) & (cls.status == "OPEN")).order_by(cls.id.desc())


class Dispute(BaseModel):
    """A trade dispute with a buyer; open ones block refunds until resolved."""

    shop = ForeignKeyField(Shop, backref="disputes", on_delete="CASCADE")
    order_number = CharField()
    complaint = TextField()
    status = CharField(default="NEGOTIATING")  # NEGOTIATING, PLATFORM_REVIEW, RESOLVED
    outcome = TextField(default="")
    opened_at = DateTimeField(default=utcnow)
    resolved_at = DateTimeField(null=True)

    OPEN_STATES = ("NEGOTIATING", "PLATFORM_REVIEW")

    @classmethod
    def open_for(cls, shop_id):
        """Open disputes of a shop, newest first."""
        return (cls.select()
                .where((cls.shop == shop_id) & (cls.status.in_(cls.OPEN_STATES)))
                .order_by(cls.id.desc()))


class Arrear(BaseModel):
    """Money the shop owes the platform (fees, compensation not covered by the deposit)."""

    shop = ForeignKeyField(Shop, backref="arrears", on_delete="CASCADE")
    amount_fen = IntegerField()
    reason = TextField()
    status = CharField(default="OPEN")  # OPEN, SETTLED
    created_at = DateTimeField(default=utcnow)

    @classmethod
    def open_for(cls, shop_id):
        """Unsettled arrears of a shop."""
        return cls.select().where((cls.shop == shop_id) & (cls.status == "OPEN")).order_by(cls.id.desc())


class PayeeAccount(BaseModel):
    """Where a shop's refunds are paid (收款信息): one per shop, replaced on change."""

    shop = ForeignKeyField(Shop, backref="payee_accounts", unique=True, on_delete="CASCADE")
    holder_name = CharField()
    account_type = CharField()  # CORPORATE or PERSONAL
    bank_name = CharField()
    account_number = CharField()
    updated_at = DateTimeField(default=utcnow)

    @property
    def masked_number(self):
        """The account number as shown: only the last four digits."""
        digits = self.account_number
        return "•••• " + digits[-4:] if len(digits) > 4 else "••••"


class PayeeChange(BaseModel):
    """A record of each change to the payee details, for the recently-changed warning and audit."""

    shop = ForeignKeyField(Shop, backref="payee_changes", on_delete="CASCADE")
    changed_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    changed_at = DateTimeField(default=utcnow, index=True)
    summary = TextField()  # what changed, with account numbers masked

    @classmethod
    def latest_at(cls, shop_id):
        """When the shop's payee details last changed (None if never)."""
        return cls.select(fn.MAX(cls.changed_at)).where(cls.shop == shop_id).scalar()


class RefundRequest(BaseModel):
    """A seller's request to get (part of) the deposit back."""

    shop = ForeignKeyField(Shop, backref="refund_requests", on_delete="RESTRICT")
    kind = CharField()  # FULL_EXIT or SURPLUS
    requested_fen = IntegerField()
    approved_fen = IntegerField(null=True)
    state = CharField()
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
    .where(RefundRequest.state.not_in(workflow.TERMINAL_STATES)))
# The desk's counts read only these two columns of open requests (an index-only scan).
RefundRequest.add_index(
    RefundRequest.index(RefundRequest.due_date, RefundRequest.assigned_to, name="refund_request_open_counts")
    .where(RefundRequest.state.not_in(workflow.TERMINAL_STATES)))
# The desk's queue reads open requests by due date; this index serves it at any size.
RefundRequest.add_index(
    RefundRequest.index(RefundRequest.due_date, RefundRequest.id, name="refund_request_open_by_due")
    .where(RefundRequest.state.not_in(workflow.TERMINAL_STATES)))


class RefundEvent(BaseModel):
    """One transition of a refund request: the timeline and the audit trail are built from these."""

    request = ForeignKeyField(RefundRequest, backref="events", on_delete="CASCADE")
    actor = ForeignKeyField(User, null=True, on_delete="SET NULL")
    actor_role = CharField()  # seller, agent, finance, system, gateway
    from_state = CharField(null=True)
    to_state = CharField()
    reason_code = CharField(default="")
    seller_message = TextField(default="")
    internal_note = TextField(default="")
    blocker_codes = CharField(default="")  # pre-check codes that stopped a system step, comma-separated
    created_at = DateTimeField(default=utcnow)


class LedgerEntry(BaseModel):
    """One append-only entry of a shop's deposit ledger; the figures are derived from these."""

    shop = ForeignKeyField(Shop, backref="ledger_entries", on_delete="RESTRICT")
    entry_type = CharField()
    amount_fen = IntegerField()
    reason = TextField(default="")
    violation = ForeignKeyField(Violation, null=True, on_delete="RESTRICT")
    refund_request = ForeignKeyField(RefundRequest, null=True, backref="ledger_entries",
                                     on_delete="RESTRICT")
    bank_reference = CharField(null=True)
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("shop", "id"), False),)

    @classmethod
    def totals_for(cls, shop_id):
        """``{entry_type: total fen}`` for a shop, in one grouped query."""
        rows = (cls.select(cls.entry_type, fn.SUM(cls.amount_fen).alias("total"))
                .where(cls.shop == shop_id)
                .group_by(cls.entry_type)
                .tuples())
        return {entry_type: int(total) for entry_type, total in rows}

    @classmethod
    def page_for(cls, shop_id, before_id=None, size=20):
        """One page of a shop's ledger, newest first, keyset-paginated by id (no OFFSET)."""
        query = cls.select().where(cls.shop == shop_id)
        if before_id is not None:
            query = query.where(cls.id < before_id)
        return query.order_by(cls.id.desc()).limit(size)


class CalendarOverride(BaseModel):
    """An operator's correction to the working-day calendar: an extra day off or an extra day on."""

    day = DateField(unique=True)
    is_workday = BooleanField()
    note = TextField(default="")
    created_at = DateTimeField(default=utcnow)

    @classmethod
    def as_mapping(cls):
        """``{date: is_workday}`` for the working-day calendar."""
        return dict(cls.select(cls.day, cls.is_workday).tuples())


class ReasonCode(BaseModel):
    """A reason an agent or the gateway gives for a decision, with its seller-facing texts in both languages.

    Data, not code: seeded by ``init-db`` and edited with ``flask --app portal reasons``.
    """

    code = CharField(unique=True)
    kind = CharField()  # REJECT, HOLD, NEEDS_INFO, PAYOUT_FAILURE
    label_zh = CharField()
    label_en = CharField()
    message_zh = TextField(default="")  # the editable template of the message to the seller
    message_en = TextField(default="")
    active = BooleanField(default=True)
    sort_order = IntegerField(default=100)

    def label(self, locale):
        """The label in a locale ('zh_CN' or 'en')."""
        return self.label_zh if str(locale).startswith("zh") else self.label_en

    def message(self, locale):
        """The message template in a locale."""
        return self.message_zh if str(locale).startswith("zh") else self.message_en

    @classmethod
    def of_kind(cls, kind):
        """Active codes of one kind, in their display order."""
        return (cls.select().where((cls.kind == kind) & (cls.active == True))  # noqa: E712
                .order_by(cls.sort_order, cls.code))


class Notification(BaseModel):
    """An in-app notice to one user about one seller-visible change of a request."""

    user = ForeignKeyField(User, backref="notifications", on_delete="CASCADE")
    request = ForeignKeyField(RefundRequest, null=True, on_delete="CASCADE")
    event = ForeignKeyField(RefundEvent, null=True, on_delete="CASCADE")
    state = CharField(default="")  # the state the request moved to
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
    status = CharField(default="PENDING")  # PENDING, SENDING, SENT, FAILED
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(default=utcnow, index=True)
    claimed_at = DateTimeField(null=True)
    sent_at = DateTimeField(null=True)
    subject = TextField(default="")
    last_error = TextField(default="")
    created_at = DateTimeField(default=utcnow)


class PayoutAttempt(BaseModel):
    """One attempt to pay a request out, with the unique reference the bank or gateway echoes back."""

    request = ForeignKeyField(RefundRequest, backref="payout_attempts", on_delete="RESTRICT")
    attempt_no = IntegerField()
    reference = CharField(unique=True)  # ours, e.g. PO-12-1: one per attempt, so none is paid twice
    amount_fen = IntegerField()
    status = CharField(default="PROCESSING")  # PROCESSING, PAID, FAILED
    bank_reference = CharField(null=True)
    failure_code = CharField(default="")
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


class AuditLog(BaseModel):
    """One desk action or sensitive view: append-only (the database refuses updates and deletes)."""

    actor = ForeignKeyField(User, null=True, on_delete="RESTRICT")
    actor_role = CharField()
    action = CharField(index=True)
    request = ForeignKeyField(RefundRequest, null=True, on_delete="RESTRICT")
    shop = ForeignKeyField(Shop, null=True, on_delete="RESTRICT")
    ticket_id = IntegerField(null=True, index=True)  # tickets come later in the schema than the log
    details = TextField(default="")  # what changed, as JSON
    created_at = DateTimeField(default=utcnow, index=True)


class RiskFlag(BaseModel):
    """A risk on a seller's account: what the seller reads, why (staff only), and what it does to refunds."""

    shop = ForeignKeyField(Shop, backref="risk_flags", on_delete="CASCADE")
    code = CharField()
    severity = CharField(default="MEDIUM")  # HIGH, MEDIUM, LOW
    seller_text = TextField()
    rationale = TextField()  # internal: never shown to the seller
    effect = CharField(default="NONE")  # BLOCKS, DELAYS, NONE (on refunds)
    how_to_fix = TextField(default="")
    raised_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    raised_at = DateTimeField(default=utcnow)
    seen_at = DateTimeField(null=True)  # when the seller first saw it
    cleared_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    cleared_at = DateTimeField(null=True)
    clear_rationale = TextField(default="")

    @classmethod
    def active_for(cls, shop_id):
        """A shop's flags that are not cleared, most severe first."""
        order = Case(cls.severity, [("HIGH", 0), ("MEDIUM", 1)], 2)
        return (cls.select().where((cls.shop == shop_id) & cls.cleared_at.is_null())
                .order_by(order, cls.id.desc()))

    @classmethod
    def blocking_codes(cls, shop_id):
        """Codes of the shop's active flags that block refunds."""
        return tuple(code for (code,) in cls.select(cls.code)
                     .where((cls.shop == shop_id) & cls.cleared_at.is_null() & (cls.effect == "BLOCKS"))
                     .tuples())


class Ticket(BaseModel):
    """A seller's support case: a thread of messages, with whose turn it is and an SLA due date."""

    shop = ForeignKeyField(Shop, backref="tickets", on_delete="RESTRICT")
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    category = CharField()
    subject = CharField()
    refund_request = ForeignKeyField(RefundRequest, null=True, backref="tickets", on_delete="SET NULL")
    dispute = ForeignKeyField(Dispute, null=True, backref="tickets", on_delete="SET NULL")
    risk_flag = ForeignKeyField(RiskFlag, null=True, backref="tickets", on_delete="SET NULL")
    status = CharField(default="WAITING_SUPPORT")  # WAITING_SUPPORT, WAITING_SELLER, RESOLVED
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
    author_role = CharField()
    kind = CharField(default="MESSAGE")  # MESSAGE, INTERNAL_NOTE, CALCULATION
    body = TextField()
    created_at = DateTimeField(default=utcnow)

    @classmethod
    def visible_to_seller(cls, ticket_id):
        """A thread as the seller sees it: internal notes are not even selected."""
        return (cls.select().where((cls.ticket == ticket_id) & (cls.kind != "INTERNAL_NOTE"))
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


class Widget(BaseModel):
    """A read-only status widget a seller lets other sites embed."""

    shop = ForeignKeyField(Shop, backref="widgets", on_delete="CASCADE")
    request = ForeignKeyField(RefundRequest, null=True, on_delete="CASCADE")  # None: "my latest request"
    variant = CharField(default="PUBLIC")  # PUBLIC (stage, dates) or DETAILED (adds the amount)
    origins = TextField()  # the sites allowed to embed it, one origin per line
    version = IntegerField(default=1)  # in every token: bumping it makes every old token fail at once
    revoked_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)

    @property
    def origin_list(self):
        """The allowed origins as a list."""
        return [line.strip() for line in self.origins.splitlines() if line.strip()]


class RateCounter(BaseModel):
    """Requests counted per key and minute, shared by every app process (for 429s)."""

    key = CharField()
    window = IntegerField()  # minutes since the epoch
    count = IntegerField(default=0)

    class Meta:
        indexes = ((("key", "window"), True),)


def deposit_figures(shop):
    """The shop's figures from its ledger and its category requirements (two queries)."""
    required = ledger.required_from_categories(
        amount for (amount,) in CategoryRequirement.select(CategoryRequirement.required_fen)
        .where(CategoryRequirement.shop == shop.id).tuples())
    return ledger.figures_from_totals(LedgerEntry.totals_for(shop.id), required)


# Indexes only migration 0006 makes, on PostgreSQL with pg_trgm: the models cannot declare them
# (SQLite has no trigram index), so schema comparisons leave them out.
POSTGRES_SEARCH_INDEXES = ("shop_name_trgm", "shop_entity_name_trgm")

MODELS = [Shop, User, LoginAttempt, CategoryRequirement, Violation, Dispute, Arrear, PayeeAccount,
          PayeeChange, RefundRequest, RefundEvent, LedgerEntry, CalendarOverride, ReasonCode, Notification,
          OutboxEmail, PayoutAttempt, WebhookEvent, AuditLog, RiskFlag, Ticket, TicketMessage, Attachment,
          CannedReply, Widget, RateCounter]
