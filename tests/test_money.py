"""Money rules: yuan text in, integer fen out, and fen shown back as yuan (no Flask, no database)."""
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.core.money import AmountError, fen_to_yuan_text, format_fen, parse_yuan

# No example database: the tests must leave nothing behind in the work tree.
PROPERTY = settings(max_examples=200, deadline=None, database=None)
MAX_FEN = 100_000_000 * 100  # the form's typo guard (settings.MAX_REFUND_FEN)


@pytest.mark.parametrize(("text", "fen"), [
    ("100", 10_000),
    ("1,000.50", 100_050),
    ("1000.5", 100_050),
    ("0.01", 1),
    ("  12.30 ", 1_230),
    ("1，000。25", 100_025),  # full-width comma and full stop, as a Chinese keyboard types them
    ("3300.00", 330_000),
])
def test_accepts_plain_yuan_amounts(text, fen):
    """Plain amounts with at most two decimals (thousands separators allowed) become exact fen."""
    assert parse_yuan(text, MAX_FEN) == fen


@pytest.mark.parametrize(("text", "code"), [
    ("-1", "negative"),
    ("-0.01", "negative"),
    ("0", "zero"),
    ("0.00", "zero"),
    ("1.234", "precision"),
    ("0.001", "precision"),
    ("1e5", "format"),
    ("", "empty"),
    ("   ", "empty"),
    (None, "empty"),
    ("¥100", "format"),
    ("100元", "format"),
    ("99999999999999", "too_large"),
    ("abc", "format"),
    ("1,00", "format"),
    ("+5", "format"),
    (".5", "format"),
    ("1 000", "format"),
    ("NaN", "format"),
    ("Infinity", "format"),
    ("0x10", "format"),
    ("1.2.3", "format"),
])
def test_rejects_bad_amounts_with_a_reason(text, code):
    """Every bad amount from the issue is refused with a code naming why (never parsed as a float)."""
    with pytest.raises(AmountError) as raised:
        parse_yuan(text, MAX_FEN)
    assert raised.value.code == code


def test_the_limit_is_inclusive():
    """Exactly the limit is accepted; one fen more is too large."""
    assert parse_yuan("33.00", 3_300) == 3_300
    with pytest.raises(AmountError) as raised:
        parse_yuan("33.01", 3_300)
    assert raised.value.code == "too_large"


@pytest.mark.parametrize(("fen", "text", "shown"), [
    (0, "0.00", "¥0.00"),
    (5, "0.05", "¥0.05"),
    (123_450, "1234.50", "¥1,234.50"),
    (100_000_000, "1000000.00", "¥1,000,000.00"),
    (-2_050, "-20.50", "-¥20.50"),
])
def test_fen_as_text(fen, text, shown):
    """Fen become a form value without separators and a display value with ¥ and separators."""
    assert fen_to_yuan_text(fen) == text
    assert format_fen(fen) == shown


@PROPERTY
@given(st.integers(min_value=1, max_value=MAX_FEN))
def test_form_text_round_trips(fen):
    """Whatever fen_to_yuan_text writes into a form, parse_yuan reads back unchanged."""
    assert parse_yuan(fen_to_yuan_text(fen), MAX_FEN) == fen


@PROPERTY
@given(st.integers(min_value=1, max_value=MAX_FEN))
def test_displayed_amounts_can_be_pasted_back(fen):
    """An amount copied from the page (¥ dropped, separators kept) parses to the same fen."""
    assert parse_yuan(format_fen(fen).lstrip("¥"), MAX_FEN) == fen


@PROPERTY
@given(st.one_of(
    st.text(max_size=20),
    st.from_regex(r"\A[-+]?[0-9,.，。 eE¥]{0,16}\Z"),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats().map(repr),
), st.integers(min_value=1, max_value=MAX_FEN))
def test_never_returns_a_non_positive_or_too_large_amount(text, max_fen):
    """For any text at all the answer is an AmountError or fen in 1..max_fen, never anything else."""
    try:
        fen = parse_yuan(text, max_fen)
    except AmountError as error:
        assert error.code in {"empty", "format", "negative", "zero", "precision", "too_large"}
    else:
        assert isinstance(fen, int)
        assert 1 <= fen <= max_fen


@PROPERTY
@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100000000"), places=2))
def test_two_decimal_amounts_are_exact(amount):
    """Any amount with at most two decimals becomes exactly amount × 100 fen (no float rounding)."""
    assert parse_yuan(str(amount), MAX_FEN) == int(amount * 100)


@PROPERTY
@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=1, max_value=9))
def test_a_third_decimal_is_refused(whole_fen, third_digit):
    """A third decimal that is not zero is refused as too precise, never rounded away."""
    text = f"{whole_fen // 100}.{whole_fen % 100:02d}{third_digit}"
    with pytest.raises(AmountError) as raised:
        parse_yuan(text, MAX_FEN)
    assert raised.value.code == "precision"
