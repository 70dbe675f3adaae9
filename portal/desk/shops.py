"""The desk's view of one shop: risk flags raised and cleared, bans, buyer disputes."""
from flask import abort, flash, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import HiddenField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Regexp

from portal.core.vocabulary import FlagEffect, FlagSeverity, Role
from portal.deposit.service import deposit_figures, refundable_now
from portal.desk.blueprint import bp, role_required
from portal.disputes import service as dispute_service
from portal.disputes.models import Dispute
from portal.refunds.models import RefundRequest
from portal.risk import labels as risk_labels
from portal.risk import service as risk_service
from portal.risk.models import RiskFlag
from portal.shops.models import Shop
from portal.tickets.models import Ticket
from portal.web import htmx
from portal.web.forms import Form
from portal.web.text import written_language

# One message for "missing" and "too long": the page shows it beside the flag or dispute it is about.
CLEAR_REASON_NEEDED = _l("Say why the flag is cleared (at most 2,000 characters).")
DECISION_NEEDED = _l("Write the decision (at most 2,000 characters).")


class RaiseFlagForm(Form):
    """A new risk flag, with what the seller reads and the rationale only staff read."""

    # Chosen from the named risks, so that every page names the flag in its reader's language.
    code = SelectField(_l("Risk"), validators=[DataRequired()],
                       choices=[(code, _l(risk_labels.RISK_CODES[code])) for code in risk_labels.RAISABLE_RISK_CODES])
    severity = SelectField(_l("Severity"),
                           choices=[(value, _l(risk_labels.SEVERITIES[value])) for value in tuple(FlagSeverity)])
    effect = SelectField(_l("Effect on refunds"),
                         choices=[(value, _l(risk_labels.EFFECTS[value])) for value in tuple(FlagEffect)])
    seller_text = TextAreaField(_l("What the seller reads"), validators=[DataRequired(), Length(max=2000)])
    how_to_fix = TextAreaField(_l("How the seller can fix it"), validators=[Length(max=2000)])
    rationale = TextAreaField(_l("Rationale (staff only)"), validators=[DataRequired(), Length(max=2000)])


class ClearFlagForm(Form):
    """Clearing a flag needs a reason."""

    flag_id = HiddenField(validators=[DataRequired(), Regexp(r"^[0-9]{1,12}$")])
    rationale = TextAreaField(_l("Why it is cleared"), validators=[
        DataRequired(CLEAR_REASON_NEEDED), Length(max=2000, message=CLEAR_REASON_NEEDED)])


class BanForm(Form):
    """Banning a shop: the reason (staff) and the message the seller reads."""

    reason = TextAreaField(_l("Reason (staff only)"), validators=[DataRequired(), Length(max=2000)])
    seller_message = TextAreaField(_l("Message to the seller"), validators=[DataRequired(), Length(max=2000)])


class ResolveDisputeForm(Form):
    """An agent's decision on a dispute."""

    dispute_id = HiddenField(validators=[DataRequired(), Regexp(r"^[0-9]{1,12}$")])
    outcome = TextAreaField(_l("Decision"), validators=[
        DataRequired(DECISION_NEEDED), Length(max=2000, message=DECISION_NEEDED)])


def _shop_or_404(shop_id):
    """A shop by id, or 404."""
    shop = Shop.get_or_none(Shop.id == shop_id)
    if shop is None:
        abort(404)
    return shop


def _shop_page(shop, status=200, **forms):
    """The shop page with its forms."""
    context = {
        "shop": shop,
        "figures": deposit_figures(shop),
        "refundable": refundable_now(shop),
        "flags": list(RiskFlag.select().where(RiskFlag.shop == shop.id).order_by(RiskFlag.id.desc())),
        "disputes": list(Dispute.select().where(Dispute.shop == shop.id).order_by(Dispute.id.desc())),
        "requests": list(RefundRequest.for_shop(shop.id).limit(20)),
        "tickets": list(Ticket.select().where(Ticket.shop == shop.id).order_by(Ticket.id.desc()).limit(20)),
        "raise_form": forms.get("raise_form") or RaiseFlagForm(formdata=None, prefix="flag"),
        "clear_form": forms.get("clear_form") or ClearFlagForm(formdata=None, prefix="clear"),
        "ban_form": forms.get("ban_form") or BanForm(formdata=None, prefix="ban",
                                                     seller_message=_("Your shop is banned for breaking the platform "
                                                                      "rules; under the rules its deposit is "
                                                                      "forfeited. You can appeal through a ticket.")),
        "dispute_form": forms.get("dispute_form") or ResolveDisputeForm(formdata=None, prefix="dispute"),
    }
    return htmx.render("desk/shop.html", status=status, **context)


