"""What other sites embed: the status widget page, its loader script, a JSON status and an SVG badge.

These routes never read or set a cookie (the session interface gives them none), are framed only
by the widget's own allowed origins, and are rate-limited per token and per address.
"""
import hashlib
import json

from flask import Blueprint, abort, current_app, g, make_response, render_template, request
from flask_babel import force_locale
from flask_babel import gettext as _
from jinja2_fragments.flask import render_block

from portal.core import money
from portal.core.clock import utcnow
from portal.core.vocabulary import WidgetVariant
from portal.deposit.service import refundable_now
from portal.refunds import service as refund_service
from portal.refunds import states, timing
from portal.shops.models import Shop
from portal.web.locale import LANGUAGE_PARAMS, browser_language
from portal.web.security import sessionless_prefixes
from portal.web.text import format_day, format_moment
from portal.widgets import service as widget_service

bp = Blueprint("embed", __name__)

# The routes other sites load: no session, no cookies, their own framing rules.
PUBLIC_PREFIXES = ("/embed", "/badge/", "/api/v1/status/")
bp.record_once(lambda state: sessionless_prefixes(state.app, PUBLIC_PREFIXES))


def _limited(widget_key):
    """A 429 with Retry-After when this token or this address asks too often, else None."""
    config = current_app.config
    for key, limit in ((f"widget:{widget_key}", config["WIDGET_RATE_PER_TOKEN"]),
                       (f"addr:{request.remote_addr}", config["WIDGET_RATE_PER_ADDRESS"])):
        wait = widget_service.hit(key, int(limit))
        if wait:
            response = make_response(_("Too many requests. Try again in %(seconds)s seconds.", seconds=wait), 429)
            response.headers["Retry-After"] = str(wait)
            response.headers["Content-Type"] = "text/plain; charset=utf-8"
            return response
    return None


def _widget_or_404(token):
    """The live widget of a token (tampered, revoked and rotated tokens all answer 404)."""
    widget = widget_service.widget_for_token(current_app.config["SECRET_KEY"], token)
    if widget is None:
        abort(404)
    return widget


def widget_locale(widget=None):
    """The language a widget answers in: ``?lang=`` first, then the one its seller chose.

    AUTO follows the viewer's browser by the portal's Chinese-first rule; a request without a
    known widget (a dead token) and anything unknown answer in Chinese.
    """
    asked = request.args.get("lang")
    if asked in LANGUAGE_PARAMS:
        return LANGUAGE_PARAMS[asked]
    chosen = getattr(widget, "language", None) or "zh_CN"
    if chosen == "AUTO":
        return browser_language(request.accept_languages)
    return LANGUAGE_PARAMS.get(chosen, "zh_CN")


def _locale():
    """The language of this request's widget (see ``widget_locale``)."""
    return widget_locale(g.get("widget"))


def widget_status(widget):
    """What a widget may show: stage, expected date, last change (and the amount when detailed)."""
    refund = widget_service.target_request(widget)
    if refund is None:
        return {"state": None, "final": True, "version": f"{widget.version}.0"}
    window = refund_service.expected_window(refund, current_app.config)
    final = states.is_final(refund.state)
    labels = {}
    for locale in ("zh_CN", "en"):
        with force_locale(locale):
            labels[locale] = _(states.STATE_LABELS[refund.state])
    status = {
        "state": refund.state,
        "label": labels,
        "final": final,
        "expected_date": None if final else window.latest.isoformat(),
        "expected_is_estimate": False if final else window.estimate,
        "last_change": refund.state_changed_at.isoformat() + "Z",
        "version": f"{widget.version}.{refund.version}.{refund.id}",
        "refund": refund,
        "window": window,
    }
    if widget.variant == WidgetVariant.DETAILED:
        status["amount_fen"] = refund.approved_fen if refund.approved_fen is not None else refund.requested_fen
        # The same refundable figure the seller's pages show, for the kind of the request shown.
        status["refundable"] = refundable_now(Shop.get_by_id(widget.shop_id))[refund.kind]
        # The refresh answers 204 while the version is unchanged, so the figure is part of it.
        status["version"] += f".{status['refundable'].fen}"
    return status


def _frame_policy(widget):
    """The widget page's CSP: as strict as the portal's, but framed by exactly the allowed origins."""
    ancestors = " ".join(["'self'", *widget.origin_list])
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
            f"base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}")


