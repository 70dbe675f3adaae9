"""The portal's one vocabulary: every status, kind and role as an enum, and the gettext markers.

Each set of values the database stores, the rules compare and the pages show is defined here
once, as a ``StrEnum``: a member *is* its string (``RefundState.APPROVED == "APPROVED"``), so it is
stored, compared, rendered and serialised as that string, and a typo is an ``AttributeError``
instead of a silently wrong comparison. Labels shown to people are not here: each area keeps the
labels of its own values (message ids, translated where they are shown).

No Flask and no database in this module: everything may import it.
"""
from enum import StrEnum

__all__ = [  # the enums; the gettext markers and the value groups are imported by name
    "Role",
    "Actor",
    "RefundKind",
    "RefundState",
    "Turn",
    "EntryType",
    "ShopStatus",
    "ViolationStatus",
    "ArrearStatus",
    "DisputeStatus",
    "FlagSeverity",
    "FlagEffect",
    "TicketStatus",
    "TicketCategory",
    "MessageKind",
    "PayoutStatus",
    "WebhookOutcome",
    "ReasonKind",
    "EmailStatus",
    "CheckLevel",
    "WidgetVariant",
    "AccountType",
]


def N_(message):
    """Mark a message id for extraction without translating it here (the page translates it)."""
    return message


def NP_(singular, plural):
    """Mark a message with a plural form: the page picks the form by its ``count`` parameter."""
    return (singular, plural)


def in_language(locale, chinese, english):
    """Of a text kept in both languages, the one for ``locale`` (any Chinese locale reads Chinese)."""
    return chinese if str(locale).startswith("zh") else english


class Role(StrEnum):
    """What a signed-in account is."""

    SELLER = "seller"
    AGENT = "agent"
    FINANCE = "finance"


STAFF_ROLES = (Role.AGENT, Role.FINANCE)


class Actor(StrEnum):
    """Who moved a request or wrote an entry: a person's role, or the portal itself, or the gateway."""

    SELLER = "seller"
    AGENT = "agent"
    FINANCE = "finance"
    SYSTEM = "system"
    GATEWAY = "gateway"


class RefundKind(StrEnum):
    """What a refund request asks for."""

    SURPLUS = "SURPLUS"  # the part above what the categories require
    FULL_EXIT = "FULL_EXIT"  # 退店: the whole deposit, closing the shop


class RefundState(StrEnum):
    """The states of a refund request (the table of moves is in ``portal.refunds.states``)."""

    SUBMITTED = "SUBMITTED"
    WAITING_PERIOD = "WAITING_PERIOD"
    UNDER_REVIEW = "UNDER_REVIEW"
    NEEDS_INFO = "NEEDS_INFO"
    ON_HOLD = "ON_HOLD"
    APPROVED = "APPROVED"
    PAYOUT_PROCESSING = "PAYOUT_PROCESSING"
    PAYOUT_FAILED = "PAYOUT_FAILED"
    ESCALATED = "ESCALATED"
    COMPLETED = "COMPLETED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


TERMINAL_STATES = (RefundState.COMPLETED, RefundState.REJECTED, RefundState.CANCELLED, RefundState.EXPIRED)
OPEN_STATES = tuple(state for state in RefundState if state not in TERMINAL_STATES)


class Turn(StrEnum):
    """Whose turn it is on a request."""

    YOU = "you"
    SUPPORT = "support"
    FINANCE = "finance"
    PLATFORM_WAIT = "waiting"
    NOBODY = "nobody"


class EntryType(StrEnum):
    """The types of deposit ledger entries (what each does to the figures: ``portal.deposit.ledger``)."""

    TOP_UP = "TOP_UP"
    DEDUCTION = "DEDUCTION"
    DEDUCTION_REVERSAL = "DEDUCTION_REVERSAL"
    FREEZE = "FREEZE"
    UNFREEZE = "UNFREEZE"
    REFUND_HOLD = "REFUND_HOLD"
    REFUND_HOLD_RELEASE = "REFUND_HOLD_RELEASE"
    REFUND_PAID = "REFUND_PAID"
    REFUND_BOUNCED = "REFUND_BOUNCED"


