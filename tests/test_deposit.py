"""The deposit page: its figures, what blocks a refund and where to fix it, and the keyset-paged ledger."""
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playhouse.test_utils import count_queries

from portal.accounts.models import User
from portal.core.money import format_fen
from portal.core.vocabulary import EntryType, Role
from portal.deposit import ledger
from portal.deposit.models import LedgerEntry
from portal.deposit.service import deposit_figures
from portal.refunds.models import RefundRequest
from portal.shops.models import Shop
from tests.factories import (
    Page,
    add_category,
    add_entry,
    check_codes,
    days_ago,
    figures_from_entries_of,
    figures_on,
    fix_links,
    htmx_destination,
    htmx_headers,
    make_shop,
    make_user,
    ready_seller,
    sign_in,
    use_cheap_hashing,
)

FIGURES = ("refundable", "paid_in", "deducted", "balance", "frozen", "held", "required")


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch):
    """The demo's password hashes at a tiny cost (the rules under test do not depend on it)."""
    use_cheap_hashing(monkeypatch)


@pytest.fixture
def english(client):
    """Ask for the English pages, so assertions read the English message ids."""
    client.set_cookie("lang", "en")
    return client


def demo_seller(client, username):
    """Sign the client in as one of the demo sellers; returns the user."""
    user = User.get(User.username == username)
    sign_in(client, user)
    return user


def entry_reasons(html):
    """The reasons of the ledger rows on a page or fragment, top to bottom."""
    return [element.text for element in Page(html).with_class("entry-reason")]


def older_link(html):
    """The ``before`` cursor of the 'Older entries' link, or None on the last page."""
    links = [element for element in Page(html).find_all("a") if "before=" in element.get("href", "")]
    if not links:
        return None
    return int(parse_qs(urlsplit(links[0]["href"]).query)["before"][0])


def test_every_figure_equals_the_ledger(client, app):
    """Each data-figure on the page is the value worked out from the shop's own ledger rows."""
    shop, user = ready_seller(paid_in_fen=600_000, required_fen=150_000)
    add_category(shop, 250_000, code="FOOD")
    for entry_type, amount in [(EntryType.DEDUCTION, 20_000), (EntryType.DEDUCTION_REVERSAL, 5_000),
                               (EntryType.FREEZE, 40_000), (EntryType.UNFREEZE, 10_000),
                               (EntryType.REFUND_HOLD, 30_000), (EntryType.REFUND_PAID, 30_000),
                               (EntryType.REFUND_HOLD, 12_345)]:
        add_entry(shop, entry_type, amount, reason="test")
    other = make_shop(name="别人的店")
    add_entry(other, EntryType.TOP_UP, 999_999)  # someone else's money must not show up here
    sign_in(client, user)
    response = client.get("/deposit")
    assert response.status_code == 200
    expected = figures_from_entries_of(shop, required=250_000)
    shown = figures_on(response.text)
    for name in FIGURES:
        assert shown[name] == format_fen(getattr(expected, name)), name
    # Worked by hand: balance 6,000 − 200 + 50 − 300 paid = 5,550; less 300 frozen, 123.45 held, 2,500 required.
    assert shown["refundable"] == "¥2,626.55"
    assert expected == deposit_figures(shop)


def test_required_is_broken_down_by_category(english, app):
    """The breakdown lists each category's requirement; the required figure is the highest."""
    shop, user = ready_seller(required_fen=200_000)
    add_category(shop, 400_000, code="FOOD", name_zh="食品饮料", name_en="Food and drink")
    sign_in(english, user)
    page = Page(english.get("/deposit").text)
    breakdown = page.with_class("breakdown")[0].text
    assert "Food and drink" in breakdown and "¥4,000.00" in breakdown
    assert "Consumer electronics" in breakdown and "¥2,000.00" in breakdown
    assert page.find(data_figure="required").text == "¥4,000.00"


def test_demo_seller_ok_has_at_least_1000_yuan_refundable(demo_data, client):
    """seller-ok can get at least ¥1,000.00 back as surplus, and nothing blocks it."""
    user = demo_seller(client, "seller-ok")
    html = client.get("/deposit").text
    refundable = deposit_figures(Shop.get_by_id(user.shop_id)).refundable
    assert refundable >= 100_000
    assert figures_on(html)["refundable"] == format_fen(refundable)
    assert not Page(html).with_class("check-blocking")


