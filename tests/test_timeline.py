"""The seller's request page: timeline, whose turn, expected date, live refresh, seller actions, notices.

Every test runs on SQLite and PostgreSQL (the ``app`` fixture). Pages are read the way a person reads
them: the text and the markup hooks (``data-refund-state``, ``data-expected``, ``data-figure``).
"""
import datetime
import re

import pytest
from playhouse.test_utils import count_queries

from portal.accounts.models import User
from portal.core import money
from portal.core.clock import utcnow
from portal.core.vocabulary import Actor, EntryType, RefundKind, RefundState, Role
from portal.core.workdays import WorkCalendar
from portal.notifications.models import Notification
from portal.refunds import service as refund_service
from portal.refunds import states
from portal.refunds.models import ReasonCode, RefundEvent, RefundRequest
from portal.web import htmx
from tests.conftest import htmx_headers
from tests.factories import Page, figures_on, idempotency_key, make_user, ready_seller, sign_in
from tests.workflow_helpers import (
    SURPLUS_FEN,
    backdate,
    database,
    entries_of,
    event_count,
    held,
    request_in,
    staff,
    state_of,
    text_of,
    waiting_full_exit,
)

SEPT_30_17_UTC = datetime.datetime(2025, 9, 30, 17, 0)  # 2025-10-01 01:00 in Shanghai, a holiday
MARKER = "INTERNAL-7f3c9e-do-not-show"


def english(client):
    """Read the pages in English (the language switch's cookie)."""
    client.set_cookie("lang", "en")


def state_element(html):
    """The element carrying the request's state."""
    return Page(html).find(data_refund_state=True)


def poller(html):
    """The live poll element of a status block, or None when polling has ended."""
    found = Page(html).find_all(id="refund-poll")
    return found[0] if found else None


def flashes(html):
    """The flash messages on a page, as text."""
    return [element.text for element in Page(html).with_class("flash", tag="div")]


def status_url(refund, version=None):
    """The live status fragment's URL for a version the page has."""
    return f"/refunds/{refund.id}/status?v={refund.version if version is None else version}"


# --- the timeline ------------------------------------------------------------------------------


def test_timeline_lists_seller_visible_events_with_labels_and_shanghai_times(app, client):
    """Each event shows its state label and its time in Asia/Shanghai (17:00 UTC is 01:00 the next day)."""
    with database(app):
        refund, _shop, seller = request_in(RefundState.NEEDS_INFO, now=SEPT_30_17_UTC)
    sign_in(client, seller)

    chinese = client.get(f"/refunds/{refund.id}").get_data(as_text=True)
    times = Page(chinese).find_all("time", datetime="2025-09-30T17:00:00Z")
    assert times, "the submission's time is not on the page"
    assert any("2025年10月1日" in element.text and "01:00" in element.text for element in times), times

    english(client)
    page = Page(client.get(f"/refunds/{refund.id}").get_data(as_text=True))
    entries = page.find_all("li", data_event_state=True)
    assert [entry["data-event-state"] for entry in entries] == [
        RefundState.NEEDS_INFO, RefundState.UNDER_REVIEW, RefundState.SUBMITTED]  # newest first
    labels = [entry.text for entry in entries]
    assert "Waiting for your information" in labels[0] and "请补充材料。" in labels[0]
    assert "Under review" in labels[1]
    assert "Submitted" in labels[2]
    submitted_time = page.find_all("time", datetime="2025-09-30T17:00:00Z")
    assert any(re.search(r"Oct 1, 2025.*\b1:00", element.text) for element in submitted_time), submitted_time


