"""The desk's side of tickets: the thread with internal notes, replies that never go out blind."""
from flask import abort, current_app, flash, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from peewee import JOIN
from wtforms import BooleanField, HiddenField, MultipleFileField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Regexp

from portal.accounts.models import User
from portal.audit import service as audit_service
from portal.core.calendar import working_calendar
from portal.core.vocabulary import MessageKind, Role, in_language
from portal.deposit.service import deposit_figures, refundable_now
from portal.desk.blueprint import bp, role_required
from portal.disputes import service as dispute_service
from portal.disputes.models import Dispute
from portal.refunds.models import RefundRequest
from portal.risk.models import RiskFlag
from portal.shops.models import Shop
from portal.tickets import service as ticket_service
from portal.tickets.downloads import send_attachment
from portal.tickets.forms import cleaned_files
from portal.tickets.models import Attachment, CannedReply, Ticket, TicketMessage
from portal.web import htmx
from portal.web.forms import EmptyForm, Form, query_text
from portal.web.text import written_language


class DeskReplyForm(Form):
    """An agent's reply: text, files, and the last message the agent had seen."""

    message = TextAreaField(_l("Reply to the seller"), validators=[DataRequired(_l("Write the reply.")),
                                                                    Length(max=5000)])
    files = MultipleFileField(_l("Add files"))
    resolve = BooleanField(_l("Resolve the ticket with this reply"))
    seen_message_id = HiddenField(validators=[DataRequired(), Regexp(r"^[0-9]{1,12}$")])


class NoteForm(Form):
    """An internal note: staff read it, the seller never does."""

    note = TextAreaField(_l("Internal note"), validators=[DataRequired(), Length(max=5000)])


class StatusForm(Form):
    """Move the ticket to another status."""

    status = SelectField(_l("Status"), validators=[DataRequired()],
                         choices=[(code, _l(label)) for code, label in ticket_service.STAFF_STATUSES.items()])


class DisputeForm(Form):
    """An agent's decision on a buyer dispute."""

    outcome = TextAreaField(_l("Decision"), validators=[DataRequired(), Length(max=2000)])


def _desk_ticket(ticket_id):
    """A ticket by id for staff, or 404."""
    ticket = Ticket.get_or_none(Ticket.id == ticket_id)
    if ticket is None:
        abort(404)
    return ticket


def _ticket_context(ticket, reply_form=None, note_form=None, arrived=None, notice=None, dispute_form=None):
    """Everything the desk's ticket page shows, internal notes included."""
    messages = list(TicketMessage.select(TicketMessage, User.id, User.display_name, User.username)
                    .join(User, JOIN.LEFT_OUTER, on=(TicketMessage.author == User.id))
                    .where(TicketMessage.ticket == ticket.id).order_by(TicketMessage.id))
    public = [message.id for message in messages if message.kind != MessageKind.INTERNAL_NOTE]
    attachments = {}
    for attachment in Attachment.select().where(Attachment.ticket == ticket.id).order_by(Attachment.id):
        attachments.setdefault(attachment.message_id, []).append(attachment)
    shop = Shop.get_by_id(ticket.shop_id)
    locale = get_locale()
    canned = [(reply.code, in_language(locale, reply.title_zh, reply.title_en))
              for reply in CannedReply.select().where(CannedReply.active == True).order_by(CannedReply.code)]  # noqa: E712
    return {
        "ticket": ticket,
        "shop": shop,
        "figures": deposit_figures(shop),
        "refundable": refundable_now(shop),
        "flags": list(RiskFlag.active_for(shop.id)),
        "messages": messages,
        "attachments": attachments,
        "calculation": ticket_service.parse_calculation,
        "reply_form": reply_form or DeskReplyForm(formdata=None, seen_message_id=str(max(public, default=0))),
        "note_form": note_form or NoteForm(formdata=None),
        "status_form": StatusForm(formdata=None, status=ticket.status),
        "dispute_form": dispute_form or DisputeForm(formdata=None),
        "assign_form": EmptyForm(formdata=None),
        "dispute": Dispute.get_or_none(Dispute.id == ticket.dispute_id) if ticket.dispute_id else None,
        "refund": RefundRequest.get_or_none(RefundRequest.id == ticket.refund_request_id)
        if ticket.refund_request_id else None,
        "canned": canned,
        "arrived": arrived,
        "notice": notice,
        "assignee": User.get_or_none(User.id == ticket.assigned_to_id) if ticket.assigned_to_id else None,
        "audit_entries": list(audit_service.entries(ticket_id=ticket.id, limit=20)),
    }


@bp.get("/tickets/<int:ticket_id>")
def show_ticket(ticket_id):
    """A ticket's whole thread, with the reply, note, status and assignment forms."""
    ticket = _desk_ticket(ticket_id)
    return htmx.render("desk/ticket.html", "desk_ticket", **_ticket_context(ticket))


