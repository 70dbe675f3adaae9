"""The desk's decision forms: approve, reject, hold, ask for information, and finance's payout records."""


from flask import current_app
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal.core import money
from portal.core.vocabulary import ReasonKind
from portal.refunds import service as refund_service
from portal.refunds.models import ReasonCode
from portal.web.forms import EmptyForm, Form

PAYOUT_ERRORS = {
    "bank_reference_missing": _l("The bank reference is required."),
    "not_current_attempt": _l("That payout attempt is no longer the current one; reload the request."),
    "amount_mismatch": _l("The amount paid must equal the approved amount."),
    "payee_unchanged": _l("The seller has not changed the payee details since the payout failed. Wait for the "
                          "correction, or give a reason to try the same details again."),
    "other": _l("The payout could not be recorded."),
}


class DecisionForm(Form):
    """What every decision carries: the state the agent saw, and a note only staff read."""

    expected_state = HiddenField(validators=[DataRequired()])
    internal_note = TextAreaField(_l("Internal note (staff only)"), validators=[Optional(), Length(max=2000)])


class StartPayoutForm(DecisionForm):
    """Start a payout; after a failure with unchanged payee details, only with an override reason."""

    override_reason = TextAreaField(_l("Reason to pay the unchanged details again (audited)"),
                                    validators=[Optional(), Length(max=500)])


class ApproveForm(DecisionForm):
    """Approve, possibly for less than was asked."""

    amount = StringField(_l("Approved amount (yuan)"), validators=[Optional(), Length(max=40)])


class RejectForm(DecisionForm):
    """Reject with a reason code and a message to the seller."""

    reason_code = SelectField(_l("Reason"), validators=[DataRequired()])
    seller_message = TextAreaField(_l("Message to the seller"), validators=[
        DataRequired(_l("Tell the seller why, and what to do next.")), Length(max=2000)])


class HoldForm(RejectForm):
    """Put on hold with a reason and a message."""


class NeedsInfoForm(DecisionForm):
    """Ask the seller for information: a message, a checklist, and a due date in working days."""

    seller_message = TextAreaField(_l("Message to the seller"), validators=[
        DataRequired(_l("Say what the seller should send.")), Length(max=2000)])
    checklist = SelectMultipleField(_l("Checklist"), option_widget=CheckboxInput(),
                                    widget=ListWidget(prefix_label=False), validators=[Optional()])
    due_workdays = IntegerField(_l("Answer within (working days)"), default=5,
                                validators=[InputRequired(), NumberRange(min=1, max=30)])


class PaidForm(Form):
    """Finance books a payout: the bank reference and the amount paid."""

    bank_reference = StringField(_l("Bank reference"), validators=[
        DataRequired(_l("The bank reference is required.")), Length(max=64)])
    amount = StringField(_l("Amount paid (yuan)"), validators=[DataRequired(), Length(max=40)])
    expected_state = HiddenField(validators=[DataRequired()])


class FailedForm(Form):
    """Finance books a failed payout with a failure code."""

    failure_code = SelectField(_l("Failure"), validators=[DataRequired()])
    seller_message = TextAreaField(_l("Message to the seller"), validators=[
        DataRequired(), Length(max=2000)])
    expected_state = HiddenField(validators=[DataRequired()])


def reason_choices(kind):
    """(code, label) pairs of the active reason codes of one kind, in the current language."""
    return [(reason.code, reason.label(get_locale())) for reason in ReasonCode.of_kind(kind)]


def decision_forms(refund, **bound):
    """Every decision form for a request, unbound unless given bound (after a failed submit)."""
    locale = get_locale()
    rejects = reason_choices(ReasonKind.REJECT)
    holds = reason_choices(ReasonKind.HOLD)
    failures = reason_choices(ReasonKind.PAYOUT_FAILURE)
    first = {kind: ReasonCode.of_kind(kind).first()
             for kind in (ReasonKind.REJECT, ReasonKind.HOLD, ReasonKind.PAYOUT_FAILURE)}
    forms = {
        "assign": EmptyForm(formdata=None, prefix="assign"),
        "approve": ApproveForm(formdata=None, prefix="approve", expected_state=refund.state,
                               amount=money.fen_to_yuan_text(refund_service.held_for(refund.id))),
        "reject": RejectForm(formdata=None, prefix="reject", expected_state=refund.state,
                             seller_message=first[ReasonKind.REJECT].message(locale)
                             if first[ReasonKind.REJECT] else ""),
        "hold": HoldForm(formdata=None, prefix="hold", expected_state=refund.state,
                         seller_message=first[ReasonKind.HOLD].message(locale) if first[ReasonKind.HOLD] else ""),
        "needs_info": NeedsInfoForm(formdata=None, prefix="info", expected_state=refund.state,
                                    due_workdays=current_app.config["NEEDS_INFO_EXPIRY_WORKDAYS"]),
        "release": DecisionForm(formdata=None, prefix="release", expected_state=refund.state),
        "start_payout": StartPayoutForm(formdata=None, prefix="start", expected_state=refund.state),
        "paid": PaidForm(formdata=None, prefix="paid", expected_state=refund.state,
                         amount=money.fen_to_yuan_text(refund.approved_fen or refund.requested_fen)),
        "failed": FailedForm(formdata=None, prefix="failed", expected_state=refund.state,
                             seller_message=first[ReasonKind.PAYOUT_FAILURE].message(locale)
                             if first[ReasonKind.PAYOUT_FAILURE] else ""),
        "reveal": EmptyForm(formdata=None, prefix="reveal"),
    }
    forms.update(bound)
    forms["reject"].reason_code.choices = rejects
    forms["hold"].reason_code.choices = holds
    forms["failed"].failure_code.choices = failures
    forms["needs_info"].checklist.choices = reason_choices(ReasonKind.NEEDS_INFO)
    return forms
