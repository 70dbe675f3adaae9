"""The database in a web request: bound when the app is made, connected per request, closed after."""
import contextlib

from flask import current_app, request

from portal.core.db import db, open_database


def without_database(view):
    """Mark a view that answers without connecting to the database (liveness, metrics)."""
    view.without_database = True
    return view


def init_app(app):
    """Bind the database to the app: connect per request, close in teardown."""
    db.initialize(open_database(app.config["DATABASE_URL"], int(app.config["DB_POOL_SIZE"])))

    @app.before_request
    def _connect():
        view = current_app.view_functions.get(request.endpoint)
        if getattr(view, "without_database", False):
            return
        db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc):
        if not db.is_closed():
            # A request that failed half-way must not leave a transaction open on the connection.
            with contextlib.suppress(Exception):
                if db.in_transaction():
                    db.rollback()
            db.close()