def _after(ticket_id, notice, status=200, **forms):
    """The refreshed ticket block for htmx, or a redirect for a plain form."""
    ticket = Ticket.get_by_id(ticket_id)
    if status == 200 and not htmx.is_fragment_request():
        flash(notice)
        return htmx.see_other(url_for("desk.show_ticket", ticket_id=ticket_id))
    return htmx.render("desk/ticket.html", "desk_ticket", status=status,
                       **_ticket_context(ticket, notice=notice if status == 200 else None, **forms))


@bp.url_value_preprocessor
def _allow_uploads(endpoint, values):
    """Desk replies carry files too (a preprocessor, so it runs before the CSRF check reads the form)."""
    if endpoint == "desk.reply_ticket" and current_user.is_authenticated:
        config = current_app.config
        request.max_content_length = (int(config["EVIDENCE_MAX_FILES"]) * int(config["EVIDENCE_MAX_BYTES"])
                                      + 1024 * 1024)


@bp.post("/tickets/<int:ticket_id>/reply")
@role_required(Role.AGENT, Role.FINANCE)
def reply_ticket(ticket_id):
    """Send a reply, unless messages arrived since the thread was loaded: then show them first."""
    ticket = _desk_ticket(ticket_id)
    form = DeskReplyForm()
    files = cleaned_files(form.files) if form.validate() else None
    if files is None:
        return _after(ticket.id, None, 422, reply_form=form)
    try:
        ticket_service.reply(ticket.id, current_user, form.message.data.strip(), files,
                        current_app.config["UPLOAD_DIR"], working_calendar(),
                        seen_message_id=int(form.seen_message_id.data or 0), resolve=form.resolve.data,
                        language=written_language(form.message.data))
    except ticket_service.TicketConflict as conflict:
        # Held back: the draft stays in the form, the new messages show above it, and sending
        # again (now having seen them) goes through.
        form.seen_message_id.data = str(conflict.messages[-1].id)
        return _after(ticket.id, None, 409, reply_form=form, arrived=conflict.messages)
    return _after(ticket.id, _("Reply sent."))


@bp.post("/tickets/<int:ticket_id>/note")
@role_required(Role.AGENT, Role.FINANCE)
def note_ticket(ticket_id):
    """Add an internal note (never shown to the seller)."""
    ticket = _desk_ticket(ticket_id)
    form = NoteForm()
    if not form.validate():
        return _after(ticket.id, None, 422, note_form=form)
    ticket_service.reply(ticket.id, current_user, form.note.data.strip(), [], current_app.config["UPLOAD_DIR"],
                    working_calendar(), internal=True, language=written_language(form.note.data))
    return _after(ticket.id, _("Note added."))


@bp.post("/tickets/<int:ticket_id>/status")
@role_required(Role.AGENT, Role.FINANCE)
def set_ticket_status(ticket_id):
    """Change whose turn it is, or resolve."""
    ticket = _desk_ticket(ticket_id)
    form = StatusForm()
    if not form.validate():
        abort(400)
    ticket_service.set_status(ticket.id, current_user, form.status.data, working_calendar())
    return _after(ticket.id, _("Status changed."))


@bp.post("/tickets/<int:ticket_id>/assign")
@role_required(Role.AGENT, Role.FINANCE)
def assign_ticket(ticket_id):
    """Take the ticket."""
    ticket = _desk_ticket(ticket_id)
    ticket_service.assign(ticket.id, current_user)
    return _after(ticket.id, _("The ticket is assigned to you."))


@bp.post("/tickets/<int:ticket_id>/dispute")
@role_required(Role.AGENT)
def resolve_ticket_dispute(ticket_id):
    """Decide the buyer dispute this ticket escalated."""
    ticket = _desk_ticket(ticket_id)
    form = DisputeForm()
    if ticket.dispute_id is None:
        abort(404)
    if not form.validate():
        # Back with the typed decision and the reason beside it.
        return _after(ticket.id, None, 422, dispute_form=form)
    if not dispute_service.resolve_dispute(ticket.dispute_id, current_user, form.outcome.data.strip(),
                                           ticket_id=ticket.id):
        return _after(ticket.id, _("That dispute was already resolved."))
    return _after(ticket.id, _("The dispute is resolved."))


@bp.get("/tickets/<int:ticket_id>/files/<int:attachment_id>")
def download_ticket_file(ticket_id, attachment_id):
    """A ticket's evidence file, for staff."""
    attachment = Attachment.get_or_none((Attachment.id == attachment_id) & (Attachment.ticket == ticket_id))
    if attachment is None:
        abort(404)
    return send_attachment(attachment)


@bp.get("/canned")
def canned_reply():
    """A canned reply's text in the current language, swapped into the reply box for editing."""
    reply = CannedReply.get_or_none((CannedReply.code == query_text("canned")) & (CannedReply.active == True))  # noqa: E712
    if reply is None:
        abort(404)
    body = in_language(get_locale(), reply.body_zh, reply.body_en)
    form = DeskReplyForm(formdata=None, message=body)
    return htmx.render("desk/canned.html", field=form.message)
