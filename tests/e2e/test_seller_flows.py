"""The seller's flows in a phone browser: apply for a refund, meet the blockers, the ban, the language.

Every page visited is checked with axe (nothing serious or critical) and for sideways scrolling at
360 px. The screenshots the README shows are taken here, so they follow every change.
"""
import re

import pytest
from playwright.sync_api import expect

REQUEST_URL = re.compile(r"/refunds/(\d+)$")
CJK = re.compile(r"[\u4e00-\u9fff]")


def check_page(page, assert_accessible, assert_no_horizontal_scroll):
    """What every page must pass: axe, and no sideways scroll on a narrow phone."""
    assert_accessible(page)
    assert_no_horizontal_scroll(page)


def request_numbers(page):
    """The request ids listed on /refunds, as the seller sees them."""
    page.goto("/refunds")
    hrefs = page.locator(".request-list a").evaluate_all("links => links.map(link => link.pathname)")
    return {int(found.group(1)) for href in hrefs if (found := REQUEST_URL.search(href))}


@pytest.fixture
def seller_ok_without_request(portal_db):
    """seller-ok with no open request, so the demo's ¥3,300.00 is refundable again."""
    portal_db.withdraw_open_requests("seller-ok")
    return "seller-ok"


def test_seller_applies_for_a_surplus_refund(page, login, seller_ok_without_request, assert_accessible,
                                             assert_no_horizontal_scroll, screenshot):
    """seller-ok: deposit page → apply → submit → the request page, under review → listed in /refunds."""
    login(page, seller_ok_without_request)
    expect(page).to_have_url(re.compile(r"/deposit$"))
    expect(page.locator("#figures [data-figure='refundable']")).to_have_text("¥3,300.00")
    check_page(page, assert_accessible, assert_no_horizontal_scroll)
    screenshot(page, "deposit")

    page.locator("#figures a[href$='/refunds/new']").click()
    expect(page).to_have_url(re.compile(r"/refunds/new$"))
    expect(page.locator("#refund-application [data-figure='refundable']")).to_have_text("¥3,300.00")
    expect(page.locator("[data-check].check-blocking")).to_have_count(0)
    check_page(page, assert_accessible, assert_no_horizontal_scroll)

    page.locator("#amount").fill("1,000.00")
    page.locator("#confirm_payee").check()
    page.locator("#refund-application button[type=submit]").click()

    expect(page).to_have_url(REQUEST_URL)
    request_id = int(REQUEST_URL.search(page.url).group(1))
    expect(page.locator("[data-refund-state]")).to_have_attribute("data-refund-state", "UNDER_REVIEW")
    expect(page.locator(".status-card")).to_contain_text("¥1,000.00")
    check_page(page, assert_accessible, assert_no_horizontal_scroll)
    screenshot(page, "refund-request")

    page.goto("/refunds")
    listed = page.locator(f".request-list a[href$='/refunds/{request_id}']")
    expect(listed.locator("[data-refund-state]")).to_have_attribute("data-refund-state", "UNDER_REVIEW")
    expect(listed).to_contain_text("¥1,000.00")
    check_page(page, assert_accessible, assert_no_horizontal_scroll)

    # The hold is on the deposit page at once: ¥1,000.00 held, ¥2,300.00 left to refund.
    page.goto("/deposit")
    expect(page.locator("#figures [data-figure='held']")).to_have_text("¥1,000.00")
    expect(page.locator("#figures [data-figure='refundable']")).to_have_text("¥2,300.00")


def test_double_click_on_submit_makes_one_request(page, login, seller_ok_without_request):
    """A double tap on the submit button creates exactly one request."""
    login(page, seller_ok_without_request)
    before = request_numbers(page)

    page.goto("/refunds/new")
    page.locator("#amount").fill("500")
    page.locator("#confirm_payee").check()
    page.locator("#refund-application button[type=submit]").dblclick()
    expect(page).to_have_url(REQUEST_URL)
    created = int(REQUEST_URL.search(page.url).group(1))

    new = request_numbers(page) - before
    assert new == {created}, f"expected one new request ({created}); /refunds shows these new: {new}"


def test_the_same_form_sent_twice_at_once_makes_one_request(page, login, seller_ok_without_request):
    """Two copies of one filled-in form racing to the server (a retry, a flaky network): one request."""
    login(page, seller_ok_without_request)
    before = request_numbers(page)

    page.goto("/refunds/new")
    page.locator("#amount").fill("500")
    page.locator("#confirm_payee").check()
    # The browser's own session, CSRF token and idempotency key, sent twice at the same moment;
    # both answers redirect to where the request lives.
    landed = page.evaluate("""async () => {
        const form = document.getElementById("refund-application");
        const send = () => fetch(form.action, {method: "POST", body: new FormData(form)});
        const answers = await Promise.all([send(), send()]);
        return answers.map(answer => [answer.status, new URL(answer.url).pathname]);
    }""")
    assert [status for status, _path in landed] == [200, 200], landed
    paths = {path for _status, path in landed}
    assert len(paths) == 1 and REQUEST_URL.search(paths.pop()), f"the two answers differ: {landed}"
    created = int(REQUEST_URL.search(landed[0][1]).group(1))

    new = request_numbers(page) - before
    assert new == {created}, f"expected one new request ({created}); /refunds shows these new: {new}"


