"""In-app notifications: the unread count in the header and the list page."""
from flask import Blueprint, abort, redirect, url_for
from flask_login import current_user
from peewee import JOIN

from portal.core.vocabulary import Role
from portal.notifications import service as notification_service
from portal.notifications.models import Notification
from portal.tickets.models import Ticket
from portal.web import htmx
from portal.web.forms import EmptyForm
from portal.web.guards import signed_in_only

bp = Blueprint("notifications", __name__, url_prefix="/notifications")

PAGE_SIZE = 50


@bp.app_context_processor
def unread_notifications():
    """The header's unread count, for signed-in sellers (one COUNT query per rendered page)."""
    if not current_user.is_authenticated or current_user.role != Role.SELLER:
        return {"unread_count": 0}
    return {"unread_count": Notification.unread_count(current_user.id)}


@bp.get("")
def list_notifications():
    """The newest notifications, unread ones marked."""
    # The ticket's subject comes along in the same query (a LEFT JOIN: most notices are about requests).
    notices = list(Notification.select(Notification, Ticket.id, Ticket.subject)
                   .join(Ticket, JOIN.LEFT_OUTER, on=(Notification.ticket == Ticket.id))
                   .where(Notification.user == current_user.id)
                   .order_by(Notification.id.desc())
                   .limit(PAGE_SIZE))
    return htmx.render("notifications/list.html", notices=notices, form=EmptyForm())


@bp.get("/<int:notification_id>")
def open_notification(notification_id):
    """Mark one notification read and go to the request it is about."""
    notice = Notification.get_or_none((Notification.id == notification_id)
                                      & (Notification.user == current_user.id))
    if notice is None:
        abort(404)
    if notice.read_at is None:
        notification_service.mark_read(current_user.id, notice.id)
    if notice.request_id:
        target = url_for("refunds.show_request", request_id=notice.request_id)
    elif notice.ticket_id:
        target = url_for("tickets.show_ticket", ticket_id=notice.ticket_id) + f"#message-{notice.ticket_message_id}"
    else:
        target = url_for("notifications.list_notifications")
    return redirect(target, code=303)


@bp.post("/read")
def mark_all_read():
    """Mark every notification read (CSRF is checked for every POST by CSRFProtect)."""
    notification_service.mark_read(current_user.id)
    return htmx.see_other(url_for("notifications.list_notifications"))


bp.before_request(signed_in_only)
