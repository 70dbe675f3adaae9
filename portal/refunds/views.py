"""The seller's refund requests: apply, list, and follow one."""
import re
import uuid

from flask import Blueprint, abort, current_app, flash, make_response, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts import service as account_service
from portal.accounts.models import SignInSession, User
from portal.accounts.service import token_hash
from portal.core import money
from portal.core.calendar import working_calendar
from portal.core.clock import utcnow
from portal.core.vocabulary import RefundKind, RefundState, Role
from portal.deposit.service import deposit_figures, refundable_now
from portal.payee.models import PayeeAccount
from portal.payouts import service as payout_service
from portal.refunds import labels, prechecks, states, timing
from portal.refunds import service as refund_service
from portal.refunds.forms import KINDS, AnswerForm, RefundForm, StateForm
from portal.refunds.labels import refusal_text, state_label
from portal.refunds.models import RefundAttachment, RefundRequest
from portal.risk.service import banner_flags
from portal.shops.models import Shop
from portal.tickets.downloads import send_attachment
from portal.tickets.forms import cleaned_files
from portal.web import htmx
from portal.web.extensions import login_manager
from portal.web.forms import query_text
from portal.web.guards import checks_session_itself, require_seller, session_token, session_user_id, signed_in_only

bp = Blueprint("refunds", __name__, url_prefix="/refunds")
labels.register(bp)

def _resubmitted_request(shop_id, request_id):
    """The seller's own ended request that a new application replaces, or None."""
    if not request_id or not re.fullmatch(r"[0-9]{1,12}", str(request_id)):
        return None
    previous = RefundRequest.get_or_none((RefundRequest.id == int(request_id))
                                         & (RefundRequest.shop == shop_id))
    return previous if previous is not None and refund_service.resubmittable(previous) else None


def _form_page(shop, form, status=200, blocked_checks=None, previous=None):
    """The application page: the figures, the pre-checks for the chosen kind, and the form."""
    kind = form.kind.data if form.kind.data in dict(KINDS) else RefundKind.SURPLUS
    figures = deposit_figures(shop)
    policy = refund_service.policy_from(current_app.config)
    checks = blocked_checks or prechecks.evaluate(refund_service.shop_facts(shop, figures=figures), kind, policy)
    return htmx.render("refunds/new.html", "refund_form", status=status, shop=shop, form=form,
                       figures=figures, kind=kind, checks=checks, blocked=prechecks.is_blocked(checks),
                       refundable=refundable_now(shop, figures)[kind], previous=previous, flags=banner_flags(shop.id),
                       payee=PayeeAccount.get_or_none(PayeeAccount.shop == shop.id))


@bp.get("")
def list_requests():
    """The seller's requests, newest first."""
    shop_id = require_seller()
    requests = list(RefundRequest.for_shop(shop_id))
    return htmx.render("refunds/list.html", requests=requests, active=refund_service.active_request(shop_id))


@bp.get("/new")
def new_request():
    """The application form, with every pre-check already evaluated for the chosen kind."""
    shop_id = require_seller()
    # Switching the kind with htmx sends the amount and key typed so far; keep them.
    carried = request.args if request.args.get("idempotency_key") else None
    form = RefundForm(formdata=carried, kind=query_text("kind", RefundKind.SURPLUS),
                      idempotency_key=uuid.uuid4().hex)
    if not form.idempotency_key.data:
        form.idempotency_key.data = uuid.uuid4().hex
    previous = _resubmitted_request(shop_id, query_text("resubmit") or query_text("resubmission_of"))
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
    return _submit(shop, form, previous)


def _submit(shop, form, previous):
    """Submit a valid form: the new request's page, or the form again with why it was refused."""
    kind = form.kind.data
    amount_fen = 0
    if kind == RefundKind.SURPLUS:
        amount_fen = form.parse_amount(refundable_now(shop)[kind].fen)
        if amount_fen is None:
            return _form_page(shop, form, status=422, previous=previous)
    try:
        submission = refund_service.submit(shop.id, current_user, kind, amount_fen, form.idempotency_key.data,
                                           refund_service.policy_from(current_app.config),
                                           resubmission_of=previous.id if previous else None,
                                           timing=refund_service.timing_for(current_app.config))
    except refund_service.RefundBlocked as blocked:
        return _form_page(shop, form, status=422, blocked_checks=blocked.checks, previous=previous)
    except refund_service.AmountAboveRefundable as above:
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


