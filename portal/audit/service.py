"""The audit log: one append-only row per desk action or sensitive view."""
import json

from portal.audit.models import AuditLog
from portal.core.clock import utcnow
from portal.core.vocabulary import Actor


def record(actor, action, request_id=None, shop_id=None, now=None, ticket_id=None, **details):
    """Append one entry; call it inside the transaction of the action it records."""
    return AuditLog.create(
        actor=actor.id if actor else None,
        actor_role=actor.role if actor else Actor.SYSTEM,
        action=action,
        request=request_id,
        shop=shop_id,
        ticket_id=ticket_id,
        details=json.dumps(details, ensure_ascii=False, sort_keys=True, default=str),
        created_at=now or utcnow(),
    )


def entries(request_id=None, actor_id=None, action=None, before_id=None, limit=50, ticket_id=None):
    """Audit entries, newest first, filtered and keyset-paginated by id."""
    query = AuditLog.select()
    if request_id is not None:
        query = query.where(AuditLog.request == request_id)
    if ticket_id is not None:
        query = query.where(AuditLog.ticket_id == ticket_id)
    if actor_id is not None:
        query = query.where(AuditLog.actor == actor_id)
    if action:
        query = query.where(AuditLog.action == action)
    if before_id is not None:
        query = query.where(AuditLog.id < before_id)
    return query.order_by(AuditLog.id.desc()).limit(limit)


def details_of(entry):
    """An entry's details as a dict."""
    try:
        return json.loads(entry.details) if entry.details else {}
    except ValueError:
        return {"raw": entry.details}
