"""Status widgets against the database: the widget a token names, what it shows, the rate limits,
and the seller's changes (create, rotate, revoke), each with its audit row."""
from peewee import IntegrityError

from portal.audit import service as audit_service
from portal.core.clock import epoch_seconds, utcnow
from portal.core.db import db, write_transaction
from portal.refunds.models import RefundRequest
from portal.widgets import tokens
from portal.widgets.models import RateCounter, Widget


def widget_for_token(secret, token):
    """The live widget a token names, or None (tampered, revoked, rotated or unknown: all alike)."""
    named = tokens.read_token(secret, token)
    if named is None:
        return None
    widget_id, version = named
    return Widget.get_or_none((Widget.id == widget_id) & (Widget.version == version) & Widget.revoked_at.is_null())


def former_widget_for_token(secret, token):
    """The widget a genuinely signed token names, live or not (where its "no longer shared" may show)."""
    named = tokens.read_token(secret, token)
    if named is None or isinstance(named[0], bool) or not 0 < named[0] < 2**63:
        return None
    return Widget.get_or_none(Widget.id == named[0])


def target_request(widget):
    """The request a widget shows: its own, or the shop's latest."""
    if widget.request_id is not None:
        return RefundRequest.get_or_none(RefundRequest.id == widget.request_id)
    return RefundRequest.select().where(RefundRequest.shop == widget.shop_id).order_by(RefundRequest.id.desc()).first()


def hit(key, limit, now=None):
    """Count one request against ``key`` this minute; returns seconds to wait, or 0 when allowed.

    A row per key and minute, incremented in the database, so the limit holds across processes.
    """
    epoch = epoch_seconds(now or utcnow())
    window = epoch // 60
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
        return 60 - epoch % 60
    return 0


def forget_old_counts(now=None):
    """Drop counters of past minutes (``tick`` calls this)."""
    return RateCounter.delete().where(RateCounter.window < epoch_seconds(now or utcnow()) // 60 - 1).execute()


def create(shop_id, user, request_id, variant, origins, language="zh_CN"):
    """A new widget for one request (or the shop's latest, when ``request_id`` is None), in a language."""
    with write_transaction():
        widget = Widget.create(shop=shop_id, request=request_id, variant=variant, origins=origins, language=language)
        audit_service.record(user, "widget.create", widget.request_id, shop_id, widget=widget.id,
                             origins=widget.origin_list, variant=widget.variant, language=widget.language)
    return widget


def rotate(widget, user):
    """A new token: every copy of the old one stops working at once."""
    with write_transaction():
        Widget.update(version=Widget.version + 1).where(Widget.id == widget.id).execute()
        audit_service.record(user, "widget.rotate", None, widget.shop_id, widget=widget.id)


def revoke(widget, user):
    """Switch a widget off for good."""
    with write_transaction():
        (Widget.update(revoked_at=utcnow(), version=Widget.version + 1)
         .where(Widget.id == widget.id).execute())
        audit_service.record(user, "widget.revoke", None, widget.shop_id, widget=widget.id)