def test_a_rejection_shows_the_reason_label_and_the_seller_message(demo_data, client, auth):
    """The demo's rejected request shows PENDING_COMPLAINT's label (from the reason table) and the message."""
    auth.login("seller-ok")
    with database(demo_data):
        seller = User.get(User.username == "seller-ok")
        rejected = RefundRequest.get((RefundRequest.shop == seller.shop_id)
                                     & (RefundRequest.state == RefundState.REJECTED))
        reason = ReasonCode.get(ReasonCode.code == "PENDING_COMPLAINT")
    html = client.get(f"/refunds/{rejected.id}").get_data(as_text=True)
    entry = Page(html).find("li", data_event_state=RefundState.REJECTED)
    assert reason.label_zh in entry.text
    assert "有一笔买家投诉尚未结案，结案后可重新申请。" in entry.text
    assert state_element(html)["data-refund-state"] == RefundState.REJECTED

    english(client)
    entry = Page(client.get(f"/refunds/{rejected.id}").get_data(as_text=True)).find(
        "li", data_event_state=RefundState.REJECTED)
    assert reason.label_en in entry.text


@pytest.mark.parametrize("state", [RefundState.UNDER_REVIEW, RefundState.NEEDS_INFO, RefundState.ON_HOLD,
                                   RefundState.APPROVED, RefundState.PAYOUT_PROCESSING, RefundState.REJECTED,
                                   RefundState.COMPLETED])
def test_the_page_says_whose_turn_it_is(app, client, state):
    """The turn line carries ``turn-<whose>`` for the state (you, support, finance, nobody)."""
    with database(app):
        refund, _shop, seller = request_in(state)
    sign_in(client, seller)
    page = Page(client.get(f"/refunds/{refund.id}").get_data(as_text=True))
    turns = [element for element in page.with_class("turn") if element.tag == "p"]
    assert len(turns) == 1
    assert f"turn-{states.TURNS[state]}" in turns[0]["class"].split()


def test_the_waiting_period_is_the_platforms_turn(app, client):
    """A full exit in its waiting period shows the platform's turn and when review starts."""
    with database(app):
        refund, _shop, seller = waiting_full_exit()
    sign_in(client, seller)
    english(client)
    html = client.get(f"/refunds/{refund.id}").get_data(as_text=True)
    assert Page(html).with_class("turn-waiting")
    assert "Review starts on" in text_of(html)


def test_expected_date_is_the_last_working_day_of_the_window(app, client):
    """``data-expected`` is the 7th working day after review starts, on the holiday calendar."""
    with database(app):
        refund, _shop, seller = request_in(RefundState.UNDER_REVIEW, now=SEPT_30_17_UTC)
    sign_in(client, seller)
    english(client)
    html = client.get(f"/refunds/{refund.id}").get_data(as_text=True)
    expected = WorkCalendar().window(refund.created_at, app.config["REFUND_MIN_WORKDAYS"],
                                     app.config["REFUND_MAX_WORKDAYS"]).latest
    # Submitted on Oct 1 (Shanghai): the National Day week is off, Sat Oct 11 is a make-up day.
    assert expected == datetime.date(2025, 10, 16)
    element = Page(html).find(data_expected=True)
    assert element["data-expected"] == expected.isoformat()
    assert "Oct 16, 2025" in element.text  # the page's one date format (medium)


def test_the_held_amount_follows_the_ledger(app, client):
    """The page shows what is held for the request, and the lower amount after a partial approval."""
    with database(app):
        refund, _shop, seller = request_in(RefundState.UNDER_REVIEW)
    sign_in(client, seller)
    assert figures_on(client.get(f"/refunds/{refund.id}").get_data(as_text=True))["held"] == "¥1,000.00"
    with database(app):
        refund_service.transition(refund.id, RefundState.APPROVED, staff(Role.AGENT), Actor.AGENT, approved_fen=60_000)
    assert figures_on(client.get(f"/refunds/{refund.id}").get_data(as_text=True))["held"] == "¥600.00"


