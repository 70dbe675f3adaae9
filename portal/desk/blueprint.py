"""The desk's blueprint and who may enter: staff only, some actions for some roles."""

from functools import wraps

from flask import Blueprint, abort
from flask_login import current_user

from portal.web.guards import signed_in_only

bp = Blueprint("desk", __name__, url_prefix="/desk")

# Larger than any id; SQLite cannot even compare a column with a bigger number (an OverflowError, a 500).
MAX_ID = 2**63 - 1


def database_id(raw):
    """An id from a query string: a whole number the database can compare, else ValueError."""
    value = int(raw)
    if not 0 <= value <= MAX_ID:
        raise ValueError(raw)
    return value


def staff_only():
    """Everyone but agents and finance gets 404: the desk does not admit it exists."""
    if not current_user.is_staff:
        abort(404)


def role_required(*roles):
    """A desk action only some staff may take; the others are told so (they can see the desk)."""
    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        return wrapper
    return decorate


bp.before_request(signed_in_only)
bp.before_request(staff_only)
