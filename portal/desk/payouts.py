"""Finance's side of the desk: the payout list, starting a payout, and booking its result."""


from flask import current_app
from flask_babel import gettext as _
from flask_login import current_user

from portal.core import money
from portal.core.vocabulary import Actor, ReasonKind, RefundState, Role
from portal.desk.blueprint import bp, role_required
from portal.desk.forms import FailedForm, PaidForm, StartPayoutForm, reason_choices
from portal.desk.requests import decide
from portal.payouts import service as payout_service
from portal.refunds import service as refund_service
from portal.refunds.models import RefundRequest
from portal.shops.models import Shop
from portal.web import htmx
from portal.web.text import written_language

PAYOUT_STATES = (RefundState.APPROVED, RefundState.PAYOUT_PROCESSING, RefundState.PAYOUT_FAILED, RefundState.ESCALATED)


@bp.get("/payouts")
def show_payouts():
    """Approved requests waiting for finance, payouts in progress, failed and escalated ones."""
    rows = list(RefundRequest.select(RefundRequest, Shop.name).join(Shop)
                .where(RefundRequest.state.in_(PAYOUT_STATES))
                .order_by(RefundRequest.state_changed_at, RefundRequest.id))
    return htmx.render("desk/payouts.html", rows=rows)


@bp.post("/refunds/<int:request_id>/payout/start")
@role_required(Role.FINANCE)
def start_payout(request_id):
    """Finance starts paying an approved request: a new attempt with its own reference."""
    def apply(refund, form):
        payout_service.start(refund.id, current_user, Actor.FINANCE, form.expected_state.data,
                             override_reason=form.override_reason.data or "")
    return decide(request_id, "start_payout", StartPayoutForm(prefix="start"), apply, _("Payout started."))


@bp.post("/refunds/<int:request_id>/payout/paid")
@role_required(Role.FINANCE)
def record_payout(request_id):
    """Finance books the payout with the bank reference; the paid amount must be the approved one."""
    def apply(refund, form):
        try:
            amount = money.parse_yuan(form.amount.data, max_fen=10**15)
        except money.AmountError as error:
            raise ValueError(_("Enter the amount paid in yuan.")) from error
        try:
            payout_service.record_paid(refund.id, current_user, Actor.FINANCE, form.bank_reference.data, amount)
        except payout_service.PayoutError as error:
            if error.code == "amount_mismatch":
                raise ValueError(_("The amount paid must equal the approved amount, %(amount)s.",
                                   amount=money.format_fen(error.params["approved_fen"]))) from error
            raise
    return decide(request_id, "paid", PaidForm(prefix="paid"), apply, _("Payout recorded; the request is completed."))


@bp.post("/refunds/<int:request_id>/payout/failed")
@role_required(Role.FINANCE)
def record_payout_failure(request_id):
    """Finance books a failed payout with a failure code; the seller is told what to fix."""
    form = FailedForm(prefix="failed")
    form.failure_code.choices = reason_choices(ReasonKind.PAYOUT_FAILURE)

    def apply(refund, form):
        message = refund_service.own_words(form.failure_code.data, form.seller_message.data.strip())
        payout_service.record_failed(refund.id, current_user, Actor.FINANCE, form.failure_code.data, message,
                                     current_app.config["PAYOUT_MAX_ATTEMPTS"],
                                     message_language=written_language(message))
    return decide(request_id, "failed", form, apply, _("Payout failure recorded."))