def test_internal_notes_never_reach_the_seller(app, client):
    """A note written for staff appears on no seller page, fragment or notification list."""
    with database(app):
        refund, shop, seller = request_in(RefundState.NEEDS_INFO, internal_note=MARKER)
        agent = staff(Role.AGENT)
        refund_service.transition(refund.id, RefundState.UNDER_REVIEW, seller, Actor.SELLER,
                             seller_message="已上传凭证。", internal_note=MARKER)
        refund_service.transition(refund.id, RefundState.ON_HOLD, agent, Actor.AGENT,
                             seller_message="风险复核中。", internal_note=MARKER)
        assert RefundEvent.select().where(RefundEvent.internal_note == MARKER).count() == 3
    sign_in(client, seller)
    for language in ("zh_CN", "en"):
        client.set_cookie("lang", language)
        pages = {
            "list": client.get("/refunds"),
            "page": client.get(f"/refunds/{refund.id}"),
            "fragment": client.get(status_url(refund, version=1), headers=htmx_headers("#refund-status")),
            "status page": client.get(status_url(refund, version=1)),
            "notifications": client.get("/notifications"),
            "deposit": client.get("/deposit"),
        }
        for name, response in pages.items():
            assert response.status_code == 200, name
            assert MARKER not in response.get_data(as_text=True), name
    assert "风险复核中。" in pages["page"].get_data(as_text=True)


# --- live refresh --------------------------------------------------------------------------------


def test_an_unchanged_version_answers_204_without_rendering(app, client, monkeypatch):
    """With the current ``v`` the status answers 204 with no body, in at most 3 queries, rendering nothing."""
    with database(app):
        refund, _shop, seller = request_in(RefundState.UNDER_REVIEW)
    sign_in(client, seller)

    def must_not_render(*args, **kwargs):
        raise AssertionError("the 204 path rendered a template")

    monkeypatch.setattr(htmx, "render", must_not_render)
    monkeypatch.setattr("portal.refunds.views._status_context", must_not_render)
    with count_queries() as queries:
        response = client.get(status_url(refund), headers=htmx_headers("#refund-status"))
    assert response.status_code == 204
    assert response.get_data() == b""
    assert queries.count <= 3, [record.msg for record in queries.get_queries()]


