"""The desk's audit log: every action and sensitive view, newest first, filtered."""


from flask import request

from portal.accounts.models import User
from portal.audit import service as audit_service
from portal.audit.models import AuditLog
from portal.desk.blueprint import bp, database_id
from portal.web import htmx
from portal.web.forms import query_text


@bp.get("/audit")
def show_audit():
    """The whole desk's audit log, newest first, filtered by action, person or request."""
    action = query_text("action")[:60]
    username = query_text("actor")[:150]
    request_id = request.args.get("request", type=database_id)
    before = request.args.get("before", type=database_id)
    actor = User.get_or_none(User.username == username) if username else None
    if username and actor is None:
        entries = []
    else:
        entries = list(audit_service.entries(request_id=request_id, actor_id=actor.id if actor else None,
                                     action=action or None, before_id=before, limit=51))
    next_before = entries[49].id if len(entries) > 50 else None
    actions = [name for (name,) in AuditLog.select(AuditLog.action).distinct().order_by(AuditLog.action).tuples()]
    actor_ids = {entry.actor_id for entry in entries if entry.actor_id}
    actors = {user.id: user for user in User.select().where(User.id.in_(actor_ids))} if actor_ids else {}
    return htmx.render("desk/audit.html", entries=entries[:50], next_before=next_before, actions=actions,
                       action=action, actor_name=username, request_id=request_id, actors=actors,
                       details_of=audit_service.details_of)
