"""``flask --app portal tick``: the time-based steps, safe to run every minute and concurrently.

Each step re-reads and locks its row and moves it by a conditional update, so two ticks running
at once perform every step exactly once: the second finds nothing left to do.
"""
import datetime
import logging
import smtplib
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import urlsplit

import click
from flask import current_app
from flask_babel import force_locale
from peewee import JOIN, IntegrityError

from portal import refunding, widgeting, workflow
from portal.db import db, utcnow
from portal.models import CalendarOverride, Notification, OutboxEmail, RefundRequest, User
from portal.workdays import WorkCalendar

logger = logging.getLogger(__name__)

# How long an e-mail claimed by a tick that then died stays claimed before another tick retries
# it (with the same Message-ID, so a receiving server can drop the repeat).
CLAIM_TIMEOUT = datetime.timedelta(minutes=15)
RETRY_DELAYS = (datetime.timedelta(minutes=1), datetime.timedelta(minutes=5), datetime.timedelta(minutes=30),
                datetime.timedelta(hours=2), datetime.timedelta(hours=6))


@dataclass
class TickReport:
    """What one tick did."""

    reviews_started: list = field(default_factory=list)
    put_on_hold: list = field(default_factory=list)
    expired: list = field(default_factory=list)
    emails_queued: int = 0
    emails_sent: int = 0
    emails_failed: int = 0
    errors: list = field(default_factory=list)  # ids of requests whose step raised (logged, retried next tick)

    def summary(self):
        """One line for the operator's log."""
        line = (f"reviews started {len(self.reviews_started)}, on hold {len(self.put_on_hold)}, "
                f"expired {len(self.expired)}, e-mails queued {self.emails_queued}, "
                f"sent {self.emails_sent}, failed {self.emails_failed}")
        if self.errors:
            line += f", errors {len(self.errors)} (requests {', '.join(map(str, self.errors))})"
        return line


def _step(report, step, request_id, *args):
    """Run one request's step; a step that raises is logged and skipped, never the whole tick.

    Each step is its own transaction (rolled back on error), so one broken request cannot stop
    every later waiting period, expiry and e-mail on every run.
    """
    try:
        return step(request_id, *args)
    except Exception:  # any failure of one request must not stop the others
        logger.exception("tick: the due step of refund request %s failed", request_id)
        report.errors.append(request_id)
        return None


def run(config, now=None):
    """Run every due step once."""
    now = now or utcnow()
    report = TickReport()
    policy = refunding.policy_from(config)
    due_waiting = (RefundRequest.select(RefundRequest.id)
                   .where((RefundRequest.state == workflow.WAITING_PERIOD)
                          & (RefundRequest.review_starts_at <= now))
                   .order_by(RefundRequest.id).tuples())
    for (request_id,) in list(due_waiting):
        moved = _step(report, refunding.start_review_if_due, request_id, policy, now)
        if moved == workflow.UNDER_REVIEW:
            report.reviews_started.append(request_id)
        elif moved == workflow.ON_HOLD:
            report.put_on_hold.append(request_id)

    calendar = WorkCalendar(CalendarOverride.as_mapping())
    workdays = int(config["NEEDS_INFO_EXPIRY_WORKDAYS"])
    # Requests waiting for the seller are few at any moment; the calendar decides for each.
    candidates = (RefundRequest.select(RefundRequest.id)
                  .where(RefundRequest.state == workflow.NEEDS_INFO)
                  .order_by(RefundRequest.id).tuples())
    for (request_id,) in list(candidates):
        expired = _step(report, refunding.expire_if_due, request_id, calendar, workdays, now)
        if expired == workflow.EXPIRED:
            report.expired.append(request_id)

    widgeting.forget_old_counts(now)
    if config.get("SMTP_HOST"):
        report.emails_queued = queue_emails(config, now)
        report.emails_sent, report.emails_failed = send_due_emails(config, now)
    return report


def queue_emails(config, now):
    """An outbox row for each recent notification whose user has an e-mail address."""
    since = now - datetime.timedelta(hours=int(config["EMAIL_MAX_AGE_HOURS"]))
    pending = (Notification.select(Notification.id, User.email)
               .join(User)
               .switch(Notification)
               .join(OutboxEmail, on=(OutboxEmail.notification == Notification.id), join_type=JOIN.LEFT_OUTER)
               .where((Notification.created_at >= since) & User.email.is_null(False) & (User.email != "")
                      & OutboxEmail.id.is_null())
               .tuples())
    queued = 0
    domain = config["SMTP_FROM"].rpartition("@")[2] or "portal.invalid"
    for notification_id, address in list(pending):
        try:
            with db.atomic():
                OutboxEmail.create(notification=notification_id, to_address=address, next_attempt_at=now,
                                   message_id=f"<{uuid.uuid4().hex}@{domain}>", created_at=now)
            queued += 1
        except IntegrityError:
            pass  # another tick queued it first: the unique notification keeps it to one e-mail
    return queued


