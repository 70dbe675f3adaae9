"""Machine-to-machine JSON bodies (the payment gateway's webhook, later the platform feed), bounded.

No Flask here. A body is refused when it is larger than allowed, or nested deeper than allowed,
before ``json.loads`` sees it: Python's parser recurses once per level, so a few kilobytes of ``[``
would otherwise end in a RecursionError (an error page) instead of an answer.
"""
import json
import re

MAX_BYTES = 64 * 1024
MAX_DEPTH = 32

# A JSON string, escapes included: its brackets are text, not nesting.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


class BodyRefused(ValueError):
    """A body that is not a usable JSON object; ``code`` says why and ``detail`` says it for a machine."""

    def __init__(self, code, detail):
        super().__init__(detail)
        self.code = code
        self.detail = detail


def nesting_depth(raw):
    """How deeply arrays and objects nest in ``raw`` (bytes), counting only brackets outside strings."""
    depth = deepest = 0
    for bracket in _BRACKET.finditer(_STRING.sub(b'""', raw)):
        if bracket.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def parse_object(raw, max_bytes=MAX_BYTES, max_depth=MAX_DEPTH):
    """The JSON object in ``raw`` (bytes), or ``BodyRefused``: too_large, too_deep, not_json, not_object."""
    if len(raw) > max_bytes:
        raise BodyRefused("too_large", f"the body is larger than {max_bytes} bytes")
    if nesting_depth(raw) > max_depth:
        raise BodyRefused("too_deep", f"the body nests deeper than {max_depth} levels")
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: only if max_depth is set past Python's limit
        raise BodyRefused("not_json", "the body must be a JSON object") from None
    if not isinstance(payload, dict):
        raise BodyRefused("not_object", "the body must be a JSON object")
    return payload
