"""Applying for a refund (/refunds/new), the list (/refunds) and one request (/refunds/<id>)."""
import datetime
import uuid
from urllib.parse import urlsplit

import pytest

from portal.accounts.models import User
from portal.core.vocabulary import EntryType, RefundState, Role
from portal.deposit.models import LedgerEntry
from portal.disputes.models import Dispute
from portal.refunds.models import RefundEvent, RefundRequest
from portal.risk.models import Arrear, Violation
from tests.factories import (
    Page,
    add_entry,
    add_payee,
    check_codes,
    days_ago,
    figures_on,
    fix_links,
    form_submit_button,
    htmx_destination,
    htmx_headers,
    idempotency_key,
    make_shop,
    make_user,
    ready_seller,
    request_rows,
    sign_in,
    use_cheap_hashing,
)

BAD_AMOUNTS = ["-1", "0", "1.234", "1e5", "", "¥100", "99999999999999", "abc"]


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch):
    """The demo's password hashes at a tiny cost (nothing here depends on it)."""
    use_cheap_hashing(monkeypatch)


@pytest.fixture
def applicant(app, client):
    """A signed-in seller (English pages) with ¥3,000.00 refundable and nothing blocking."""
    shop, user = ready_seller(username="seller-a")
    client.set_cookie("lang", "en")
    sign_in(client, user)
    return user


def form_data(client, amount="100", kind="SURPLUS", confirm=True, key=None):
    """The application form as the browser would post it, with the key the page handed out."""
    key = key or idempotency_key(client.get(f"/refunds/new?kind={kind}").text)
    data = {"kind": kind, "amount": amount, "idempotency_key": key}
    if confirm:
        data["confirm_payee"] = "y"
    return data


def apply(client, **fields):
    """Load the form and submit it; returns the response."""
    return client.post("/refunds/new", data=form_data(client, **fields))


def created_request(response):
    """The request a successful submission landed on."""
    assert response.status_code == 303, response.text[:2000]
    path = urlsplit(response.headers["Location"]).path
    assert path.startswith("/refunds/")
    return RefundRequest.get_by_id(int(path.rsplit("/", 1)[1]))


def test_form_page_and_fragment(client, applicant):
    """The form is a full page, and with HX-Request the kind switch answers only the form block."""
    full = client.get("/refunds/new")
    assert full.status_code == 200 and "<html" in full.text
    page = Page(full.text)
    assert page.find("form", id="refund-application")
    assert page.find("input", name="amount")
    assert figures_on(full.text)["refundable"] == "¥3,000.00"
    fragment = client.get("/refunds/new?kind=FULL_EXIT", headers=htmx_headers("#refund-form"))
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "<h1" not in fragment.text
    fragment_page = Page(fragment.text)
    assert fragment_page.find("input", name="kind")["value"] == "FULL_EXIT"
    assert not fragment_page.find_all("input", name="amount")  # a full exit takes everything
    assert figures_on(fragment.text)["refundable"] == "¥5,000.00"
    assert "HX-Request" in fragment.headers["Vary"] and "HX-Request" in full.headers["Vary"]


def test_kind_switch_keeps_what_was_typed(client, applicant):
    """Switching kind with htmx carries the typed amount and the idempotency key along."""
    key = uuid.uuid4().hex
    fragment = client.get(f"/refunds/new?kind=SURPLUS&amount=123.45&idempotency_key={key}",
                          headers=htmx_headers("#refund-form"))
    page = Page(fragment.text)
    assert page.find("input", name="amount")["value"] == "123.45"
    assert page.find("input", name="idempotency_key")["value"] == key


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_bad_amount_is_refused_beside_the_field(client, applicant, amount):
    """Each bad amount gives 422, a message beside the amount, the typed value kept, nothing written."""
    before = request_rows()
    response = apply(client, amount=amount)
    assert response.status_code == 422
    page = Page(response.text)
    field = page.find("input", name="amount")
    assert field.get("value", "") == amount
    assert field["aria-invalid"] == "true"
    assert "amount-error" in field["aria-describedby"].split()
    error = page.find("p", id="amount-error")
    assert "error" in error["class"].split() and error.text
    assert request_rows() == before


