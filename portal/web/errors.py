"""Error pages: every failure answers a page in the reader's language, never a stack trace."""
from flask import g, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from peewee import InterfaceError, OperationalError

from portal.web.security import is_sessionless


def error_page(title, message, status):
    """An error as a page; on embedded routes a plain text (no session, no portal layout)."""
    if request and is_sessionless(request.path):
        return f"{title}\n", status, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}
    return render_template("error.html", title=title, message=message), status


def init_app(app):
    """Register a handler per failure."""

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
