"""``tick``: waiting periods, NEEDS_INFO expiry, the e-mail outbox over real SMTP, and the command itself.

The SMTP server is aiosmtpd, started by the test on a free local port; a "broken" server is a port
nobody listens on (connection refused).
"""
import datetime

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _

from portal.accounts.models import User
from portal.core.clock import utcnow
from portal.core.db import db
from portal.core.vocabulary import Actor, EntryType, RefundState, Role
from portal.disputes.models import Dispute
from portal.notifications.models import Notification, OutboxEmail
from portal.ops import tick as scheduled
from portal.refunds import service as refund_service
from portal.refunds.labels import state_label
from portal.refunds.models import RefundEvent, RefundRequest
from portal.shops.models import Shop
from tests.factories import Page, sign_in
from tests.workflow_helpers import (
    at_same_time,
    body_of,
    database,
    entries_of,
    free_port,
    held,
    request_in,
    smtp_server,
    staff,
    state_of,
    text_of,
    waiting_full_exit,
    with_reason_codes,
)

PUBLIC_URL = "https://deposit.example.com"
MINUTE = datetime.timedelta(minutes=1)
# Asked on 2025-09-30 (10:00 in Shanghai): working days 1-5 after it are Oct 9, 10, 11 (a make-up
# Saturday), 13 and 14, so the last day to answer is Oct 14 and the request expires on Oct 15.
ASKED_AT = datetime.datetime(2025, 9, 30, 1, 0)  # submitted; NEEDS_INFO an hour later
LAST_MOMENT_OF_OCT_14 = datetime.datetime(2025, 10, 14, 15, 59)  # 23:59 in Shanghai
FIRST_MOMENT_OF_OCT_15 = datetime.datetime(2025, 10, 14, 16, 0)  # 00:00 on Oct 15 in Shanghai


def invoke_tick(app, runner):
    """``flask --app portal tick`` (the real ``flask`` group pushes the app context; the test runner does not)."""
    with app.app_context():
        return runner.invoke(args=["tick"])


def tick(app, now=None):
    """One run of the scheduler in the app's context."""
    with database(app):
        return scheduled.run(app.config, now=now)


def waiting_request(app):
    """A full exit in its waiting period, 50 days before its review starts."""
    with database(app):
        return waiting_full_exit()


# --- waiting periods -----------------------------------------------------------------------------


def test_a_waiting_period_ends_into_review_when_it_is_due(app):
    """Before review_starts_at nothing moves; at it the request goes to UNDER_REVIEW, once."""
    refund, _shop, _seller = waiting_request(app)
    starts = refund.review_starts_at
    assert starts > utcnow() + datetime.timedelta(days=49)

    early = tick(app, now=starts - MINUTE)
    assert early.reviews_started == []
    with database(app):
        assert state_of(refund.id) == RefundState.WAITING_PERIOD

    due = tick(app, now=starts)
    assert due.reviews_started == [refund.id]
    again = tick(app, now=starts + MINUTE)
    assert again.reviews_started == []
    with database(app):
        event = RefundEvent.select().where(RefundEvent.request == refund.id).order_by(RefundEvent.id.desc()).get()
        assert (event.from_state, event.to_state, event.actor_role) == (
            RefundState.WAITING_PERIOD, RefundState.UNDER_REVIEW, Actor.SYSTEM)
        assert RefundEvent.select().where(RefundEvent.to_state == RefundState.UNDER_REVIEW).count() == 1


