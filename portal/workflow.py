"""The refund request's states and the one table of allowed transitions.

Pure rules: who may move a request from which state to which, and what each state means to the
seller. Applying a transition to the database is ``portal.refunding``'s job.
"""
from dataclasses import dataclass


def N_(message):
    """Mark a message id for extraction without translating it here."""
    return message


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

STATES = (SUBMITTED, WAITING_PERIOD, UNDER_REVIEW, NEEDS_INFO, ON_HOLD, APPROVED, PAYOUT_PROCESSING,
          PAYOUT_FAILED, ESCALATED, COMPLETED, REJECTED, CANCELLED, EXPIRED)
TERMINAL_STATES = (COMPLETED, REJECTED, CANCELLED, EXPIRED)
OPEN_STATES = tuple(state for state in STATES if state not in TERMINAL_STATES)

# The seller-facing label of each state: Chinese is the catalogue's translation of these ids.
STATE_LABELS = {
    SUBMITTED: N_("Submitted"),
    WAITING_PERIOD: N_("Waiting period"),
    UNDER_REVIEW: N_("Under review"),
    NEEDS_INFO: N_("Waiting for your information"),
    ON_HOLD: N_("On hold"),
    APPROVED: N_("Approved, awaiting payout"),
    PAYOUT_PROCESSING: N_("Payout in progress"),
    PAYOUT_FAILED: N_("Payout failed"),
    ESCALATED: N_("Handled manually"),
    COMPLETED: N_("Refunded"),
    REJECTED: N_("Rejected"),
    CANCELLED: N_("Cancelled"),
    EXPIRED: N_("Expired"),
}

# Where staff read a state differently from the seller ("your information" is the seller's).
STAFF_STATE_LABELS = {
    NEEDS_INFO: N_("Waiting for the seller's information"),
    PAYOUT_FAILED: N_("Payout failed: the seller must fix the payee details"),
}

SELLER = "seller"
AGENT = "agent"
FINANCE = "finance"
SYSTEM = "system"
GATEWAY = "gateway"

# Whose turn it is in each state.
YOU = "you"
SUPPORT = "support"
FINANCE_TURN = "finance"
PLATFORM_WAIT = "waiting"
NOBODY = "nobody"

TURNS = {
    SUBMITTED: SUPPORT,
    WAITING_PERIOD: PLATFORM_WAIT,
    UNDER_REVIEW: SUPPORT,
    NEEDS_INFO: YOU,
    ON_HOLD: SUPPORT,
    APPROVED: FINANCE_TURN,
    PAYOUT_PROCESSING: FINANCE_TURN,
    PAYOUT_FAILED: YOU,
    ESCALATED: FINANCE_TURN,
    COMPLETED: NOBODY,
    REJECTED: NOBODY,
    CANCELLED: NOBODY,
    EXPIRED: NOBODY,
}

TURN_LABELS = {
    YOU: N_("Your turn"),
    SUPPORT: N_("Support is reviewing"),
    FINANCE_TURN: N_("Finance is paying out"),
    PLATFORM_WAIT: N_("The platform's waiting period"),
    NOBODY: N_("Finished"),
}


@dataclass(frozen=True)
class Transition:
    """One allowed move: from, to, who may make it, and what it needs."""

    source: str
    target: str
    actors: frozenset
    needs_reason: bool = False  # a reason code and a seller message are mandatory
    needs_message: bool = False  # a seller-facing message is mandatory


def _t(source, target, *actors, needs_reason=False, needs_message=False):
    """Build one row of the table."""
    return Transition(source, target, frozenset(actors), needs_reason, needs_message)


_CANCELLABLE = (SUBMITTED, WAITING_PERIOD, UNDER_REVIEW, NEEDS_INFO, ON_HOLD)

TRANSITIONS = (
    _t(SUBMITTED, WAITING_PERIOD, SYSTEM),
    _t(SUBMITTED, UNDER_REVIEW, SYSTEM),
    _t(WAITING_PERIOD, UNDER_REVIEW, SYSTEM),
    _t(WAITING_PERIOD, ON_HOLD, SYSTEM, AGENT, needs_message=True),
    _t(UNDER_REVIEW, APPROVED, AGENT),
    _t(UNDER_REVIEW, REJECTED, AGENT, SYSTEM, needs_reason=True),
    _t(UNDER_REVIEW, NEEDS_INFO, AGENT, needs_message=True),
    _t(UNDER_REVIEW, ON_HOLD, AGENT, SYSTEM, needs_message=True),
    _t(NEEDS_INFO, UNDER_REVIEW, SELLER, AGENT),
    _t(NEEDS_INFO, EXPIRED, SYSTEM),
    _t(NEEDS_INFO, ON_HOLD, AGENT, SYSTEM, needs_message=True),
    _t(ON_HOLD, UNDER_REVIEW, AGENT),
    _t(ON_HOLD, REJECTED, AGENT, SYSTEM, needs_reason=True),
    _t(APPROVED, ON_HOLD, AGENT, SYSTEM, needs_message=True),
    _t(APPROVED, PAYOUT_PROCESSING, FINANCE, SYSTEM),
    _t(PAYOUT_PROCESSING, COMPLETED, FINANCE, GATEWAY),
    _t(PAYOUT_PROCESSING, PAYOUT_FAILED, FINANCE, GATEWAY),
    _t(PAYOUT_FAILED, PAYOUT_PROCESSING, SELLER, FINANCE, SYSTEM),
    _t(PAYOUT_FAILED, ESCALATED, FINANCE, SYSTEM),
    _t(ESCALATED, COMPLETED, FINANCE),
    *(_t(state, CANCELLED, SELLER) for state in _CANCELLABLE),
)

_BY_EDGE = {(row.source, row.target): row for row in TRANSITIONS}


class TransitionRefused(Exception):
    """A move the table does not allow, with a message id that says why."""

    def __init__(self, message, **params):
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


def find(source, target):
    """The table row for a move, or None."""
    return _BY_EDGE.get((source, target))


def check(source, target, actor, reason_code="", seller_message=""):
    """Return the row that allows this move, or raise ``TransitionRefused`` saying why not."""
    row = find(source, target)
    if row is None:
        raise TransitionRefused(N_("A request that is “%(source)s” cannot become “%(target)s”."),
                                source=source, target=target)
    if actor not in row.actors:
        raise TransitionRefused(N_("You are not allowed to make this change."))
    # People must explain themselves; the system and the gateway give a reason code whose own
    # message (in the seller's language) the timeline shows.
    if actor in (SYSTEM, GATEWAY):
        if (row.needs_reason or row.needs_message) and not (reason_code or seller_message.strip()):
            raise TransitionRefused(N_("A reason is required."))
        return row
    if row.needs_reason and not (reason_code and seller_message.strip()):
        raise TransitionRefused(N_("A reason and a message for the seller are required."))
    if row.needs_message and not seller_message.strip():
        raise TransitionRefused(N_("A message for the seller is required."))
    return row


def allowed_targets(source, actor):
    """States the actor may move a request to from ``source``."""
    return [row.target for row in TRANSITIONS if row.source == source and actor in row.actors]


def is_final(state):
    """True for states a request never leaves."""
    return state in TERMINAL_STATES
