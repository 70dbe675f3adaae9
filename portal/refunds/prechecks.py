"""Refund eligibility pre-checks: what stops a shop from applying, and how to fix it.

Pure rules: the caller gathers the facts (``ShopFacts``) and the settings (``Policy``); this module
decides. The same evaluation runs when the form loads, again on submit, and again before each
system step. Messages are gettext message ids (English); the page translates them
(``portal.refunds.labels``).
"""
import datetime
from dataclasses import dataclass, field, replace

from portal.core.vocabulary import N_, NP_, CheckLevel, RefundKind
from portal.deposit.ledger import Figures

_LEVEL_ORDER = {CheckLevel.BLOCKING: 0, CheckLevel.WARNING: 1, CheckLevel.INFO: 2}


@dataclass(frozen=True)
class Policy:
    """The periods and limits the checks use; all come from settings."""

    quiet_period_days: int = 90
    exit_notice_days: int = 30
    payee_recent_days: int = 7


@dataclass(frozen=True)
class PayeeFacts:
    """The shop's payee details, as far as the checks need them."""

    holder_name: str
    complete: bool
    changed_at: datetime.datetime | None


@dataclass(frozen=True)
class ShopFacts:
    """Everything the pre-checks look at for one shop, at one moment (naive UTC)."""

    now: datetime.datetime
    entity_name: str
    figures: Figures
    banned: bool = False
    open_violations: int = 0
    arrears_fen: int = 0
    open_disputes: int = 0
    unfinished_orders: int = 0
    open_after_sales: int = 0
    last_order_at: datetime.datetime | None = None
    exit_notice_at: datetime.datetime | None = None
    active_request_id: int | None = None
    payee: PayeeFacts | None = None
    profile_missing: tuple = ()
    blocking_risk_flags: tuple = ()


@dataclass(frozen=True)
class Check:
    """One finding: a code, its level, the message, and where it is fixed."""

    code: str
    level: str
    message: str
    fix_label: str
    fix_endpoint: str
    fix_anchor: str = ""
    params: dict = field(default_factory=dict)
    fix_params: dict = field(default_factory=dict)

    @property
    def blocking(self):
        """True when this finding stops the application."""
        return self.level == CheckLevel.BLOCKING


# A short title per code, for places that name a finding without its whole message (a timeline
# entry saying why a request was put on hold, the desk's side panel).
CHECK_TITLES = {
    "ACCOUNT_BANNED": N_("Shop banned"),
    "ACTIVE_REQUEST_EXISTS": N_("Another request in progress"),
    "RISK_FLAG": N_("Risk review"),
    "VIOLATION_OPEN": N_("Open violation"),
    "ARREARS": N_("Money owed"),
    "OPEN_DISPUTE": N_("Open buyer dispute"),
    "UNFINISHED_ORDERS": N_("Unfinished orders"),
    "OPEN_AFTER_SALES": N_("Open after-sales cases"),
    "EXIT_NOTICE": N_("Exit notice period"),
    "QUIET_PERIOD": N_("Quiet period after the last order"),
    "FROZEN": N_("Frozen funds"),
    "NOTHING_REFUNDABLE": N_("Nothing refundable"),
    "PAYEE_INVALID": N_("Payee details invalid"),
    "PAYEE_RECENTLY_CHANGED": N_("Payee details changed recently"),
    "PROFILE_INCOMPLETE": N_("Shop profile incomplete"),
}


def normalise_name(name):
    """A holder or entity name compared the way a bank compares it: spaces and bracket widths ignored."""
    table = str.maketrans({"（": "(", "）": ")", "\u3000": " "})
    return "".join((name or "").translate(table).split()).casefold()


def quiet_period_ends(facts, policy):
    """When the 90-day quiet period after the last order ends (None when there was no order)."""
    if facts.last_order_at is None:
        return None
    return facts.last_order_at + datetime.timedelta(days=policy.quiet_period_days)


def exit_notice_ends(facts, policy):
    """When the exit notice period ends (None when no notice was given)."""
    if facts.exit_notice_at is None:
        return None
    return facts.exit_notice_at + datetime.timedelta(days=policy.exit_notice_days)


