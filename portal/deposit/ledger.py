"""The deposit ledger's arithmetic: every figure on the deposit page comes from here.

The ledger is append-only. Each entry has a type and a positive amount in fen; the type alone
decides which figures the entry moves, by the table ``EFFECTS`` below:

================== ======= ====== ====== ========= =========
entry type         balance frozen held   paid in   deducted
================== ======= ====== ====== ========= =========
EntryType.TOP_UP             +                     +
EntryType.DEDUCTION          -                               +
EntryType.DEDUCTION_REVERSAL +                               -
EntryType.FREEZE                     +
EntryType.UNFREEZE                   -
EntryType.REFUND_HOLD                       +
EntryType.REFUND_HOLD_RELEASE               -
EntryType.REFUND_PAID        -              -
EntryType.REFUND_BOUNCED     +              +
================== ======= ====== ====== ========= =========

A payout consumes its hold (the money leaves the balance and the hold together); a bounced payout
restores both, so the request can be paid again without a second hold.

refundable = balance - frozen - held - required, never below zero (required is 0 for a full exit).
"""
from dataclasses import dataclass

from portal.core.vocabulary import N_, EntryType, RefundKind

# (balance, frozen, held, paid_in, deducted) signs per entry type.
EFFECTS = {
    EntryType.TOP_UP: (1, 0, 0, 1, 0),
    EntryType.DEDUCTION: (-1, 0, 0, 0, 1),
    EntryType.DEDUCTION_REVERSAL: (1, 0, 0, 0, -1),
    EntryType.FREEZE: (0, 1, 0, 0, 0),
    EntryType.UNFREEZE: (0, -1, 0, 0, 0),
    EntryType.REFUND_HOLD: (0, 0, 1, 0, 0),
    EntryType.REFUND_HOLD_RELEASE: (0, 0, -1, 0, 0),
    EntryType.REFUND_PAID: (-1, 0, -1, 0, 0),
    EntryType.REFUND_BOUNCED: (1, 0, 1, 0, 0),
}


ENTRY_LABELS = {
    EntryType.TOP_UP: N_("Paid in"),
    EntryType.DEDUCTION: N_("Deducted"),
    EntryType.DEDUCTION_REVERSAL: N_("Deduction reversed"),
    EntryType.FREEZE: N_("Frozen"),
    EntryType.UNFREEZE: N_("Unfrozen"),
    EntryType.REFUND_HOLD: N_("Held for a refund"),
    EntryType.REFUND_HOLD_RELEASE: N_("Hold released"),
    EntryType.REFUND_PAID: N_("Refund paid out"),
    EntryType.REFUND_BOUNCED: N_("Refund returned by the bank"),
}

# The reasons the portal itself writes, as message ids; anything else is an operator's own text.
STANDARD_REASONS = {
    "top_up": N_("Deposit payment"),
    "refund_hold": N_("Set aside while the refund is processed"),
    "refund_paid": N_("Paid to your payee account"),
    "refund_cancelled": N_("The request was cancelled"),
    "refund_rejected": N_("The request was rejected"),
    "refund_expired": N_("The request expired"),
    "refund_approved": N_("Approved for a lower amount; the rest is released"),
    "complaint_freeze": N_("Frozen while a buyer complaint is handled"),
    "complaint_closed": N_("Released: the buyer complaint is closed"),
}
# A deduction for a violation: the page names the violation (the entry links to it) in the reader's language.
VIOLATION_DEDUCTION = "violation_deduction"


def sign(entry_type):
    """How an entry reads on the ledger: '+' adds to the balance, '−' takes from it, '' neither."""
    balance_effect = EFFECTS[entry_type][0]
    return "+" if balance_effect > 0 else ("−" if balance_effect < 0 else "")


@dataclass(frozen=True)
class Figures:
    """The deposit account's figures, all in fen."""

    paid_in: int = 0
    deducted: int = 0
    balance: int = 0
    frozen: int = 0
    held: int = 0
    required: int = 0

    @property
    def available(self):
        """What is not frozen or held: the most any refund could ever take."""
        return max(0, self.balance - self.frozen - self.held)

    @property
    def refundable(self):
        """What a surplus refund may take now: available minus what the categories require."""
        return max(0, self.available - self.required)

    def refundable_for(self, kind):
        """Refundable for a request kind: a full exit needs nothing kept back."""
        return self.available if kind == RefundKind.FULL_EXIT else self.refundable


@dataclass(frozen=True)
class Refundable:
    """What one kind of refund could take now, as every page shows it.

    ``forfeited`` is set for a banned shop: under the platform rules its deposit cannot be
    refunded, whatever the ledger still holds, and ``reason`` says why the shop was banned.
    """

    kind: str
    fen: int
    forfeited: bool = False
    reason: str = ""


def refundable(figures, kind, banned=False, ban_reason=""):
    """The one refundable figure for a kind (SURPLUS or FULL_EXIT) given the shop's state."""
    if banned:
        return Refundable(kind, 0, forfeited=True, reason=ban_reason)
    return Refundable(kind, figures.refundable_for(kind))


def figures_from_totals(totals, required=0):
    """Figures from ``{entry_type: sum of amounts}`` (one grouped query's result)."""
    sums = [0, 0, 0, 0, 0]
    for entry_type, amount in totals.items():
        for index, sign in enumerate(EFFECTS[entry_type]):
            sums[index] += sign * amount
    balance, frozen, held, paid_in, deducted = sums
    return Figures(paid_in=paid_in, deducted=deducted, balance=balance, frozen=frozen, held=held,
                   required=required)


def figures_from_entries(entries, required=0):
    """Figures from an iterable of ``(entry_type, amount_fen)`` pairs."""
    totals = {}
    for entry_type, amount in entries:
        totals[entry_type] = totals.get(entry_type, 0) + amount
    return figures_from_totals(totals, required)


def violations(figures):
    """The ledger invariants a set of figures breaks (empty when all hold)."""
    broken = []
    if figures.balance < 0:
        broken.append("balance is negative")
    if figures.frozen < 0:
        broken.append("frozen is negative")
    if figures.held < 0:
        broken.append("held is negative")
    if figures.frozen + figures.held > figures.balance:
        broken.append("frozen + held exceed the balance")
    return broken


def entry_allowed(figures, entry_type, amount):
    """Whether appending this entry keeps every invariant (amounts must be positive)."""
    if amount <= 0 or entry_type not in EFFECTS:
        return False
    after = figures_from_totals({entry_type: amount})
    combined = Figures(
        paid_in=figures.paid_in + after.paid_in,
        deducted=figures.deducted + after.deducted,
        balance=figures.balance + after.balance,
        frozen=figures.frozen + after.frozen,
        held=figures.held + after.held,
        required=figures.required,
    )
    return not violations(combined)


def required_from_categories(category_amounts):
    """The deposit a shop must keep: the highest requirement among its categories.

    On Douyin-style platforms a shop selling in several categories pays the largest single
    category deposit, not the sum.
    """
    return max(category_amounts, default=0)