def test_bad_amount_through_htmx_answers_the_form_block(client, applicant):
    """Through htmx a bad amount answers 422 with just the form block, the error and the typed value in it."""
    before = request_rows()
    response = client.post("/refunds/new", data=form_data(client, amount="1.234"), headers=htmx_headers())
    assert response.status_code == 422
    assert "<html" not in response.text
    page = Page(response.text)
    assert page.find("input", name="amount")["value"] == "1.234"
    assert page.find("p", id="amount-error")
    assert request_rows() == before


@pytest.mark.parametrize(("amount", "fen"), [("1,000.50", 100_050), ("100", 10_000), ("3000", 300_000)])
def test_good_amounts_are_accepted(client, applicant, amount, fen):
    """Plain amounts up to the refundable figure, with or without separators, create the request."""
    refund = created_request(apply(client, amount=amount))
    assert (refund.kind, refund.requested_fen) == ("SURPLUS", fen)


def test_amount_above_refundable_names_the_limit(client, applicant):
    """One fen more than refundable is refused beside the field with the limit, nothing written."""
    before = request_rows()
    response = apply(client, amount="3000.01")
    assert response.status_code == 422
    assert "¥3,000.00" in Page(response.text).find("p", id="amount-error").text
    assert request_rows() == before


def test_payee_must_be_confirmed(client, applicant):
    """Without ticking the payee confirmation the form comes back with the error beside the box."""
    before = request_rows()
    response = apply(client, amount="250", confirm=False)
    assert response.status_code == 422
    page = Page(response.text)
    assert page.find("p", id="confirm_payee-error")
    assert page.find("input", name="amount")["value"] == "250"
    assert request_rows() == before


def test_forged_idempotency_key_is_refused(client, applicant):
    """A key that is not one the form makes is refused; the re-rendered form carries a fresh valid key."""
    before = request_rows()
    response = client.post("/refunds/new", data=form_data(client, key="../../etc/passwd"))
    assert response.status_code == 422
    assert len(idempotency_key(response.text)) == 32
    assert request_rows() == before


def test_success_holds_the_amount_and_lands_on_the_request(client, applicant):
    """A clean surplus application lands (303) on its page, in review, with a hold for the amount."""
    response = apply(client, amount="1234.56")
    refund = created_request(response)
    assert refund.shop_id == applicant.shop_id and refund.created_by_id == applicant.id
    holds = list(LedgerEntry.select().where(LedgerEntry.refund_request == refund.id))
    assert [(entry.entry_type, entry.amount_fen) for entry in holds] == [(EntryType.REFUND_HOLD, 123_456)]
    events = [(event.from_state, event.to_state) for event in
              RefundEvent.select().where(RefundEvent.request == refund.id).order_by(RefundEvent.id)]
    assert events[:2] == [(None, RefundState.SUBMITTED), (RefundState.SUBMITTED, RefundState.UNDER_REVIEW)]
    page = Page(client.get(response.headers["Location"]).text)
    assert page.find(data_refund_state=True)["data-refund-state"] == "UNDER_REVIEW"
    assert page.find(data_figure="held").text == "¥1,234.56"
    assert figures_on(client.get("/deposit").text)["held"] == "¥1,234.56"
    listed = Page(client.get("/refunds").text)
    assert [link["href"] for link in listed.find_all("a") if link.get("href") == f"/refunds/{refund.id}"]
    assert listed.find(data_refund_state="UNDER_REVIEW")


