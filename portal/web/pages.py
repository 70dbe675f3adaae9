"""Site-wide pages: the front door, the language switch, the link warning and the health check."""
from flask import Blueprint, abort, current_app, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from portal.core.db import db
from portal.web import links
from portal.web.database import without_database
from portal.web.guards import home_for, safe_next

bp = Blueprint("site", __name__)

ONE_YEAR = 365 * 24 * 3600


@bp.get("/")
def index():
    """Send people to the page they use most."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(home_for(current_user))


@bp.get("/lang/<code>")
def switch_language(code):
    """Remember the chosen language in a cookie and go back to the page the switch was on."""
    target = safe_next(request.args.get("next")) or url_for("site.index")
    response = make_response(redirect(target, code=303))
    if code in current_app.config["LANGUAGES"]:
        response.set_cookie("lang", code, max_age=ONE_YEAR, samesite="Lax", httponly=True,
                            secure=request.is_secure)
    return response


@bp.get("/leaving")
def leaving():
    """A link from a message leads here first: it names the real host and warns before anyone leaves."""
    link = links.read_link(request.args.get("to", ""))
    if link is None:  # not an address a browser would open as a web page: nothing to follow
        abort(400)
    own = link.host == links.host_of(request.host)
    return render_template("site/leaving.html", link=link, own=own)


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico on their own; send them to the icon we have."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)


@bp.get("/healthz")
def healthz():
    """200 ``ok`` when the database answers a query, else 503 (a stable interface: it never changes)."""
    return _database_check()


@bp.get("/healthz/ready")
def healthz_ready():
    """Readiness for a load balancer: 200 ``ok`` when the database answers, else 503 (take this host out)."""
    return _database_check()


@bp.get("/healthz/live")
@without_database
def healthz_live():
    """Liveness: 200 ``ok`` while the process answers at all, database or not (restart it when this fails)."""
    return make_response("ok\n", 200, {"Content-Type": "text/plain", "Cache-Control": "no-store"})


def _database_check():
    """200 ``ok`` when ``SELECT 1`` answers, else 503 ``database unavailable``."""
    try:
        db.execute_sql("SELECT 1").fetchone()
    except Exception:  # any failure to reach the database means "not healthy"
        current_app.logger.exception("health check failed")
        return make_response("database unavailable\n", 503, {"Content-Type": "text/plain"})
    return make_response("ok\n", 200, {"Content-Type": "text/plain", "Cache-Control": "no-store"})
