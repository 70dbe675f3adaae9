"""The refund request's states and the one table of allowed transitions.

Pure rules: who may move a request from which state to which, and what each state means to the
seller. Applying a transition to the database is ``portal.refunds.service``'s job.
"""
from dataclasses import dataclass

from portal.core.vocabulary import N_, TERMINAL_STATES, Actor, Turn
from portal.core.vocabulary import RefundState as S

# The seller-facing label of each state: Chinese is the catalogue's translation of these ids.
STATE_LABELS = {
    S.SUBMITTED: N_("Submitted"),
    S.WAITING_PERIOD: N_("Waiting period"),
    S.UNDER_REVIEW: N_("Under review"),
    S.NEEDS_INFO: N_("Waiting for your information"),
    S.ON_HOLD: N_("On hold"),
    S.APPROVED: N_("Approved, awaiting payout"),
    S.PAYOUT_PROCESSING: N_("Payout in progress"),
    S.PAYOUT_FAILED: N_("Payout failed"),
    S.ESCALATED: N_("Handled manually"),
    S.COMPLETED: N_("Refunded"),
    S.REJECTED: N_("Rejected"),
    S.CANCELLED: N_("Cancelled"),
    S.EXPIRED: N_("Expired"),
}

# Where staff read a state differently from the seller ("your information" is the seller's).
STAFF_STATE_LABELS = {
    S.NEEDS_INFO: N_("Waiting for the seller's information"),
    S.PAYOUT_FAILED: N_("Payout failed: the seller must fix the payee details"),
}

TURNS = {
    S.SUBMITTED: Turn.SUPPORT,
    S.WAITING_PERIOD: Turn.PLATFORM_WAIT,
    S.UNDER_REVIEW: Turn.SUPPORT,
    S.NEEDS_INFO: Turn.YOU,
    S.ON_HOLD: Turn.SUPPORT,
    S.APPROVED: Turn.FINANCE,
    S.PAYOUT_PROCESSING: Turn.FINANCE,
    S.PAYOUT_FAILED: Turn.YOU,
    S.ESCALATED: Turn.FINANCE,
    S.COMPLETED: Turn.NOBODY,
    S.REJECTED: Turn.NOBODY,
    S.CANCELLED: Turn.NOBODY,
    S.EXPIRED: Turn.NOBODY,
}

TURN_LABELS = {
    Turn.YOU: N_("Your turn"),
    Turn.SUPPORT: N_("Support is reviewing"),
    Turn.FINANCE: N_("Finance is paying out"),
    Turn.PLATFORM_WAIT: N_("The platform's waiting period"),
    Turn.NOBODY: N_("Finished"),
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


_CANCELLABLE = (S.SUBMITTED, S.WAITING_PERIOD, S.UNDER_REVIEW, S.NEEDS_INFO, S.ON_HOLD)

TRANSITIONS = (
    _t(S.SUBMITTED, S.WAITING_PERIOD, Actor.SYSTEM),
    _t(S.SUBMITTED, S.UNDER_REVIEW, Actor.SYSTEM),
    _t(S.WAITING_PERIOD, S.UNDER_REVIEW, Actor.SYSTEM),
    _t(S.WAITING_PERIOD, S.ON_HOLD, Actor.SYSTEM, Actor.AGENT, needs_message=True),
    _t(S.UNDER_REVIEW, S.APPROVED, Actor.AGENT),
    _t(S.UNDER_REVIEW, S.REJECTED, Actor.AGENT, Actor.SYSTEM, needs_reason=True),
    _t(S.UNDER_REVIEW, S.NEEDS_INFO, Actor.AGENT, needs_message=True),
    _t(S.UNDER_REVIEW, S.ON_HOLD, Actor.AGENT, Actor.SYSTEM, needs_message=True),
    _t(S.NEEDS_INFO, S.UNDER_REVIEW, Actor.SELLER, Actor.AGENT),
    _t(S.NEEDS_INFO, S.EXPIRED, Actor.SYSTEM),
    _t(S.NEEDS_INFO, S.ON_HOLD, Actor.AGENT, Actor.SYSTEM, needs_message=True),
    _t(S.ON_HOLD, S.UNDER_REVIEW, Actor.AGENT),
    _t(S.ON_HOLD, S.REJECTED, Actor.AGENT, Actor.SYSTEM, needs_reason=True),
    _t(S.APPROVED, S.ON_HOLD, Actor.AGENT, Actor.SYSTEM, needs_message=True),
    _t(S.APPROVED, S.PAYOUT_PROCESSING, Actor.FINANCE, Actor.SYSTEM),
    _t(S.PAYOUT_PROCESSING, S.COMPLETED, Actor.FINANCE, Actor.GATEWAY),
    _t(S.PAYOUT_PROCESSING, S.PAYOUT_FAILED, Actor.FINANCE, Actor.GATEWAY),
    _t(S.PAYOUT_FAILED, S.PAYOUT_PROCESSING, Actor.SELLER, Actor.FINANCE, Actor.SYSTEM),
    _t(S.PAYOUT_FAILED, S.ESCALATED, Actor.FINANCE, Actor.SYSTEM),
    _t(S.ESCALATED, S.COMPLETED, Actor.FINANCE),
    *(_t(state, S.CANCELLED, Actor.SELLER) for state in _CANCELLABLE),
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


def check(source, target, actor, reason_code="", seller_message="", message_from_reason=False):
    """Return the row that allows this move, or raise ``TransitionRefused`` saying why not.

    ``message_from_reason``: the person sent the reason's own message unchanged, so the seller
    reads that message (in their language) and nothing else is stored.
    """
    row = find(source, target)
    if row is None:
        raise TransitionRefused(N_("A request that is “%(source)s” cannot become “%(target)s”."),
                                source=source, target=target)
    if actor not in row.actors:
        raise TransitionRefused(N_("You are not allowed to make this change."))
    # People must explain themselves; the system and the gateway give a reason code whose own
    # message (in the seller's language) the timeline shows.
    if actor in (Actor.SYSTEM, Actor.GATEWAY):
        if (row.needs_reason or row.needs_message) and not (reason_code or seller_message.strip()):
            raise TransitionRefused(N_("A reason is required."))
        return row
    explained = bool(seller_message.strip()) or (message_from_reason and bool(reason_code))
    if row.needs_reason and not (reason_code and explained):
        raise TransitionRefused(N_("A reason and a message for the seller are required."))
    if row.needs_message and not explained:
        raise TransitionRefused(N_("A message for the seller is required."))
    return row


def allowed_targets(source, actor):
    """States the actor may move a request to from ``source``."""
    return [row.target for row in TRANSITIONS if row.source == source and actor in row.actors]


def is_final(state):
    """True for states a request never leaves."""
    return state in TERMINAL_STATES
