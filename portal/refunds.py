"""The seller's refund requests: apply, list, and follow one."""
import datetime
import re
import uuid

from flask import Blueprint, abort, current_app, flash, make_response, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from portal import eligibility, htmx, money, refunding, workflow
from portal.db import utcnow
from portal.forms import EmptyForm
from portal.models import SELLER, CalendarOverride, PayeeAccount, RefundRequest, Shop, User, deposit_figures
from portal.risk import banner_flags
from portal.web import (
    checks_session_itself,
    login_manager,
    refusal_text,
    require_seller,
    session_user_id,
    signed_in_only,
)
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


class StateForm(EmptyForm):
    """A button-only action on a request, carrying the state the seller saw (for collisions)."""

    expected_state = HiddenField(validators=[DataRequired()])


class AnswerForm(FlaskForm):
    """The seller's answer to support's request for information."""

    message = TextAreaField(_l("Your answer"), validators=[
        DataRequired(_l("Write your answer to support.")), Length(max=2000)])


class RefundForm(FlaskForm):
    """Kind, amount (surplus only), the payee confirmation and the idempotency key."""

    kind = RadioField(_l("What to refund"), choices=KINDS, default=eligibility.SURPLUS,
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


def working_calendar():
    """The working-day calendar with the operators' overrides."""
    return WorkCalendar(CalendarOverride.as_mapping())


def timing(calendar=None):
    """The due-date rules for new requests, from the settings."""
    config = current_app.config
    return refunding.Timing(calendar or working_calendar(), config["REFUND_MIN_WORKDAYS"],
                            config["REFUND_MAX_WORKDAYS"])


def expected_window(refund, calendar=None):
    """The 3-7 working-day window of a request, counted from the start of its review."""
    calendar = calendar or working_calendar()
    config = current_app.config
    return calendar.window(refunding.review_start(refund), config["REFUND_MIN_WORKDAYS"],
                           config["REFUND_MAX_WORKDAYS"])


def _resubmitted_request(shop_id, request_id):
    """The seller's own ended request that a new application replaces, or None."""
    if not request_id or not re.fullmatch(r"[0-9]{1,12}", str(request_id)):
        return None
    previous = RefundRequest.get_or_none((RefundRequest.id == int(request_id))
                                         & (RefundRequest.shop == shop_id))
    return previous if previous is not None and refunding.resubmittable(previous) else None


def _form_page(shop, form, status=200, blocked_checks=None, previous=None):
    """The application page: the figures, the pre-checks for the chosen kind, and the form."""
    kind = form.kind.data if form.kind.data in dict(KINDS) else eligibility.SURPLUS
    figures = deposit_figures(shop)
    policy = refunding.policy_from(current_app.config)
    checks = blocked_checks or eligibility.evaluate(refunding.shop_facts(shop, figures=figures), kind, policy)
    return htmx.render("refunds/new.html", "refund_form", status=status, shop=shop, form=form,
                       figures=figures, kind=kind, checks=checks, blocked=eligibility.is_blocked(checks),
                       refundable_fen=figures.refundable_for(kind), previous=previous, flags=banner_flags(shop.id),
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
    previous = _resubmitted_request(shop_id, request.args.get("resubmit") or request.args.get("resubmission_of"))
    if previous is not None and carried is None:
        # Applying again after a rejection starts from what was asked for last time.
        form.kind.data = previous.kind
        form.amount.data = money.fen_to_yuan_text(previous.requested_fen)
        form.resubmission_of.data = str(previous.id)
    return _form_page(Shop.get_by_id(shop_id), form, previous=previous)


@bp.post("/new")
def submit_request():
    """Check the input and the pre-checks again, then create the request with its hold."""
    shop_id = require_seller()
    shop = Shop.get_by_id(shop_id)
    form = RefundForm()
    previous = _resubmitted_request(shop_id, form.resubmission_of.data)
    if not form.validate():
        if form.idempotency_key.errors:
            form.idempotency_key.data = uuid.uuid4().hex
        return _form_page(shop, form, status=422, previous=previous)
    # A replay (a double click, a resent form) lands on the request it created, before anything
    # else is checked: by now the first submission's hold has lowered what is refundable.
    replayed = RefundRequest.get_or_none((RefundRequest.shop == shop_id)
                                         & (RefundRequest.idempotency_key == form.idempotency_key.data))
    if replayed is not None:
        return htmx.see_other(url_for("refunds.show_request", request_id=replayed.id))
    kind = form.kind.data
    amount_fen = 0
    if kind == eligibility.SURPLUS:
        amount_fen = form.parse_amount(deposit_figures(shop).refundable)
        if amount_fen is None:
            return _form_page(shop, form, status=422, previous=previous)
    policy = refunding.policy_from(current_app.config)
    previous = _resubmitted_request(shop_id, form.resubmission_of.data)
    try:
        submission = refunding.submit(shop_id, current_user, kind, amount_fen, form.idempotency_key.data,
                                      policy, resubmission_of=previous.id if previous else None,
                                      timing=timing())
    except refunding.RefundBlocked as blocked:
        return _form_page(shop, form, status=422, blocked_checks=blocked.checks, previous=previous)
    except refunding.AmountAboveRefundable as above:
        form.amount.errors = [_("You can get back at most %(amount)s now.",
                                amount=money.format_fen(above.refundable_fen))]
        return _form_page(shop, form, status=422, previous=previous)
    return htmx.see_other(url_for("refunds.show_request", request_id=submission.request.id))


def _own_request(request_id):
    """The seller's own request, or 404 (someone else's request answers exactly like a missing one)."""
    shop_id = require_seller()
    refund = RefundRequest.get_or_none((RefundRequest.id == request_id) & (RefundRequest.shop == shop_id))
    if refund is None:
        abort(404)
    return refund


def poll_seconds(refund, now=None):
    """How soon the page should ask again: soon while things move, rarely while waiting, never when final."""
    config = current_app.config
    now = now or utcnow()
    if workflow.is_final(refund.state):
        return None
    recently_changed = now - refund.state_changed_at < datetime.timedelta(minutes=10)
    if refund.state == workflow.PAYOUT_PROCESSING or recently_changed:
        return config["POLL_FAST_SECONDS"]
    if workflow.TURNS[refund.state] in (workflow.SUPPORT, workflow.FINANCE_TURN):
        return config["POLL_SLOW_SECONDS"]
    return config["POLL_IDLE_SECONDS"]


def _status_context(refund):
    """Everything the status block shows."""
    calendar = working_calendar()
    due = None
    if refund.state == workflow.NEEDS_INFO:
        due = refunding.needs_info_due(refund, calendar, current_app.config["NEEDS_INFO_EXPIRY_WORKDAYS"])
    return {
        "refund": refund,
        "events": list(refunding.seller_timeline(refund.id)),
        "reasons": refunding.reason_labels(),
        "window": expected_window(refund, calendar),
        "turn": workflow.TURNS[refund.state],
        "held_fen": refunding.held_for(refund.id),
        "poll_seconds": poll_seconds(refund),
        "needs_info_due": due,
        "state_form": StateForm(formdata=None, expected_state=refund.state),
        "answer_form": AnswerForm(formdata=None),
        "resubmittable": refunding.resubmittable(refund) and refunding.active_request(refund.shop_id) is None,
        "cancellable": workflow.find(refund.state, workflow.CANCELLED) is not None,
    }


@bp.get("/<int:request_id>")
def show_request(request_id):
    """One request: its state, whose turn it is, the expected date and the timeline."""
    refund = _own_request(request_id)
    return htmx.render("refunds/show.html", "refund_status", **_status_context(refund))


@bp.get("/<int:request_id>/status")
@checks_session_itself
def request_status(request_id):
    """The live status block; 204 without rendering anything when the page's version is current.

    One query answers both "is this the signed-in seller's request?" and "what is its version?".
    """
    user_id = session_user_id()
    if user_id is None:
        return login_manager.unauthorized()
    version = (RefundRequest.select(RefundRequest.version)
               .join(User, on=(User.shop == RefundRequest.shop))
               .where((RefundRequest.id == request_id) & (User.id == user_id) & (User.role == SELLER)
                      & (User.active == True))  # noqa: E712
               .scalar())
    if version is None:
        abort(404)
    if request.args.get("v") == str(version):
        return make_response("", 204)
    require_seller()
    refund = RefundRequest.get_by_id(request_id)
    return htmx.render("refunds/show.html", "refund_status", announce=True, **_status_context(refund))


def _act(refund, action, success_message):
    """Run a seller action; a collision or a refused move comes back as a message, never a 500."""
    try:
        action()
    except refunding.TransitionConflict as conflict:
        flash(_("This request changed while you were looking at it: it is now “%(state)s”. "
                "Nothing else was changed.", state=state_label_text(conflict.request.state)))
    except workflow.TransitionRefused as refused:
        flash(refusal_text(refused))
    else:
        flash(success_message)
    return htmx.see_other(url_for("refunds.show_request", request_id=refund.id))


def state_label_text(state):
    """A state's label in the current language."""
    return _(workflow.STATE_LABELS[state])


@bp.post("/<int:request_id>/cancel")
def cancel_request(request_id):
    """Withdraw the request before approval; the held amount is released."""
    refund = _own_request(request_id)
    form = StateForm()
    if not form.validate():
        abort(400)
    return _act(refund, lambda: refunding.cancel(refund.id, current_user, form.expected_state.data),
                _("The request is cancelled and the held amount released."))


@bp.post("/<int:request_id>/answer")
def answer_request(request_id):
    """Answer support's request for information; the request goes back to review."""
    refund = _own_request(request_id)
    form = AnswerForm()
    if not form.validate():
        context = _status_context(refund)
        context["answer_form"] = form
        return htmx.render("refunds/show.html", "refund_status", status=422, **context)
    answer = form.message.data.strip()
    return _act(refund, lambda: refunding.answer_needs_info(refund.id, current_user, answer),
                _("Thank you. Your answer was sent and the review continues."))


bp.before_request(signed_in_only)