def test_risky_seller_sees_what_blocks_and_where_to_fix_it(demo_data, english):
    """seller-risky is shown the dispute, violation and arrears as blockers, each linking to where it is fixed."""
    demo_seller(english, "seller-risky")
    html = english.get("/deposit").text
    page = Page(html)
    links = fix_links(html)
    # What the seller finds by following each link: the dispute's order, the violation, the amount owed.
    for code, evidence in (("OPEN_DISPUTE", "6928374651029384756"),
                           ("VIOLATION_OPEN", "Misleading product description"), ("ARREARS", "¥150.00")):
        assert "check-blocking" in page.find("li", data_check=code)["class"], code
        target = urlsplit(links[code])
        response = english.get(target.path)
        assert response.status_code == 200, links[code]
        section = Page(response.text).find(id=target.fragment) if target.fragment else Page(response.text).find("main")
        assert evidence in section.text, code


def test_banned_seller_sees_forfeiture_and_how_to_appeal(demo_data, english):
    """seller-banned is told the deposit is forfeited and how to appeal."""
    demo_seller(english, "seller-banned")
    html = english.get("/deposit").text
    assert "ACCOUNT_BANNED" in check_codes(html)
    status = Page(html).find(id="account-status").text
    assert "forfeited" in status
    assert "appeal" in status.lower()
    assert len(Page(html).with_class("steps", "ol")) == 1


def test_ledger_is_newest_first_and_keyset_paginated(english, app):
    """Three pages of 5: newest first, each 'Older entries' link gives the next page, no gaps or repeats."""
    app.config["LEDGER_PAGE_SIZE"] = 5
    shop, user = ready_seller()  # one top-up, the oldest entry
    for number in range(1, 13):
        add_entry(shop, EntryType.FREEZE if number % 2 else EntryType.UNFREEZE, 100, reason=f"entry {number:02d}")
    sign_in(english, user)
    pages, cursor = [], None
    while True:
        response = english.get("/deposit" + (f"?before={cursor}" if cursor else ""))
        assert response.status_code == 200
        pages.append(entry_reasons(response.text))
        cursor = older_link(response.text)
        if cursor is None:
            break
    assert [len(rows) for rows in pages] == [5, 5, 3]
    seen = [reason for rows in pages for reason in rows]
    assert seen == [f"entry {number:02d}" for number in range(12, 0, -1)] + ["Deposit payment"]


def test_older_entries_as_an_htmx_fragment(english, app):
    """With HX-Request the 'Older entries' URL answers just the rows (and its own next link)."""
    app.config["LEDGER_PAGE_SIZE"] = 5
    shop, user = ready_seller()
    for number in range(1, 13):
        add_entry(shop, EntryType.FREEZE, 100, reason=f"entry {number:02d}")
    sign_in(english, user)
    cursor = older_link(english.get("/deposit").text)
    fragment = english.get(f"/deposit?before={cursor}", headers=htmx_headers())
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and 'data-figure="refundable"' not in fragment.text
    assert entry_reasons(fragment.text) == [f"entry {number:02d}" for number in range(7, 2, -1)]
    assert older_link(fragment.text) is not None
    assert "HX-Request" in fragment.headers["Vary"]
    full = english.get(f"/deposit?before={cursor}")
    assert "<html" in full.text and 'data-figure="refundable"' in full.text
    assert entry_reasons(full.text) == entry_reasons(fragment.text)
    assert "HX-Request" in full.headers["Vary"]


def test_ledger_shows_only_the_sellers_own_entries(client, app):
    """A cursor pointing past another shop's rows still shows only this shop's entries."""
    shop, user = ready_seller()
    other = make_shop(name="别人的店")
    foreign = add_entry(other, EntryType.TOP_UP, 777_700, reason="someone else's money")
    sign_in(client, user)
    for url in ("/deposit", f"/deposit?before={foreign.id + 1}"):
        html = client.get(url).text
        assert "someone else's money" not in html and "¥7,777.00" not in html


@pytest.mark.parametrize("cursor", ["abc", "99999999999999999999999", "-5", "0", ""])
def test_bad_cursor_shows_the_first_page(client, app, cursor):
    """A cursor that is not a usable id (text, beyond 64 bits, not positive) shows the newest page, never a 500."""
    shop, user = ready_seller()
    sign_in(client, user)
    for headers in ({}, htmx_headers()):
        response = client.get(f"/deposit?before={cursor}", headers=headers)
        assert response.status_code == 200
        assert len(entry_reasons(response.text)) == 1


