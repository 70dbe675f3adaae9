"""The support desk: the queue, a request with its seller's context, decisions, payouts, the audit log."""
import datetime
from functools import wraps

from flask import Blueprint, abort, current_app, flash, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from peewee import JOIN, SQL, Case, fn
from wtforms import HiddenField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal import audit, eligibility, htmx, money, payouts, refunding, ticketing, workflow
from portal.db import utcnow, write_transaction
from portal.forms import EmptyForm
from portal.models import (
    AGENT,
    FINANCE,
    Arrear,
    AuditLog,
    Dispute,
    PayeeAccount,
    ReasonCode,
    RefundEvent,
    RefundRequest,
    Shop,
    Ticket,
    User,
    Violation,
    deposit_figures,
)
from portal.refunds import expected_window, working_calendar
from portal.web import refusal_text, signed_in_only
from portal.workdays import to_shanghai_date

bp = Blueprint("desk", __name__, url_prefix="/desk")

QUEUE_PAGE_SIZE = 50
PAYOUT_ERRORS = {
    "bank_reference_missing": _l("The bank reference is required."),
    "not_current_attempt": _l("That payout attempt is no longer the current one; reload the request."),
    "amount_mismatch": _l("The amount paid must equal the approved amount."),
    "other": _l("The payout could not be recorded."),
}
FILTERS = ("open", "overdue", "mine", "unassigned")
PAYOUT_STATES = (workflow.APPROVED, workflow.PAYOUT_PROCESSING, workflow.PAYOUT_FAILED, workflow.ESCALATED)
# Larger than any id; SQLite cannot even compare a column with a bigger number (an OverflowError, a 500).
MAX_ID = 2**63 - 1


def _database_id(raw):
    """An id from a query string: a whole number the database can compare, else ValueError."""
    value = int(raw)
    if not 0 <= value <= MAX_ID:
        raise ValueError(raw)
    return value


def staff_only():
    """Everyone but agents and finance gets 404: the desk does not admit it exists."""
    if not current_user.is_staff:
        abort(404)


def role_required(*roles):
    """A desk action only some staff may take; the others are told so (they can see the desk)."""
    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        return wrapper
    return decorate


# --- forms -----------------------------------------------------------------------------------

class DecisionForm(FlaskForm):
    """What every decision carries: the state the agent saw, and a note only staff read."""

    expected_state = HiddenField(validators=[DataRequired()])
    internal_note = TextAreaField(_l("Internal note (staff only)"), validators=[Optional(), Length(max=2000)])


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


class PaidForm(FlaskForm):
    """Finance books a payout: the bank reference and the amount paid."""

    bank_reference = StringField(_l("Bank reference"), validators=[
        DataRequired(_l("The bank reference is required.")), Length(max=64)])
    amount = StringField(_l("Amount paid (yuan)"), validators=[DataRequired(), Length(max=40)])
    expected_state = HiddenField(validators=[DataRequired()])


class FailedForm(FlaskForm):
    """Finance books a failed payout with a failure code."""

    failure_code = SelectField(_l("Failure"), validators=[DataRequired()])
    seller_message = TextAreaField(_l("Message to the seller"), validators=[
        DataRequired(), Length(max=2000)])
    expected_state = HiddenField(validators=[DataRequired()])


def _reason_choices(kind):
    """(code, label) pairs of the active reason codes of one kind, in the current language."""
    return [(reason.code, reason.label(get_locale())) for reason in ReasonCode.of_kind(kind)]


