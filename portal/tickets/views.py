"""The seller's tickets: open one with evidence, follow the thread, reply inline."""
import uuid

from flask import Blueprint, abort, current_app, make_response, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from jinja2_fragments.flask import render_blocks

from portal.core.calendar import working_calendar
from portal.core.vocabulary import N_, TicketCategory, TicketStatus
from portal.disputes.models import Dispute
from portal.refunds.models import RefundRequest
from portal.risk.models import RiskFlag
from portal.shops.models import Shop
from portal.tickets import evidence
from portal.tickets import service as ticket_service
from portal.tickets.downloads import send_attachment
from portal.tickets.forms import ReplyForm, TicketForm, cleaned_files
from portal.tickets.models import Attachment, Ticket, TicketMessage
from portal.web import htmx
from portal.web.forms import query_text
from portal.web.guards import require_seller, signed_in_only
from portal.web.text import register_labels, written_language

bp = Blueprint("tickets", __name__, url_prefix="/tickets")
bp.add_app_template_global(ticket_service.STATUSES, "ticket_statuses")
register_labels("staff_ticket", ticket_service.STAFF_STATUSES, N_("Unknown state"))
bp.add_app_template_global(ticket_service.CATEGORIES, "ticket_categories")

def _own_ticket(ticket_id):
    """The seller's own ticket, or 404."""
    shop_id = require_seller()
    ticket = Ticket.get_or_none((Ticket.id == ticket_id) & (Ticket.shop == shop_id))
    if ticket is None:
        abort(404)
    return ticket


@bp.url_value_preprocessor
def _allow_uploads(endpoint, values):
    """Ticket forms carry files: allow their size here only (the rest of the portal keeps 1 MB)."""
    # Not a before_request hook: the app-wide CSRF check runs before any blueprint's hooks and reads
    # the form, so a limit raised there comes too late (a 2 MB photo got a 413). URL value
    # preprocessors run before every before_request hook. Visitors who are not signed in keep 1 MB.
    if not current_user.is_authenticated:
        return
    config = current_app.config
    request.max_content_length = int(config["EVIDENCE_MAX_FILES"]) * int(config["EVIDENCE_MAX_BYTES"]) + 1024 * 1024


@bp.get("")
def list_tickets():
    """The seller's tickets, the ones waiting for them first."""
    shop_id = require_seller()
    tickets = list(Ticket.select().where(Ticket.shop == shop_id).order_by(Ticket.updated_at.desc(), Ticket.id.desc()))
    waiting = [ticket for ticket in tickets if ticket.status == TicketStatus.WAITING_SELLER]
    others = [ticket for ticket in tickets if ticket.status != TicketStatus.WAITING_SELLER]
    return htmx.render("tickets/list.html", tickets=waiting + others)


def _new_form_page(shop_id, form, status=200):
    """The new-ticket page with its choices filled in."""
    form.category.choices = [(code, _(label)) for code, label in ticket_service.CATEGORIES.items()]
    requests = list(RefundRequest.for_shop(shop_id).limit(20))
    form.refund_request.choices = [("", _("None"))] + [
        (str(refund.id), _("Request No. %(number)s", number=refund.id)) for refund in requests]
    return htmx.render("tickets/new.html", status=status, form=form,
                       limits=current_app.config)


@bp.get("/new")
def new_ticket():
    """The new-ticket form, prefilled from where the seller came (a rejection, a flag, a dispute)."""
    shop_id = require_seller()
    category = query_text("category", TicketCategory.OTHER)
    form = TicketForm(formdata=None,
                      category=category if category in ticket_service.CATEGORIES else TicketCategory.OTHER,
                      refund_request=query_text("request"), dispute=query_text("dispute"),
                      risk_flag=query_text("flag"), idempotency_key=uuid.uuid4().hex,
                      subject=query_text("subject")[:120])
    return _new_form_page(shop_id, form)


def _owned_id(model, raw, shop_id):
    """An id from the form only if that object belongs to this shop (else None)."""
    if not raw or not str(raw).isdigit():
        return None
    found = model.get_or_none((model.id == int(raw)) & (model.shop == shop_id))
    return found.id if found else None


