"""The desk's view of one request: the seller's context, the live pre-checks and the decisions."""


from flask import abort, current_app, flash, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from peewee import JOIN

from portal.accounts.models import User
from portal.audit import service as audit_service
from portal.core import money
from portal.core.calendar import working_calendar
from portal.core.clock import utcnow
from portal.core.vocabulary import ReasonKind, RefundState, Role
from portal.deposit.service import deposit_figures, refundable_now
from portal.desk.audit_log import audit_names
from portal.desk.blueprint import MAX_ID, bp, role_required
from portal.desk.forms import (
    PAYOUT_ERRORS,
    ApproveForm,
    DecisionForm,
    HoldForm,
    NeedsInfoForm,
    RejectForm,
    decision_forms,
    reason_choices,
)
from portal.disputes.models import Dispute
from portal.payee import service as payee_service
from portal.payee.models import PayeeAccount
from portal.payouts import service as payout_service
from portal.refunds import prechecks, states
from portal.refunds import service as refund_service
from portal.refunds.labels import refusal_text
from portal.refunds.models import ReasonCode, RefundAttachment, RefundEvent, RefundRequest
from portal.risk.models import Arrear, Violation
from portal.shops.models import Shop
from portal.tickets.downloads import send_attachment
from portal.web import htmx
from portal.web.forms import query_text
from portal.web.text import written_language


def _staff_request(request_id):
    """A request by id for staff, or 404."""
    refund = RefundRequest.get_or_none(RefundRequest.id == request_id) if request_id <= MAX_ID else None
    if refund is None:
        abort(404)
    return refund


def _checks_context(refund, shop=None, figures=None):
    """The live pre-checks of a request: every finding, and the blockers a system step would meet."""
    shop = shop or Shop.get_by_id(refund.shop_id)
    policy = refund_service.policy_from(current_app.config)
    facts = refund_service.shop_facts(shop, figures=figures)
    final = states.is_final(refund.state)
    return {
        "checks": prechecks.evaluate(facts, refund.kind, policy),
        "blockers": [] if final else prechecks.recheck_blockers(facts, refund.kind, policy,
                                                                refund_service.held_for(refund.id)),
    }


def _request_context(refund, forms=None, conflict=None, notice=None, revealed=None):
    """Everything the desk's request page shows."""
    shop = Shop.get_by_id(refund.shop_id)
    figures = deposit_figures(shop)
    events = list(RefundEvent.select(RefundEvent, User.id, User.display_name, User.username)
                  .join(User, JOIN.LEFT_OUTER, on=(RefundEvent.actor == User.id))
                  .where(RefundEvent.request == refund.id).order_by(RefundEvent.id))
    role = current_user.role
    audit_entries = list(audit_service.entries(request_id=refund.id, limit=20))
    return {
        "refund": refund,
        "shop": shop,
        "figures": figures,
        "refundable": refundable_now(shop, figures),
        **_checks_context(refund, shop, figures),
        "events": events,
        "attachments": refund_service.attachments_by_event(refund.id),
        "reasons": refund_service.reason_labels(),
        "window": refund_service.expected_window(refund, current_app.config),
        "held_fen": refund_service.held_for(refund.id),
        "violations": list(Violation.open_for(shop.id)),
        "disputes": list(Dispute.open_for(shop.id)),
        "arrears": list(Arrear.open_for(shop.id)),
        "previous": list(RefundRequest.for_shop(shop.id).where(RefundRequest.id != refund.id).limit(10)),
        "payee": PayeeAccount.get_or_none(PayeeAccount.shop == shop.id),
        "revealed": revealed,
        "attempt": payout_service.current_attempt(refund.id),
        "payee_unchanged": refund.state == RefundState.PAYOUT_FAILED
        and not payout_service.payee_changed_since_failure(refund),
        "targets": states.allowed_targets(refund.state, role),
        "forms": decision_forms(refund, **(forms or {})),
        "conflict": conflict,
        "notice": notice,
        "audit_entries": audit_entries,
        "audit_names": audit_names(audit_entries),
        "assignee": User.get_or_none(User.id == refund.assigned_to_id) if refund.assigned_to_id else None,
    }


