"""The page shell every area builds on: extensions, security headers, errors, locale and helpers.

It knows no area: each area's blueprint registers its own template helpers, and the areas whose
routes other sites embed declare them with ``security.sessionless_prefixes``.
"""
from flask_babel import get_locale
from werkzeug.middleware.proxy_fix import ProxyFix

from portal.core import vocabulary
from portal.core.clock import utcnow
from portal.core.money import format_fen
from portal.web import assets, database, errors, guards, observability  # noqa: F401 - guards registers the sign-in redirect
from portal.web.extensions import babel, compress, csrf, login_manager
from portal.web.locale import current_language, select_locale
from portal.web.security import PortalSessionInterface, add_security_headers
from portal.web.text import code_label, format_day, format_moment, is_labelled, message_text, text_language


def init_app(app):
    """Bind the database, the extensions and the page-wide behaviour to the app."""
    if app.config["PROXY_HOPS"]:
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    # First, so that every later hook (the database's included) runs under the request's id and clock.
    observability.init_app(app)
    database.init_app(app)
    app.session_interface = PortalSessionInterface()
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"
    babel.init_app(app, locale_selector=select_locale)
    # The vocabulary, so templates compare with ``RefundState.NEEDS_INFO``, never a bare string.
    app.jinja_env.globals.update({name: getattr(vocabulary, name) for name in vocabulary.__all__})
    app.jinja_env.globals.update(
        format_fen=format_fen,
        # One way of writing dates per language: no template chooses a format of its own.
        format_day=format_day,
        format_moment=format_moment,
        now=utcnow,
        get_locale=get_locale,
        current_language=current_language,
        code_label=code_label,
        is_labelled=is_labelled,
        text_language=text_language,
    )
    app.jinja_env.filters["message_text"] = message_text
    # Pages go out compressed (brotli, else gzip); registered before the security headers so that it
    # runs after them (Flask runs after_request functions last-registered first) on the final answer.
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    # Streamed answers (exports, downloads) stay as they are: no chunked re-encoding.
    app.config.setdefault("COMPRESS_STREAMS", False)
    app.config.setdefault("COMPRESS_BR_LEVEL", 5)
    compress.init_app(app)
    app.after_request(add_security_headers)
    errors.init_app(app)
    # Outermost, after ProxyFix: /static/ is answered from the prebuilt, compressed copy before Flask.
    assets.init_app(app)
