"""Text as pages show it: messages made safe with their links routed through the warning page,
and message parameters turned into the reader's language."""
import re

from flask import url_for
from flask_babel import format_date
from markupsafe import Markup, escape

from portal.core.money import format_fen
from portal.web import links

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


def translate_params(params):
    """Turn the raw values of a message's parameters into text in the current locale."""
    shown = {}
    for key, value in params.items():
        if key == "amount_fen":
            shown["amount"] = format_fen(value)
        elif key == "moment":
            shown["date"] = format_date(value, "long") if value else ""
        else:
            shown[key] = value
    return shown
