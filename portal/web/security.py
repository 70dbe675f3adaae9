"""Security headers, the session cookie, and the routes other sites embed (which get no session)."""
from flask import current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface

from portal.web import htmx

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

# Path prefixes of routes that other sites load: no session, no cookie, their own framing rules.
# An area registers its prefixes with ``sessionless_prefixes`` when its blueprint is registered.
_SESSIONLESS = "SESSIONLESS_PATH_PREFIXES"


def sessionless_prefixes(app, prefixes):
    """Declare routes (by path prefix) that never read or set a cookie."""
    app.config[_SESSIONLESS] = tuple(app.config.get(_SESSIONLESS, ())) + tuple(prefixes)


def is_sessionless(path):
    """True for a path another site embeds."""
    return path.startswith(tuple(current_app.config.get(_SESSIONLESS, ())))


class PortalSessionInterface(SecureCookieSessionInterface):
    """Signed-cookie sessions whose cookie is marked Secure whenever the request came over HTTPS.

    The routes other sites embed get no session at all: their cookie is never read or written.
    """

    def open_session(self, app, request):
        """No session for embedded routes; the signed cookie otherwise."""
        if is_sessionless(request.path):
            return self.null_session_class()
        return super().open_session(app, request)

    def get_cookie_secure(self, app):
        """Secure behind HTTPS even when the setting is off (the setting forces it on)."""
        return bool(app.config["SESSION_COOKIE_SECURE"] or (request and request.is_secure))


def add_security_headers(response):
    """``after_request``: the headers every answer carries (embedded routes set their own framing)."""
    headers = response.headers
    hsts_seconds = int(current_app.config["HSTS_SECONDS"])
    if hsts_seconds > 0 and request.is_secure:
        # Only over HTTPS (directly, or as a trusted proxy reports it, PROXY_HOPS): on plain HTTP
        # the header means nothing, and a browser ignores it there anyway.
        headers.setdefault("Strict-Transport-Security", f"max-age={hsts_seconds}")
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