def test_a_new_dispute_puts_the_request_on_hold_at_review_start(app, client):
    """A dispute opened during the waiting period: ON_HOLD with OPEN_DISPUTE, shown in the timeline."""
    refund, shop, seller = waiting_request(app)
    with database(app):
        with_reason_codes()
        Dispute.create(shop=shop.id, order_number="6928374651029384756", complaint="买家称商品破损")
    report = tick(app, now=refund.review_starts_at)
    assert report.put_on_hold == [refund.id]
    with database(app):
        assert state_of(refund.id) == RefundState.ON_HOLD
        event = RefundEvent.select().where(RefundEvent.request == refund.id).order_by(RefundEvent.id.desc()).get()
        assert "OPEN_DISPUTE" in event.blocker_codes.split(",")
        assert held(refund.id) == refund.requested_fen  # on hold keeps the money set aside
    sign_in(client, seller)
    client.set_cookie("lang", "en")
    entry = Page(client.get(f"/refunds/{refund.id}").get_data(as_text=True)).find(
        "li", data_event_state=RefundState.ON_HOLD)
    assert "Open buyer dispute" in entry.text
    assert "On hold" in entry.text
    assert "A pre-check no longer passes" in entry.text  # the reason's label, from the reason table


def test_one_failing_request_does_not_stop_the_rest_of_the_tick(app, monkeypatch):
    """A step that raises is reported and skipped; the other due requests still move."""
    broken, _shop, _seller = waiting_request(app)
    healthy, _other_shop, _other_seller = waiting_request(app)
    real_start = refund_service.start_review_if_due

    def start_review(request_id, *args, **kwargs):
        if request_id == broken.id:
            raise RuntimeError("simulated failure of one request")
        return real_start(request_id, *args, **kwargs)

    monkeypatch.setattr(refund_service, "start_review_if_due", start_review)
    report = tick(app, now=max(broken.review_starts_at, healthy.review_starts_at))
    assert report.errors == [broken.id]
    assert report.reviews_started == [healthy.id]
    assert "errors 1" in report.summary()
    with database(app):
        assert state_of(broken.id) == RefundState.WAITING_PERIOD
        assert state_of(healthy.id) == RefundState.UNDER_REVIEW


# --- NEEDS_INFO expiry ---------------------------------------------------------------------------


def test_an_unanswered_question_expires_after_five_working_days(app, client):
    """Asked on Sept 30: still open at the end of Oct 14 (Shanghai), expired on Oct 15, hold released."""
    assert app.config["NEEDS_INFO_EXPIRY_WORKDAYS"] == 5
    with database(app):
        refund, _shop, seller = request_in(RefundState.NEEDS_INFO, now=ASKED_AT)
    sign_in(client, seller)
    client.set_cookie("lang", "en")
    assert "Please answer by Oct 14, 2025" in text_of(client.get(f"/refunds/{refund.id}").get_data(as_text=True))

    assert tick(app, now=LAST_MOMENT_OF_OCT_14).expired == []
    with database(app):
        assert state_of(refund.id) == RefundState.NEEDS_INFO
        assert held(refund.id) == refund.requested_fen

    assert tick(app, now=FIRST_MOMENT_OF_OCT_15).expired == [refund.id]
    assert tick(app, now=FIRST_MOMENT_OF_OCT_15 + MINUTE).expired == []
    with database(app):
        assert state_of(refund.id) == RefundState.EXPIRED
        assert entries_of(refund.id, EntryType.REFUND_HOLD_RELEASE) == [refund.requested_fen]
        assert held(refund.id) == 0
        event = RefundEvent.select().where(RefundEvent.request == refund.id).order_by(RefundEvent.id.desc()).get()
        assert (event.from_state, event.actor_role) == (RefundState.NEEDS_INFO, Actor.SYSTEM)
    page = client.get(f"/refunds/{refund.id}").get_data(as_text=True)
    assert Page(page).find(data_refund_state=True)["data-refund-state"] == RefundState.EXPIRED


def test_an_answered_question_never_expires(app):
    """Once the seller answered, a late tick leaves the request in review."""
    with database(app):
        refund, _shop, seller = request_in(RefundState.NEEDS_INFO, now=ASKED_AT)
        refund_service.answer_needs_info(refund.id, seller, "已补充。")
    assert tick(app, now=FIRST_MOMENT_OF_OCT_15).expired == []
    with database(app):
        assert state_of(refund.id) == RefundState.UNDER_REVIEW


# --- the command ---------------------------------------------------------------------------------