@bp.get("/shops/<int:shop_id>")
def show_shop(shop_id):
    """A shop's flags, disputes, requests and tickets, with the actions on them."""
    return _shop_page(_shop_or_404(shop_id))


@bp.post("/shops/<int:shop_id>/flags")
@role_required(Role.AGENT)
def raise_flag(shop_id):
    """Raise a risk flag (audit-logged with its rationale)."""
    shop = _shop_or_404(shop_id)
    form = RaiseFlagForm(prefix="flag")
    if not form.validate():
        return _shop_page(shop, 422, raise_form=form)
    risk_service.raise_flag(shop.id, current_user, form.code.data, form.severity.data, form.effect.data,
                            form.seller_text.data.strip(), form.rationale.data.strip(), form.how_to_fix.data.strip(),
                            language=written_language(form.seller_text.data))
    flash(_("Flag raised. The seller sees it on their deposit page."))
    return htmx.see_other(url_for("desk.show_shop", shop_id=shop.id))


@bp.post("/shops/<int:shop_id>/flags/clear")
@role_required(Role.AGENT)
def clear_flag(shop_id):
    """Clear a flag with a reason."""
    shop = _shop_or_404(shop_id)
    form = ClearFlagForm(prefix="clear")
    if not form.validate():
        # Back to the page with what was typed and the reason beside the flag's field.
        return _shop_page(shop, 422, clear_form=form)
    flag = RiskFlag.get_or_none((RiskFlag.id == int(form.flag_id.data)) & (RiskFlag.shop == shop.id))
    if flag is None:
        abort(404)
    if risk_service.clear_flag(flag.id, current_user, form.rationale.data.strip()):
        flash(_("Flag cleared."))
    else:
        flash(_("That flag was already cleared by someone else."))
    return htmx.see_other(url_for("desk.show_shop", shop_id=shop.id))


@bp.post("/shops/<int:shop_id>/ban")
@role_required(Role.AGENT)
def ban_shop(shop_id):
    """Ban the shop: ACCOUNT_BANNED is raised and a running refund is stopped as forfeited."""
    shop = _shop_or_404(shop_id)
    form = BanForm(prefix="ban")
    if not form.validate():
        return _shop_page(shop, 422, ban_form=form)
    if risk_service.ban_shop(shop.id, current_user, form.reason.data.strip(), form.seller_message.data.strip(),
                             language=written_language(form.seller_message.data)):
        flash(_("The shop is banned."))
    else:
        flash(_("The shop was already banned."))
    return htmx.see_other(url_for("desk.show_shop", shop_id=shop.id))


@bp.post("/shops/<int:shop_id>/disputes")
@role_required(Role.AGENT)
def resolve_dispute(shop_id):
    """Decide a buyer dispute of this shop."""
    shop = _shop_or_404(shop_id)
    form = ResolveDisputeForm(prefix="dispute")
    if not form.validate():
        return _shop_page(shop, 422, dispute_form=form)
    dispute = Dispute.get_or_none((Dispute.id == int(form.dispute_id.data)) & (Dispute.shop == shop.id))
    if dispute is None:
        abort(404)
    if dispute_service.resolve_dispute(dispute.id, current_user, form.outcome.data.strip()):
        flash(_("The dispute is resolved."))
    else:
        flash(_("That dispute was already resolved."))
    return htmx.see_other(url_for("desk.show_shop", shop_id=shop.id))
