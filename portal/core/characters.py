"""Which characters stored text may hold: no control characters (no Flask here).

PostgreSQL cannot store a NUL in a text column at all (the driver raises, a 500), and SQLite
stores it silently, so a NUL typed or pasted into a form would break one database and haunt the
other. The other C0 controls, DEL and the C1 controls have no meaning in a name, an amount or a
message either, and some change how a text shows in a terminal, a log or a CSV export.
Multi-line text keeps its line breaks and tabs.
"""
import re

# C0 controls, DEL and C1 controls: every character Unicode classes as Cc.
_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# The same, less newline, carriage return (normalised to newline) and tab.
_CONTROL_IN_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def has_control_characters(value, multiline=False):
    """True when ``value`` holds a character no field of the portal stores."""
    pattern = _CONTROL_IN_MULTILINE if multiline else _ANY_CONTROL
    return pattern.search(value) is not None


def normalise_line_breaks(value):
    """Browsers send a text area's line breaks as CR LF; store them as LF (a lone CR too)."""
    if not isinstance(value, str):
        return value
    return value.replace("\r\n", "\n").replace("\r", "\n")


def json_has_control_characters(payload):
    """True when any key or string anywhere in decoded JSON holds a control character.

    Walked with a stack, not recursion, so a deeply nested body costs no Python frames.
    """
    pending = [payload]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if has_control_characters(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False
