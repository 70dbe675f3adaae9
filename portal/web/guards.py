"""Who may see a page: signed in, a seller, staff; and the sign-in page for those who are not."""
from urllib.parse import urlsplit

from flask import abort, current_app, g, redirect, request, session, url_for
from flask_login import current_user

from portal.core.vocabulary import Role
from portal.web import htmx
from portal.web.extensions import login_manager


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


def session_token():
    """The token of the signed-in browser's server-side session, as the signed cookie holds it."""
    return session.get("sid")


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
    if not current_user.is_authenticated or current_user.role != Role.SELLER or current_user.shop_id is None:
        abort(404)
    return current_user.shop_id


def home_for(user):
    """Where a user lands after signing in."""
    return url_for("deposit.show_deposit") if user.role == Role.SELLER else url_for("desk.show_queue")


@login_manager.unauthorized_handler
def ask_to_sign_in():
    """Send an anonymous visitor to the sign-in page, keeping where they were going."""
    target = url_for("auth.login", next=request.full_path if request.method == "GET" else None)
    if request.headers.get("HX-Request") == "true":
        response = htmx.make_response("", 204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def database_down():
    """True while the outage page is being rendered (it must not ask the database anything)."""
    return bool(g.get("database_down"))


def safe_next(target):
    """Only a path on this site is a place to go after signing in (no open redirect)."""
    if not target:
        return None
    # Control characters would break the Location header (a 500), and browsers read a backslash
    # as a slash ("/\\evil.example" is "//evil.example" to them): neither belongs in a local path.
    if any(ord(char) < 32 or char in "\\\x7f" for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