def _forms(refund, **bound):
    """Every decision form for a request, unbound unless given bound (after a failed submit)."""
    locale = get_locale()
    rejects = _reason_choices("REJECT")
    holds = _reason_choices("HOLD")
    failures = _reason_choices("PAYOUT_FAILURE")
    first = {kind: ReasonCode.of_kind(kind).first() for kind in ("REJECT", "HOLD", "PAYOUT_FAILURE")}
    forms = {
        "assign": EmptyForm(formdata=None, prefix="assign"),
        "approve": ApproveForm(formdata=None, prefix="approve", expected_state=refund.state,
                               amount=money.fen_to_yuan_text(refunding.held_for(refund.id))),
        "reject": RejectForm(formdata=None, prefix="reject", expected_state=refund.state,
                             seller_message=first["REJECT"].message(locale) if first["REJECT"] else ""),
        "hold": HoldForm(formdata=None, prefix="hold", expected_state=refund.state,
                         seller_message=first["HOLD"].message(locale) if first["HOLD"] else ""),
        "needs_info": NeedsInfoForm(formdata=None, prefix="info", expected_state=refund.state,
                                    due_workdays=current_app.config["NEEDS_INFO_EXPIRY_WORKDAYS"]),
        "release": DecisionForm(formdata=None, prefix="release", expected_state=refund.state),
        "start_payout": DecisionForm(formdata=None, prefix="start", expected_state=refund.state),
        "paid": PaidForm(formdata=None, prefix="paid", expected_state=refund.state,
                         amount=money.fen_to_yuan_text(refund.approved_fen or refund.requested_fen)),
        "failed": FailedForm(formdata=None, prefix="failed", expected_state=refund.state,
                             seller_message=first["PAYOUT_FAILURE"].message(locale)
                             if first["PAYOUT_FAILURE"] else ""),
        "reveal": EmptyForm(formdata=None, prefix="reveal"),
    }
    forms.update(bound)
    forms["reject"].reason_code.choices = rejects
    forms["hold"].reason_code.choices = holds
    forms["failed"].failure_code.choices = failures
    forms["needs_info"].checklist.choices = _reason_choices("NEEDS_INFO")
    return forms


# --- the queue -------------------------------------------------------------------------------

def _today():
    """Today's date in Shanghai: what "overdue" is measured against."""
    return to_shanghai_date(utcnow())


def _queue_query(state, view, search):
    """Open (or one state's) requests with their shop and assignee, by due date, filtered."""
    assignee = User.alias()
    query = (RefundRequest
             # The joined user's id too: without it peewee sets assigned_to_id to None on each row.
             .select(RefundRequest, Shop.name, Shop.entity_name, assignee.id, assignee.display_name,
                     assignee.username)
             .join(Shop)
             .switch(RefundRequest)
             .join(assignee, JOIN.LEFT_OUTER, on=(RefundRequest.assigned_to == assignee.id)))
    if state in workflow.STATES:
        query = query.where(RefundRequest.state == state)
    else:
        query = query.where(RefundRequest.state.not_in(workflow.TERMINAL_STATES))
    if view == "overdue":
        query = query.where(RefundRequest.due_date < _today())
    elif view == "mine":
        query = query.where(RefundRequest.assigned_to == current_user.id)
    elif view == "unassigned":
        query = query.where(RefundRequest.assigned_to.is_null())
    search = (search or "").strip()
    if search:
        number = search.lstrip("#No.").strip()
        # A number longer than any id would overflow SQLite's INTEGER (a 500): search it as text.
        if number.isascii() and number.isdigit() and len(number) <= 15:
            # A request number is looked up by id alone (an OR across two tables would scan them).
            query = query.where(RefundRequest.id == int(number))
        else:
            query = query.where(Shop.name.contains(search) | Shop.entity_name.contains(search))
    return query


def _queue_counts():
    """How many open requests each filter holds, in one aggregate query."""
    today = _today()
    row = (RefundRequest
           .select(fn.COUNT(SQL("*")),
                   fn.SUM(Case(None, [((RefundRequest.due_date < today), 1)], 0)),
                   fn.SUM(Case(None, [((RefundRequest.assigned_to == current_user.id), 1)], 0)),
                   fn.SUM(Case(None, [(RefundRequest.assigned_to.is_null(), 1)], 0)))
           .where(RefundRequest.state.not_in(workflow.TERMINAL_STATES))
           .tuples()
           .get())
    return dict(zip(FILTERS, (int(value or 0) for value in row), strict=True))


