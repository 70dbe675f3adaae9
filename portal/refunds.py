"""The seller's refund requests: apply, list, and follow one."""
import uuid

from flask import Blueprint, abort, current_app, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, StringField
from wtforms.validators import DataRequired, Length, Regexp

from portal import eligibility, htmx, money, refunding, workflow
from portal.models import CalendarOverride, PayeeAccount, RefundRequest, Shop, deposit_figures
from portal.web import require_seller, signed_in_only
from portal.workdays import WorkCalendar

bp = Blueprint("refunds", __name__, url_prefix="/refunds")

KINDS = [(eligibility.SURPLUS, _l("Surplus: the part above what your categories require")),
         (eligibility.FULL_EXIT, _l("Full exit (退店): the whole deposit, closing the shop"))]

AMOUNT_ERRORS = {
    "empty": _l("Enter the amount to refund."),
    "format": _l("Enter a plain amount in yuan, such as 1000 or 1000.50, without ¥ or letters."),
    "negative": _l("The amount cannot be negative."),
    "zero": _l("The amount must be more than ¥0.00."),
    "precision": _l("Use at most two decimals (fen)."),
}


class RefundForm(FlaskForm):
    """Kind, amount (surplus only), the payee confirmation and the idempotency key."""

    kind = RadioField(_l("What to refund"), choices=KINDS, default=eligibility.SURPLUS,
                      validators=[DataRequired()])
    amount = StringField(_l("Amount (yuan)"), validators=[Length(max=40)])
    confirm_payee = BooleanField(_l("I have checked the payee details shown above"),
                                 validators=[DataRequired(_l("Please confirm the payee details."))])
    # Made when the form is shown; submitting twice with the same key creates one request.
    idempotency_key = HiddenField(validators=[DataRequired(), Regexp(r"^[0-9a-f]{32}$")])

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


def working_calendar():
    """The working-day calendar with the operators' overrides."""
    return WorkCalendar(CalendarOverride.as_mapping())


def expected_window(refund, calendar=None):
    """The 3-7 working-day window of a request, counted from the start of its review."""
    calendar = calendar or working_calendar()
    config = current_app.config
    return calendar.window(refunding.review_start(refund), config["REFUND_MIN_WORKDAYS"],
                           config["REFUND_MAX_WORKDAYS"])


def _form_page(shop, form, status=200, blocked_checks=None):
    """The application page: the figures, the pre-checks for the chosen kind, and the form."""
    kind = form.kind.data if form.kind.data in dict(KINDS) else eligibility.SURPLUS
    figures = deposit_figures(shop)
    policy = refunding.policy_from(current_app.config)
    checks = blocked_checks or eligibility.evaluate(refunding.shop_facts(shop, figures=figures), kind, policy)
    return htmx.render("refunds/new.html", "refund_form", status=status, shop=shop, form=form,
                       figures=figures, kind=kind, checks=checks, blocked=eligibility.is_blocked(checks),
                       refundable_fen=figures.refundable_for(kind),
                       payee=PayeeAccount.get_or_none(PayeeAccount.shop == shop.id))


@bp.get("")
def list_requests():
    """The seller's requests, newest first."""
    shop_id = require_seller()
    requests = list(RefundRequest.for_shop(shop_id))
    return htmx.render("refunds/list.html", requests=requests, active=refunding.active_request(shop_id))


@bp.get("/new")
def new_request():
    """The application form, with every pre-check already evaluated for the chosen kind."""
    shop_id = require_seller()
    # Switching the kind with htmx sends the amount and key typed so far; keep them.
    carried = request.args if request.args.get("idempotency_key") else None
    form = RefundForm(formdata=carried, kind=request.args.get("kind", eligibility.SURPLUS),
                      idempotency_key=uuid.uuid4().hex)
    if not form.idempotency_key.data:
        form.idempotency_key.data = uuid.uuid4().hex
    return _form_page(Shop.get_by_id(shop_id), form)


@bp.post("/new")
def submit_request():
    """Check the input and the pre-checks again, then create the request with its hold."""
    shop_id = require_seller()
    shop = Shop.get_by_id(shop_id)
    form = RefundForm()
    if not form.validate():
        if form.idempotency_key.errors:
            form.idempotency_key.data = uuid.uuid4().hex
        return _form_page(shop, form, status=422)
    kind = form.kind.data
    amount_fen = 0
    if kind == eligibility.SURPLUS:
        amount_fen = form.parse_amount(deposit_figures(shop).refundable)
        if amount_fen is None:
            return _form_page(shop, form, status=422)
    policy = refunding.policy_from(current_app.config)
    try:
        submission = refunding.submit(shop_id, current_user, kind, amount_fen, form.idempotency_key.data,
                                      policy)
    except refunding.RefundBlocked as blocked:
        return _form_page(shop, form, status=422, blocked_checks=blocked.checks)
    except refunding.AmountAboveRefundable as above:
        form.amount.errors = [_("You can get back at most %(amount)s now.",
                                amount=money.format_fen(above.refundable_fen))]
        return _form_page(shop, form, status=422)
    return htmx.see_other(url_for("refunds.show_request", request_id=submission.request.id))


def _own_request(request_id):
    """The seller's own request, or 404 (someone else's request answers exactly like a missing one)."""
    shop_id = require_seller()
    refund = RefundRequest.get_or_none((RefundRequest.id == request_id) & (RefundRequest.shop == shop_id))
    if refund is None:
        abort(404)
    return refund


@bp.get("/<int:request_id>")
def show_request(request_id):
    """One request: its state, whose turn it is, the expected date and the timeline."""
    refund = _own_request(request_id)
    events = list(refunding.seller_timeline(refund.id))
    return htmx.render("refunds/show.html", "refund_status", refund=refund, events=events,
                       window=expected_window(refund), turn=workflow.TURNS[refund.state],
                       held_fen=refunding.held_for(refund.id))


bp.before_request(signed_in_only)