@bp.get("/refunds/<int:request_id>")
def show_request(request_id):
    """A request with its seller's context and the decisions the signed-in role may take."""
    refund = _staff_request(request_id)
    return htmx.render("desk/request.html", "desk_request", **_request_context(refund))


@bp.get("/refunds/<int:request_id>/files/<int:attachment_id>")
def download_request_attachment(request_id, attachment_id):
    """A file the seller sent with an answer to support, for staff."""
    refund = _staff_request(request_id)
    attachment = RefundAttachment.of_request(refund.id, attachment_id)
    if attachment is None:
        abort(404)
    return send_attachment(attachment)


@bp.get("/refunds/<int:request_id>/checks")
def request_checks(request_id):
    """The pre-checks, re-run now (the side panel refreshes them live).

    The poll builds only what that block shows; without htmx (a bookmark) it is the whole page.
    """
    refund = _staff_request(request_id)
    if not htmx.is_fragment_request():
        return htmx.render("desk/request.html", **_request_context(refund))
    return htmx.render("desk/request.html", "desk_checks", refund=refund, **_checks_context(refund))


def _latest_event(refund):
    """The newest event of a request, with its actor, for the collision notice."""
    # User.id as well, or the joined actor's missing id blanks actor_id and the notice names only a role.
    return (RefundEvent.select(RefundEvent, User.id, User.display_name, User.username)
            .join(User, JOIN.LEFT_OUTER, on=(RefundEvent.actor == User.id))
            .where(RefundEvent.request == refund.id).order_by(RefundEvent.id.desc()).first())


def _answer(refund_id, status=200, notice=None, forms=None, conflict=None):
    """After a decision: the refreshed block for htmx; for a plain form a redirect, or the page on error."""
    refund = RefundRequest.get_by_id(refund_id)
    if status == 200 and not htmx.is_fragment_request():
        flash(notice)
        return htmx.see_other(url_for("desk.show_request", request_id=refund_id))
    context = _request_context(refund, forms=forms, conflict=conflict, notice=notice)
    return htmx.render("desk/request.html", "desk_request", status=status,
                       side_panels_oob=htmx.is_fragment_request(), **context)


def decide(request_id, form_key, form, apply, notice):
    """Validate a decision form, apply it, and answer; a collision is shown, never a 500."""
    refund = _staff_request(request_id)
    if not form.validate():
        return _answer(refund.id, 422, forms={form_key: form})
    try:
        apply(refund, form)
    except refund_service.TransitionConflict as conflict:
        return _answer(refund.id, 409, conflict=_latest_event(conflict.request))
    except states.TransitionRefused as refused:
        # Also as the notice: the refused decision's form is not on the page when the request's
        # state does not offer it, and the agent must still read why.
        message = refusal_text(refused)
        form.form_errors.append(message)
        return _answer(refund.id, 422, forms={form_key: form}, notice=message)
    except payout_service.PayoutError as error:
        form.form_errors.append(_(PAYOUT_ERRORS.get(error.code, PAYOUT_ERRORS["other"])))
        return _answer(refund.id, 422, forms={form_key: form})
    except ValueError as error:
        form.form_errors.append(str(error))
        return _answer(refund.id, 422, forms={form_key: form})
    return _answer(refund.id, notice=notice)


def _transition(refund, form, target, **details):
    """Apply one move by the signed-in staff member, with its audit entry, in one transaction."""
    if details.get("seller_message"):
        details["seller_message"] = refund_service.own_words(details.get("reason_code"), details["seller_message"])
        details["message_from_reason"] = not details["seller_message"]
        details["seller_message_language"] = written_language(details["seller_message"])
    refund_service.decide(refund.id, target, current_user, form.expected_state.data,
                          internal_note=(form.internal_note.data or "").strip()
                          if hasattr(form, "internal_note") else "", **details)


@bp.post("/refunds/<int:request_id>/assign")
@role_required(Role.AGENT, Role.FINANCE)
def assign_request(request_id):
    """Take a request: it shows as yours in the queue."""
    refund = _staff_request(request_id)
    refund_service.assign(refund.id, current_user)
    return _answer(refund.id, notice=_("The request is assigned to you."))