def _claim(email, now):
    """Take an e-mail for this tick by a conditional update; False when another tick has it."""
    return (OutboxEmail.update(status="SENDING", claimed_at=now, attempts=OutboxEmail.attempts + 1)
            .where((OutboxEmail.id == email.id) & (OutboxEmail.status == email.status)
                   & (OutboxEmail.attempts == email.attempts))
            .execute()) == 1


def send_due_emails(config, now):
    """Send every due e-mail once; returns (sent, failed for good)."""
    due = (OutboxEmail.select()
           .where(((OutboxEmail.status == "PENDING") & (OutboxEmail.next_attempt_at <= now))
                  | ((OutboxEmail.status == "SENDING") & (OutboxEmail.claimed_at < now - CLAIM_TIMEOUT)))
           .order_by(OutboxEmail.id)
           .limit(int(config["EMAIL_BATCH_SIZE"])))
    sent = failed = 0
    for email in list(due):
        if not _claim(email, now):
            continue
        try:
            subject = deliver(config, email)
        except (OSError, smtplib.SMTPException) as error:
            attempts = email.attempts + 1
            if attempts >= int(config["EMAIL_MAX_ATTEMPTS"]):
                status, failed = "FAILED", failed + 1
                next_attempt = now
            else:
                status = "PENDING"
                next_attempt = now + RETRY_DELAYS[min(attempts - 1, len(RETRY_DELAYS) - 1)]
            (OutboxEmail.update(status=status, next_attempt_at=next_attempt, last_error=str(error)[:500])
             .where(OutboxEmail.id == email.id).execute())
            continue
        (OutboxEmail.update(status="SENT", sent_at=now, subject=subject, last_error="")
         .where(OutboxEmail.id == email.id).execute())
        sent += 1
    return sent, failed


def public_link(config, endpoint, **values):
    """An absolute link to a portal page at its public address, built without a web request."""
    public = urlsplit(config["PUBLIC_URL"])
    urls = current_app.url_map.bind(public.netloc, script_name=public.path or "/",
                                    url_scheme=public.scheme or "https")
    return urls.build(endpoint, values, force_external=True)


def _render_text(name, **context):
    """A plain-text e-mail template rendered in the app context only.

    No request context: popping one runs the request teardown, which closes the tick's database
    connection (rolling back any transaction it has); the page context processors are not needed.
    """
    return current_app.jinja_env.get_template(name).render(**context)


def compose(config, email):
    """The message for one outbox row, in the recipient's language."""
    notification = Notification.get_by_id(email.notification_id)
    user = User.get_by_id(notification.user_id)
    request = RefundRequest.get_or_none(RefundRequest.id == notification.request_id)
    link = (public_link(config, "refunds.show_request", request_id=request.id) if request
            else public_link(config, "site.index"))
    with force_locale(user.locale or "zh_CN"):
        subject = _render_text("email/refund_state_subject.txt", request=request,
                               notification=notification).strip()
        body = _render_text("email/refund_state.txt", request=request, notification=notification, link=link)
    message = EmailMessage()
    message["From"] = config["SMTP_FROM"]
    message["To"] = email.to_address
    message["Subject"] = subject
    message["Message-ID"] = email.message_id
    message["Date"] = formatdate(localtime=False)
    message.set_content(body)
    return message


def deliver(config, email):
    """Send one e-mail over SMTP; returns its subject. Raises on failure."""
    message = compose(config, email)
    port = int(config["SMTP_PORT"])
    with smtplib.SMTP(config["SMTP_HOST"], port, timeout=int(config["SMTP_TIMEOUT"])) as smtp:
        if config.get("SMTP_STARTTLS"):
            smtp.starttls()
        if config.get("SMTP_USERNAME"):
            smtp.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"])
        smtp.send_message(message)
    return message["Subject"]


@click.command("tick")
def tick_command():
    """Run the due time-based steps: waiting periods, expiries, e-mails (cron: every minute)."""
    with db.connection_context():
        report = run(current_app.config)
    click.echo(report.summary())
    if report.errors:
        # A non-zero exit makes cron tell the operator; everything else due was still done.
        click.get_current_context().exit(1)
