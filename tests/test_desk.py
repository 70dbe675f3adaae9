"""The support desk: the queue, a request with its seller's context, decisions, the audit log, reason codes."""
import json
import re

import peewee
import pytest
from playhouse.test_utils import count_queries

from portal.accounts.models import User
from portal.audit import service as audit_service
from portal.audit.models import AuditLog
from portal.core.clock import utcnow
from portal.core.db import db
from portal.core.money import format_fen
from portal.core.vocabulary import EntryType, RefundState, Role
from portal.core.workdays import WorkCalendar
from portal.deposit.service import deposit_figures
from portal.disputes.models import Dispute
from portal.ops import seed
from portal.refunds import service as refund_service
from portal.refunds.models import ReasonCode, RefundRequest
from portal.risk.models import Arrear, Violation
from portal.shops.models import Shop
from tests.desk_helpers import (
    AMOUNT_FEN,
    DAY,
    REJECT_MESSAGE,
    audit_of,
    bulk_requests,
    entries_of,
    figure,
    footprint,
    form,
    more_link,
    post,
    reason_codes,
    request_ids,
    request_in,
    section,
    signed_in,
    staff,
    state_of,
    text_of,
    today,
)
from tests.factories import ACCOUNT_NUMBER, Page, csrf_token, days_ago, ready_seller, use_cheap_hashing

HX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch):
    """Cheap password hashes (the demo's too): nothing here depends on their cost."""
    use_cheap_hashing(monkeypatch)


@pytest.fixture
def agent(app):
    """A support agent, with the reason codes ``init-db`` seeds."""
    reason_codes()
    return staff(Role.AGENT, "agent-lin")


@pytest.fixture
def desk(app, agent):
    """The agent's browser, reading English pages."""
    return signed_in(app, agent)


def chip_counts(html):
    """``{filter: count}`` as the queue's filter chips show them."""
    return {key: int(count) for key, count in
            re.findall(r'data-filter="(\w+)">[^<]*<span class="count">(\d+)</span>', html)}


def select_options(html, name):
    """The option values of a select on the page."""
    match = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert match, f"no select {name}"
    return re.findall(r'<option[^>]*value="([^"]*)"', match.group(1))


def assignees(html):
    """``{request number: who it is assigned to}`` as the queue's last column shows it."""
    shown = {}
    for row in section(html, "queue-rows").split("</tr>"):
        cell = re.search(r'<td class="queue-assignee"[^>]*>(.*?)</td>', row, re.S)
        if cell:
            shown[request_ids(row)[0]] = text_of(cell.group(1))
    return shown


def seller_page(app, seller, request_id):
    """The seller's own page of a request, in English."""
    response = signed_in(app, seller).get(f"/refunds/{request_id}")
    assert response.status_code == 200
    return response.text


def shown_state(html):
    """The state the page marks with ``data-refund-state``."""
    return re.search(r'data-refund-state="(\w+)"', html).group(1)


def audit_items(html):
    """The audit page's entries as ``(action, text)``, newest first (no space left where a link ended)."""
    return [(action, re.sub(r" ([:,])", r"\1", text_of(body))) for action, body in
            re.findall(r'<li data-audit-action="([^"]+)"[^>]*>(.*?)</li>', html, re.S)]


# --- the queue -------------------------------------------------------------------------------

def test_queue_is_sorted_by_due_date_then_number(desk, app):
    """Open requests appear by due date, ties by request number; finished ones are not in the queue."""
    later, _shop, _seller = request_in(due_date=today() + 3 * DAY)
    overdue, _shop, _seller = request_in(due_date=today() - DAY)
    tie, _shop, _seller = request_in(due_date=today() + 3 * DAY)
    request_in(RefundState.REJECTED, due_date=today() - 5 * DAY)
    html = desk.get("/desk").text
    assert request_ids(html) == [overdue.id, later.id, tie.id]
    row = section(html, "queue-rows").split("</tr>")[0]
    assert f"No. {overdue.id}" in row and "overdue" in row


def test_queue_filters_return_exactly_their_rows_and_the_chips_count_them(desk, app, agent):
    """All open / overdue / mine / unassigned / one state each list exactly their rows, counted in the chips."""
    colleague = staff(Role.AGENT, "agent-zhou")
    mine_overdue, _shop, _seller = request_in(due_date=today() - 2 * DAY)
    theirs, _shop, _seller = request_in(due_date=today() + DAY)
    unassigned_overdue, _shop, _seller = request_in(due_date=today() - DAY)
    waiting_on_seller, _shop, _seller = request_in(RefundState.NEEDS_INFO, due_date=today() + 4 * DAY)
    finished, _shop, _seller = request_in(RefundState.REJECTED, due_date=today() - 3 * DAY)
    assert post(desk, mine_overdue.id, "assign").status_code == 303
    assert post(signed_in(app, colleague), theirs.id, "assign").status_code == 303

    expected = {
        "/desk": [mine_overdue.id, unassigned_overdue.id, theirs.id, waiting_on_seller.id],
        "/desk?view=overdue": [mine_overdue.id, unassigned_overdue.id],
        "/desk?view=mine": [mine_overdue.id],
        "/desk?view=unassigned": [unassigned_overdue.id, waiting_on_seller.id],
        "/desk?state=NEEDS_INFO": [waiting_on_seller.id],
        "/desk?state=REJECTED": [finished.id],
        "/desk?state=UNDER_REVIEW&view=mine": [mine_overdue.id],
    }
    for url, ids in expected.items():
        html = desk.get(url).text
        assert request_ids(html) == ids, url
        assert chip_counts(html) == {"open": 4, "overdue": 2, "mine": 1, "unassigned": 2}, url
    assert "Nothing here" in desk.get("/desk?state=COMPLETED").text
    assert assignees(desk.get("/desk").text) == {
        mine_overdue.id: "agent-lin", theirs.id: "agent-zhou", unassigned_overdue.id: "nobody",
        waiting_on_seller.id: "nobody"}
    # The colleague's own "mine" is theirs alone.
    assert request_ids(signed_in(app, colleague).get("/desk?view=mine").text) == [theirs.id]