class ShopStatus(StrEnum):
    """A shop's standing on the platform."""

    ACTIVE = "ACTIVE"
    BANNED = "BANNED"


class ViolationStatus(StrEnum):
    """A rule violation found against a shop."""

    OPEN = "OPEN"
    CLOSED = "CLOSED"


class ArrearStatus(StrEnum):
    """Money a shop owes the platform."""

    OPEN = "OPEN"
    SETTLED = "SETTLED"


class DisputeStatus(StrEnum):
    """A trade dispute with a buyer: negotiated first, then reviewed by the platform."""

    NEGOTIATING = "NEGOTIATING"
    PLATFORM_REVIEW = "PLATFORM_REVIEW"
    RESOLVED = "RESOLVED"


OPEN_DISPUTE_STATES = (DisputeStatus.NEGOTIATING, DisputeStatus.PLATFORM_REVIEW)


class FlagSeverity(StrEnum):
    """How serious a risk flag is."""

    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


class FlagEffect(StrEnum):
    """What a risk flag does to refunds."""

    BLOCKS = "BLOCKS"
    DELAYS = "DELAYS"
    NONE = "NONE"


class TicketStatus(StrEnum):
    """Whose turn it is on a ticket."""

    WAITING_SUPPORT = "WAITING_SUPPORT"
    WAITING_SELLER = "WAITING_SELLER"
    RESOLVED = "RESOLVED"


class TicketCategory(StrEnum):
    """What a ticket is about."""

    REFUND_APPEAL = "REFUND_APPEAL"
    WRONG_AMOUNT = "WRONG_AMOUNT"
    ACCOUNT_APPEAL = "ACCOUNT_APPEAL"
    VIOLATION_APPEAL = "VIOLATION_APPEAL"
    ARREARS = "ARREARS"  # money owed to the platform
    PAYEE = "PAYEE"
    DISPUTE_ESCALATION = "DISPUTE_ESCALATION"
    OTHER = "OTHER"


class MessageKind(StrEnum):
    """The kinds of entries in a ticket's thread."""

    MESSAGE = "MESSAGE"
    INTERNAL_NOTE = "INTERNAL_NOTE"  # staff only, never shown to the seller
    CALCULATION = "CALCULATION"  # the itemised refundable calculation of a "wrong amount" ticket


class PayoutStatus(StrEnum):
    """One payout attempt's outcome."""

    PROCESSING = "PROCESSING"
    PAID = "PAID"
    FAILED = "FAILED"


class WebhookOutcome(StrEnum):
    """What became of a payment gateway event (refusals are stored as ``REFUSED:<code>``)."""

    PENDING = "PENDING"
    APPLIED = "APPLIED"
    STALE = "STALE"  # arrived after its attempt was settled
    REFUSED = "REFUSED"


class ReasonKind(StrEnum):
    """Which decision a reason code explains."""

    REJECT = "REJECT"
    HOLD = "HOLD"
    NEEDS_INFO = "NEEDS_INFO"
    PAYOUT_FAILURE = "PAYOUT_FAILURE"
    SYSTEM = "SYSTEM"  # reasons the portal gives itself (an expiry, a failed pre-check)


# The kinds a person chooses reasons of (the portal's own are not edited by hand).
DECISION_REASON_KINDS = (ReasonKind.REJECT, ReasonKind.HOLD, ReasonKind.NEEDS_INFO, ReasonKind.PAYOUT_FAILURE)


class EmailStatus(StrEnum):
    """An outbox e-mail's progress."""

    PENDING = "PENDING"
    SENDING = "SENDING"
    SENT = "SENT"
    FAILED = "FAILED"


class CheckLevel(StrEnum):
    """How much a pre-check finding matters."""

    BLOCKING = "blocking"
    WARNING = "warning"
    INFO = "info"


class WidgetVariant(StrEnum):
    """What a status widget shows."""

    PUBLIC = "PUBLIC"  # the stage, the expected date and the last change
    DETAILED = "DETAILED"  # also the amount


class AccountType(StrEnum):
    """The kind of bank account a refund is paid into."""

    CORPORATE = "CORPORATE"
    PERSONAL = "PERSONAL"
