"""Status widgets (no Flask): signed tokens, allowed origins, and the shared rate limiter."""
import datetime
import re

from itsdangerous import BadSignature, URLSafeSerializer
from peewee import IntegrityError

from portal.db import db, utcnow
from portal.models import RateCounter, RefundRequest, Widget

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


def widget_for_token(secret, token):
    """The live widget a token names, or None (tampered, revoked, rotated or unknown: all alike)."""
    try:
        widget_id, version = URLSafeSerializer(secret, salt=_SALT).loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(widget_id, int) or not isinstance(version, int):
        return None
    return Widget.get_or_none((Widget.id == widget_id) & (Widget.version == version) & Widget.revoked_at.is_null())


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


def target_request(widget):
    """The request a widget shows: its own, or the shop's latest."""
    if widget.request_id is not None:
        return RefundRequest.get_or_none(RefundRequest.id == widget.request_id)
    return RefundRequest.select().where(RefundRequest.shop == widget.shop_id).order_by(RefundRequest.id.desc()).first()


def hit(key, limit, now=None):
    """Count one request against ``key`` this minute; returns seconds to wait, or 0 when allowed.

    A row per key and minute, incremented in the database, so the limit holds across processes.
    """
    epoch_seconds = _epoch(now)
    window = epoch_seconds // 60
    with db.atomic():
        updated = (RateCounter.update(count=RateCounter.count + 1)
                   .where((RateCounter.key == key) & (RateCounter.window == window)).execute())
        if not updated:
            try:
                with db.atomic():
                    RateCounter.create(key=key, window=window, count=1)
            except IntegrityError:
                (RateCounter.update(count=RateCounter.count + 1)
                 .where((RateCounter.key == key) & (RateCounter.window == window)).execute())
        count = RateCounter.select(RateCounter.count).where(
            (RateCounter.key == key) & (RateCounter.window == window)).scalar()
    if count > limit:
        return 60 - epoch_seconds % 60
    return 0


def forget_old_counts(now=None):
    """Drop counters of past minutes (``tick`` calls this)."""
    return RateCounter.delete().where(RateCounter.window < _epoch(now) // 60 - 1).execute()


def _epoch(moment=None):
    """Whole seconds since the epoch of a naive UTC moment (now by default)."""
    return int((moment or utcnow()).replace(tzinfo=datetime.UTC).timestamp())