def test_a_new_version_answers_the_fragment_with_the_next_poll(app, client):
    """After a change the old ``v`` gets the status block alone: new state, new version, an announcement."""
    with database(app):
        refund, _shop, seller = request_in(RefundState.UNDER_REVIEW)
        old_version = refund.version
        moved = refund_service.transition(refund.id, RefundState.NEEDS_INFO, staff(Role.AGENT), Actor.AGENT,
                                     seller_message="请上传缴纳凭证。")
    sign_in(client, seller)
    response = client.get(status_url(refund, version=old_version), headers=htmx_headers("#refund-status"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html
    assert state_element(html)["data-refund-state"] == RefundState.NEEDS_INFO
    poll = poller(html)
    assert poll is not None
    assert poll["hx-get"].endswith(f"/refunds/{refund.id}/status?v={moved.version}")
    assert moved.version == old_version + 1
    announcement = Page(html).find(id="refund-announce")
    assert announcement["hx-swap-oob"] == "innerHTML"
    assert announcement.text
    assert "HX-Request" in response.headers.get("Vary", "")


def test_the_status_url_without_htmx_is_the_whole_page(app, client):
    """Without JavaScript the same URL (and the page itself) shows the current state in a full page."""
    with database(app):
        refund, _shop, seller = request_in(RefundState.APPROVED)
    sign_in(client, seller)
    for url in (f"/refunds/{refund.id}", status_url(refund, version=1)):
        html = client.get(url).get_data(as_text=True)
        assert "<html" in html
        assert state_element(html)["data-refund-state"] == RefundState.APPROVED


def test_a_final_state_ends_the_polling(app, client):
    """A rejected request's page and fragment carry no poller."""
    with database(app):
        refund, _shop, seller = request_in(RefundState.REJECTED)
    sign_in(client, seller)
    assert poller(client.get(f"/refunds/{refund.id}").get_data(as_text=True)) is None
    fragment = client.get(status_url(refund, version=1), headers=htmx_headers("#refund-status"))
    assert fragment.status_code == 200
    assert state_element(fragment.get_data(as_text=True))["data-refund-state"] == RefundState.REJECTED
    assert poller(fragment.get_data(as_text=True)) is None


@pytest.mark.parametrize(("state", "changed_ago", "setting"), [
    (RefundState.UNDER_REVIEW, datetime.timedelta(minutes=1), "POLL_FAST_SECONDS"),
    (RefundState.UNDER_REVIEW, datetime.timedelta(hours=3), "POLL_SLOW_SECONDS"),
    (RefundState.APPROVED, datetime.timedelta(hours=3), "POLL_SLOW_SECONDS"),
    (RefundState.PAYOUT_PROCESSING, datetime.timedelta(hours=3), "POLL_FAST_SECONDS"),
    (RefundState.NEEDS_INFO, datetime.timedelta(hours=3), "POLL_IDLE_SECONDS"),
    (RefundState.WAITING_PERIOD, datetime.timedelta(hours=3), "POLL_IDLE_SECONDS"),
])
def test_the_server_chooses_the_poll_interval(app, client, state, changed_ago, setting):
    """Fast right after a change or during a payout, slow while staff have it, idle while waiting."""
    with database(app):
        if state == RefundState.WAITING_PERIOD:
            refund, _shop, seller = waiting_full_exit()
        else:
            refund, _shop, seller = request_in(state)
        backdate(refund.id, utcnow() - changed_ago)
    sign_in(client, seller)
    poll = poller(client.get(f"/refunds/{refund.id}").get_data(as_text=True))
    assert f"every {app.config[setting]}s" in poll["hx-trigger"]


def test_someone_elses_request_is_not_found(app, client):
    """Another seller's request answers 404 on the page, the fragment and the actions."""
    with database(app):
        refund, _shop, _owner = request_in(RefundState.UNDER_REVIEW)
        _other_shop, stranger = ready_seller()
    sign_in(client, stranger)
    assert client.get(f"/refunds/{refund.id}").status_code == 404
    assert client.get(status_url(refund), headers=htmx_headers("#refund-status")).status_code == 404
    assert client.post(f"/refunds/{refund.id}/cancel",
                       data={"expected_state": RefundState.UNDER_REVIEW}).status_code == 404
    with database(app):
        assert state_of(refund.id) == RefundState.UNDER_REVIEW


def test_anonymous_visitors_are_sent_to_sign_in(app, client):
    """No session: the page redirects to /login, and an htmx poll gets HX-Redirect instead."""
    with database(app):
        refund, _shop, _seller = request_in(RefundState.UNDER_REVIEW)
    page = client.get(f"/refunds/{refund.id}")
    assert page.status_code in (302, 303)
    assert "/login" in page.headers["Location"]
    poll = client.get(status_url(refund), headers=htmx_headers("#refund-status"))
    assert "/login" in poll.headers.get("HX-Redirect", "")
    assert "refund-status" not in poll.get_data(as_text=True)


# --- seller actions -----------------------------------------------------------------------------


def test_cancelling_before_approval_releases_the_hold(app, client):
    """Cancel: CANCELLED, a hold release equal to the hold, nothing held, deposit figures restored."""
    with database(app):
        refund, _shop, seller = request_in(RefundState.UNDER_REVIEW)
    sign_in(client, seller)
    english(client)
    before = figures_on(client.get("/deposit").get_data(as_text=True))
    assert before["held"] == "¥1,000.00" and before["refundable"] == "¥2,000.00"

    response = client.post(f"/refunds/{refund.id}/cancel", data={"expected_state": RefundState.UNDER_REVIEW})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/refunds/{refund.id}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert state_element(page)["data-refund-state"] == RefundState.CANCELLED
    assert any("cancelled" in message for message in flashes(page))
    with database(app):
        assert entries_of(refund.id, EntryType.REFUND_HOLD_RELEASE) == [SURPLUS_FEN]
        assert held(refund.id) == 0
    after = figures_on(client.get("/deposit").get_data(as_text=True))
    assert after["held"] == "¥0.00" and after["refundable"] == "¥3,000.00"


def test_cancelling_by_htmx_redirects_the_browser(app, client):
    """An htmx cancel gets HX-Redirect to the request (no 3xx to swap), and the request is cancelled."""
    with database(app):
        refund, _shop, seller = request_in(RefundState.NEEDS_INFO)
    sign_in(client, seller)
    response = client.post(f"/refunds/{refund.id}/cancel", data={"expected_state": RefundState.NEEDS_INFO},
                           headers=htmx_headers())
    assert response.headers["HX-Redirect"].endswith(f"/refunds/{refund.id}")
    with database(app):
        assert state_of(refund.id) == RefundState.CANCELLED


def test_an_approved_request_cannot_be_cancelled(app, client):
    """Approved: no cancel button; a forged cancel is refused with a message and changes nothing."""
    with database(app):
        refund, _shop, seller = request_in(RefundState.APPROVED)
        events, rows = event_count(refund.id), len(entries_of(refund.id, EntryType.REFUND_HOLD_RELEASE))
    sign_in(client, seller)
    english(client)
    page = client.get(f"/refunds/{refund.id}").get_data(as_text=True)
    assert f"/refunds/{refund.id}/cancel" not in page

    response = client.post(f"/refunds/{refund.id}/cancel", data={"expected_state": RefundState.APPROVED},
                           follow_redirects=True)
    assert response.status_code == 200
    assert any("cannot" in message for message in flashes(response.get_data(as_text=True)))
    with database(app):
        assert state_of(refund.id) == RefundState.APPROVED
        assert event_count(refund.id) == events
        assert len(entries_of(refund.id, EntryType.REFUND_HOLD_RELEASE)) == rows
        assert held(refund.id) == SURPLUS_FEN


def test_a_refused_cancel_names_the_states_as_the_seller_knows_them(app, client):
    """The refusal names the states by their labels, not their internal codes."""
    with database(app):
        refund, _shop, seller = request_in(RefundState.APPROVED)
    sign_in(client, seller)
    english(client)
    response = client.post(f"/refunds/{refund.id}/cancel", data={"expected_state": RefundState.APPROVED},
                           follow_redirects=True)
    message = " ".join(flashes(response.get_data(as_text=True)))
    assert "Approved, awaiting payout" in message
    assert "APPROVED" not in message and "CANCELLED" not in message


def test_a_stale_cancel_says_the_request_changed(app, client):
    """Cancelling from a page that showed UNDER_REVIEW after approval: a clear collision notice, no change."""
    with database(app):
        refund, _shop, seller = request_in(RefundState.APPROVED)
        events = event_count(refund.id)
    sign_in(client, seller)
    english(client)
    response = client.post(f"/refunds/{refund.id}/cancel", data={"expected_state": RefundState.UNDER_REVIEW},
                           follow_redirects=True)
    assert response.status_code == 200
    message = " ".join(flashes(response.get_data(as_text=True)))
    assert "changed while you were looking" in message
    assert "Approved, awaiting payout" in message
    with database(app):
        assert state_of(refund.id) == RefundState.APPROVED
        assert event_count(refund.id) == events


def test_an_empty_answer_is_refused_beside_the_field(app, client):
    """Answering with nothing (or blanks) re-renders with 422 and the error, as a page and as a fragment."""
    with database(app):
        refund, _shop, seller = request_in(RefundState.NEEDS_INFO)
    sign_in(client, seller)
    english(client)
    page = client.post(f"/refunds/{refund.id}/answer", data={"message": ""})
    assert page.status_code == 422
    assert "<html" in page.get_data(as_text=True)
    assert "Write your answer to support." in page.get_data(as_text=True)
    fragment = client.post(f"/refunds/{refund.id}/answer", data={"message": "   "},
                           headers=htmx_headers("#refund-status"))
    assert fragment.status_code == 422
    html = fragment.get_data(as_text=True)
    assert "<html" not in html and "Write your answer to support." in html
    assert state_element(html)["data-refund-state"] == RefundState.NEEDS_INFO
    with database(app):
        assert state_of(refund.id) == RefundState.NEEDS_INFO


def test_an_answer_sends_the_request_back_to_review(app, client):
    """The answer moves the request to UNDER_REVIEW and shows in the timeline."""
    with database(app):
        refund, _shop, seller = request_in(RefundState.NEEDS_INFO)
    sign_in(client, seller)
    response = client.post(f"/refunds/{refund.id}/answer", data={"message": "  缴纳凭证已上传，请查收。 "})
    assert response.status_code == 303
    html = client.get(f"/refunds/{refund.id}").get_data(as_text=True)
    assert state_element(html)["data-refund-state"] == RefundState.UNDER_REVIEW
    entry = Page(html).find_all("li", data_event_state=RefundState.UNDER_REVIEW)[0]  # newest first
    assert "缴纳凭证已上传，请查收。" in entry.text
    with database(app):
        event = RefundEvent.select().where(RefundEvent.request == refund.id).order_by(RefundEvent.id.desc()).get()
        assert (event.from_state, event.to_state, event.actor_role) == (
            RefundState.NEEDS_INFO, RefundState.UNDER_REVIEW, Actor.SELLER)
        assert event.seller_message == "缴纳凭证已上传，请查收。"


def test_answering_twice_is_a_collision_not_an_error(app, client):
    """A second answer (the request is back in review) gets the collision notice, not a 500."""
    with database(app):
        refund, _shop, seller = request_in(RefundState.NEEDS_INFO)
    sign_in(client, seller)
    english(client)
    client.post(f"/refunds/{refund.id}/answer", data={"message": "第一次"})
    again = client.post(f"/refunds/{refund.id}/answer", data={"message": "第二次"}, follow_redirects=True)
    assert again.status_code == 200
    assert any("changed while you were looking" in message for message in flashes(again.get_data(as_text=True)))
    with database(app):
        assert event_count(refund.id, RefundState.UNDER_REVIEW) == 2  # the system's first step and one answer


def test_resubmitting_after_a_rejection_links_a_fresh_request(app, client):
    """?resubmit= prefills kind and amount; the new request links back and gets its own expected date."""
    with database(app):
        old, _shop, seller = request_in(RefundState.REJECTED, now=utcnow() - datetime.timedelta(days=20))
    sign_in(client, seller)
    english(client)
    page = client.get(f"/refunds/{old.id}").get_data(as_text=True)
    assert f"/refunds/new?resubmit={old.id}" in page

    form_html = client.get(f"/refunds/new?resubmit={old.id}").get_data(as_text=True)
    form = Page(form_html)
    assert form.find("input", name="resubmission_of")["value"] == str(old.id)
    assert form.find("input", name="amount")["value"] == money.fen_to_yuan_text(old.requested_fen)
    assert form.find("input", name="kind")["value"] == old.kind

    response = client.post("/refunds/new", data={
        "kind": old.kind, "amount": money.fen_to_yuan_text(old.requested_fen), "confirm_payee": "y",
        "idempotency_key": idempotency_key(form_html), "resubmission_of": str(old.id)})
    assert response.status_code == 303
    with database(app):
        new = RefundRequest.get(RefundRequest.resubmission_of == old.id)
        assert new.id != old.id and new.state == RefundState.UNDER_REVIEW
        assert new.requested_fen == old.requested_fen
        expected = WorkCalendar().window(new.created_at, app.config["REFUND_MIN_WORKDAYS"],
                                         app.config["REFUND_MAX_WORKDAYS"]).latest
    new_page = client.get(f"/refunds/{new.id}").get_data(as_text=True)
    assert Page(new_page).find(data_expected=True)["data-expected"] == expected.isoformat()
    assert expected > old.created_at.date() + datetime.timedelta(days=14)
    assert f'href="/refunds/{old.id}"' in new_page


def test_resubmitting_someone_elses_request_is_ignored(app, client):
    """Another shop's rejected request id neither prefills the form nor links the new request."""
    with database(app):
        theirs, _their_shop, _them = request_in(RefundState.REJECTED)
        _shop, seller = ready_seller()
    sign_in(client, seller)
    form_html = client.get(f"/refunds/new?resubmit={theirs.id}").get_data(as_text=True)
    assert Page(form_html).find("input", name="resubmission_of").get("value", "") == ""
    response = client.post("/refunds/new", data={
        "kind": RefundKind.SURPLUS, "amount": "500", "confirm_payee": "y",
        "idempotency_key": idempotency_key(form_html), "resubmission_of": str(theirs.id)})
    assert response.status_code == 303
    with database(app):
        mine = RefundRequest.get(RefundRequest.shop == seller.shop_id)
        assert mine.resubmission_of_id is None
        assert RefundRequest.select().where(RefundRequest.resubmission_of == theirs.id).count() == 0


# --- notifications ------------------------------------------------------------------------------


def test_an_agents_move_notifies_every_active_seller_of_the_shop(app):
    """One notification per active seller account; none for a deactivated one or for staff."""
    with database(app):
        refund, shop, seller = request_in(RefundState.UNDER_REVIEW)
        colleague = make_user(shop=shop)
        retired = make_user(shop=shop, active=False)
        assert Notification.select().count() == 0  # the automatic step after submitting is not news
        refund_service.transition(refund.id, RefundState.NEEDS_INFO, staff(Role.AGENT), Actor.AGENT,
                             seller_message="请补充。")
        notified = sorted(user for (user,) in Notification.select(Notification.user).tuples())
        assert notified == sorted([seller.id, colleague.id])
        assert retired.id not in notified
        assert {notice.state for notice in Notification.select()} == {RefundState.NEEDS_INFO}


def test_the_sellers_own_actions_notify_nobody(app, client):
    """Answering and cancelling through the pages create no notifications."""
    with database(app):
        refund, _shop, seller = request_in(RefundState.NEEDS_INFO)
        before = Notification.select().count()
    sign_in(client, seller)
    client.post(f"/refunds/{refund.id}/answer", data={"message": "已上传。"})
    client.post(f"/refunds/{refund.id}/cancel", data={"expected_state": RefundState.UNDER_REVIEW})
    with database(app):
        assert state_of(refund.id) == RefundState.CANCELLED
        assert Notification.select().count() == before


def test_notifications_page_badge_open_and_mark_all_read(app, client):
    """The header counts unread notices; opening one marks it read and goes to the request; all can be read."""
    with database(app):
        refund, _shop, seller = request_in(RefundState.ON_HOLD)  # one notice: ON_HOLD
        refund_service.transition(refund.id, RefundState.UNDER_REVIEW, staff(Role.AGENT), Actor.AGENT)  # two
        first, second = list(Notification.select().where(Notification.user == seller.id).order_by(Notification.id))
    sign_in(client, seller)
    english(client)
    page = Page(client.get("/deposit").get_data(as_text=True))
    assert [badge.text for badge in page.with_class("badge")] == ["2 unread"]

    listing = Page(client.get("/notifications").get_data(as_text=True))
    links = [element["href"] for element in listing.find_all("a") if "/notifications/" in element.get("href", "")]
    assert f"/notifications/{first.id}" in links and f"/notifications/{second.id}" in links
    assert len(listing.with_class("unread", tag="li")) == 2
    assert f"Request No. {refund.id} is now: On hold" in listing.with_class("notice-list", tag="ul")[0].text

    opened = client.get(f"/notifications/{first.id}")
    assert opened.status_code == 303 and opened.headers["Location"].endswith(f"/refunds/{refund.id}")
    with database(app):
        assert Notification.get_by_id(first.id).read_at is not None
        assert Notification.get_by_id(second.id).read_at is None
    badge = Page(client.get("/notifications").get_data(as_text=True)).with_class("badge")
    assert [element.text for element in badge] == ["1 unread"]

    marked = client.post("/notifications/read", headers=htmx_headers())
    assert marked.status_code == 204
    assert marked.headers["HX-Redirect"].endswith("/notifications")
    with database(app):
        assert Notification.unread_count(seller.id) == 0
    assert not Page(client.get("/notifications").get_data(as_text=True)).with_class("badge")
    assert client.post("/notifications/read").status_code == 303  # without JavaScript: a plain redirect


def test_someone_elses_notification_is_not_found(app, client):
    """Opening another user's notification answers 404 and leaves it unread."""
    with database(app):
        _refund, _shop, owner = request_in(RefundState.NEEDS_INFO)
        notice = Notification.get(Notification.user == owner.id)
        _other_shop, stranger = ready_seller()
    sign_in(client, stranger)
    assert client.get(f"/notifications/{notice.id}").status_code == 404
    client.post("/notifications/read")
    with database(app):
        assert Notification.get_by_id(notice.id).read_at is None


def test_the_notifications_page_needs_a_session(app, client):
    """Anonymous visitors are sent to sign in."""
    response = client.get("/notifications")
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]