def _open_tickets(view, search):
    """Tickets that are not resolved, by due date, under the same filters as the requests."""
    query = (Ticket.select(Ticket, Shop.name).join(Shop)
             .where(Ticket.status != ticketing.RESOLVED))
    if view == "overdue":
        query = query.where((Ticket.due_date < _today()) & Ticket.paused_at.is_null())
    elif view == "mine":
        query = query.where(Ticket.assigned_to == current_user.id)
    elif view == "unassigned":
        query = query.where(Ticket.assigned_to.is_null())
    search = (search or "").strip()
    if search:
        query = query.where(Shop.name.contains(search) | Ticket.subject.contains(search))
    return list(query.order_by(Ticket.due_date.asc(nulls="LAST"), Ticket.id).limit(QUEUE_PAGE_SIZE))


def _parse_cursor(raw):
    """The keyset cursor ``YYYY-MM-DD.<id>`` (``none.<id>`` past the last due date) of the next page, or None."""
    if not raw:
        return None
    day, _sep, request_id = raw.partition(".")
    if not request_id.isdigit() or len(request_id) > 15:
        return None
    if day == "none":
        return None, int(request_id)
    try:
        return datetime.date.fromisoformat(day), int(request_id)
    except ValueError:
        return None


@bp.get("")
def show_queue():
    """Requests by due date (working days), with filters, counts, search and keyset pages."""
    state = request.args.get("state", "")
    view = request.args.get("view", "open")
    view = view if view in FILTERS else "open"
    search = request.args.get("q", "")[:100]
    query = _queue_query(state, view, search)
    cursor = _parse_cursor(request.args.get("after"))
    if cursor:
        due, last_id = cursor
        # Keyset: the rows after the last one shown, in (due_date, id) order with requests that have
        # no due date (made before due dates existed) last; no OFFSET.
        if due is None:
            query = query.where(RefundRequest.due_date.is_null() & (RefundRequest.id > last_id))
        else:
            query = query.where((RefundRequest.due_date > due)
                                | ((RefundRequest.due_date == due) & (RefundRequest.id > last_id))
                                | RefundRequest.due_date.is_null())
    rows = list(query.order_by(RefundRequest.due_date.asc(nulls="LAST"), RefundRequest.id)
                .limit(QUEUE_PAGE_SIZE + 1))
    next_cursor = None
    if len(rows) > QUEUE_PAGE_SIZE:
        rows = rows[:QUEUE_PAGE_SIZE]
        last = rows[-1]
        next_cursor = f"{last.due_date.isoformat() if last.due_date else 'none'}.{last.id}"
    # The "More" link's rows for htmx; without JavaScript the same link opens a whole page.
    if request.args.get("after") and htmx.is_fragment_request():
        return htmx.render("desk/queue.html", "queue_rows", rows=rows, state=state, view=view, search=search,
                           next_cursor=next_cursor, today=_today())
    # Tickets join the queue on its first page (a state filter is about requests only).
    tickets = [] if state or request.args.get("after") else _open_tickets(view, search)
    return htmx.render("desk/queue.html", "queue_results", rows=rows, counts=_queue_counts(), state=state,
                       view=view, search=search, next_cursor=next_cursor, today=_today(), states=workflow.STATES,
                       tickets=tickets)


@bp.get("/payouts")
def show_payouts():
    """Approved requests waiting for finance, payouts in progress, failed and escalated ones."""
    rows = list(RefundRequest.select(RefundRequest, Shop.name).join(Shop)
                .where(RefundRequest.state.in_(PAYOUT_STATES))
                .order_by(RefundRequest.state_changed_at, RefundRequest.id))
    return htmx.render("desk/payouts.html", rows=rows)


# --- one request -----------------------------------------------------------------------------

def _staff_request(request_id):
    """A request by id for staff, or 404."""
    refund = RefundRequest.get_or_none(RefundRequest.id == request_id) if request_id <= MAX_ID else None
    if refund is None:
        abort(404)
    return refund