def test_queue_search_finds_by_shop_name_and_by_request_number(desk, app):
    """Searching by (part of) a shop's name or by request number, with or without "No." or "#", finds it."""
    shop, seller = ready_seller(name="晨光数码专营店", entity_name="杭州晨光数码科技有限公司")
    wanted, _shop, _seller = request_in(shop=shop, seller=seller)
    other, _shop, _seller = request_in()
    assert request_ids(desk.get("/desk", query_string={"q": "晨光"}).text) == [wanted.id]
    assert request_ids(desk.get("/desk", query_string={"q": "晨光科技"}).text) == []
    assert request_ids(desk.get("/desk", query_string={"q": "杭州晨光"}).text) == [wanted.id]
    for number in (str(other.id), f"No. {other.id}", f"#{other.id}", f"申请单 {other.id}", f"申请单{other.id}",
                   f"request {other.id}", f"Request No. {other.id}", f"第{other.id}号"):
        assert request_ids(desk.get("/desk", query_string={"q": number}).text) == [other.id], number
    html = desk.get("/desk", query_string={"q": "没有这家店"}).text
    assert request_ids(html) == []
    assert "Nothing matches “没有这家店”." in text_of(html) and "Every request in this view is handled" not in html


def test_queue_search_finds_the_assignee_the_page_shows(desk, app, agent):
    """The assignee column shows a display name; searching for it (or part of it) finds their requests."""
    colleague = staff(Role.AGENT, "agent-zhou")
    User.update(display_name="周小燕").where(User.id == colleague.id).execute()
    theirs, _shop, _seller = request_in()
    request_in()
    assert post(signed_in(app, colleague), theirs.id, "assign").status_code == 303
    assert request_ids(desk.get("/desk", query_string={"q": "小燕"}).text) == [theirs.id]
    assert assignees(desk.get("/desk").text)[theirs.id] == "周小燕"


def test_queue_rows_show_kind_waiting_time_risks_and_assignee(desk, app):
    """Each row names its kind, the working days since its last change, the shop's open risks and the assignee."""
    risky_shop, risky_seller = ready_seller(name="风险店")
    risky, _shop, _seller = request_in(shop=risky_shop, seller=risky_seller)
    Violation.create(shop=risky_shop, code="FAKE_REVIEWS", description="刷单炒信")
    Arrear.create(shop=risky_shop, amount_fen=100, reason="技术服务费")
    Dispute.create(shop=risky_shop, order_number="E1", complaint="未收到货")
    calm, _shop, _seller = request_in()
    # Two weeks in its state: at least eight working days whatever the holidays.
    RefundRequest.update(state_changed_at=utcnow() - 14 * DAY).where(RefundRequest.id == calm.id).execute()
    rows = section(desk.get("/desk").text, "queue-rows")
    by_id = {int(number): row for number, row in re.findall(r'data-request="(\d+)">(.*?)</tr>', rows, re.S)}
    assert re.search(r'data-risk-count="3"', by_id[risky.id]) and "3 open risks" in text_of(by_id[risky.id])
    assert 'data-risk-count="0"' in by_id[calm.id] and "none" in text_of(by_id[calm.id])
    assert int(re.search(r'data-workdays="(\d+)"', by_id[calm.id]).group(1)) >= 8
    assert re.search(r'data-workdays="0"', by_id[risky.id]) and "today" in text_of(by_id[risky.id])
    assert "Surplus" in text_of(by_id[calm.id])
    assert "nobody" in text_of(by_id[calm.id])


def test_a_finished_request_is_never_marked_overdue(desk, app):
    """A rejected or completed request past its due date shows no "overdue", even when listed by state."""
    finished, _shop, _seller = request_in(RefundState.REJECTED, due_date=today() - 5 * DAY)
    late, _shop, _seller = request_in(due_date=today() - DAY)
    html = desk.get("/desk", query_string={"state": "REJECTED"}).text
    assert request_ids(html) == [finished.id]
    assert "overdue" not in section(html, "queue-rows")
    # The overdue view with a finished state lists nothing: finished is never overdue.
    assert request_ids(desk.get("/desk", query_string={"state": "REJECTED", "view": "overdue"}).text) == []
    assert "overdue" in section(desk.get("/desk").text, "queue-rows")
    assert request_ids(desk.get("/desk?view=overdue").text) == [late.id]


def test_a_state_filter_clears_the_all_open_chip(desk, app):
    """With a state filter on, "All open" is not the current chip, and following it drops the filter."""
    waiting, _shop, _seller = request_in(RefundState.NEEDS_INFO)
    reviewing, _shop, _seller = request_in()
    plain = desk.get("/desk").text
    assert re.search(r'<a [^>]*aria-current="page" data-filter="open"', plain)
    filtered = desk.get("/desk", query_string={"state": "NEEDS_INFO"}).text
    assert request_ids(filtered) == [waiting.id]
    assert 'aria-current="page"' not in section(filtered, "queue-results").split("</nav>")[0]
    chip = re.search(r'<a href="([^"]+)"[^>]*data-filter="open"', filtered).group(1)
    assert "state=" not in chip
    assert sorted(request_ids(desk.get(chip.replace("&amp;", "&")).text)) == sorted([waiting.id, reviewing.id])
    # The other chips keep the state filter.
    overdue_chip = re.search(r'<a href="([^"]+)"[^>]*data-filter="overdue"', filtered).group(1)
    assert "state=NEEDS_INFO" in overdue_chip


