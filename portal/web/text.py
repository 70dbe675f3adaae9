"""Text as pages show it: messages made safe with their links routed through the warning page,
message parameters and stored codes turned into the reader's language, one way of writing dates,
and the language free text was written in."""
import re

from flask import url_for
from flask_babel import format_date, format_datetime, get_locale
from flask_babel import gettext as _
from markupsafe import Markup, escape

from portal.core.money import format_fen
from portal.web import links
from portal.web.locale import current_language

# An http(s) address in a message, up to white space or punctuation that ends a sentence.
_URL = re.compile(r"https?://[^\s<>\"'，。！？、；：“”‘’《》「」『』（）()【】]+", re.IGNORECASE)


def message_text(text):
    """A message as safe HTML: markup shows literally, and a link goes through the warning page.

    Line breaks are kept by the ``white-space: pre-line`` of ``.message``; nothing else of the
    text is ever interpreted.
    """
    pieces = []
    position = 0
    for match in _URL.finditer(text or ""):
        if links.read_link(match.group(0)) is None:
            continue  # a browser would not open it (e.g. a space-less "https://a b"): it stays text
        pieces.append(escape(text[position:match.start()]))
        pieces.append(Markup('<a class="outside-link" rel="nofollow noopener noreferrer" href="{}">{}</a>')
                      .format(url_for("site.leaving", to=match.group(0)), match.group(0)))
        position = match.end()
    pieces.append(escape((text or "")[position:]))
    return Markup("").join(pieces)


def format_day(value):
    """A date the one way this language writes dates on a page (the medium form: 2026年12月4日, Dec 4, 2026)."""
    return format_date(value, "medium") if value else ""


def format_moment(value):
    """A moment as the page's date followed by the short time (2026年12月4日 19:40, Dec 4, 2026 7:40 PM).

    One pattern per language, built from the locale's own medium date and short time, so that a
    page never mixes "2026/12/4" with "2026年12月4日".
    """
    if not value:
        return ""
    locale = get_locale()
    return format_datetime(value, f"{locale.date_formats['medium'].pattern} {locale.time_formats['short'].pattern}")


# What each kind of stored code is called: ``{kind: (code -> message id, the id for a code not in it)}``.
# Areas register their tables (``register_labels``); pages never print a code.
_LABELS = {}


def register_labels(kind, table, unknown):
    """Name the codes of one kind: ``code_label(kind, code)`` then translates them on every page."""
    _LABELS[kind] = (table, unknown)


def code_label(kind, code):
    """What a stored code is called, in the reader's language; a code the table lacks gets its general name."""
    table, unknown = _LABELS[kind]
    return _(table.get(code) or unknown)


def is_labelled(kind, value):
    """True when ``value`` is one of the codes of ``kind`` (not someone's own words)."""
    return value in _LABELS[kind][0]


def translate_params(params):
    """Turn the raw values of a message's parameters into text in the current locale.

    ``amount_fen`` becomes ``amount``, ``moment`` becomes ``date``, and ``<kind>_code`` (a code of
    a registered kind, e.g. ``risk_code``) becomes ``<kind>``, its label.
    """
    shown = {}
    for key, value in params.items():
        kind = key[:-len("_code")] if key.endswith("_code") else None
        if key == "amount_fen":
            shown["amount"] = format_fen(value)
        elif key == "moment":
            shown["date"] = format_day(value)
        elif kind in _LABELS:
            shown[kind] = code_label(kind, value)
        else:
            shown[key] = value
    return shown


_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


def written_language(text):
    """The language someone is writing ``text`` in, recorded with it: its script, else the page's language.

    The page's language alone is not enough: an agent on the English desk may well type Chinese
    to a Chinese seller. Chinese characters mean Chinese; Latin words without them, English.
    """
    if _HAN.search(text or ""):
        return "zh_CN"
    if _LATIN_WORD.search(text or ""):
        return "en"
    return current_language()


def text_language(text, recorded=None):
    """The language free text is in: as recorded when it was written, else judged by its script.

    Text from before languages were recorded, or from outside the portal (a buyer's complaint, a
    violation synced from the platform), is Chinese when it has Chinese characters.
    """
    if recorded:
        return recorded
    return "zh_CN" if _HAN.search(text or "") else "en"