def evaluate(facts, kind, policy):
    """All findings for a refund of ``kind``, blocking ones first."""
    checks = []
    add = checks.append
    full_exit = kind == RefundKind.FULL_EXIT

    if facts.banned:
        add(Check("ACCOUNT_BANNED", CheckLevel.BLOCKING,
                  N_("This shop is banned (封禁). Under the platform rules the deposit of a banned shop "
                     "is forfeited and cannot be refunded."),
                  N_("See why, and how to appeal"), "deposit.show_deposit", "account-status"))
    if facts.active_request_id is not None:
        add(Check("ACTIVE_REQUEST_EXISTS", CheckLevel.BLOCKING,
                  N_("You already have a refund request in progress (No. %(number)s). Only one can run "
                     "at a time."),
                  N_("Follow that request"), "refunds.show_request",
                  params={"number": facts.active_request_id},
                  fix_params={"request_id": facts.active_request_id}))
    for code in facts.blocking_risk_flags:
        if code == "ACCOUNT_BANNED" and facts.banned:
            continue  # already said, with the forfeiture, by ACCOUNT_BANNED itself
        add(Check("RISK_FLAG", CheckLevel.BLOCKING,
                  N_("A risk review on your account blocks refunds: %(risk)s."),
                  N_("See the risk warning and how to resolve it"), "risk.show_risks",
                  params={"risk_code": code}))
    if facts.open_violations:
        add(Check("VIOLATION_OPEN", CheckLevel.BLOCKING,
                  NP_("You have %(count)s open violation. It must be settled or successfully appealed first.",
                      "You have %(count)s open violations. They must be settled or successfully appealed "
                      "first."),
                  N_("See the open violations"), "deposit.show_deposit", "violations",
                  params={"count": facts.open_violations}))
    if facts.arrears_fen > 0:
        add(Check("ARREARS", CheckLevel.BLOCKING,
                  N_("You owe the platform %(amount)s. Pay it before applying."),
                  N_("See what is owed and how to pay"), "deposit.show_deposit", "arrears",
                  params={"amount_fen": facts.arrears_fen}))
    if facts.open_disputes:
        add(Check("OPEN_DISPUTE", CheckLevel.BLOCKING,
                  NP_("You have %(count)s open buyer dispute. Negotiate with the buyer first; if that "
                      "fails, ask the platform to step in. A refund can start once it is resolved.",
                      "You have %(count)s open buyer disputes. Negotiate with the buyer first; if that "
                      "fails, ask the platform to step in. A refund can start once every dispute is "
                      "resolved."),
                  N_("See the open disputes"), "disputes.list_disputes",
                  params={"count": facts.open_disputes}))
    if full_exit and facts.unfinished_orders:
        add(Check("UNFINISHED_ORDERS", CheckLevel.BLOCKING,
                  NP_("%(count)s order is not finished yet. Ship or close it before leaving the platform.",
                      "%(count)s orders are not finished yet. Ship or close every order before "
                      "leaving the platform."),
                  N_("See your shop status"), "deposit.show_deposit", "shop-status",
                  params={"count": facts.unfinished_orders}))
    if full_exit and facts.open_after_sales:
        add(Check("OPEN_AFTER_SALES", CheckLevel.BLOCKING,
                  NP_("%(count)s after-sales case (a return or exchange) is still open. Close it "
                      "before leaving the platform.",
                      "%(count)s after-sales cases (returns, exchanges) are still open. Close them "
                      "before leaving the platform."),
                  N_("See your shop status"), "deposit.show_deposit", "shop-status",
                  params={"count": facts.open_after_sales}))
    if full_exit:
        notice_end = exit_notice_ends(facts, policy)
        if notice_end is None:
            add(Check("EXIT_NOTICE", CheckLevel.BLOCKING,
                      N_("A full exit needs %(days)s days of exit notice, and none has been given."),
                      N_("Give exit notice"), "deposit.show_deposit", "exit-notice",
                      params={"days": policy.exit_notice_days}))
        elif notice_end > facts.now:
            add(Check("EXIT_NOTICE", CheckLevel.BLOCKING,
                      N_("Your exit notice period ends on %(date)s. You can apply for a full exit "
                         "from then on."),
                      N_("See your exit notice"), "deposit.show_deposit", "exit-notice",
                      params={"moment": notice_end}))
        quiet_end = quiet_period_ends(facts, policy)
        if quiet_end is not None and quiet_end > facts.now:
            add(Check("QUIET_PERIOD", CheckLevel.WARNING,
                      N_("Your last order was less than %(days)s days ago. You can apply now; the "
                         "review starts when the quiet period ends on %(date)s."),
                      N_("See your shop status"), "deposit.show_deposit", "shop-status",
                      params={"days": policy.quiet_period_days, "moment": quiet_end}))
    if facts.figures.frozen > 0:
        if full_exit:
            add(Check("FROZEN", CheckLevel.BLOCKING,
                      N_("%(amount)s of your deposit is frozen. A full exit can start once it is "
                         "released."),
                      N_("See the frozen amount"), "deposit.show_deposit", "ledger",
                      params={"amount_fen": facts.figures.frozen}))
        else:
            add(Check("FROZEN", CheckLevel.WARNING,
                      N_("%(amount)s of your deposit is frozen and cannot be refunded until it is "
                         "released."),
                      N_("See the frozen amount"), "deposit.show_deposit", "ledger",
                      params={"amount_fen": facts.figures.frozen}))
    if facts.figures.refundable_for(kind) <= 0 and not facts.banned:
        add(Check("NOTHING_REFUNDABLE", CheckLevel.BLOCKING,
                  N_("Nothing is refundable right now: your balance does not exceed what is frozen, "
                     "held for refunds and required by your categories."),
                  N_("See how the refundable amount is worked out"), "deposit.show_deposit",
                  "figures"))
    if facts.payee is None or not facts.payee.complete:
        add(Check("PAYEE_INVALID", CheckLevel.BLOCKING,
                  N_("Your payee details (收款信息) are missing. Add the account the refund is paid to."),
                  N_("Add payee details"), "payee.edit_payee"))
    elif normalise_name(facts.payee.holder_name) != normalise_name(facts.entity_name):
        add(Check("PAYEE_INVALID", CheckLevel.BLOCKING,
                  N_("The payee account holder must be your shop's registered entity, "
                     "“%(entity)s”. Payouts to any other name are returned by the bank."),
                  N_("Correct the payee details"), "payee.edit_payee",
                  params={"entity": facts.entity_name}))
    elif (facts.payee.changed_at is not None
          and facts.now - facts.payee.changed_at < datetime.timedelta(days=policy.payee_recent_days)):
        add(Check("PAYEE_RECENTLY_CHANGED", CheckLevel.WARNING,
                  N_("Your payee details changed in the last %(days)s days. For your safety the "
                     "refund gets an extra review, which can add a working day."),
                  N_("Check the payee details"), "payee.edit_payee",
                  params={"days": policy.payee_recent_days}))
    if facts.profile_missing:
        add(Check("PROFILE_INCOMPLETE", CheckLevel.BLOCKING,
                  N_("Your shop profile is incomplete. Support needs a contact to reach you about "
                     "the refund."),
                  N_("Complete the shop profile"), "payee.edit_payee", "profile",
                  params={"fields": ", ".join(facts.profile_missing)}))

    return sorted(checks, key=lambda check: _LEVEL_ORDER[check.level])


def is_blocked(checks):
    """True when any finding blocks the application."""
    return any(check.blocking for check in checks)


def recheck_blockers(facts, kind, policy, own_hold_fen):
    """Blocking codes for a request that already exists, before a system step moves it on.

    The request's own hold and its own "active request" must not count against it.
    """
    figures = replace(facts.figures, held=max(0, facts.figures.held - own_hold_fen))
    own = replace(facts, figures=figures, active_request_id=None)
    return [check.code for check in evaluate(own, kind, policy) if check.blocking]