@bp.post("/refunds/<int:request_id>/approve")
@role_required(Role.AGENT)
def approve_request(request_id):
    """Approve the request, for the amount asked or a lower one (the difference is released)."""
    def apply(refund, form):
        # At most what is still held: an earlier lower approval has released the rest already.
        ceiling = refund_service.held_for(refund.id)
        approved = ceiling
        if (form.amount.data or "").strip():
            try:
                approved = money.parse_yuan(form.amount.data, max_fen=ceiling)
            except money.AmountError as error:
                raise ValueError(_("The approved amount must be more than ¥0.00 and at most %(amount)s.",
                                   amount=money.format_fen(ceiling))) from error
        # For less than asked, the timelines itemise the difference from the amounts, in the reader's language.
        _transition(refund, form, RefundState.APPROVED, approved_fen=approved)
    return decide(request_id, "approve", ApproveForm(prefix="approve"), apply, _("Approved."))


@bp.post("/refunds/<int:request_id>/reject")
@role_required(Role.AGENT)
def reject_request(request_id):
    """Reject with a reason code and a message the seller reads."""
    form = RejectForm(prefix="reject")
    form.reason_code.choices = reason_choices(ReasonKind.REJECT)

    def apply(refund, form):
        _transition(refund, form, RefundState.REJECTED, reason_code=form.reason_code.data,
                    seller_message=form.seller_message.data.strip())
    return decide(request_id, "reject", form, apply, _("Rejected; the held amount is released."))


@bp.post("/refunds/<int:request_id>/needs-info")
@role_required(Role.AGENT)
def ask_for_info(request_id):
    """Ask the seller for information, with a checklist and a due date in working days."""
    form = NeedsInfoForm(prefix="info")
    form.checklist.choices = reason_choices(ReasonKind.NEEDS_INFO)

    def apply(refund, form):
        labels = dict(form.checklist.choices)
        items = [f"• {labels[code]}" for code in form.checklist.data or [] if code in labels]
        message = "\n".join([form.seller_message.data.strip(), *items])
        due = working_calendar().add_workdays(utcnow(), form.due_workdays.data)
        _transition(refund, form, RefundState.NEEDS_INFO, seller_message=message, info_due_date=due,
                    reason_code=(form.checklist.data or [""])[0])
    return decide(request_id, "needs_info", form, apply, _("The seller was asked for information."))


@bp.post("/refunds/<int:request_id>/hold")
@role_required(Role.AGENT)
def hold_request(request_id):
    """Put the request on hold with a reason the seller reads."""
    form = HoldForm(prefix="hold")
    form.reason_code.choices = reason_choices(ReasonKind.HOLD)

    def apply(refund, form):
        _transition(refund, form, RefundState.ON_HOLD, reason_code=form.reason_code.data,
                    seller_message=form.seller_message.data.strip())
    return decide(request_id, "hold", form, apply, _("The request is on hold."))


@bp.post("/refunds/<int:request_id>/release")
@role_required(Role.AGENT)
def release_request(request_id):
    """Take a request off hold: back to review."""
    def apply(refund, form):
        _transition(refund, form, RefundState.UNDER_REVIEW)
    return decide(request_id, "release", DecisionForm(prefix="release"), apply, _("Back under review."))


@bp.post("/refunds/<int:request_id>/payee/reveal")
@role_required(Role.AGENT, Role.FINANCE)
def reveal_payee(request_id):
    """Show the full account number once, and record who looked (sensitive data)."""
    refund = _staff_request(request_id)
    payee = PayeeAccount.get_or_none(PayeeAccount.shop == refund.shop_id)
    if payee is None:
        abort(404)
    payee_service.record_reveal(current_user, payee, refund.id)
    context = _request_context(refund, revealed=payee.account_number)
    return htmx.render("desk/request.html", "payee_panel", **context)


@bp.get("/reasons/message")
def reason_message():
    """The editable seller message of the chosen reason code, swapped in when the reason changes."""
    prefix = query_text("form", "reject")
    if prefix not in ("reject", "hold", "failed"):
        abort(404)
    code = query_text(f"{prefix}-reason_code") or query_text(f"{prefix}-failure_code")
    reason = ReasonCode.get_or_none((ReasonCode.code == code) & (ReasonCode.active == True))  # noqa: E712
    if reason is None:
        abort(404)
    form = RejectForm(formdata=None, prefix=prefix, seller_message=reason.message(get_locale()))
    return htmx.render("desk/reason_message.html", field=form.seller_message)
