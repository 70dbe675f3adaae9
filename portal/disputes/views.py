"""The seller's buyer disputes: negotiate first, then ask the platform to step in."""
import uuid

from flask import Blueprint, abort, current_app, flash, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from portal.core.calendar import working_calendar
from portal.core.vocabulary import DisputeStatus
from portal.disputes import labels as dispute_labels
from portal.disputes import service as dispute_service
from portal.disputes.models import Dispute
from portal.web import htmx
from portal.web.forms import EmptyForm, Form
from portal.web.guards import require_seller, signed_in_only

bp = Blueprint("disputes", __name__, url_prefix="/disputes")
dispute_labels.register()


class OutcomeForm(Form):
    """What the seller and the buyer agreed."""

    outcome = TextAreaField(_l("What did you agree with the buyer?"), validators=[
        DataRequired(_l("Describe the agreement, e.g. a full refund to the buyer.")), Length(max=2000)])


def _own_dispute(dispute_id):
    """The seller's own dispute, or 404."""
    shop_id = require_seller()
    dispute = Dispute.get_or_none((Dispute.id == dispute_id) & (Dispute.shop == shop_id))
    if dispute is None:
        abort(404)
    return dispute


def _page(shop_id, status=200, refused=None):
    """The disputes page; ``refused`` is ``(dispute id, bound form)`` when an outcome came back with errors."""
    disputes = list(Dispute.select().where(Dispute.shop == shop_id).order_by(Dispute.status == DisputeStatus.RESOLVED,
                                                                             Dispute.id.desc()))
    return htmx.render("disputes/list.html", status=status, disputes=disputes,
                       outcome_form=OutcomeForm(formdata=None), escalate_form=EmptyForm(formdata=None),
                       refused_id=refused[0] if refused else None, refused_form=refused[1] if refused else None)


@bp.get("")
def list_disputes():
    """Open disputes first, with what to do about each."""
    return _page(require_seller())


@bp.post("/<int:dispute_id>/outcome")
def record_outcome(dispute_id):
    """Record the negotiated outcome: the dispute is resolved (and stops blocking refunds)."""
    dispute = _own_dispute(dispute_id)
    form = OutcomeForm()
    if not form.validate():
        # Back with what was typed and the reason beside the field.
        return _page(dispute.shop_id, 422, refused=(dispute.id, form))
    if dispute_service.record_dispute_outcome(dispute.id, dispute.shop_id, form.outcome.data.strip()):
        flash(_("Recorded. The dispute is resolved."))
    else:
        flash(_("This dispute is no longer open."))
    return htmx.see_other(url_for("disputes.list_disputes"))


@bp.post("/<int:dispute_id>/escalate")
def ask_platform(dispute_id):
    """Ask the platform to step in: the dispute goes to review and a linked ticket opens."""
    dispute = _own_dispute(dispute_id)
    if dispute.status != DisputeStatus.NEGOTIATING:
        existing = dispute.tickets.first()
        return htmx.see_other(url_for("tickets.show_ticket", ticket_id=existing.id) if existing
                              else url_for("disputes.list_disputes"))
    ticket = dispute_service.ask_platform(
        dispute, current_user, _("Platform intervention: order %(number)s", number=dispute.order_number),
        _("We could not agree with the buyer on order %(number)s. Please step in.", number=dispute.order_number),
        current_app.config["UPLOAD_DIR"], working_calendar(), int(current_app.config["TICKET_SLA_WORKDAYS"]),
        uuid.uuid4().hex)
    if ticket is None:
        return htmx.see_other(url_for("disputes.list_disputes"))
    flash(_("The platform will look at the dispute. Add your evidence to the ticket."))
    return htmx.see_other(url_for("tickets.show_ticket", ticket_id=ticket.id))


bp.before_request(signed_in_only)
