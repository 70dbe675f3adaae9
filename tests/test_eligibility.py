"""Eligibility pre-checks: each code fires exactly in its situation (plain rules, no Flask)."""
import dataclasses
import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.core.vocabulary import CheckLevel, RefundKind
from portal.deposit.ledger import Figures
from portal.refunds import prechecks
from portal.refunds.prechecks import PayeeFacts, Policy, ShopFacts, evaluate, is_blocked, normalise_name

SURPLUS, FULL_EXIT = RefundKind
BLOCKING, WARNING, INFO = CheckLevel



# No example database: the tests must leave nothing behind in the work tree.
PROPERTY = settings(max_examples=200, deadline=None, database=None)
NOW = datetime.datetime(2026, 6, 15, 4, 0)
DAY = datetime.timedelta(days=1)
ENTITY = "杭州晨光数码科技有限公司"
POLICY = Policy()


def clean(**changes):
    """A shop nothing blocks, for either kind: notice given 45 days ago, last order 200 days ago."""
    facts = ShopFacts(
        now=NOW,
        entity_name=ENTITY,
        figures=Figures(paid_in=500_000, balance=500_000, required=200_000),
        last_order_at=NOW - 200 * DAY,
        exit_notice_at=NOW - 45 * DAY,
        payee=PayeeFacts(holder_name=ENTITY, complete=True, changed_at=NOW - 200 * DAY),
    )
    return dataclasses.replace(facts, **changes)


def codes(facts, kind, policy=POLICY):
    """``{code: level}`` of the findings."""
    found = evaluate(facts, kind, policy)
    assert len({check.code for check in found}) == len(found), "a code is reported twice"
    return {check.code: check.level for check in found}


@pytest.mark.parametrize("kind", [SURPLUS, FULL_EXIT])
def test_a_clean_shop_gets_no_finding(kind):
    """A shop in order is told nothing, and nothing blocks it."""
    assert evaluate(clean(), kind, POLICY) == []
    assert not is_blocked([])


# (situation, kind, what differs from the clean shop, the only finding expected, or None for none)
SITUATIONS = [
    ("banned", SURPLUS, {"banned": True}, ("ACCOUNT_BANNED", BLOCKING)),
    ("banned, full exit", FULL_EXIT, {"banned": True}, ("ACCOUNT_BANNED", BLOCKING)),
    ("open violation", SURPLUS, {"open_violations": 1}, ("VIOLATION_OPEN", BLOCKING)),
    ("arrears", SURPLUS, {"arrears_fen": 15_000}, ("ARREARS", BLOCKING)),
    ("open dispute", FULL_EXIT, {"open_disputes": 2}, ("OPEN_DISPUTE", BLOCKING)),
    ("unfinished orders, full exit", FULL_EXIT, {"unfinished_orders": 3}, ("UNFINISHED_ORDERS", BLOCKING)),
    ("unfinished orders, surplus", SURPLUS, {"unfinished_orders": 3}, None),
    ("after-sales, full exit", FULL_EXIT, {"open_after_sales": 1}, ("OPEN_AFTER_SALES", BLOCKING)),
    ("after-sales, surplus", SURPLUS, {"open_after_sales": 1}, None),
    ("recent order, full exit", FULL_EXIT, {"last_order_at": NOW - 40 * DAY}, ("QUIET_PERIOD", WARNING)),
    ("recent order, surplus", SURPLUS, {"last_order_at": NOW - 40 * DAY}, None),
    ("no order ever, full exit", FULL_EXIT, {"last_order_at": None}, None),
    ("no exit notice, full exit", FULL_EXIT, {"exit_notice_at": None}, ("EXIT_NOTICE", BLOCKING)),
    ("no exit notice, surplus", SURPLUS, {"exit_notice_at": None}, None),
    ("notice too recent", FULL_EXIT, {"exit_notice_at": NOW - 10 * DAY}, ("EXIT_NOTICE", BLOCKING)),
    ("notice just over", FULL_EXIT, {"exit_notice_at": NOW - 30 * DAY}, None),
    ("only the requirement", SURPLUS, {"figures": Figures(balance=200_000, required=200_000)},
     ("NOTHING_REFUNDABLE", BLOCKING)),
    ("only the requirement, full exit", FULL_EXIT, {"figures": Figures(balance=200_000, required=200_000)},
     None),
    ("everything held", FULL_EXIT, {"figures": Figures(balance=200_000, held=200_000)},
     ("NOTHING_REFUNDABLE", BLOCKING)),
    ("some frozen, surplus", SURPLUS, {"figures": Figures(balance=500_000, frozen=100_000, required=200_000)},
     ("FROZEN", WARNING)),
    ("some frozen, full exit", FULL_EXIT, {"figures": Figures(balance=500_000, frozen=100_000)},
     ("FROZEN", BLOCKING)),
    ("request running", SURPLUS, {"active_request_id": 42}, ("ACTIVE_REQUEST_EXISTS", BLOCKING)),
    ("no payee", SURPLUS, {"payee": None}, ("PAYEE_INVALID", BLOCKING)),
    ("payee incomplete", SURPLUS, {"payee": PayeeFacts(ENTITY, False, NOW - 200 * DAY)},
     ("PAYEE_INVALID", BLOCKING)),
    ("payee of someone else", SURPLUS, {"payee": PayeeFacts("王小明", True, NOW - 200 * DAY)},
     ("PAYEE_INVALID", BLOCKING)),
    ("payee just changed", SURPLUS, {"payee": PayeeFacts(ENTITY, True, NOW - 2 * DAY)},
     ("PAYEE_RECENTLY_CHANGED", WARNING)),
    ("payee changed a week ago", SURPLUS, {"payee": PayeeFacts(ENTITY, True, NOW - 7 * DAY)}, None),
    ("payee never changed", SURPLUS, {"payee": PayeeFacts(ENTITY, True, None)}, None),
    ("blocking risk flag", SURPLUS, {"blocking_risk_flags": ("FRAUD_REVIEW",)}, ("RISK_FLAG", BLOCKING)),
    ("banned, with its flag", SURPLUS, {"banned": True, "blocking_risk_flags": ("ACCOUNT_BANNED",)},
     ("ACCOUNT_BANNED", BLOCKING)),
    ("no contact", SURPLUS, {"profile_missing": ("contact_name", "contact_phone")},
     ("PROFILE_INCOMPLETE", BLOCKING)),
]


