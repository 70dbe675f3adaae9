"""Money: amounts are integer fen (分) everywhere; yuan text is parsed with Decimal, never float."""
import re
from decimal import Decimal, InvalidOperation

# A plain decimal numeral with an optional fraction: no sign, no exponent, no currency mark.
# Thousands separators are accepted because sellers copy amounts from the deposit page.
_YUAN_PATTERN = re.compile(r"^(\d{1,3}(,\d{3})+|\d+)(\.\d*)?$")


class AmountError(ValueError):
    """A yuan amount that cannot be accepted; ``code`` names why, for the message shown."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


def parse_yuan(text, max_fen):
    """Parse what a seller typed as yuan into fen, or raise ``AmountError``.

    Codes: ``empty``, ``format`` (not a plain number), ``negative``, ``zero``, ``precision`` (more
    than two decimals), ``too_large`` (above ``max_fen``).
    """
    cleaned = (text or "").strip().replace("，", ",").replace("。", ".")
    if not cleaned:
        raise AmountError("empty")
    if cleaned.startswith("-"):
        raise AmountError("negative")
    match = _YUAN_PATTERN.match(cleaned)
    if not match:
        raise AmountError("format")
    if match.group(3) and len(match.group(3)) > 3:
        raise AmountError("precision")
    try:
        value = Decimal(cleaned.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern already rules this out
        raise AmountError("format") from None
    fen = int(value * 100)
    if fen == 0:
        raise AmountError("zero")
    if fen > max_fen:
        raise AmountError("too_large")
    return fen


def fen_to_yuan_text(fen):
    """Fen as a plain yuan numeral for a form field, e.g. 123450 -> '1234.50'."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def format_fen(fen):
    """Fen as shown on the page: ¥1,234.50 (the same in Chinese and English)."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}¥{fen // 100:,}.{fen % 100:02d}"