def _request_context(refund, forms=None, conflict=None, notice=None, revealed=None):
    """Everything the desk's request page shows."""
    shop = Shop.get_by_id(refund.shop_id)
    figures = deposit_figures(shop)
    policy = refunding.policy_from(current_app.config)
    facts = refunding.shop_facts(shop, figures=figures)
    events = list(RefundEvent.select(RefundEvent, User.id, User.display_name, User.username)
                  .join(User, JOIN.LEFT_OUTER, on=(RefundEvent.actor == User.id))
                  .where(RefundEvent.request == refund.id).order_by(RefundEvent.id))
    role = current_user.role
    return {
        "refund": refund,
        "shop": shop,
        "figures": figures,
        "checks": eligibility.evaluate(facts, refund.kind, policy),
        "blockers": eligibility.recheck_blockers(facts, refund.kind, policy, refunding.held_for(refund.id))
        if not workflow.is_final(refund.state) else [],
        "events": events,
        "reasons": refunding.reason_labels(),
        "window": expected_window(refund),
        "held_fen": refunding.held_for(refund.id),
        "violations": list(Violation.open_for(shop.id)),
        "disputes": list(Dispute.open_for(shop.id)),
        "arrears": list(Arrear.open_for(shop.id)),
        "previous": list(RefundRequest.for_shop(shop.id).where(RefundRequest.id != refund.id).limit(10)),
        "payee": PayeeAccount.get_or_none(PayeeAccount.shop == shop.id),
        "revealed": revealed,
        "attempt": payouts.current_attempt(refund.id),
        "targets": workflow.allowed_targets(refund.state, role),
        "forms": _forms(refund, **(forms or {})),
        "conflict": conflict,
        "notice": notice,
        "audit_entries": list(audit.entries(request_id=refund.id, limit=20)),
        "assignee": User.get_or_none(User.id == refund.assigned_to_id) if refund.assigned_to_id else None,
    }


@bp.get("/refunds/<int:request_id>")
def show_request(request_id):
    """A request with its seller's context and the decisions the signed-in role may take."""
    refund = _staff_request(request_id)
    return htmx.render("desk/request.html", "desk_request", **_request_context(refund))


@bp.get("/refunds/<int:request_id>/checks")
def request_checks(request_id):
    """The pre-checks, re-run now (the side panel refreshes them live)."""
    refund = _staff_request(request_id)
    return htmx.render("desk/request.html", "desk_checks", **_request_context(refund))


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
    return htmx.render("desk/request.html", "desk_request", status=status, **context)


def _decide(request_id, form_key, form, apply, notice):
    """Validate a decision form, apply it, and answer; a collision is shown, never a 500."""
    refund = _staff_request(request_id)
    if not form.validate():
        return _answer(refund.id, 422, forms={form_key: form})
    try:
        apply(refund, form)
    except refunding.TransitionConflict as conflict:
        return _answer(refund.id, 409, conflict=_latest_event(conflict.request))
    except workflow.TransitionRefused as refused:
        # Also as the notice: the refused decision's form is not on the page when the request's
        # state does not offer it, and the agent must still read why.
        message = refusal_text(refused)
        form.form_errors.append(message)
        return _answer(refund.id, 422, forms={form_key: form}, notice=message)
    except payouts.PayoutError as error:
        form.form_errors.append(_(PAYOUT_ERRORS.get(error.code, PAYOUT_ERRORS["other"])))
        return _answer(refund.id, 422, forms={form_key: form})
    except ValueError as error:
        form.form_errors.append(str(error))
        return _answer(refund.id, 422, forms={form_key: form})
    return _answer(refund.id, notice=notice)


def _transition(refund, form, target, **details):
    """Apply one move by the signed-in staff member, with its audit entry, in one transaction."""
    with write_transaction():
        refunding.transition(refund.id, target, current_user, current_user.role,
                             expected_state=form.expected_state.data,
                             internal_note=(form.internal_note.data or "").strip()
                             if hasattr(form, "internal_note") else "", **details)
        audit.record(current_user, f"refund.{target.lower()}", refund.id, refund.shop_id,
                     from_state=form.expected_state.data, to_state=target,
                     **{key: value for key, value in details.items() if key != "seller_message"})


@bp.post("/refunds/<int:request_id>/assign")
@role_required(AGENT, FINANCE)
def assign_request(request_id):
    """Take a request: it shows as yours in the queue."""
    refund = _staff_request(request_id)
    with write_transaction():
        RefundRequest.update(assigned_to=current_user.id).where(RefundRequest.id == refund.id).execute()
        audit.record(current_user, "refund.assign", refund.id, refund.shop_id,
                     previous=refund.assigned_to_id, assigned_to=current_user.id)
    return _answer(refund.id, notice=_("The request is assigned to you."))