def test_htmx_submission_answers_with_a_client_redirect(client, applicant):
    """Submitted through htmx, success is a 204 naming the request page instead of a 303."""
    response = client.post("/refunds/new", data=form_data(client, amount="10"), headers=htmx_headers())
    assert response.status_code == 204
    refund = RefundRequest.get()
    assert urlsplit(htmx_destination(response)).path == f"/refunds/{refund.id}"


def test_replaying_the_same_submission_returns_the_same_request(client, applicant):
    """The same POST twice (a double click) lands on the same request and writes nothing new."""
    data = form_data(client, amount="100")
    first = client.post("/refunds/new", data=data)
    rows = request_rows()
    second = client.post("/refunds/new", data=data)
    assert second.status_code == 303
    assert second.headers["Location"] == first.headers["Location"]
    assert request_rows() == rows


def test_replaying_a_large_submission_returns_the_same_request(client, applicant):
    """A replay of a large amount lands on the same request although its own hold lowered refundable."""
    data = form_data(client, amount="3000")
    first = client.post("/refunds/new", data=data)
    rows = request_rows()
    second = client.post("/refunds/new", data=data)
    assert request_rows() == rows
    assert second.status_code == 303
    assert second.headers["Location"] == first.headers["Location"]


def test_a_second_request_is_refused_while_one_runs(client, applicant):
    """With a request running, a new one (another key) is refused and says where to follow the first."""
    refund = created_request(apply(client, amount="100"))
    html = client.get("/refunds/new").text
    assert "ACTIVE_REQUEST_EXISTS" in check_codes(html)
    assert form_submit_button(html).has("disabled")
    before = request_rows()
    response = apply(client, amount="100")
    assert response.status_code == 422
    assert "ACTIVE_REQUEST_EXISTS" in check_codes(response.text)
    fix = [link["href"] for link in Page(response.text).with_class("fix", "a")]
    assert f"/refunds/{refund.id}" in fix
    assert request_rows() == before


def test_checks_run_again_on_submit(client, applicant):
    """A dispute opened after the form loaded blocks the submission (422), and nothing is written."""
    data = form_data(client, amount="100")
    Dispute.create(shop=applicant.shop_id, order_number="1", complaint="买家投诉")
    before = request_rows()
    response = client.post("/refunds/new", data=data)
    assert response.status_code == 422
    assert "OPEN_DISPUTE" in check_codes(response.text)
    assert request_rows() == before


def test_risky_seller_is_blocked_with_links_to_the_fixes(demo_data, client):
    """seller-risky sees the dispute, violation and arrears, each linking to its fix, and cannot submit."""
    client.set_cookie("lang", "en")
    sign_in(client, User.get(User.username == "seller-risky"))
    html = client.get("/refunds/new").text
    assert {"OPEN_DISPUTE", "VIOLATION_OPEN", "ARREARS"} <= set(check_codes(html))
    links = fix_links(html)
    for code in ("OPEN_DISPUTE", "VIOLATION_OPEN", "ARREARS"):
        assert client.get(urlsplit(links[code]).path).status_code == 200, links[code]
    assert form_submit_button(html).has("disabled")
    before = request_rows()
    response = apply(client, amount="100")
    assert response.status_code == 422
    assert request_rows() == before


def test_banned_seller_cannot_apply(demo_data, client):
    """seller-banned is told the shop is banned and the submit button is disabled; a POST writes nothing."""
    sign_in(client, User.get(User.username == "seller-banned"))
    html = client.get("/refunds/new").text
    assert check_codes(html)[0] == "ACCOUNT_BANNED"
    assert form_submit_button(html).has("disabled")
    before = request_rows()
    assert apply(client, amount="100").status_code == 422
    assert request_rows() == before


def test_demo_seller_ok_can_apply(demo_data, client):
    """seller-ok applies for ¥1,000.00 and lands on a request under review."""
    sign_in(client, User.get(User.username == "seller-ok"))
    assert check_codes(client.get("/refunds/new").text) == []
    refund = created_request(apply(client, amount="1000"))
    assert refund.state == RefundState.UNDER_REVIEW
    assert 'data-refund-state="UNDER_REVIEW"' in client.get(f"/refunds/{refund.id}").text


