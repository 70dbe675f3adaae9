"""The seller's deposit page: the figures, what blocks a refund, the exit notice, and the ledger."""
import datetime

from flask import Blueprint, abort, current_app, flash, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _

from portal.core.clock import utcnow
from portal.core.vocabulary import RefundKind
from portal.core.workdays import to_shanghai_date
from portal.deposit import ledger
from portal.deposit import service as deposit_service
from portal.deposit.forms import ExitNoticeForm
from portal.deposit.service import deposit_figures
from portal.disputes.models import Dispute
from portal.refunds import prechecks
from portal.refunds import service as refund_service
from portal.risk.models import Arrear, Violation
from portal.risk.service import banner_flags
from portal.shops import service as shop_service
from portal.shops.models import CategoryRequirement, Shop
from portal.web import htmx
from portal.web.forms import EmptyForm
from portal.web.guards import require_seller, signed_in_only
from portal.web.text import code_label

bp = Blueprint("deposit", __name__, url_prefix="/deposit")


@bp.app_template_global()
def ledger_reason(reason, violation_code=None):
    """A ledger reason in the reader's language: a standard reason translated, else the words as typed."""
    if reason == ledger.VIOLATION_DEDUCTION:
        return _("Deducted for a rule violation: %(violation)s", violation=code_label("violation", violation_code))
    standard = ledger.STANDARD_REASONS.get(reason)
    return _(standard) if standard else reason


@bp.app_template_global()
def entry_reason(entry):
    """A ledger entry's reason, translated when it is a standard one (a deduction names its violation)."""
    violation = entry.violation.code if entry.reason == ledger.VIOLATION_DEDUCTION and entry.violation_id else None
    return ledger_reason(entry.reason, violation)


bp.add_app_template_global(ledger.ENTRY_LABELS, "entry_labels")
bp.add_app_template_global(ledger.sign, "entry_sign")


def ledger_page(shop_id):
    """The ledger page asked for by ``?before=<id>``: its entries and the cursor of the next page."""
    before = request.args.get("before", type=int)
    if before is not None and not 0 < before < 2**63:
        # Ids are positive 64-bit integers; SQLite cannot even bind a larger number (a 500), so a
        # cursor outside that range is no cursor: the newest page.
        before = None
    return deposit_service.ledger_page(shop_id, before, current_app.config["LEDGER_PAGE_SIZE"])


def _deposit_context(shop, notice_form=None):
    """The figures, the blockers, the open matters and the exit notice that the deposit page shows."""
    figures = deposit_figures(shop)
    policy = refund_service.policy_from(current_app.config)
    facts = refund_service.shop_facts(shop, figures=figures)
    return dict(
        figures=figures,
        refundable=deposit_service.refundable_now(shop, figures),
        categories=list(CategoryRequirement.select().where(CategoryRequirement.shop == shop.id)
                        .order_by(CategoryRequirement.required_fen.desc())),
        checks=prechecks.evaluate(facts, RefundKind.SURPLUS, policy),
        violations=list(Violation.open_for(shop.id)),
        disputes=list(Dispute.open_for(shop.id)),
        arrears=list(Arrear.open_for(shop.id)),
        active=refund_service.active_request(shop.id),
        policy=policy,
        notice_form=notice_form or ExitNoticeForm(formdata=None),
        withdraw_form=EmptyForm(),
        # Shanghai dates: the day shown is the day the seller can apply from, wherever the server runs.
        notice_ends=to_shanghai_date(shop.exit_notice_at + datetime.timedelta(days=policy.exit_notice_days))
        if shop.exit_notice_at else None,
        notice_from_today=to_shanghai_date(utcnow() + datetime.timedelta(days=policy.exit_notice_days)),
        full_exit=refund_service.open_full_exit(shop.id),
        flags=banner_flags(shop.id),
    )


@bp.get("")
def show_deposit(notice_form=None, status=200):
    """Paid in, deducted, frozen, held, required, refundable, the blockers and the ledger."""
    shop_id = require_seller()
    shop = Shop.get_by_id(shop_id)
    entries, next_before = ledger_page(shop_id)
    context = {"shop": shop, "entries": entries, "next_before": next_before}
    if htmx.is_fragment_request() and request.args.get("before"):
        # "Older entries" appends one page of rows; nothing else on the page changes.
        return htmx.render("deposit/show.html", "ledger_rows", **context)
    context.update(_deposit_context(shop, notice_form))
    return htmx.render("deposit/show.html", status=status, **context)


@bp.post("/exit-notice")
def give_exit_notice():
    """Start the exit notice period that a full exit needs, once the seller has confirmed it."""
    shop_id = require_seller()
    form = ExitNoticeForm()
    if not form.validate():
        return show_deposit(notice_form=form, status=422)
    shop_service.give_exit_notice(shop_id)
    notice_at = Shop.get_by_id(shop_id).exit_notice_at
    days = refund_service.policy_from(current_app.config).exit_notice_days
    ends = to_shanghai_date(notice_at + datetime.timedelta(days=days))
    flash(_("Exit notice recorded. You can apply for a full exit from %(date)s.", date=format_date(ends, "long")))
    return htmx.see_other(url_for("deposit.show_deposit") + "#exit-notice")


@bp.post("/exit-notice/withdraw")
def withdraw_exit_notice():
    """Take the exit notice back, while no full-exit request depends on it."""
    shop_id = require_seller()
    if not EmptyForm().validate():
        abort(400)
    if refund_service.withdraw_exit_notice(shop_id):
        flash(_("Exit notice withdrawn. Your shop stays open."))
    else:
        flash(_("The exit notice cannot be withdrawn while a full-exit request is in progress."))
    return htmx.see_other(url_for("deposit.show_deposit") + "#exit-notice")


bp.before_request(signed_in_only)
