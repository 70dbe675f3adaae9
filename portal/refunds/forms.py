"""The seller's refund forms: apply, answer support's question, and button-only actions."""
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, MultipleFileField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from portal.core import money
from portal.core.vocabulary import RefundKind
from portal.web.forms import EmptyForm, Form

KINDS = [(RefundKind.SURPLUS, _l("Surplus: the part above what your categories require")),
         (RefundKind.FULL_EXIT, _l("Full exit (退店): the whole deposit, closing the shop"))]

AMOUNT_ERRORS = {
    "empty": _l("Enter the amount to refund."),
    "format": _l("Enter a plain amount in yuan, such as 1000 or 1000.50, without ¥ or letters."),
    "negative": _l("The amount cannot be negative."),
    "zero": _l("The amount must be more than ¥0.00."),
    "precision": _l("Use at most two decimals (fen)."),
}


class StateForm(EmptyForm):
    """A button-only action on a request, carrying the state the seller saw (for collisions)."""

    expected_state = HiddenField(validators=[DataRequired()])


class AnswerForm(Form):
    """The seller's answer to support's request for information, with evidence files."""

    message = TextAreaField(_l("Your answer"), validators=[
        DataRequired(_l("Write your answer to support.")), Length(max=2000)])
    files = MultipleFileField(_l("Evidence files (证明材料)"))


class RefundForm(Form):
    """Kind, amount (surplus only), the payee confirmation and the idempotency key."""

    kind = RadioField(_l("What to refund"), choices=KINDS, default=RefundKind.SURPLUS,
                      validators=[DataRequired()])
    amount = StringField(_l("Amount (yuan)"), validators=[Length(max=40)])
    confirm_payee = BooleanField(_l("I have checked the payee details shown above"),
                                 validators=[DataRequired(_l("Please confirm the payee details."))])
    # Made when the form is shown; submitting twice with the same key creates one request.
    idempotency_key = HiddenField(validators=[DataRequired(), Regexp(r"^[0-9a-f]{32}$")])
    # Set when the seller applies again after a rejection: the new request links to the old one.
    resubmission_of = HiddenField(validators=[Optional(), Regexp(r"^\d{1,12}$")])

    def parse_amount(self, refundable_fen):
        """The surplus amount in fen, or None with the reason put beside the field."""
        try:
            return money.parse_yuan(self.amount.data, max_fen=refundable_fen)
        except money.AmountError as error:
            if error.code == "too_large":
                message = _("You can get back at most %(amount)s now.",
                            amount=money.format_fen(refundable_fen))
            else:
                message = str(AMOUNT_ERRORS[error.code])
            self.amount.errors = [*self.amount.errors, message]
            return None
