"""Status widget tokens and origins (pure rules: no Flask, no database).

A token signs a widget's id and version; bumping the version (revoke, rotate) makes every old
token fail at once.
"""
import re

from itsdangerous import BadSignature, URLSafeSerializer

_SALT = "refund-status-widget"

# scheme://host[:port] and nothing else. The host is dot-separated labels, so "https://." or
# "https://a..b" (which would go into the CSP header as broken sources) are refused.
_LABEL = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?"
_ORIGIN = re.compile(rf"^(?P<scheme>https?)://(?P<host>{_LABEL}(\.{_LABEL})*)(:(?P<port>\d{{1,5}}))?$")
_TEST_HOSTS = ("localhost", "127.0.0.1")


def _allowed_origin(value):
    """https with any host name; plain http only for localhost and 127.0.0.1 with a port, for testing."""
    match = _ORIGIN.match(value)
    if match is None or not 0 < int(match["port"] or 443) <= 65535:
        return False
    return match["scheme"] == "https" or (match["host"] in _TEST_HOSTS and match["port"] is not None)


def make_token(secret, widget):
    """The signed token of a widget's current version."""
    return URLSafeSerializer(secret, salt=_SALT).dumps([widget.id, widget.version])


def read_token(secret, token):
    """``(widget id, version)`` from a genuine token, or None (tampered or malformed)."""
    try:
        widget_id, version = URLSafeSerializer(secret, salt=_SALT).loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(widget_id, int) or not isinstance(version, int):
        return None
    return widget_id, version


def parse_origins(text):
    """``(origins, bad lines)`` from what a seller typed, one origin per line, normalised."""
    origins, bad = [], []
    for line in (text or "").splitlines():
        value = line.strip().rstrip("/").lower()
        if not value:
            continue
        if _allowed_origin(value):
            if value not in origins:
                origins.append(value)
        else:
            bad.append(line.strip())
    return origins, bad
