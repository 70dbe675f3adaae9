"""What every page shares: extensions, security headers, error pages, locale and template helpers."""
import re

from babel import Locale
from flask import abort, current_app, g, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel, format_date, format_datetime, get_locale, ngettext
from flask_babel import gettext as _
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from markupsafe import Markup, escape
from peewee import InterfaceError, OperationalError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import BuildError

from portal import eligibility, htmx, ledger, money, ticketing, workflow
from portal.models import User

csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()

# Only our own origin, no inline code, no framing: htmx is configured (see base.html) to need
# neither inline styles nor eval.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


class PortalSessionInterface(SecureCookieSessionInterface):
    """Signed-cookie sessions whose cookie is marked Secure whenever the request came over HTTPS.

    The routes other sites embed get no session at all: their cookie is never read or written.
    """

    def open_session(self, app, request):
        """No session for embedded widget routes; the signed cookie otherwise."""
        from portal.embed import is_public_widget_path

        if is_public_widget_path(request.path):
            return self.null_session_class()
        return super().open_session(app, request)

    def get_cookie_secure(self, app):
        """Secure behind HTTPS even when the setting is off (the setting forces it on)."""
        return bool(app.config["SESSION_COOKIE_SECURE"] or (request and request.is_secure))


def select_locale():
    """The language: the switch's cookie, else the browser's preference, else Chinese."""
    from flask import current_app

    from portal.embed import LANGUAGES as WIDGET_LANGUAGES
    from portal.embed import is_public_widget_path

    if is_public_widget_path(request.path):
        # Widget routes read no cookie: their language comes from ?lang= alone.
        return WIDGET_LANGUAGES.get(request.args.get("lang", "zh_CN"), "zh_CN")
    languages = current_app.config["LANGUAGES"]
    chosen = request.cookies.get("lang")
    if chosen in languages:
        return chosen
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    if best and best.startswith("en"):
        return "en"
    return "zh_CN"


def current_language():
    """The request's language as settings and the switch spell it (``zh_CN`` or ``en``).

    Not ``str(get_locale())``: Babel expands zh_CN to ``zh_Hans_CN`` (which is also why the
    Chinese catalogue lives in ``translations/zh_Hans_CN``).
    """
    from flask import current_app

    locale = get_locale()
    for code in current_app.config["LANGUAGES"]:
        if Locale.parse(code) == locale:
            return code
    return current_app.config["BABEL_DEFAULT_LOCALE"]


@login_manager.user_loader
def load_user(user_id):
    """The signed-in user from the session, if still active."""
    if not str(user_id).isdigit():
        return None
    if g.get("database_down"):
        # The outage page must not ask the unreachable database who is signed in (a second error).
        return None
    return User.get_or_none((User.id == int(user_id)) & (User.active == True))  # noqa: E712


@login_manager.unauthorized_handler
def ask_to_sign_in():
    """Send an anonymous visitor to the sign-in page, keeping where they were going."""
    from flask import redirect

    target = url_for("auth.login", next=request.full_path if request.method == "GET" else None)
    if request.headers.get("HX-Request") == "true":
        response = htmx.make_response("", 204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def fix_url(check):
    """Where a pre-check finding is fixed, as a URL (None if that page does not exist yet)."""
    try:
        url = url_for(check.fix_endpoint, **check.fix_params)
    except BuildError:
        return None
    return url + ("#" + check.fix_anchor if check.fix_anchor else "")


def translate_params(params):
    """Turn the raw values of a message's parameters into text in the current locale."""
    shown = {}
    for key, value in params.items():
        if key == "amount_fen":
            shown["amount"] = money.format_fen(value)
        elif key == "moment":
            shown["date"] = format_date(value, "long") if value else ""
        else:
            shown[key] = value
    return shown


def check_message(check):
    """A pre-check finding's message, translated and filled in (in the plural form its count needs)."""
    params = translate_params(check.params)
    if isinstance(check.message, tuple):
        singular, plural = check.message
        return ngettext(singular, plural, params["count"], **params)
    return _(check.message, **params)


def staff_state_label(state):
    """A request state as the desk reads it."""
    return _(workflow.STAFF_STATE_LABELS.get(state) or workflow.STATE_LABELS[state])


def check_title(code):
    """A pre-check code's short title in the current language."""
    title = eligibility.CHECK_TITLES.get(code)
    return _(title) if title else code


def refusal_text(refused):
    """A refused transition's message, naming states by their labels in the current language."""
    params = {key: (state_label(value) if key in ("source", "target") and value in workflow.STATE_LABELS
                    else value) for key, value in refused.params.items()}
    return _(refused.message, **params)


def state_label(state):
    """A request state's seller-facing label in the current language."""
    return _(workflow.STATE_LABELS[state])


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
        pieces.append(escape(text[position:match.start()]))
        pieces.append(Markup('<a class="outside-link" rel="nofollow noopener noreferrer" href="{}">{}</a>')
                      .format(url_for("site.leaving", to=match.group(0)), match.group(0)))
        position = match.end()
    pieces.append(escape((text or "")[position:]))
    return Markup("").join(pieces)


def entry_reason(entry):
    """A ledger entry's reason, translated when the portal wrote it."""
    standard = ledger.STANDARD_REASONS.get(entry.reason)
    return _(standard) if standard else entry.reason


def error_page(title, message, status):
    """An error as a page; on embedded widget routes a plain text (no session, no portal layout)."""
    from portal.embed import is_public_widget_path

    if request and is_public_widget_path(request.path):
        return f"{title}\n", status, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}
    return render_template("error.html", title=title, message=message), status