@bp.post("/refunds/<int:request_id>/approve")
@role_required(AGENT)
def approve_request(request_id):
    """Approve the request, for the amount asked or a lower one (the difference is released)."""
    def apply(refund, form):
        # At most what is still held: an earlier lower approval has released the rest already.
        ceiling = refunding.held_for(refund.id)
        approved = ceiling
        if (form.amount.data or "").strip():
            try:
                approved = money.parse_yuan(form.amount.data, max_fen=ceiling)
            except money.AmountError as error:
                raise ValueError(_("The approved amount must be more than ¥0.00 and at most %(amount)s.",
                                   amount=money.format_fen(ceiling))) from error
        _transition(refund, form, workflow.APPROVED, approved_fen=approved,
                    seller_message=_approval_message(refund, approved))
    return _decide(request_id, "approve", ApproveForm(prefix="approve"), apply, _("Approved."))


def _approval_message(refund, approved):
    """The seller's note on an approval for less than asked: the difference, itemised."""
    if approved >= refund.requested_fen:
        return ""
    return _("Approved %(approved)s of the %(requested)s asked for; %(difference)s stays in your deposit.",
             approved=money.format_fen(approved), requested=money.format_fen(refund.requested_fen),
             difference=money.format_fen(refund.requested_fen - approved))


@bp.post("/refunds/<int:request_id>/reject")
@role_required(AGENT)
def reject_request(request_id):
    """Reject with a reason code and a message the seller reads."""
    form = RejectForm(prefix="reject")
    form.reason_code.choices = _reason_choices("REJECT")

    def apply(refund, form):
        _transition(refund, form, workflow.REJECTED, reason_code=form.reason_code.data,
                    seller_message=form.seller_message.data.strip())
    return _decide(request_id, "reject", form, apply, _("Rejected; the held amount is released."))


@bp.post("/refunds/<int:request_id>/needs-info")
@role_required(AGENT)
def ask_for_info(request_id):
    """Ask the seller for information, with a checklist and a due date in working days."""
    form = NeedsInfoForm(prefix="info")
    form.checklist.choices = _reason_choices("NEEDS_INFO")

    def apply(refund, form):
        labels = dict(form.checklist.choices)
        items = [f"• {labels[code]}" for code in form.checklist.data or [] if code in labels]
        message = "\n".join([form.seller_message.data.strip(), *items])
        due = working_calendar().add_workdays(utcnow(), form.due_workdays.data)
        _transition(refund, form, workflow.NEEDS_INFO, seller_message=message, info_due_date=due,
                    reason_code=(form.checklist.data or [""])[0])
    return _decide(request_id, "needs_info", form, apply, _("The seller was asked for information."))


@bp.post("/refunds/<int:request_id>/hold")
@role_required(AGENT)
def hold_request(request_id):
    """Put the request on hold with a reason the seller reads."""
    form = HoldForm(prefix="hold")
    form.reason_code.choices = _reason_choices("HOLD")

    def apply(refund, form):
        _transition(refund, form, workflow.ON_HOLD, reason_code=form.reason_code.data,
                    seller_message=form.seller_message.data.strip())
    return _decide(request_id, "hold", form, apply, _("The request is on hold."))


@bp.post("/refunds/<int:request_id>/release")
@role_required(AGENT)
def release_request(request_id):
    """Take a request off hold: back to review."""
    def apply(refund, form):
        _transition(refund, form, workflow.UNDER_REVIEW)
    return _decide(request_id, "release", DecisionForm(prefix="release"), apply, _("Back under review."))


@bp.post("/refunds/<int:request_id>/payout/start")
@role_required(FINANCE)
def start_payout(request_id):
    """Finance starts paying an approved request: a new attempt with its own reference."""
    def apply(refund, form):
        payouts.start(refund.id, current_user, workflow.FINANCE, form.expected_state.data)
    return _decide(request_id, "start_payout", DecisionForm(prefix="start"), apply, _("Payout started."))


