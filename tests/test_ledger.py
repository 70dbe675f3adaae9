"""Ledger arithmetic: which entry moves which figure, and the invariants (no Flask, no database)."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.core.vocabulary import EntryType
from portal.deposit import ledger
from portal.deposit.ledger import (
    Figures,
    entry_allowed,
    figures_from_entries,
    figures_from_totals,
    required_from_categories,
)

# The entry types by the short names the ledger's sign table uses (in the enum's order).
(TOP_UP, DEDUCTION, DEDUCTION_REVERSAL, FREEZE, UNFREEZE, REFUND_HOLD, REFUND_HOLD_RELEASE, REFUND_PAID,
 REFUND_BOUNCED) = EntryType


# No example database: the tests must leave nothing behind in the work tree.
PROPERTY = settings(max_examples=200, deadline=None, database=None)


def test_every_entry_type_moves_the_documented_figures():
    """One entry of each type moves exactly the figures the table in the module docstring names."""
    expected = {
        TOP_UP: {"balance": 1, "paid_in": 1},
        DEDUCTION: {"balance": -1, "deducted": 1},
        DEDUCTION_REVERSAL: {"balance": 1, "deducted": -1},
        FREEZE: {"frozen": 1},
        UNFREEZE: {"frozen": -1},
        REFUND_HOLD: {"held": 1},
        REFUND_HOLD_RELEASE: {"held": -1},
        REFUND_PAID: {"balance": -1, "held": -1},
        REFUND_BOUNCED: {"balance": 1, "held": 1},
    }
    assert set(expected) == set(tuple(EntryType))
    for entry_type, moves in expected.items():
        figures = figures_from_entries([(entry_type, 700)])
        for name in ("paid_in", "deducted", "balance", "frozen", "held"):
            assert getattr(figures, name) == 700 * moves.get(name, 0), (entry_type, name)


def test_a_seller_history_adds_up():
    """Top-ups, a penalty, a freeze released, a paid refund: the figures a seller would work out."""
    entries = [(TOP_UP, 500_000), (TOP_UP, 100_000), (DEDUCTION, 20_000), (FREEZE, 30_000),
               (UNFREEZE, 30_000), (REFUND_HOLD, 50_000), (REFUND_PAID, 50_000),
               (REFUND_HOLD, 80_000), (REFUND_HOLD_RELEASE, 80_000), (FREEZE, 10_000)]
    figures = figures_from_entries(entries, required=200_000)
    assert (figures.paid_in, figures.deducted, figures.balance, figures.frozen, figures.held) == (
        600_000, 20_000, 530_000, 10_000, 0)
    assert figures.refundable == 530_000 - 10_000 - 200_000
    assert figures.refundable_for("FULL_EXIT") == 520_000  # a full exit keeps nothing back
    assert ledger.violations(figures) == []


def test_a_bounced_payout_restores_its_hold():
    """A payout takes balance and hold together; a bounce puts both back, ready to pay again."""
    paid = figures_from_entries([(TOP_UP, 10_000), (REFUND_HOLD, 4_000), (REFUND_PAID, 4_000)])
    assert (paid.balance, paid.held) == (6_000, 0)
    bounced = figures_from_entries([(TOP_UP, 10_000), (REFUND_HOLD, 4_000), (REFUND_PAID, 4_000),
                                    (REFUND_BOUNCED, 4_000)])
    assert (bounced.balance, bounced.held) == (10_000, 4_000)
    assert entry_allowed(bounced, REFUND_PAID, 4_000)


@pytest.mark.parametrize(("balance", "frozen", "held", "required", "refundable"), [
    (500_000, 0, 0, 200_000, 300_000),
    (500_000, 100_000, 50_000, 200_000, 150_000),
    (200_000, 0, 0, 200_000, 0),
    (100_000, 50_000, 0, 200_000, 0),  # short of the requirement: zero, never negative
    (0, 0, 0, 0, 0),
])
def test_refundable_is_balance_less_frozen_held_and_required(balance, frozen, held, required, refundable):
    """refundable = max(0, balance − frozen − held − required)."""
    figures = Figures(balance=balance, frozen=frozen, held=held, required=required)
    assert figures.refundable == refundable
    assert figures.refundable_for("SURPLUS") == refundable
    assert figures.refundable_for("FULL_EXIT") == max(0, balance - frozen - held)


def test_required_is_the_highest_category():
    """A shop in several categories keeps the largest single category deposit; none means zero."""
    assert required_from_categories([200_000, 100_000, 400_000]) == 400_000
    assert required_from_categories([]) == 0
    assert required_from_categories(iter([5])) == 5


@pytest.mark.parametrize(("history", "entry_type", "amount"), [
    ([], TOP_UP, 0),
    ([], TOP_UP, -100),
    ([], "BONUS", 100),
    ([(TOP_UP, 1_000)], FREEZE, 1_001),
    ([(TOP_UP, 1_000), (FREEZE, 300)], UNFREEZE, 301),
    ([(TOP_UP, 1_000)], REFUND_PAID, 100),  # nothing held: a payout needs its hold
    ([(TOP_UP, 1_000), (REFUND_HOLD, 200)], REFUND_HOLD_RELEASE, 201),
    ([(TOP_UP, 1_000), (FREEZE, 600)], REFUND_HOLD, 401),
    ([(TOP_UP, 1_000), (FREEZE, 600)], DEDUCTION, 401),  # would leave the frozen money uncovered
    ([(TOP_UP, 1_000)], DEDUCTION, 1_001),
])
def test_entries_that_would_break_an_invariant_are_refused(history, entry_type, amount):
    """No entry may make a figure negative or let frozen + held exceed the balance."""
    assert not entry_allowed(figures_from_entries(history), entry_type, amount)


def test_sign_shows_the_effect_on_the_balance():
    """The ledger shows + for money in, − for money out, nothing for freezes and holds."""
    assert ledger.sign(TOP_UP) == "+"
    assert ledger.sign(REFUND_BOUNCED) == "+"
    assert ledger.sign(DEDUCTION) == "−"
    assert ledger.sign(REFUND_PAID) == "−"
    assert ledger.sign(FREEZE) == ""
    assert ledger.sign(REFUND_HOLD) == ""


entries = st.lists(st.tuples(st.sampled_from(tuple(EntryType)), st.integers(min_value=1, max_value=10**7)),
                   max_size=40)


def _apply_allowed(candidates):
    """Append the candidates one by one, keeping only those ``entry_allowed`` accepts."""
    kept, figures = [], Figures()
    for entry_type, amount in candidates:
        if entry_allowed(figures, entry_type, amount):
            kept.append((entry_type, amount))
            figures = figures_from_entries(kept)
    return kept


@PROPERTY
@given(entries, st.integers(min_value=0, max_value=10**7))
def test_allowed_sequences_keep_every_invariant(candidates, required):
    """After every allowed entry: nothing negative, frozen + held within the balance, refundable ≥ 0."""
    kept = _apply_allowed(candidates)
    for length in range(len(kept) + 1):
        figures = figures_from_entries(kept[:length], required)
        assert ledger.violations(figures) == []
        assert figures.balance >= 0 and figures.frozen >= 0 and figures.held >= 0
        assert figures.frozen + figures.held <= figures.balance
        assert figures.refundable == max(0, figures.balance - figures.frozen - figures.held - required)
        assert 0 <= figures.refundable <= figures.available <= figures.balance


@PROPERTY
@given(entries, st.integers(min_value=0, max_value=10**7))
def test_entries_and_totals_give_the_same_figures(candidates, required):
    """Summing entries one by one equals the grouped-query path (what the page uses)."""
    kept = _apply_allowed(candidates)
    totals = {}
    for entry_type, amount in kept:
        totals[entry_type] = totals.get(entry_type, 0) + amount
    assert figures_from_entries(kept, required) == figures_from_totals(totals, required)
    assert figures_from_entries(list(reversed(kept)), required) == figures_from_totals(totals, required)


@PROPERTY
@given(entries)
def test_balance_is_paid_in_less_deducted_less_paid_out(candidates):
    """An independent reading of the table: balance = paid in − deducted − refunds paid + bounces."""
    kept = _apply_allowed(candidates)
    figures = figures_from_entries(kept)
    paid_out = sum(amount for entry_type, amount in kept if entry_type == REFUND_PAID)
    bounced = sum(amount for entry_type, amount in kept if entry_type == REFUND_BOUNCED)
    assert figures.balance == figures.paid_in - figures.deducted - paid_out + bounced


@PROPERTY
@given(entries, st.sampled_from(tuple(EntryType)), st.integers(min_value=-10, max_value=10**7))
def test_entry_allowed_agrees_with_the_invariants(candidates, entry_type, amount):
    """An entry is allowed exactly when it is positive and the figures after it break nothing."""
    before = figures_from_entries(_apply_allowed(candidates))
    totals = {entry_type: amount}
    after = figures_from_totals(totals)
    combined = Figures(balance=before.balance + after.balance, frozen=before.frozen + after.frozen,
                       held=before.held + after.held)
    expected = amount > 0 and combined.balance >= 0 and combined.frozen >= 0 and combined.held >= 0 and (
        combined.frozen + combined.held <= combined.balance)
    assert entry_allowed(before, entry_type, amount) == expected