def test_query_count_does_not_grow_with_the_ledger(client, app):
    """The page costs the same number of queries with 2 entries as with 40, and never uses OFFSET."""
    shop, user = ready_seller()
    sign_in(client, user)
    client.get("/deposit")  # warm up anything done once per process

    def queries(url):
        """The SQL statements one page view runs."""
        with count_queries() as counter:
            assert client.get(url).status_code == 200
        return [record.msg[0] for record in counter.get_queries()]

    few = queries("/deposit")
    for number in range(39):
        add_entry(shop, EntryType.FREEZE if number % 2 == 0 else EntryType.UNFREEZE, 100, reason=f"entry {number}")
    many = queries("/deposit")
    assert len(many) == len(few)
    cursor = LedgerEntry.select().order_by(LedgerEntry.id.desc()).first().id - 10
    paged = queries(f"/deposit?before={cursor}")
    assert len(paged) == len(few)
    ledger_pages = [sql for sql in few + many + paged if 'FROM "ledger_entry"' in sql and "ORDER BY" in sql]
    assert ledger_pages and not any("OFFSET" in sql.upper() for sql in ledger_pages)
    assert any('"id" < ' in sql for sql in ledger_pages)  # the keyset condition


def test_ledger_rows_show_reason_and_link_their_request(demo_data, english):
    """Each row shows its reason; holds and payouts link to their request and show the bank reference."""
    user = demo_seller(english, "seller-ok")
    page = Page(english.get("/deposit").text)
    rows = page.find_all("li", data_entry_type=True)
    paid = [row for row in rows if row["data-entry-type"] == EntryType.REFUND_PAID]
    assert paid and "CMB20260915000123" in paid[0].text
    # A standard reason, named in the reader's language with the violation it was for.
    assert "Deducted for a rule violation: Late shipment" in page.find(data_entry_type=EntryType.DEDUCTION).text
    chinese = Page(english.get("/lang/zh_CN?next=/deposit", follow_redirects=True).text)
    assert "违规扣款：延迟发货" in chinese.find(data_entry_type=EntryType.DEDUCTION).text
    own = {f"/refunds/{refund.id}" for refund in RefundRequest.for_shop(user.shop_id)}
    linked = {link["href"] for link in page.find_all("a") if re.fullmatch(r"/refunds/\d+", link.get("href", ""))}
    assert linked and linked <= own


def test_demo_ledgers_keep_every_invariant(demo_data):
    """In every demo shop nothing is negative, frozen + held stay within the balance, no request paid twice."""
    for shop in Shop.select():
        figures = deposit_figures(shop)
        assert ledger.violations(figures) == [], shop.name
        assert figures == figures_from_entries_of(shop, required=figures.required)
    for refund in RefundRequest.select():
        payouts = LedgerEntry.select().where((LedgerEntry.refund_request == refund.id)
                                             & (LedgerEntry.entry_type == EntryType.REFUND_PAID)).count()
        assert payouts <= 1


def test_exit_notice_is_recorded_once(client, app):
    """Giving exit notice stores its date and lands on the page's notice section; again keeps the first date."""
    shop, user = ready_seller()
    sign_in(client, user)
    response = client.post("/deposit/exit-notice", data={"confirm": "y"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/deposit#exit-notice")
    first = Shop.get_by_id(shop.id).exit_notice_at
    assert first is not None and first > days_ago(1)
    htmx = client.post("/deposit/exit-notice", data={"confirm": "y"}, headers=htmx_headers())
    assert htmx.status_code == 204
    assert htmx_destination(htmx).endswith("/deposit#exit-notice")
    assert Shop.get_by_id(shop.id).exit_notice_at == first


def test_staff_get_404_and_anonymous_visitors_sign_in(client, app):
    """The deposit page belongs to sellers: staff get 404, anonymous visitors go to /login."""
    assert urlsplit(client.get("/deposit").headers["Location"]).path == "/login"
    assert urlsplit(client.get("/deposit?before=5", headers=htmx_headers()).headers["HX-Redirect"]).path == (
        "/login")
    sign_in(client, make_user("agent-1", role=Role.AGENT))
    assert client.get("/deposit").status_code == 404
    assert client.post("/deposit/exit-notice").status_code == 404