def test_full_exit_takes_everything_and_waits(client, app):
    """An exit-ready shop applies for a full exit: everything available is held, the request waits."""
    shop, user = ready_seller(exit_notice_at=days_ago(45), last_order_at=days_ago(40))
    add_entry(shop, EntryType.FREEZE, 10_000)
    add_entry(shop, EntryType.UNFREEZE, 10_000)
    sign_in(client, user)
    html = client.get("/refunds/new?kind=FULL_EXIT").text
    assert check_codes(html) == ["QUIET_PERIOD"]  # a warning: the seller may submit now
    assert not form_submit_button(html).has("disabled")
    refund = created_request(apply(client, kind="FULL_EXIT", amount=""))
    assert (refund.kind, refund.requested_fen, refund.state) == ("FULL_EXIT", 500_000, RefundState.WAITING_PERIOD)
    # Review starts when the 90-day quiet period after the last order ends.
    assert refund.review_starts_at == shop.last_order_at + datetime.timedelta(days=90)
    hold = LedgerEntry.get(LedgerEntry.refund_request == refund.id)
    assert (hold.entry_type, hold.amount_fen) == (EntryType.REFUND_HOLD, 500_000)
    assert 'data-refund-state="WAITING_PERIOD"' in client.get(f"/refunds/{refund.id}").text


def test_full_exit_needs_notice_and_finished_orders(client, app):
    """Without exit notice and with open orders a full exit is blocked (a surplus is not)."""
    shop, user = ready_seller(unfinished_orders=2, open_after_sales=1)
    sign_in(client, user)
    codes = check_codes(client.get("/refunds/new?kind=FULL_EXIT").text)
    assert {"EXIT_NOTICE", "UNFINISHED_ORDERS", "OPEN_AFTER_SALES"} <= set(codes)
    assert check_codes(client.get("/refunds/new?kind=SURPLUS").text) == []
    before = request_rows()
    assert apply(client, kind="FULL_EXIT", amount="").status_code == 422
    assert request_rows() == before


def test_every_finding_links_to_a_page_where_it_is_fixed(client, app):
    """With everything wrong at once, each finding has a message and a link to an existing page and section."""
    shop = make_shop(contact_name="", unfinished_orders=1, open_after_sales=1, last_order_at=days_ago(3))
    user = make_user("seller-a", shop=shop)
    add_entry(shop, EntryType.TOP_UP, 100_000)
    add_entry(shop, EntryType.FREEZE, 20_000)
    add_payee(shop, holder_name="王小明")
    Violation.create(shop=shop, code="X", description="违规")
    Dispute.create(shop=shop, order_number="1", complaint="投诉")
    Arrear.create(shop=shop, amount_fen=15_000, reason="欠费")
    RefundRequest.create(shop=shop, kind="SURPLUS", requested_fen=1, state=RefundState.UNDER_REVIEW,
                         idempotency_key=uuid.uuid4().hex)
    client.set_cookie("lang", "en")
    sign_in(client, user)
    html = client.get("/refunds/new?kind=FULL_EXIT").text
    page = Page(html)
    findings = page.find_all("li", data_check=True)
    assert {"VIOLATION_OPEN", "ARREARS", "OPEN_DISPUTE", "UNFINISHED_ORDERS", "OPEN_AFTER_SALES", "EXIT_NOTICE",
            "FROZEN", "ACTIVE_REQUEST_EXISTS", "PAYEE_INVALID", "PROFILE_INCOMPLETE"} <= {
        finding["data-check"] for finding in findings}
    assert "%(" not in html and "¥150.00" in page.find("li", data_check="ARREARS").text
    for link in page.with_class("fix", "a"):
        target = urlsplit(link["href"])
        response = client.get(target.path)
        assert response.status_code == 200, link["href"]
        if target.fragment:
            assert Page(response.text).find_all(id=target.fragment), f"{link['href']}: no such section"
    assert len(page.with_class("fix", "a")) == len(findings)