def test_the_tick_command_prints_a_summary_and_can_run_again(app, runner):
    """``flask --app portal tick`` does the due step, prints what it did, and a second run does nothing."""
    refund, _shop, _seller = waiting_request(app)
    with database(app):
        RefundRequest.update(review_starts_at=utcnow() - MINUTE).where(RefundRequest.id == refund.id).execute()
    first = invoke_tick(app, runner)
    assert first.exit_code == 0, first.output
    assert "reviews started 1" in first.output and "expired 0" in first.output
    second = invoke_tick(app, runner)
    assert second.exit_code == 0, second.output
    assert "reviews started 0" in second.output
    with database(app):
        assert state_of(refund.id) == RefundState.UNDER_REVIEW


def test_the_tick_command_exits_non_zero_when_a_step_failed(app, runner, monkeypatch):
    """Cron hears about a failed step: exit status 1, and the summary names the request."""
    refund, _shop, _seller = waiting_request(app)
    with database(app):
        RefundRequest.update(review_starts_at=utcnow() - MINUTE).where(RefundRequest.id == refund.id).execute()

    def failing(*args, **kwargs):
        raise RuntimeError("simulated")

    monkeypatch.setattr(refund_service, "start_review_if_due", failing)
    result = invoke_tick(app, runner)
    assert result.exit_code == 1
    assert f"errors 1 (requests {refund.id})" in result.output


# --- e-mail ----------------------------------------------------------------------------------------


@pytest.fixture
def inbox(app):
    """A real SMTP server for the test, and the portal configured to send through it."""
    with smtp_server() as (received, port):
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_TIMEOUT=5, PUBLIC_URL=PUBLIC_URL,
                          SMTP_FROM="no-reply@deposit.example.com")
        yield received


def notified_seller(app, email="owner@shop.example.com", locale="en"):
    """A seller with an e-mail address whom an agent just asked for information (one notification)."""
    with database(app):
        refund, shop, seller = request_in(RefundState.UNDER_REVIEW)
        User.update(email=email, locale=locale).where(User.id == seller.id).execute()
        refund = refund_service.transition(refund.id, RefundState.NEEDS_INFO, staff(Role.AGENT), Actor.AGENT,
                                      seller_message="请上传缴纳凭证。")
        assert Notification.select().where(Notification.user == seller.id).count() == 1
    return refund, seller


def outbox():
    """Every outbox row, oldest first."""
    return list(OutboxEmail.select().order_by(OutboxEmail.id))


def test_a_notification_is_mailed_exactly_once(app, inbox):
    """The tick queues and sends one e-mail: the request number in the subject, the public link inside."""
    refund, _seller = notified_seller(app)
    report = tick(app)
    assert (report.emails_queued, report.emails_sent, report.emails_failed) == (1, 1, 0)
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "owner@shop.example.com"
    assert message["Subject"] == f"Refund request No. {refund.id}: Waiting for your information"
    assert f"{PUBLIC_URL}/refunds/{refund.id}" in body_of(message)
    with database(app):
        [row] = outbox()
        assert (row.status, row.attempts) == ("SENT", 1)
        assert row.message_id == message["Message-ID"]

    later = tick(app, now=utcnow() + datetime.timedelta(hours=1))
    assert (later.emails_queued, later.emails_sent) == (0, 0)
    assert len(inbox.messages) == 1


def test_two_ticks_at_once_send_the_email_once(app, inbox):
    """Two ticks started together queue one outbox row and deliver one message."""
    notified_seller(app)
    now = utcnow()
    outcomes = at_same_time(app, lambda: scheduled.run(app.config, now=now),
                            lambda: scheduled.run(app.config, now=now))
    assert [kind for kind, _value in outcomes] == ["ok", "ok"], outcomes
    reports = [value for _kind, value in outcomes]
    assert sum(report.emails_queued for report in reports) == 1
    assert sum(report.emails_sent for report in reports) == 1
    assert len(inbox.messages) == 1
    with database(app):
        assert [(row.status, row.attempts) for row in outbox()] == [("SENT", 1)]