def _status_context(refund):
    """Everything the status block shows."""
    calendar = working_calendar()
    config = current_app.config
    due = None
    if refund.state == RefundState.NEEDS_INFO:
        due = timing.needs_info_due(refund, calendar, current_app.config["NEEDS_INFO_EXPIRY_WORKDAYS"])
    return {
        "refund": refund,
        "events": list(refund_service.seller_timeline(refund.id)),
        "attachments": refund_service.attachments_by_event(refund.id),
        "question": refund_service.open_question(refund),
        "failure": refund_service.latest_event_into(refund, RefundState.PAYOUT_FAILED)
        if refund.state == RefundState.PAYOUT_FAILED else None,
        "payment": payout_service.payment_of(refund) if refund.state == RefundState.COMPLETED else None,
        "reasons": refund_service.reason_labels(),
        "window": refund_service.expected_window(refund, config, calendar),
        "turn": states.TURNS[refund.state],
        "held_fen": refund_service.held_for(refund.id),
        "poll_seconds": timing.poll_seconds(refund, config, utcnow()),
        "needs_info_due": due,
        "state_form": StateForm(formdata=None, expected_state=refund.state),
        "answer_form": AnswerForm(formdata=None),
        "resubmittable": refund_service.resubmittable(refund) and refund_service.active_request(refund.shop_id) is None,
        "cancellable": states.find(refund.state, RefundState.CANCELLED) is not None,
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

    One query answers both "is this the signed-in seller's request, in a session still open?" and
    "what is its version?".
    """
    user_id, token = session_user_id(), session_token()
    if user_id is None or not token:
        return login_manager.unauthorized()
    version = (RefundRequest.select(RefundRequest.version)
               .join(User, on=(User.shop == RefundRequest.shop))
               .join(SignInSession, on=(SignInSession.user == User.id))
               .where((RefundRequest.id == request_id) & (User.id == user_id) & (User.role == Role.SELLER)
                      & (User.active == True)  # noqa: E712
                      & (SignInSession.token_hash == token_hash(token)) & SignInSession.ended_at.is_null())
               .scalar())
    if version is None:
        # Not this seller's request, or a session that has ended: the second is sent to sign in.
        if account_service.session_user(user_id, token) is None:
            return login_manager.unauthorized()
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
    except refund_service.TransitionConflict as conflict:
        flash(_("This request changed while you were looking at it: it is now “%(state)s”. "
                "Nothing else was changed.", state=state_label(conflict.request.state)))
    except states.TransitionRefused as refused:
        flash(refusal_text(refused))
    else:
        flash(success_message)
    return htmx.see_other(url_for("refunds.show_request", request_id=refund.id))


@bp.post("/<int:request_id>/cancel")
def cancel_request(request_id):
    """Withdraw the request before approval; the held amount is released."""
    refund = _own_request(request_id)
    form = StateForm()
    if not form.validate():
        abort(400)
    return _act(refund, lambda: refund_service.cancel(refund.id, current_user, form.expected_state.data),
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
    # The same checks as a ticket's evidence: content sniffed, images re-encoded, size and count limited.
    files = cleaned_files(form.files)
    if files is None:
        context = _status_context(refund)
        context["answer_form"] = form
        return htmx.render("refunds/show.html", "refund_status", status=422, **context)
    answer = form.message.data.strip()
    return _act(refund, lambda: refund_service.answer_needs_info(refund.id, current_user, answer, files,
                                                                 current_app.config["UPLOAD_DIR"]),
                _("Thank you. Your answer was sent and the review continues."))


@bp.get("/<int:request_id>/files/<int:attachment_id>")
def download_attachment(request_id, attachment_id):
    """A file the seller sent with an answer, for the request's own seller only."""
    refund = _own_request(request_id)
    attachment = RefundAttachment.of_request(refund.id, attachment_id)
    if attachment is None:
        abort(404)
    return send_attachment(attachment)


@bp.url_value_preprocessor
def _allow_uploads(endpoint, values):
    """The answer to support carries files: allow their size there only (as the tickets blueprint does)."""
    if endpoint != "refunds.answer_request" or not current_user.is_authenticated:
        return
    config = current_app.config
    request.max_content_length = int(config["EVIDENCE_MAX_FILES"]) * int(config["EVIDENCE_MAX_BYTES"]) + 1024 * 1024


bp.before_request(signed_in_only)