def test_request_page_and_status_fragment(client, applicant):
    """/refunds/<id> is a full page; with HX-Request it answers only the status block."""
    refund = created_request(apply(client, amount="100"))
    full = client.get(f"/refunds/{refund.id}")
    assert full.status_code == 200 and "<html" in full.text
    fragment = client.get(f"/refunds/{refund.id}", headers=htmx_headers("#refund-status"))
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "<h1" not in fragment.text
    assert Page(fragment.text).find(data_refund_state=True)["data-refund-state"] == "UNDER_REVIEW"
    assert "HX-Request" in fragment.headers["Vary"] and "HX-Request" in full.headers["Vary"]


def test_list_shows_only_own_requests_newest_first(demo_data, client):
    """/refunds lists the seller's own requests, newest first, and no one else's."""
    user = User.get(User.username == "seller-ok")
    sign_in(client, user)
    page = Page(client.get("/refunds").text)
    shown = [int(link["href"].rsplit("/", 1)[1]) for link in page.find_all("a")
             if link.get("href", "").rsplit("/", 1)[-1].isdigit() and link["href"].startswith("/refunds/")]
    own = [refund.id for refund in RefundRequest.for_shop(user.shop_id)]
    assert shown == own and len(own) == 3


def test_another_sellers_request_is_not_found(client, applicant):
    """Someone else's request answers 404 exactly like one that does not exist, as page and fragment."""
    other_shop, other = ready_seller(username="seller-b")
    theirs = RefundRequest.create(shop=other_shop, kind="SURPLUS", requested_fen=100, state=RefundState.UNDER_REVIEW,
                                  idempotency_key=uuid.uuid4().hex)
    missing = client.get("/refunds/999999")
    for headers in ({}, htmx_headers("#refund-status")):
        response = client.get(f"/refunds/{theirs.id}", headers=headers)
        assert response.status_code == 404
        assert "UNDER_REVIEW" not in response.text
    assert missing.status_code == 404
    assert Page(client.get(f"/refunds/{theirs.id}").text).find("h1").text == Page(missing.text).find("h1").text


def test_an_absurd_request_id_is_not_found(client, applicant):
    """A request id beyond 64 bits (SQLite cannot even bind it) answers 404 like any missing one, never a 500."""
    for url in ("/refunds/99999999999999999999999", "/refunds/99999999999999999999999/status"):
        assert client.get(url).status_code == 404, url


@pytest.mark.parametrize("role", [Role.AGENT, Role.FINANCE])
def test_staff_get_404_on_seller_pages(client, app, role):
    """Support and finance staff are not sellers: every seller refund page answers 404."""
    shop, seller = ready_seller()
    refund = RefundRequest.create(shop=shop, kind="SURPLUS", requested_fen=100, state=RefundState.UNDER_REVIEW,
                                  idempotency_key=uuid.uuid4().hex)
    sign_in(client, make_user("staff-1", role=role))
    for url in ("/refunds", "/refunds/new", f"/refunds/{refund.id}"):
        assert client.get(url).status_code == 404, url
    before = request_rows()
    assert client.post("/refunds/new", data={"kind": "SURPLUS", "amount": "1"}).status_code == 404
    assert request_rows() == before


def test_anonymous_visitors_are_sent_to_sign_in(client, app):
    """Without a session every refund page redirects to /login, remembering where the visitor was going."""
    for url in ("/refunds", "/refunds/new", "/refunds/1"):
        response = client.get(url)
        assert response.status_code == 302
        location = urlsplit(response.headers["Location"])
        assert location.path == "/login" and "next=" in location.query
    assert urlsplit(client.post("/refunds/new").headers["Location"]).path == "/login"
    assert request_rows() == (0, 0)