# Each blocker of seller-risky, and what the demo data shows where it is fixed.
RISKY_BLOCKERS = [("OPEN_DISPUTE", "6928374651029384756"),  # the disputed order's number
                  ("VIOLATION_OPEN", "虚假宣传")]  # the open violation, by its name (FALSE_ADVERTISING)


@pytest.mark.parametrize("code, shown_there", RISKY_BLOCKERS)
def test_risky_seller_follows_each_blocker_to_its_fix(page, login, code, shown_there, assert_accessible,
                                                      assert_no_horizontal_scroll):
    """seller-risky: the blocker is named on the form, and its link leads to the page that fixes it."""
    login(page, "seller-risky")
    page.goto("/refunds/new")
    finding = page.locator(f"[data-check='{code}']")
    expect(finding).to_have_class(re.compile(r"\bcheck-blocking\b"))
    fix = finding.locator("a.fix")
    expect(fix).to_have_count(1)

    fix.click()
    expect(page).not_to_have_url(re.compile(r"/refunds/new"))
    expect(page.locator("main")).to_contain_text(shown_there)
    check_page(page, assert_accessible, assert_no_horizontal_scroll)


def test_risky_seller_cannot_submit(page, login, assert_accessible, assert_no_horizontal_scroll, screenshot):
    """seller-risky: both blockers show before anything is typed, and the submit button is disabled."""
    login(page, "seller-risky")
    page.goto("/refunds/new")
    for code, _shown_there in RISKY_BLOCKERS:
        expect(page.locator(f"[data-check='{code}'] a.fix")).to_be_visible()
    submit = page.locator("#refund-application button[type=submit]")
    expect(submit).to_be_disabled()
    expect(page.locator("#blocked-note")).to_be_visible()
    check_page(page, assert_accessible, assert_no_horizontal_scroll)
    screenshot(page, "refund-blockers")

    # The deposit page says the same before the seller even opens the form.
    page.goto("/deposit")
    for code, _shown_there in RISKY_BLOCKERS:
        expect(page.locator(f"[data-check='{code}'].check-blocking")).to_be_visible()
    check_page(page, assert_accessible, assert_no_horizontal_scroll)


def test_banned_seller_learns_the_deposit_is_forfeited_and_how_to_appeal(
        page, login, assert_accessible, assert_no_horizontal_scroll, screenshot):
    """seller-banned: the deposit page says forfeited and how to appeal; the form is blocked."""
    login(page, "seller-banned")
    expect(page).to_have_url(re.compile(r"/deposit$"))
    status = page.locator("#account-status")
    expect(status).to_be_visible()
    expect(status).to_contain_text("售假")  # the ban reason from the demo data
    expect(status.locator("ol.steps li")).to_have_count(3)
    check_page(page, assert_accessible, assert_no_horizontal_scroll)
    screenshot(page, "deposit-banned")

    page.goto("/refunds/new")
    banned = page.locator("[data-check='ACCOUNT_BANNED']")
    expect(banned).to_have_class(re.compile(r"\bcheck-blocking\b"))
    expect(banned.locator("a.fix")).to_have_attribute("href", re.compile(r"/deposit#account-status$"))
    expect(page.locator("#refund-application button[type=submit]")).to_be_disabled()
    check_page(page, assert_accessible, assert_no_horizontal_scroll)

    banned.locator("a.fix").click()
    expect(page).to_have_url(re.compile(r"/deposit#account-status$"))
    expect(page.locator("#account-status")).to_be_in_viewport()


def test_language_switch(page, login, assert_accessible):
    """The switch on the page turns it into English and back into Chinese, staying on the page."""
    login(page, "seller-ok")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    chinese_title = page.title()
    assert CJK.search(chinese_title), f"the Chinese page's title is not Chinese: {chinese_title!r}"

    page.locator("nav.lang a[hreflang='en']").click()
    expect(page).to_have_url(re.compile(r"/deposit$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("nav.lang [aria-current]")).to_have_text("English")
    expect(page).to_have_title(re.compile(r"^Deposit\b"))
    expect(page.locator("#figures-title")).to_have_text("Refundable now")
    assert_accessible(page)

    # The choice is a cookie: it holds on the next page too.
    page.goto("/refunds")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("My refund requests")

    page.locator("nav.lang a[hreflang='zh-CN']").click()
    expect(page).to_have_url(re.compile(r"/refunds$"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("nav.lang [aria-current]")).to_have_text("中文")
    expect(page.locator("h1")).to_have_text(CJK)