def test_queue_search_for_a_huge_number_is_not_an_error(desk, app):
    """A number too large for any request id finds nothing, on PostgreSQL too (not a 500)."""
    request_in()
    response = desk.get("/desk", query_string={"q": "9" * 30})
    assert response.status_code == 200
    assert request_ids(response.text) == []


def test_numbers_too_big_for_any_id_find_nothing_instead_of_failing(desk, app):
    """A 25-digit request number in a desk URL, filter or cursor: 404 or an empty list, never a 500 (SQLite too)."""
    request_in()
    huge = "9" * 25
    assert desk.get(f"/desk/refunds/{huge}").status_code == 404
    assert desk.get(f"/desk/refunds/{huge}/checks").status_code == 404
    assert post(desk, huge, "approve").status_code == 404
    for url in (f"/desk/audit?request={huge}", f"/desk/audit?before={huge}", f"/desk?after=2026-01-01.{huge}"):
        assert desk.get(url).status_code == 200, url


@pytest.mark.parametrize("url", ["/refunds/{n}", "/refunds/{n}/status", "/desk/tickets/{n}"])
def test_numbers_too_big_for_any_id_elsewhere_are_404(app, request, url):
    """Outside the desk's request pages a 25-digit id must be a 404 as well (PostgreSQL already is)."""
    reason_codes()
    _refund, _shop, seller = request_in()
    client = signed_in(app, seller if url.startswith("/refunds") else staff(Role.AGENT))
    client.application.config["PROPAGATE_EXCEPTIONS"] = False
    assert client.get(url.format(n="9" * 25)).status_code == 404


def test_queue_keyset_pages_list_every_open_request_once_and_in_order(desk, app, agent):
    """Following "More" walks all 130 open requests (half without a due date): no duplicate, no gap, in order."""
    # Half the requests predate due dates (NULL, listed last), so a page boundary falls among them too.
    dates = [today() + 2 * DAY, None, today() - DAY, None, today() + 2 * DAY, None]
    bulk_requests(130, dates, assignee=agent)
    expected = [request_id for request_id, _due in sorted(
        RefundRequest.select(RefundRequest.id, RefundRequest.due_date).tuples(),
        key=lambda row: (row[1] is None, row[1] or today(), row[0]))]
    response = desk.get("/desk")
    seen, pages, cursors = request_ids(response.text), 1, []
    cursor = more_link(response.text)
    while cursor:
        fragment = desk.get("/desk", query_string={"after": cursor}, headers=HX)
        assert fragment.status_code == 200
        assert "<html" not in fragment.text and "<table" not in fragment.text
        assert fragment.text.lstrip().startswith("<tr")
        page_ids = request_ids(fragment.text)
        assert len(page_ids) <= 50
        cursors.append(cursor)
        # Without JavaScript the link opens the same rows as a full page.
        assert request_ids(desk.get("/desk", query_string={"after": cursor}).text) == page_ids
        seen += page_ids
        pages += 1
        cursor = more_link(fragment.text)
    assert pages == 3
    assert seen == expected
    assert len(set(seen)) == 130
    assert cursors[-1].startswith("none.")  # the last page began after a request without a due date


def test_queue_costs_the_same_number_of_queries_for_5_and_for_60_requests(desk, app, agent):
    """The queue's query count does not grow with the rows shown (no query per row, shop or assignee)."""
    dates = [today() - DAY, today() + DAY, today() + 5 * DAY]
    bulk_requests(5, dates, assignee=agent)
    desk.get("/desk")  # warm up: the first request of a client may load more than the rest
    with count_queries() as few:
        assert len(request_ids(desk.get("/desk").text)) == 5
    bulk_requests(55, dates, assignee=agent, name="更多店")
    with count_queries() as many:
        assert len(request_ids(desk.get("/desk").text)) == 50
    assert few.count == many.count
    with count_queries() as next_page:
        cursor = more_link(desk.get("/desk").text)
    with count_queries() as rows_only:
        desk.get("/desk", query_string={"after": cursor}, headers=HX)
    assert rows_only.count <= next_page.count