@bp.post("/refunds/<int:request_id>/payout/paid")
@role_required(FINANCE)
def record_payout(request_id):
    """Finance books the payout with the bank reference; the paid amount must be the approved one."""
    def apply(refund, form):
        try:
            amount = money.parse_yuan(form.amount.data, max_fen=10**15)
        except money.AmountError as error:
            raise ValueError(_("Enter the amount paid in yuan.")) from error
        try:
            payouts.record_paid(refund.id, current_user, workflow.FINANCE, form.bank_reference.data, amount)
        except payouts.PayoutError as error:
            if error.code == "amount_mismatch":
                raise ValueError(_("The amount paid must equal the approved amount, %(amount)s.",
                                   amount=money.format_fen(error.params["approved_fen"]))) from error
            raise
    return _decide(request_id, "paid", PaidForm(prefix="paid"), apply, _("Payout recorded; the request is completed."))


@bp.post("/refunds/<int:request_id>/payout/failed")
@role_required(FINANCE)
def record_payout_failure(request_id):
    """Finance books a failed payout with a failure code; the seller is told what to fix."""
    form = FailedForm(prefix="failed")
    form.failure_code.choices = _reason_choices("PAYOUT_FAILURE")

    def apply(refund, form):
        payouts.record_failed(refund.id, current_user, workflow.FINANCE, form.failure_code.data,
                              form.seller_message.data.strip(), current_app.config["PAYOUT_MAX_ATTEMPTS"])
    return _decide(request_id, "failed", form, apply, _("Payout failure recorded."))


@bp.post("/refunds/<int:request_id>/payee/reveal")
@role_required(AGENT, FINANCE)
def reveal_payee(request_id):
    """Show the full account number once, and record who looked (sensitive data)."""
    refund = _staff_request(request_id)
    payee = PayeeAccount.get_or_none(PayeeAccount.shop == refund.shop_id)
    if payee is None:
        abort(404)
    with write_transaction():
        audit.record(current_user, "payee.reveal", refund.id, refund.shop_id, account=payee.masked_number)
    context = _request_context(refund, revealed=payee.account_number)
    return htmx.render("desk/request.html", "payee_panel", **context)


@bp.get("/reasons/message")
def reason_message():
    """The editable seller message of the chosen reason code, swapped in when the reason changes."""
    prefix = request.args.get("form", "reject")
    if prefix not in ("reject", "hold", "failed"):
        abort(404)
    code = request.args.get(f"{prefix}-reason_code") or request.args.get(f"{prefix}-failure_code") or ""
    reason = ReasonCode.get_or_none((ReasonCode.code == code) & (ReasonCode.active == True))  # noqa: E712
    if reason is None:
        abort(404)
    form = RejectForm(formdata=None, prefix=prefix, seller_message=reason.message(get_locale()))
    return htmx.render("desk/reason_message.html", field=form.seller_message)


# --- the audit log ---------------------------------------------------------------------------

@bp.get("/audit")
def show_audit():
    """The whole desk's audit log, newest first, filtered by action, person or request."""
    action = request.args.get("action", "")[:60]
    username = request.args.get("actor", "")[:150]
    request_id = request.args.get("request", type=_database_id)
    before = request.args.get("before", type=_database_id)
    actor = User.get_or_none(User.username == username) if username else None
    if username and actor is None:
        entries = []
    else:
        entries = list(audit.entries(request_id=request_id, actor_id=actor.id if actor else None,
                                     action=action or None, before_id=before, limit=51))
    next_before = entries[49].id if len(entries) > 50 else None
    actions = [name for (name,) in AuditLog.select(AuditLog.action).distinct().order_by(AuditLog.action).tuples()]
    actor_ids = {entry.actor_id for entry in entries if entry.actor_id}
    actors = {user.id: user for user in User.select().where(User.id.in_(actor_ids))} if actor_ids else {}
    return htmx.render("desk/audit.html", entries=entries[:50], next_before=next_before, actions=actions,
                       action=action, actor_name=username, request_id=request_id, actors=actors,
                       details_of=audit.details_of)


bp.before_request(signed_in_only)
bp.before_request(staff_only)


# More desk pages live in their own modules, on this same blueprint.
from portal import desk_shops, desk_tickets  # noqa: E402,F401