def init_app(app):
    """Bind the extensions and the page-wide behaviour to the app."""
    if app.config["PROXY_HOPS"]:
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.session_interface = PortalSessionInterface()
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"
    babel.init_app(app, locale_selector=select_locale)

    app.jinja_env.globals.update(
        format_fen=money.format_fen,
        format_datetime=format_datetime,
        format_date=format_date,
        get_locale=get_locale,
        current_language=current_language,
        fix_url=fix_url,
        check_message=check_message,
        state_label=state_label,
        check_title=check_title,
        staff_state_label=staff_state_label,
        workflow=workflow,
        entry_labels=ledger.ENTRY_LABELS,
        entry_sign=ledger.sign,
        entry_reason=entry_reason,
        ticket_statuses=ticketing.STATUSES,
        ticket_categories=ticketing.CATEGORIES,
    )
    app.jinja_env.filters["message_text"] = message_text

    @app.after_request
    def _security_headers(response):
        headers = response.headers
        if response.status_code == 204:
            # "Nothing changed" has no document to protect: the live polls stay a few hundred bytes.
            headers.setdefault("Cache-Control", "no-store")
            headers.pop("Content-Type", None)
            return htmx.add_vary(response)
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        if g.get("embeddable"):
            # Widget routes set their own frame-ancestors; no X-Frame-Options, no user, no cookie.
            return response
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if session.get("_user_id") is not None:
            # Pages of a signed-in person never sit in a shared cache.
            headers.setdefault("Cache-Control", "private, no-store")
        return htmx.add_vary(response)

    @app.errorhandler(CSRFError)
    def _csrf_failed(error):
        message = _("This form expired or did not come from this site. Go back, check what you "
                    "typed, and send it again.")
        return error_page(_("Please try again"), message, 400)

    @app.errorhandler(403)
    def _forbidden(error):
        return error_page(_("Not for your role"), _("Your role cannot take this action. Ask a colleague who can."), 403)

    @app.errorhandler(404)
    def _not_found(error):
        return error_page(_("Not found"), _("There is nothing here, or it is not yours to see."), 404)

    @app.errorhandler(405)
    def _wrong_method(error):
        return error_page(_("Not allowed"), _("This page cannot be used that way."), 405)

    @app.errorhandler(413)
    def _too_large(error):
        return error_page(_("Too large"), _("What you sent is larger than the portal accepts."), 413)

    @app.errorhandler(400)
    def _bad_request(error):
        return error_page(_("Bad request"), _("The portal could not understand that request."), 400)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _database_down(error):
        app.logger.exception("database unavailable: %s", error)
        g.database_down = True
        return error_page(_("Temporarily unavailable"), _("The portal cannot reach its database right now. Nothing was "
                                         "changed. Please try again in a minute."), 503)

    @app.errorhandler(500)
    def _server_error(error):
        return error_page(_("Something went wrong"), _("The portal hit an error. Nothing was changed. Please try "
                                         "again."), 500)


def checks_session_itself(view):
    """Mark a hot view (a live poll) that authorises the session's user inside its own query.

    Such a view does not load the user row first: the poll answers most calls with a 204 after a
    single query, and that is what lets many open pages poll cheaply.
    """
    view.checks_session_itself = True
    return view


def session_user_id():
    """The signed-in user's id as the signed session cookie holds it (no database), or None."""
    raw = session.get("_user_id")
    return int(raw) if raw is not None and str(raw).isdigit() else None


def signed_in_only():
    """A blueprint's ``before_request``: anonymous visitors are sent to sign in first."""
    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, "checks_session_itself", False):
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None


def require_seller():
    """The signed-in seller's shop id; anyone else gets 404 (ids leak nothing)."""
    if not current_user.is_authenticated or current_user.role != "seller" or current_user.shop_id is None:
        abort(404)
    return current_user.shop_id
