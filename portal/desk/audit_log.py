"""The desk's audit log: every action and sensitive view, newest first, as sentences, filtered."""
from flask import request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup, escape

from portal.accounts.labels import actor_name
from portal.accounts.models import User
from portal.audit import sentences
from portal.audit import service as audit_service
from portal.audit.models import AuditLog
from portal.core.money import format_fen
from portal.core.vocabulary import STAFF_ROLES
from portal.desk.blueprint import bp, database_id
from portal.refunds.models import ReasonCode
from portal.shops.models import Shop
from portal.web import htmx
from portal.web.forms import query_text
from portal.web.text import code_label


def _link(endpoint, text, **values):
    """A link to a desk page, its text escaped."""
    return Markup('<a href="{}">{}</a>').format(url_for(endpoint, **values), text)


@bp.app_template_global()
def audit_sentence(entry, names):
    """One audit entry as a sentence in the reader's language, linking to what it was done to.

    ``names`` (from ``audit_names``) holds the people, shops and reasons the entries mention.
    """
    details = audit_service.details_of(entry)
    reasons = names["reasons"]
    reason_code = details.get("reason_code") or details.get("failure_code") or ""
    request_link = (_link("desk.show_request", _("Request No. %(number)s", number=entry.request_id),
                          request_id=entry.request_id) if entry.request_id else "")
    shop = names["shops"].get(entry.shop_id)
    shop_link = _link("desk.show_shop", shop.name, shop_id=shop.id) if shop else ""
    ticket_link = (_link("desk.show_ticket", _("Ticket No. %(number)s", number=entry.ticket_id),
                         ticket_id=entry.ticket_id) if entry.ticket_id else "")
    amount = details.get("amount_fen", details.get("approved_fen"))
    params = {
        "who": actor_name(names["people"].get(entry.actor_id), entry.actor_role),
        "request": request_link, "shop": shop_link, "ticket": ticket_link,
        "subject": request_link or ticket_link or shop_link or _("the portal"),
        "amount": format_fen(amount) if isinstance(amount, int) else "—",
        "reason": reasons[reason_code].label(get_locale()) if reason_code in reasons else _("another reason"),
        "reference": details.get("reference") or "—",
        "bank_reference": details.get("bank_reference") or "—",
        "flag": code_label("risk", details.get("code")),
        "severity": code_label("severity", details.get("severity")),
        "effect": code_label("effect", details.get("effect")),
        "status": code_label("staff_ticket", details.get("status")),
    }
    # The message ids are ours; every value is escaped text or a link built above.
    escaped = {key: value if isinstance(value, Markup) else escape(value) for key, value in params.items()}
    return Markup(_(sentences.sentence_id(entry.action), **escaped))


@bp.app_template_global()
def audit_quote(entry):
    """The words of an entry that someone wrote themselves (a rationale, a ban reason, a decision), or ""."""
    key = sentences.QUOTED.get(entry.action)
    return audit_service.details_of(entry).get(key) or "" if key else ""


def audit_names(entries):
    """What the sentences of these entries name: the people, shops and reasons, in three queries."""
    people = {entry.actor_id for entry in entries if entry.actor_id}
    shops = {entry.shop_id for entry in entries if entry.shop_id}
    return {
        "people": {user.id: user for user in User.select().where(User.id.in_(people))} if people else {},
        "shops": {shop.id: shop for shop in Shop.select().where(Shop.id.in_(shops))} if shops else {},
        "reasons": {reason.code: reason for reason in ReasonCode.select()},
    }


@bp.get("/audit")
def show_audit():
    """The whole desk's audit log, newest first, filtered by action, person (from a list of staff) or request."""
    action = query_text("action")[:60]
    actor_id = request.args.get("actor", type=database_id)
    request_id = request.args.get("request", type=database_id)
    before = request.args.get("before", type=database_id)
    entries = list(audit_service.entries(request_id=request_id, actor_id=actor_id, action=action or None,
                                         before_id=before, limit=51))
    next_before = entries[49].id if len(entries) > 50 else None
    actions = [name for (name,) in AuditLog.select(AuditLog.action).distinct().order_by(AuditLog.action).tuples()]
    # The filter offers the staff by the names the log shows, never by their usernames.
    staff = list(User.select().where(User.role.in_(STAFF_ROLES)).order_by(User.display_name, User.id))
    return htmx.render("desk/audit.html", entries=entries[:50], next_before=next_before, actions=actions,
                       action_titles={name: _(sentences.title_id(name)) for name in actions}, action=action,
                       actor_id=actor_id, request_id=request_id, staff=staff, names=audit_names(entries[:50]))
