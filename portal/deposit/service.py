"""A shop's deposit read from its ledger: the figures every page shows, and the ledger's pages."""
from portal.core.vocabulary import RefundKind
from portal.deposit import ledger
from portal.deposit.models import LedgerEntry
from portal.shops.models import CategoryRequirement


def deposit_figures(shop):
    """The shop's figures from its ledger and its category requirements (two queries)."""
    required = ledger.required_from_categories(
        amount for (amount,) in CategoryRequirement.select(CategoryRequirement.required_fen)
        .where(CategoryRequirement.shop == shop.id).tuples())
    return ledger.figures_from_totals(LedgerEntry.totals_for(shop.id), required)


def refundable_now(shop, figures=None):
    """``{kind: ledger.Refundable}`` for both kinds: the one figure every page shows."""
    figures = figures or deposit_figures(shop)
    return {kind: ledger.refundable(figures, kind, shop.banned, shop.ban_reason) for kind in RefundKind}


def ledger_page(shop_id, before_id, size):
    """One page of the ledger, newest first, older than ``before_id``; and the cursor of the next page."""
    # One row more than a page tells whether an older page exists, without counting.
    rows = list(LedgerEntry.page_for(shop_id, before_id, size + 1))
    next_before = rows[size - 1].id if len(rows) > size else None
    return rows[:size], next_before