def test_a_refused_connection_is_retried_later_and_then_sent_once(app, inbox):
    """SMTP down: PENDING with one attempt and a later retry time; once it is back the retry sends it."""
    refund, _seller = notified_seller(app)
    working_port = app.config["SMTP_PORT"]
    app.config["SMTP_PORT"] = free_port()  # nobody listens there: connection refused
    now = utcnow()
    report = tick(app, now=now)
    assert (report.emails_queued, report.emails_sent, report.emails_failed) == (1, 0, 0)
    with database(app):
        [row] = outbox()
        assert (row.status, row.attempts) == ("PENDING", 1)
        assert row.next_attempt_at > now
        assert row.last_error

    app.config["SMTP_PORT"] = working_port
    assert tick(app, now=now).emails_sent == 0  # not due yet
    assert inbox.messages == []
    assert tick(app, now=row.next_attempt_at + MINUTE).emails_sent == 1
    assert tick(app, now=row.next_attempt_at + 2 * MINUTE).emails_sent == 0
    assert len(inbox.messages) == 1
    assert f"No. {refund.id}" in inbox.messages[0]["Subject"]
    with database(app):
        [row] = outbox()
        assert (row.status, row.attempts) == ("SENT", 2)


def test_an_email_fails_for_good_after_the_last_attempt(app, inbox):
    """After EMAIL_MAX_ATTEMPTS refused connections the row is FAILED and never tried again."""
    notified_seller(app)
    app.config.update(SMTP_PORT=free_port(), EMAIL_MAX_ATTEMPTS=3)
    now = utcnow()
    failed = []
    for _attempt in range(3):
        failed.append(tick(app, now=now).emails_failed)
        with database(app):
            [row] = outbox()
        now = max(now, row.next_attempt_at) + MINUTE
    assert failed == [0, 0, 1]
    with database(app):
        [row] = outbox()
        assert (row.status, row.attempts) == ("FAILED", 3)
    report = tick(app, now=now + datetime.timedelta(days=1))
    assert (report.emails_sent, report.emails_failed) == (0, 0)
    with database(app):
        assert [(row.status, row.attempts) for row in outbox()] == [("FAILED", 3)]


def test_without_smtp_nothing_is_queued(app):
    """No SMTP_HOST: notifications stay in the portal, no outbox row is written."""
    assert not app.config["SMTP_HOST"]
    notified_seller(app)
    report = tick(app)
    assert (report.emails_queued, report.emails_sent) == (0, 0)
    with database(app):
        assert outbox() == []


def test_a_seller_without_an_address_gets_no_email(app, inbox):
    """A notification for a user with no e-mail address queues nothing."""
    notified_seller(app, email=None)
    assert tick(app).emails_queued == 0
    assert inbox.messages == []


def test_emails_are_written_in_each_users_language(app, inbox):
    """An English user's subject is English; a Chinese user's is the catalogue's Chinese (when translated)."""
    english_refund, _english_seller = notified_seller(app, email="en@shop.example.com", locale="en")
    chinese_refund, _chinese_seller = notified_seller(app, email="zh@shop.example.com", locale="zh_CN")
    assert tick(app).emails_sent == 2
    subjects = {message["To"]: message["Subject"] for message in inbox.messages}
    assert subjects["en@shop.example.com"] == (
        f"Refund request No. {english_refund.id}: Waiting for your information")
    with app.test_request_context(), force_locale("zh_CN"):
        chinese = _("Refund request No. %(number)s: %(state)s", number=chinese_refund.id,
                    state=state_label(RefundState.NEEDS_INFO))
    if chinese.startswith("Refund request"):
        pytest.skip("the zh_CN catalogue does not translate the e-mail subject yet")
    assert subjects["zh@shop.example.com"] == chinese


def test_sending_leaves_the_callers_transaction_alone(app, inbox):
    """Composing an e-mail opens no web request: a tick run inside a transaction keeps what it wrote."""
    notified_seller(app)
    with database(app):
        with db.atomic():
            shop = Shop.create(name="事务内的店", entity_name="事务测试有限公司")
            assert scheduled.run(app.config).emails_sent == 1
            assert db.in_transaction()
        assert Shop.get_or_none(Shop.id == shop.id) is not None
