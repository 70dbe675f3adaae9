"""The seller's deposit page: the figures, what blocks a refund, and the ledger."""
from flask import Blueprint, current_app, flash, request, url_for
from flask_babel import gettext as _

from portal.core.vocabulary import RefundKind
from portal.deposit import ledger
from portal.deposit import service as deposit_service
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


@bp.get("")
def show_deposit():
    """Paid in, deducted, frozen, held, required, refundable, the blockers and the ledger."""
    shop_id = require_seller()
    shop = Shop.get_by_id(shop_id)
    entries, next_before = ledger_page(shop_id)
    context = {"shop": shop, "entries": entries, "next_before": next_before}
    if htmx.is_fragment_request() and request.args.get("before"):
        # "Older entries" appends one page of rows; nothing else on the page changes.
        return htmx.render("deposit/show.html", "ledger_rows", **context)
    figures = deposit_figures(shop)
    policy = refund_service.policy_from(current_app.config)
    facts = refund_service.shop_facts(shop, figures=figures)
    context.update(
        figures=figures,
        categories=list(CategoryRequirement.select().where(CategoryRequirement.shop == shop_id)
                        .order_by(CategoryRequirement.required_fen.desc())),
        checks=prechecks.evaluate(facts, RefundKind.SURPLUS, policy),
        violations=list(Violation.open_for(shop_id)),
        disputes=list(Dispute.open_for(shop_id)),
        arrears=list(Arrear.open_for(shop_id)),
        active=refund_service.active_request(shop_id),
        policy=policy,
        notice_form=EmptyForm(),
        flags=banner_flags(shop_id),
    )
    return htmx.render("deposit/show.html", **context)


@bp.post("/exit-notice")
def give_exit_notice():
    """Start the exit notice period that a full exit needs."""
    shop_id = require_seller()
    shop_service.give_exit_notice(shop_id)
    flash(_("Exit notice recorded. You can apply for a full exit once the notice period ends."))
    return htmx.see_other(url_for("deposit.show_deposit") + "#exit-notice")


bp.before_request(signed_in_only)