@pytest.mark.parametrize(("situation", "kind", "changes", "expected"), SITUATIONS,
                         ids=[situation for situation, *_ in SITUATIONS])
def test_each_code_fires_exactly_in_its_situation(situation, kind, changes, expected):
    """One thing wrong with an otherwise clean shop gives exactly its finding, at its level."""
    assert codes(clean(**changes), kind) == (dict([expected]) if expected else {})


@pytest.mark.parametrize("holder", [
    "杭州晨光数码科技有限公司",
    " 杭州晨光数码科技有限公司 ",
    "杭州晨光数码科技\u3000有限公司",  # an ideographic space
    "杭州 晨光数码 科技有限公司",
])
def test_holder_name_matches_despite_spaces(holder):
    """Spaces, including full-width ones, do not make a holder name differ from the entity."""
    assert "PAYEE_INVALID" not in codes(clean(payee=PayeeFacts(holder, True, None)), SURPLUS)


def test_bracket_width_and_letter_case_do_not_matter():
    """（全角） and (half-width) brackets compare equal, and so do upper and lower case letters."""
    entity = "深圳ABC贸易（有限）公司"
    for holder in ("深圳ABC贸易(有限)公司", "深圳abc贸易（有限）公司", "深圳 ABC 贸易 ( 有限 ) 公司"):
        facts = clean(entity_name=entity, payee=PayeeFacts(holder, True, None))
        assert "PAYEE_INVALID" not in codes(facts, SURPLUS), holder
    assert normalise_name("A（B）\u3000C") == normalise_name("a(b) c")


def test_a_different_holder_is_named_in_the_finding():
    """The mismatch finding tells the seller which entity the holder must be."""
    [check] = evaluate(clean(payee=PayeeFacts("杭州晨光数码科技有限公司分公司", True, None)), SURPLUS, POLICY)
    assert check.code == "PAYEE_INVALID"
    assert check.params == {"entity": ENTITY}
    assert check.fix_endpoint == "payee.edit_payee"


def test_exit_notice_findings_say_what_is_missing_or_when_it_ends():
    """No notice names the days needed; a recent notice names the day it ends."""
    [missing] = evaluate(clean(exit_notice_at=None), FULL_EXIT, POLICY)
    assert missing.params == {"days": 30}
    [recent] = evaluate(clean(exit_notice_at=NOW - 10 * DAY), FULL_EXIT, POLICY)
    assert recent.params == {"moment": NOW + 20 * DAY}


def test_quiet_period_is_a_warning_that_names_its_end():
    """A recent last order does not block a full exit; the warning says when review can start."""
    checks = evaluate(clean(last_order_at=NOW - 40 * DAY), FULL_EXIT, POLICY)
    assert not is_blocked(checks)
    assert checks[0].params["moment"] == NOW + 50 * DAY
    assert prechecks.quiet_period_ends(clean(last_order_at=None), POLICY) is None


def test_banned_shop_is_not_told_nothing_is_refundable():
    """A banned shop hears that its deposit is forfeited, not a confusing 'nothing refundable'."""
    facts = clean(banned=True, figures=Figures(balance=100, required=200_000))
    assert codes(facts, SURPLUS) == {"ACCOUNT_BANNED": BLOCKING}