@bp.post("/new")
def create_ticket():
    """Open the ticket; refused files come back with reasons and the text kept."""
    shop_id = require_seller()
    form = TicketForm()
    form.category.choices = [(code, code) for code in ticket_service.CATEGORIES]
    form.refund_request.choices = [("", "")] + [(str(i), str(i)) for (i,) in
                                                RefundRequest.select(RefundRequest.id)
                                                .where(RefundRequest.shop == shop_id).tuples()]
    if not form.validate():
        return _new_form_page(shop_id, form, 422)
    files = cleaned_files(form.files)
    if files is None:
        return _new_form_page(shop_id, form, 422)
    ticket = ticket_service.open_ticket(
        Shop.get_by_id(shop_id), current_user, form.category.data, form.subject.data.strip(),
        form.message.data.strip(), files, current_app.config["UPLOAD_DIR"], working_calendar(),
        int(current_app.config["TICKET_SLA_WORKDAYS"]), form.idempotency_key.data,
        refund_request_id=_owned_id(RefundRequest, form.refund_request.data, shop_id),
        dispute_id=_owned_id(Dispute, form.dispute.data, shop_id),
        risk_flag_id=_owned_id(RiskFlag, form.risk_flag.data, shop_id),
        language=written_language(form.message.data))
    return htmx.see_other(url_for("tickets.show_ticket", ticket_id=ticket.id))


def thread_context(ticket, **extra):
    """The thread as the seller sees it: no internal notes, ever."""
    messages = list(TicketMessage.visible_to_seller(ticket.id))
    attachments = {}
    for attachment in Attachment.select().where(Attachment.ticket == ticket.id).order_by(Attachment.id):
        attachments.setdefault(attachment.message_id, []).append(attachment)
    context = {"ticket": ticket, "messages": messages, "attachments": attachments,
               "calculation": ticket_service.parse_calculation,
               "poll_seconds": None if ticket.status == TicketStatus.RESOLVED
               else current_app.config["POLL_SLOW_SECONDS"] if ticket.status == TicketStatus.WAITING_SUPPORT
               else current_app.config["POLL_IDLE_SECONDS"]}
    context.update(extra)
    return context


@bp.get("/<int:ticket_id>")
def show_ticket(ticket_id):
    """The thread, the status (whose turn), and the reply form."""
    ticket = _own_ticket(ticket_id)
    return htmx.render("tickets/show.html", "ticket_thread", form=ReplyForm(formdata=None), **thread_context(ticket))


@bp.get("/<int:ticket_id>/thread")
def ticket_thread(ticket_id):
    """The live thread: 204 when the page's version is current, else the thread block."""
    shop_id = require_seller()
    version = Ticket.select(Ticket.version).where((Ticket.id == ticket_id) & (Ticket.shop == shop_id)).scalar()
    if version is None:
        abort(404)
    if request.args.get("v") == str(version):
        return make_response("", 204)
    # Without htmx (a bookmark, no JavaScript) the whole page renders, reply form included.
    return htmx.render("tickets/show.html", "ticket_thread", form=ReplyForm(formdata=None),
                       **thread_context(Ticket.get_by_id(ticket_id)))


@bp.post("/<int:ticket_id>/reply")
def reply_ticket(ticket_id):
    """Post a reply inline: the form comes back empty and the thread refreshed (out of band)."""
    ticket = _own_ticket(ticket_id)
    form = ReplyForm()
    files = cleaned_files(form.files) if form.validate() else None
    if files is None:
        context = thread_context(ticket, form=form)
        return htmx.render("tickets/show.html", "ticket_reply", status=422, **context)
    ticket_service.reply(ticket.id, current_user, form.message.data.strip(), files, current_app.config["UPLOAD_DIR"],
                    working_calendar(), language=written_language(form.message.data))
    if not htmx.is_fragment_request():
        return htmx.see_other(url_for("tickets.show_ticket", ticket_id=ticket.id))
    context = thread_context(Ticket.get_by_id(ticket.id), form=ReplyForm(formdata=None), oob=True)
    return render_blocks("tickets/show.html", ["ticket_reply", "ticket_thread"], **context)


@bp.get("/<int:ticket_id>/files/<int:attachment_id>")
def download_attachment(ticket_id, attachment_id):
    """One of the ticket's files, for the ticket's own seller only."""
    ticket = _own_ticket(ticket_id)
    attachment = Attachment.get_or_none((Attachment.id == attachment_id) & (Attachment.ticket == ticket.id))
    if attachment is None:
        abort(404)
    return send_attachment(attachment)


bp.before_request(signed_in_only)


@bp.record
def _limit_pillow(state):
    """Give Pillow the configured pixel limit, so any image opened in this process is held to it."""
    evidence.limit_pillow(state.app.config["EVIDENCE_MAX_PIXELS"])