def _render_widget(widget, status, block_only):
    """The widget page, or only its body for the refresh."""
    locale = _locale()
    parent = request.args.get("parent", "").rstrip("/").lower()
    with force_locale(locale):
        context = {"widget": widget, "status": status, "locale": locale, "format_fen": money.format_fen,
                   "interval": None if status["final"]
                   else timing.poll_seconds(status["refund"], current_app.config, utcnow()),
                   "parent": parent if parent in widget.origin_list else "",
                   "format_day": format_day, "format_moment": format_moment}
        if block_only:
            body = render_block("embed/widget.html", "widget_body", **context)
        else:
            body = render_template("embed/widget.html", **context)
    response = make_response(body)
    response.headers["Content-Security-Policy"] = _frame_policy(widget)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Widget-Version"] = status["version"]
    response.headers["X-Widget-Final"] = "1" if status["final"] else "0"
    response.headers["X-Widget-Interval"] = str(context["interval"] or 0)
    g.embeddable = True
    return response


@bp.before_request
def _load_widget():
    """Every route with a token: the live widget (else 404), then the rate limits (else 429)."""
    token = (request.view_args or {}).get("token")
    if token is None:
        return None
    if request.endpoint == "embed.show_widget":
        widget = widget_service.widget_for_token(current_app.config["SECRET_KEY"], token)
        if widget is None:
            return _no_longer_shared(token)
        g.widget = widget
    else:
        g.widget = _widget_or_404(token)
    return _limited(g.widget.id)


def _no_longer_shared(token):
    """The frame's 404: a small styled "no longer shared", never the portal's page or the request's status.

    The same body for a revoked, rotated, tampered or unknown token. Its frame-ancestors are the
    widget's sites when the token's signature names a widget (so the note shows where the widget
    was embedded), else none.
    """
    former = widget_service.former_widget_for_token(current_app.config["SECRET_KEY"], token)
    locale = widget_locale(former)
    with force_locale(locale):
        body = render_template("embed/gone.html", locale=locale)
    response = make_response(body, 404)
    response.headers["Content-Security-Policy"] = (
        _frame_policy(former) if former else
        "default-src 'self'; script-src 'none'; style-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'")
    response.headers["Cache-Control"] = "no-store"
    g.embeddable = True
    return response


@bp.get("/embed/<token>")
def show_widget(token):
    """The widget page an iframe shows."""
    return _render_widget(g.widget, widget_status(g.widget), block_only=False)


@bp.get("/embed/<token>/status")
def widget_refresh(token):
    """The widget's refresh: 204 when the version the page holds is current, else the new body."""
    widget = g.widget
    status = widget_status(widget)
    if request.args.get("v") == status["version"]:
        response = make_response("", 204)
        g.embeddable = True
        return response
    return _render_widget(widget, status, block_only=True)


@bp.get("/embed.js")
def loader_script():
    """The optional loader: turns ``<div data-refund-widget="TOKEN">`` into a self-sizing iframe."""
    response = current_app.send_static_file("js/embed.js")
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["Access-Control-Allow-Origin"] = "*"
    g.embeddable = True
    return response


def _etagged(body, content_type, widget):
    """A response with an ETag; 304 when the client already has it; CORS for allowed origins only."""
    etag = hashlib.sha256(body.encode("utf-8")).hexdigest()[:32]
    origin = request.headers.get("Origin", "").rstrip("/").lower()
    if request.if_none_match and etag in request.if_none_match:
        response = make_response("", 304)
    else:
        response = make_response(body)
        response.headers["Content-Type"] = content_type
    response.set_etag(etag)
    # Revalidate every time (cheap: 304) so a revoked widget disappears at once.
    response.headers["Cache-Control"] = "no-cache"
    response.vary.add("Origin")
    if origin and origin in widget.origin_list:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "ETag"
    g.embeddable = True
    return response


@bp.get("/api/v1/status/<token>")
def status_json(token):
    """The status as JSON: state, labels in both languages, expected date, last change, final or not."""
    widget = g.widget
    status = widget_status(widget)
    public = {key: status[key] for key in ("state", "label", "final", "expected_date", "expected_is_estimate",
                                           "last_change", "amount_fen") if key in status}
    body = json.dumps(public, ensure_ascii=False, sort_keys=True)
    return _etagged(body, "application/json; charset=utf-8", widget)


@bp.get("/badge/<token>.svg")
def status_badge(token):
    """A small SVG badge of the stage, for places that can show an image but not a frame."""
    widget = g.widget
    status = widget_status(widget)
    locale = _locale()
    with force_locale(locale):
        title = _("Refund")
        label = status["label"][locale] if status["state"] else _("None")
        body = render_template("embed/badge.svg", status=status, title=title, label=label,
                               left=12 + _text_width(title), right=12 + _text_width(label))
    response = _etagged(body, "image/svg+xml; charset=utf-8", widget)
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response


def _text_width(text):
    """Roughly how wide a text is at 12 px: CJK characters are about twice as wide as Latin ones."""
    return sum(12 if ord(char) > 0x2E80 else 7 for char in text)


@bp.after_request
def _no_cookies(response):
    """Belt and braces: nothing on these routes may set a cookie."""
    response.headers.pop("Set-Cookie", None)
    return response