def test_queue_is_a_full_page_and_an_htmx_fragment(desk, app):
    """Without htmx /desk is a whole page; with HX-Request it is the results block (chips and table) only."""
    refund, _shop, _seller = request_in()
    page = desk.get("/desk")
    assert "<html" in page.text and 'id="queue-results"' in page.text and 'role="search"' in page.text
    assert "HX-Request" in page.headers["Vary"]
    fragment = desk.get("/desk?view=unassigned", headers=HX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and 'role="search"' not in fragment.text
    assert chip_counts(fragment.text)["unassigned"] == 1
    assert request_ids(fragment.text) == [refund.id]


# --- one request -----------------------------------------------------------------------------

def test_request_page_side_panel_shows_the_deposit_figures(desk, app):
    """The side panel shows the shop's balance, frozen, held, required and refundable from its ledger."""
    refund, shop, _seller = request_in()
    expected = deposit_figures(Shop.get_by_id(shop.id))
    html = desk.get(f"/desk/refunds/{refund.id}").text
    assert figure(html, "Balance") == "¥5,000.00" == format_fen(expected.balance)
    assert figure(html, "Frozen") == "¥0.00"
    assert figure(html, "Held for refunds") == "¥1,000.00" == format_fen(expected.held)
    assert figure(html, "Required") == "¥2,000.00"
    page = Page(html)
    assert page.find(data_kind="SURPLUS").text == format_fen(expected.refundable) == "¥2,000.00"
    assert page.find(data_kind="FULL_EXIT").text == format_fen(expected.available) == "¥4,000.00"
    assert figure(html, "Requested") == "¥1,000.00"
    assert shown_state(html) == RefundState.UNDER_REVIEW


def test_request_page_shows_open_violations_disputes_and_arrears_of_the_shop(demo_data, app, agent):
    """For seller-risky's request the side panel lists the open violation, dispute and arrear, and the live blockers."""
    shop = Shop.get(Shop.name == "好运来食品店")
    seller = User.get(User.username == "seller-risky")
    # The old blockers are closed, so the seller could apply; new ones appear during the review.
    Violation.update(status="CLOSED", closed_at=utcnow()).where(Violation.shop == shop.id).execute()
    Dispute.update(status="RESOLVED", resolved_at=utcnow()).where(Dispute.shop == shop.id).execute()
    Arrear.update(status="SETTLED").where(Arrear.shop == shop.id).execute()
    refund, _shop, _seller = request_in(shop=shop, seller=seller)
    Violation.create(shop=shop, code="FAKE_REVIEWS", description="刷单炒信")
    Dispute.create(shop=shop, order_number="6928000000000000001", complaint="商品与描述不符")
    Arrear.create(shop=shop, amount_fen=12_345, reason="技术服务费")
    html = signed_in(app, agent).get(f"/desk/refunds/{refund.id}").text
    risks = text_of(html)
    # The violation by the name of its code, in the reader's language, and its details as written.
    assert "Open violation: Fake orders or reviews · 刷单炒信 (written in Chinese)" in risks
    assert "Open buyer dispute: Order 6928000000000000001" in risks
    assert "Money owed: ¥123.45" in risks
    # The closed ones from before the request are history, not risk_service.
    assert "Misleading product description" not in risks and "6928374651029384756" not in risks
    checks = section(html, "desk-checks")
    for code in ("VIOLATION_OPEN", "OPEN_DISPUTE", "ARREARS"):
        assert f'data-check="{code}"' in checks


def test_request_page_lists_the_shops_previous_requests(desk, app):
    """The side panel links the shop's earlier requests with their state."""
    old, shop, seller = request_in(RefundState.REJECTED)
    current, _shop, _seller = request_in(shop=shop, seller=seller)
    html = desk.get(f"/desk/refunds/{current.id}").text
    assert f'href="/desk/refunds/{old.id}"' in html
    assert f"No. {old.id} · Rejected" in text_of(html)
    assert f'href="/desk/refunds/{current.id}"' not in html


def test_payee_number_is_masked_until_revealed_and_the_reveal_is_audited(desk, app, agent):
    """The page shows only the last four digits; revealing shows the full number once and records who looked."""
    refund, _shop, _seller = request_in()
    page = desk.get(f"/desk/refunds/{refund.id}").text
    assert "•••• 5678" in page and ACCOUNT_NUMBER not in page
    assert audit_of(refund.id, "payee.reveal") == []
    fragment = desk.post(f"/desk/refunds/{refund.id}/payee/reveal", headers={**HX, "HX-Target": "payee-panel"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert re.search(rf"data-payee-number>{ACCOUNT_NUMBER}<", fragment.text)
    [entry] = audit_of(refund.id, "payee.reveal")
    assert entry.actor_id == agent.id and entry.actor_role == Role.AGENT and entry.shop_id == refund.shop_id
    assert ACCOUNT_NUMBER not in entry.details  # the log says who looked, not what they saw
    assert ACCOUNT_NUMBER not in desk.get(f"/desk/refunds/{refund.id}").text
    assert ACCOUNT_NUMBER not in desk.get("/desk/audit").text


def test_checks_fragment_reruns_the_pre_checks_now(desk, app):
    """/checks is the pre-checks block alone for htmx, re-evaluated on each call; a full page otherwise."""
    refund, shop, _seller = request_in()
    url = f"/desk/refunds/{refund.id}/checks"
    fragment = desk.get(url, headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "No blocker." in fragment.text and 'data-check="VIOLATION_OPEN"' not in fragment.text
    Violation.create(shop=shop, code="FAKE_REVIEWS", description="刷单炒信")
    fragment = desk.get(url, headers=HX)
    assert 'data-check="VIOLATION_OPEN"' in fragment.text and "No blocker." not in fragment.text
    page = desk.get(url)
    assert "<html" in page.text and 'data-check="VIOLATION_OPEN"' in page.text


def test_internal_notes_show_on_the_desk_and_never_to_the_seller(desk, app):
    """A decision's internal note is in the desk's timeline and nowhere on the seller's page."""
    refund, _shop, seller = request_in()
    note = "内部：核对过流水，风险低"
    assert post(desk, refund.id, "approve", form("approve", internal_note=note)).status_code == 303
    html = desk.get(f"/desk/refunds/{refund.id}").text
    assert note in text_of(section(html, "desk-request"))
    assert 'class="internal-note"' in html
    approval = re.search(r'<li data-event-state="APPROVED">(.*?)</li>', html, re.S).group(1)
    assert "· agent-lin" in text_of(approval)  # the timeline names the person, not only the role
    assert note not in seller_page(app, seller, refund.id)


# --- decisions -------------------------------------------------------------------------------

def test_approving_in_full_moves_to_approved_and_is_audited(desk, app, agent):
    """Approve with the amount asked: APPROVED, nothing released, an audit row with actor and states."""
    refund, _shop, seller = request_in()
    response = post(desk, refund.id, "approve", form("approve", amount="1000.00"))
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/desk/refunds/{refund.id}")
    refund = RefundRequest.get_by_id(refund.id)
    assert refund.state == RefundState.APPROVED and refund.approved_fen == AMOUNT_FEN
    assert entries_of(refund.id, EntryType.REFUND_HOLD_RELEASE) == []
    assert refund_service.held_for(refund.id) == AMOUNT_FEN
    [entry] = audit_of(refund.id, "refund.approved")
    assert entry.actor_id == agent.id
    details = audit_service.details_of(entry)
    assert (details["from_state"], details["to_state"]) == ("UNDER_REVIEW", "APPROVED")
    html = seller_page(app, seller, refund.id)
    assert shown_state(html) == RefundState.APPROVED and "Approved, awaiting payout" in html
    assert "Approved." in desk.get(f"/desk/refunds/{refund.id}").text  # the flashed notice


def test_approving_less_releases_the_difference_and_itemises_it_for_the_seller(desk, app):
    """Approve ¥600 of ¥1,000: ¥400 is released as REFUND_HOLD_RELEASE and the seller's timeline says so."""
    refund, shop, seller = request_in()
    before = deposit_figures(Shop.get_by_id(shop.id))
    assert post(desk, refund.id, "approve", form("approve", amount="600")).status_code == 303
    refund = RefundRequest.get_by_id(refund.id)
    assert refund.state == RefundState.APPROVED and refund.approved_fen == 60_000
    assert [entry.amount_fen for entry in entries_of(refund.id, EntryType.REFUND_HOLD_RELEASE)] == [40_000]
    assert refund_service.held_for(refund.id) == 60_000
    after = deposit_figures(Shop.get_by_id(shop.id))
    assert after.balance == before.balance and after.refundable == before.refundable + 40_000
    html = seller_page(app, seller, refund.id)
    assert "Approved ¥600.00 of the ¥1,000.00 asked for; ¥400.00 stays in your deposit." in text_of(html)
    assert audit_service.details_of(audit_of(refund.id, "refund.approved")[0])["approved_fen"] == 60_000


def test_approving_an_impossible_amount_is_refused_and_writes_nothing(desk, app):
    """Above the amount asked, zero, negative or not a number: 422 with the limits named, nothing written."""
    refund, _shop, _seller = request_in()
    before = footprint()
    for amount in ("1000.01", "0", "0.00", "-5", "abc", "1.234"):
        response = post(desk, refund.id, "approve", form("approve", amount=amount))
        assert response.status_code == 422, amount
        assert "The approved amount must be more than ¥0.00 and at most ¥1,000.00." in response.text
        assert re.search(r'<details class="decision"\s+open', response.text)
        assert f'value="{amount}"' in response.text  # what the agent typed is kept
    assert footprint() == before
    assert state_of(refund.id) == RefundState.UNDER_REVIEW


def test_rejecting_without_a_reason_code_is_refused_beside_the_field(desk, app):
    """No reason code: 422, the error beside the reason select, the typed message kept, nothing written."""
    refund, _shop, _seller = request_in()
    before = footprint()
    typed = "请先处理投诉 (custom text)"
    response = post(desk, refund.id, "reject", form("reject", reason_code=None, seller_message=typed))
    assert response.status_code == 422
    assert 'id="reject-reason_code-error"' in response.text
    assert typed in response.text
    assert footprint() == before


def test_rejecting_without_a_seller_message_is_refused_beside_the_field(desk, app):
    """No message: 422, the error beside the message box, the chosen reason still selected, nothing written."""
    refund, _shop, _seller = request_in()
    before = footprint()
    response = post(desk, refund.id, "reject", form("reject", reason_code="AMOUNT_INCORRECT", seller_message=" "),
                    htmx=True)
    assert response.status_code == 422
    assert "<html" not in response.text
    error = re.search(r'<p class="error" id="reject-seller_message-error"[^>]*>([^<]*)</p>', response.text)
    assert error and "Tell the seller why, and what to do next." in error.group(1)
    assert re.search(r'<option selected value="AMOUNT_INCORRECT">|<option value="AMOUNT_INCORRECT" selected',
                     response.text)
    assert footprint() == before


def test_rejecting_with_a_code_not_on_the_list_is_refused(desk, app):
    """A reason code that is not an active REJECT code (here a HOLD code) is refused with 422."""
    refund, _shop, _seller = request_in()
    before = footprint()
    response = post(desk, refund.id, "reject", form("reject", reason_code="RISK_REVIEW"))
    assert response.status_code == 422
    assert 'id="reject-reason_code-error"' in response.text
    assert footprint() == before


def test_rejecting_releases_the_hold_and_explains_it_to_the_seller(desk, app, agent):
    """Reject with a code and a message: REJECTED, the hold released, the seller sees the reason and message."""
    refund, _shop, seller = request_in()
    response = post(desk, refund.id, "reject", form("reject", reason_code="PENDING_COMPLAINT"))
    assert response.status_code == 303
    assert state_of(refund.id) == RefundState.REJECTED
    assert refund_service.held_for(refund.id) == 0
    [entry] = audit_of(refund.id, "refund.rejected")
    assert entry.actor_id == agent.id
    details = audit_service.details_of(entry)
    assert details["from_state"] == "UNDER_REVIEW" and details["to_state"] == "REJECTED"
    assert details["reason_code"] == "PENDING_COMPLAINT"
    html = text_of(seller_page(app, seller, refund.id))
    assert "Rejected" in html and "Reason: An unresolved complaint" in html and REJECT_MESSAGE in html


def test_reason_message_endpoint_answers_in_the_current_language(app, agent):
    """Choosing a reason swaps in its message template, in English or Chinese as the agent reads."""
    english = signed_in(app, agent, "en")
    chinese = signed_in(app, agent, "zh_CN")
    url = "/desk/reasons/message?form=reject&reject-reason_code=AMOUNT_INCORRECT"
    html = english.get(url, headers=HX).text
    assert 'id="reject-seller_message"' in html and 'name="reject-seller_message"' in html
    assert "The amount does not match what is refundable." in html
    assert "申请金额与可退金额不一致" in chinese.get(url, headers=HX).text
    hold = english.get("/desk/reasons/message?form=hold&hold-reason_code=NEW_DISPUTE").text
    assert 'id="hold-seller_message"' in hold and "A new buyer dispute was opened" in hold
    failed = chinese.get("/desk/reasons/message?form=failed&failed-failure_code=INVALID_ACCOUNT").text
    assert 'id="failed-seller_message"' in failed and "银行退回：账号无效" in failed
    assert english.get("/desk/reasons/message?form=reject&reject-reason_code=NOPE").status_code == 404
    assert english.get("/desk/reasons/message?form=approve&approve-reason_code=AMOUNT_INCORRECT").status_code == 404


def test_asking_for_information_sets_the_due_date_in_working_days_and_lists_the_checklist(desk, app, agent):
    """Needs-info: NEEDS_INFO, info_due_date N working days on, the checklist's labels in the seller's message."""
    refund, _shop, seller = request_in()
    data = form("needs-info", seller_message="请补充材料", checklist=["PROOF_OF_PAYMENT", "IDENTITY_CHECK"],
                due_workdays="3")
    assert post(desk, refund.id, "needs-info", data).status_code == 303
    refund = RefundRequest.get_by_id(refund.id)
    assert refund.state == RefundState.NEEDS_INFO
    assert refund.info_due_date == WorkCalendar().add_workdays(utcnow(), 3)
    [entry] = audit_of(refund.id, "refund.needs_info")
    details = audit_service.details_of(entry)
    assert entry.actor_id == agent.id and (details["from_state"], details["to_state"]) == ("UNDER_REVIEW", "NEEDS_INFO")
    html = text_of(seller_page(app, seller, refund.id))
    assert "Waiting for your information" in html
    for text in ("请补充材料", "Proof of payment needed", "Identity check needed"):
        assert text in html
    assert "Please answer by" in html


def test_asking_for_information_needs_a_sensible_number_of_working_days(desk, app):
    """An answer period of 0, over 30 or not a number is refused with 422 beside the field, nothing written."""
    refund, _shop, _seller = request_in()
    before = footprint()
    for workdays in ("0", "31", "soon", ""):
        response = post(desk, refund.id, "needs-info", form("needs-info", due_workdays=workdays))
        assert response.status_code == 422, workdays
        assert 'id="info-due_workdays-error"' in response.text
    assert footprint() == before


def test_hold_then_release_are_explained_to_the_seller_and_audited(desk, app, agent):
    """Hold with a reason: ON_HOLD and the seller reads why; release: back UNDER_REVIEW; both audited."""
    refund, _shop, seller = request_in()
    message = "风险复核中，请耐心等待。"
    hold = form("hold", reason_code="NEW_DISPUTE", seller_message=message)
    assert post(desk, refund.id, "hold", hold).status_code == 303
    assert state_of(refund.id) == RefundState.ON_HOLD
    html = seller_page(app, seller, refund.id)
    assert shown_state(html) == RefundState.ON_HOLD
    assert "Reason: A new buyer dispute" in text_of(html) and message in html
    assert post(desk, refund.id, "release", form("release", expected_state="ON_HOLD")).status_code == 303
    assert state_of(refund.id) == RefundState.UNDER_REVIEW
    assert shown_state(seller_page(app, seller, refund.id)) == RefundState.UNDER_REVIEW
    details = audit_service.details_of
    moves = [(details(entry)["from_state"], details(entry)["to_state"], entry.actor_id)
             for entry in audit_of(refund.id) if entry.action.startswith("refund.")]
    assert moves == [("UNDER_REVIEW", "ON_HOLD", agent.id), ("ON_HOLD", "UNDER_REVIEW", agent.id)]


def test_an_htmx_decision_answers_with_the_refreshed_block(desk, app):
    """Posted by htmx, a decision returns 200 and the request block (new state, notice), not a redirect."""
    refund, _shop, _seller = request_in()
    response = post(desk, refund.id, "approve", htmx=True)
    assert response.status_code == 200
    assert "<html" not in response.text
    assert shown_state(response.text) == RefundState.APPROVED
    assert "Approved." in response.text
    assert f'action="/desk/refunds/{refund.id}/approve"' not in response.text  # no longer offered


def test_a_decision_the_table_does_not_allow_is_refused_with_a_message(desk, app):
    """Approving an ON_HOLD request (not allowed by the table) is a 422 with the reason, never a 500."""
    refund, _shop, _seller = request_in(RefundState.ON_HOLD)
    before = footprint()
    response = post(desk, refund.id, "approve", form("approve", expected_state="ON_HOLD"))
    assert response.status_code == 422
    assert "cannot become" in response.text
    assert footprint() == before


def test_desk_forms_keep_csrf_protection(csrf_app):
    """With CSRF on, a decision without the token is refused (400, nothing written); with it, it applies."""
    reason_codes()
    agent = staff(Role.AGENT)
    refund, _shop, _seller = request_in()
    client = signed_in(csrf_app, agent)
    before = footprint()
    assert post(client, refund.id, "approve").status_code == 400
    assert footprint() == before
    token = csrf_token(client.get(f"/desk/refunds/{refund.id}").text)
    response = client.post(f"/desk/refunds/{refund.id}/approve", data=form("approve"),
                           headers={"X-CSRFToken": token})
    assert response.status_code == 303
    assert state_of(refund.id) == RefundState.APPROVED


# --- the audit log ---------------------------------------------------------------------------

def test_audit_log_refuses_update_and_delete_in_the_database(app, agent):
    """UPDATE and DELETE on audit_log fail in the database itself (a trigger), and the row stays as it was."""
    entry = audit_service.record(agent, "payee.reveal", account="•••• 5678")
    for statement in (AuditLog.update(action="nothing.happened").where(AuditLog.id == entry.id),
                      AuditLog.delete().where(AuditLog.id == entry.id)):
        with pytest.raises(peewee.DatabaseError, match="append-only"):
            with db.atomic():
                statement.execute()
    with pytest.raises(peewee.DatabaseError, match="append-only"):
        with db.atomic():
            db.execute_sql("DELETE FROM audit_log")
    kept = AuditLog.get_by_id(entry.id)
    assert kept.action == "payee.reveal" and AuditLog.select().count() == 1


def test_audit_page_filters_by_action_person_and_request(desk, app, agent):
    """/desk/audit narrows to one action, one person (chosen by the name the page shows) or one request."""
    colleague = staff(Role.AGENT, "agent-zhou")
    first, _shop, _seller = request_in()
    second, _shop, _seller = request_in()
    other = signed_in(app, colleague)
    assert post(desk, first.id, "approve").status_code == 303
    assert post(other, second.id, "payee/reveal").status_code == 200
    assert post(other, second.id, "reject").status_code == 303
    everything = audit_items(desk.get("/desk/audit").text)
    assert [action for action, _text in everything] == ["refund.rejected", "payee.reveal", "refund.approved"]
    assert everything[0][1].endswith(f"agent-zhou rejected Request No. {second.id}: An unresolved complaint")
    assert everything[2][1].endswith(f"agent-lin approved Request No. {first.id} for ¥1,000.00")
    html = desk.get("/desk/audit").text
    people = Page(re.search(r'<select id="audit-actor".*?</select>', html, re.S).group(0)).find_all("option")
    assert {option.text: option["value"] for option in people}["agent-zhou"] == str(colleague.id)
    actions = Page(re.search(r'<select id="audit-action".*?</select>', html, re.S).group(0)).find_all("option")
    assert {option["value"]: option.text for option in actions}["payee.reveal"] == "Revealed an account number"
    by_action = audit_items(desk.get("/desk/audit?action=payee.reveal").text)
    assert [action for action, _text in by_action] == ["payee.reveal"]
    by_person = audit_items(desk.get(f"/desk/audit?actor={colleague.id}").text)
    assert [action for action, _text in by_person] == ["refund.rejected", "payee.reveal"]
    by_request = audit_items(desk.get(f"/desk/audit?request={first.id}").text)
    assert [action for action, _text in by_request] == ["refund.approved"]
    assert "agent-lin" in by_request[0][1]
    combined = audit_items(desk.get(f"/desk/audit?actor={colleague.id}&request={first.id}").text)
    assert combined == []
    nobody = desk.get("/desk/audit?actor=999999").text
    assert audit_items(nobody) == [] and "No entries match." in nobody


def test_audit_page_pages_back_with_older_entries(desk, app, agent):
    """120 entries: "Older entries" walks 50, 50, 20, newest first, each once."""
    now = utcnow()
    AuditLog.insert_many([{"actor": agent.id, "actor_role": Role.AGENT, "action": "refund.assign",
                           "details": json.dumps({"n": index}), "created_at": now}
                          for index in range(120)]).execute()
    seen, url, pages = [], "/desk/audit?action=refund.assign", 0
    while url:
        html = desk.get(url).text
        seen += [int(value) for value in re.findall(r'data-audit-id="(\d+)"', html)]
        pages += 1
        match = re.search(r'<a href="(/desk/audit\?[^"]*before=\d+[^"]*)">Older entries</a>', html)
        url = match.group(1).replace("&amp;", "&") if match else None
    assert pages == 3
    ids = [entry.id for entry in AuditLog.select().order_by(AuditLog.id.desc())]
    assert seen == ids and len(seen) == 120  # newest first, each once


# --- reason codes ----------------------------------------------------------------------------

def test_reasons_list_shows_every_code_in_both_languages(runner, agent):
    """`reasons list` prints each code with its Chinese and English label; --kind narrows it."""
    result = runner.invoke(args=["reasons", "list"])
    assert result.exit_code == 0
    assert "PENDING_COMPLAINT" in result.output and "存在未结案的投诉 / An unresolved complaint" in result.output
    assert "ACCOUNT_CLOSED" in result.output
    holds = runner.invoke(args=["reasons", "list", "--kind", "HOLD"]).output
    assert "RISK_REVIEW" in holds and "PENDING_COMPLAINT" not in holds


def test_a_new_reason_code_needs_its_kind_and_both_labels_and_is_then_offered(runner, desk, app):
    """`reasons set` refuses a new code without --kind/--label-zh/--label-en; with them it is on the reject form."""
    refused = runner.invoke(args=["reasons", "set", "SHOP_UNDER_AUDIT", "--kind", "REJECT", "--label-zh", "店铺审计中"])
    assert refused.exit_code != 0 and "--label-en" in refused.output
    assert ReasonCode.get_or_none(ReasonCode.code == "SHOP_UNDER_AUDIT") is None
    added = runner.invoke(args=["reasons", "set", "SHOP_UNDER_AUDIT", "--kind", "REJECT", "--label-zh", "店铺审计中",
                                "--label-en", "Shop under audit", "--message-zh", "店铺审计中，暂不退还。",
                                "--message-en", "Your shop is being audited."])
    assert added.exit_code == 0 and "Added SHOP_UNDER_AUDIT." in added.output
    refund, _shop, _seller = request_in()
    assert "SHOP_UNDER_AUDIT" in select_options(desk.get(f"/desk/refunds/{refund.id}").text, "reject-reason_code")
    template = desk.get("/desk/reasons/message?form=reject&reject-reason_code=SHOP_UNDER_AUDIT").text
    assert "Your shop is being audited." in template


def test_reasons_set_changes_only_the_texts_given(runner, agent):
    """Editing one language's message leaves the labels and the other language as they were."""
    result = runner.invoke(args=["reasons", "set", "PENDING_COMPLAINT", "--message-en", "Close the complaint first."])
    assert result.exit_code == 0 and "Updated PENDING_COMPLAINT." in result.output
    reason = ReasonCode.get(ReasonCode.code == "PENDING_COMPLAINT")
    assert reason.message_en == "Close the complaint first."
    assert reason.message_zh.startswith("您的店铺有一笔投诉尚未结案")
    assert (reason.label_zh, reason.label_en, reason.kind) == ("存在未结案的投诉", "An unresolved complaint", "REJECT")


def test_a_disabled_reason_code_leaves_the_reject_form_until_enabled(runner, desk, app):
    """`reasons disable` removes a code from the reject options (and refuses it); `enable` brings it back."""
    refund, _shop, _seller = request_in()
    page = f"/desk/refunds/{refund.id}"
    assert "PENDING_COMPLAINT" in select_options(desk.get(page).text, "reject-reason_code")
    result = runner.invoke(args=["reasons", "disable", "PENDING_COMPLAINT"])
    assert result.exit_code == 0 and "PENDING_COMPLAINT disabled." in result.output
    assert "(disabled)" in runner.invoke(args=["reasons", "list", "--kind", "REJECT"]).output
    options = select_options(desk.get(page).text, "reject-reason_code")
    assert "PENDING_COMPLAINT" not in options and "AMOUNT_INCORRECT" in options
    assert post(desk, refund.id, "reject", form("reject", reason_code="PENDING_COMPLAINT")).status_code == 422
    assert state_of(refund.id) == RefundState.UNDER_REVIEW
    assert runner.invoke(args=["reasons", "enable", "PENDING_COMPLAINT"]).exit_code == 0
    assert "PENDING_COMPLAINT" in select_options(desk.get(page).text, "reject-reason_code")
    missing = runner.invoke(args=["reasons", "disable", "NO_SUCH_CODE"])
    assert missing.exit_code != 0 and "no reason code 'NO_SUCH_CODE'" in missing.output


def test_init_db_seeds_reason_codes_once_and_keeps_operator_edits(runner, app):
    """init-db adds the reason codes; run again it adds none and leaves an edited text alone."""
    seeded = len(seed.REASON_CODES)
    first = runner.invoke(args=["init-db"])
    assert first.exit_code == 0 and "Database ready" in first.output
    assert ReasonCode.select().count() == seeded
    assert runner.invoke(args=["reasons", "set", "RISK_REVIEW", "--label-en", "Security review"]).exit_code == 0
    again = runner.invoke(args=["init-db"])
    assert again.exit_code == 0 and "0 reason code(s) and canned replies added" in again.output
    assert ReasonCode.select().count() == seeded
    assert ReasonCode.get(ReasonCode.code == "RISK_REVIEW").label_en == "Security review"


def test_old_requests_leave_the_overdue_count_when_finished(desk, app):
    """An overdue request stops counting as overdue once it is decided (rejected)."""
    refund, _shop, _seller = request_in(due_date=days_ago(3).date())
    assert chip_counts(desk.get("/desk").text)["overdue"] == 1
    assert post(desk, refund.id, "reject").status_code == 303
    assert chip_counts(desk.get("/desk").text) == {"open": 0, "overdue": 0, "mine": 0, "unassigned": 0}


def test_checks_poll_builds_only_its_own_block(desk, app):
    """The pre-checks poll runs the pre-checks and nothing else of the page (about a third of its queries)."""
    refund, _shop, _seller = request_in()
    url = f"/desk/refunds/{refund.id}/checks"
    desk.get(url, headers=HX)  # warm up what a process does once

    def statements(headers):
        """The SQL statements one call runs."""
        with count_queries() as counter:
            assert desk.get(url, headers=headers).status_code == 200
        return [record.msg[0] for record in counter.get_queries()]

    fragment, page = statements(HX), statements({})
    assert len(fragment) < len(page) / 2, (len(fragment), len(page))
    # Nothing the block does not show: no audit log, no payout attempts, no previous requests.
    assert not any('FROM "audit_log"' in sql or 'FROM "payout_attempt"' in sql for sql in fragment)


def test_an_inline_decision_refreshes_the_side_panels_out_of_band(desk, app):
    """An htmx approval for less than asked brings the new held amount and pre-checks for the aside too."""
    refund, shop, _seller = request_in()
    page = desk.get(f"/desk/refunds/{refund.id}").text
    assert figure(section(page, "desk-deposit"), "Held for refunds") == format_fen(AMOUNT_FEN)
    assert 'hx-swap-oob' not in page  # the full page has each panel once
    response = post(desk, refund.id, "approve", form("approve", amount="600.00"), htmx=True)
    assert response.status_code == 200
    fragment = response.text
    oob = re.search(r'<section class="card" id="desk-deposit" hx-swap-oob="true">(.*?)</section>', fragment, re.S)
    assert oob, "no out-of-band deposit panel"
    assert figure(oob.group(1), "Held for refunds") == format_fen(60_000)
    assert figure(oob.group(1), "Balance") == figure(section(page, "desk-deposit"), "Balance")
    assert re.search(r'id="desk-checks" hx-swap-oob="innerHTML"', fragment)
    assert fragment.count('id="desk-deposit"') == 1