def test_the_periods_come_from_the_policy():
    """Shorter periods in the settings change the outcome: nothing is a constant in the rules."""
    facts = clean(last_order_at=NOW - 20 * DAY, exit_notice_at=NOW - 5 * DAY,
                  payee=PayeeFacts(ENTITY, True, NOW - 2 * DAY))
    assert set(codes(facts, FULL_EXIT)) == {"EXIT_NOTICE", "QUIET_PERIOD", "PAYEE_RECENTLY_CHANGED"}
    short = Policy(quiet_period_days=10, exit_notice_days=3, payee_recent_days=1)
    assert codes(facts, FULL_EXIT, short) == {}


def test_blocking_findings_come_first():
    """With warnings and blockers mixed, every blocker is listed before any warning."""
    facts = clean(last_order_at=NOW - 40 * DAY, payee=PayeeFacts(ENTITY, True, NOW - DAY),
                  figures=Figures(balance=500_000, frozen=1_000), open_disputes=1, profile_missing=("x",))
    levels = [check.level for check in evaluate(facts, SURPLUS, POLICY)]
    assert levels == [BLOCKING, BLOCKING, WARNING, WARNING]


def test_every_finding_links_to_a_fix_and_has_a_message():
    """Whatever fires carries a message and the endpoint where the seller fixes it."""
    facts = clean(banned=True, open_violations=1, arrears_fen=1, open_disputes=1, unfinished_orders=1,
                  open_after_sales=1, last_order_at=NOW - DAY, exit_notice_at=None, active_request_id=7,
                  figures=Figures(balance=100, frozen=100), payee=None, profile_missing=("contact_name",))
    checks = evaluate(facts, FULL_EXIT, POLICY)
    assert {check.code for check in checks} >= {
        "ACCOUNT_BANNED", "VIOLATION_OPEN", "ARREARS", "OPEN_DISPUTE", "UNFINISHED_ORDERS",
        "OPEN_AFTER_SALES", "QUIET_PERIOD", "EXIT_NOTICE", "FROZEN", "ACTIVE_REQUEST_EXISTS",
        "PAYEE_INVALID", "PROFILE_INCOMPLETE"}
    for check in checks:
        assert check.message and check.fix_label and check.fix_endpoint, check.code
    active = next(check for check in checks if check.code == "ACTIVE_REQUEST_EXISTS")
    assert active.fix_params == {"request_id": 7}


moments = st.one_of(st.none(), st.integers(min_value=0, max_value=400).map(lambda days: NOW - days * DAY))
any_facts = st.builds(
    ShopFacts,
    now=st.just(NOW),
    entity_name=st.just(ENTITY),
    figures=st.builds(Figures, balance=st.integers(0, 10**6), frozen=st.integers(0, 10**5),
                      held=st.integers(0, 10**5), required=st.integers(0, 10**6)),
    banned=st.booleans(),
    open_violations=st.integers(0, 2),
    arrears_fen=st.integers(0, 2),
    open_disputes=st.integers(0, 2),
    unfinished_orders=st.integers(0, 2),
    open_after_sales=st.integers(0, 2),
    last_order_at=moments,
    exit_notice_at=moments,
    active_request_id=st.one_of(st.none(), st.integers(1, 99)),
    payee=st.one_of(st.none(), st.builds(PayeeFacts, holder_name=st.sampled_from([ENTITY, "别人"]),
                                         complete=st.booleans(), changed_at=moments)),
    profile_missing=st.sampled_from([(), ("contact_phone",)]),
)


@PROPERTY
@given(any_facts, st.sampled_from([SURPLUS, FULL_EXIT]))
def test_findings_are_ordered_unique_and_decide_blocking(facts, kind):
    """For any shop: blockers first, each code once, and blocked exactly when a blocker is present."""
    checks = evaluate(facts, kind, POLICY)
    levels = [check.level for check in checks]
    assert levels == sorted(levels, key=[BLOCKING, WARNING, INFO].index)
    assert len({check.code for check in checks}) == len(checks)
    assert is_blocked(checks) == (BLOCKING in levels)
    found = {check.code for check in checks}
    assert ("ACCOUNT_BANNED" in found) == facts.banned
    assert ("OPEN_DISPUTE" in found) == bool(facts.open_disputes)
    assert ("VIOLATION_OPEN" in found) == bool(facts.open_violations)
    if kind == SURPLUS:
        assert not found & {"UNFINISHED_ORDERS", "OPEN_AFTER_SALES", "EXIT_NOTICE", "QUIET_PERIOD"}
    if facts.figures.refundable_for(kind) > 0:
        assert "NOTHING_REFUNDABLE" not in found
