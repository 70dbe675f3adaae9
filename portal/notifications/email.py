"""E-mails for notifications: queued in an outbox, sent over SMTP with retries, in the reader's language.

At most one e-mail per notification (a unique row); each has a stable Message-ID, so a retry after
a crash is recognisable as the same message by the receiving server.
"""
import datetime
import smtplib
import uuid
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import force_locale
from peewee import JOIN, IntegrityError

from portal.accounts.models import User
from portal.core.db import db
from portal.core.vocabulary import EmailStatus
from portal.notifications.models import Notification, OutboxEmail
from portal.refunds.models import RefundRequest
from portal.tickets.models import Ticket

# How long an e-mail claimed by a tick that then died stays claimed before another tick retries
# it (with the same Message-ID, so a receiving server can drop the repeat).
CLAIM_TIMEOUT = datetime.timedelta(minutes=15)
RETRY_DELAYS = (datetime.timedelta(minutes=1), datetime.timedelta(minutes=5), datetime.timedelta(minutes=30),
                datetime.timedelta(hours=2), datetime.timedelta(hours=6))



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
    return (OutboxEmail.update(status=EmailStatus.SENDING, claimed_at=now, attempts=OutboxEmail.attempts + 1)
            .where((OutboxEmail.id == email.id) & (OutboxEmail.status == email.status)
                   & (OutboxEmail.attempts == email.attempts))
            .execute()) == 1


def send_due_emails(config, now):
    """Send every due e-mail once; returns (sent, failed for good)."""
    due = (OutboxEmail.select()
           .where(((OutboxEmail.status == EmailStatus.PENDING) & (OutboxEmail.next_attempt_at <= now))
                  | ((OutboxEmail.status == EmailStatus.SENDING) & (OutboxEmail.claimed_at < now - CLAIM_TIMEOUT)))
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
                status, failed = EmailStatus.FAILED, failed + 1
                next_attempt = now
            else:
                status = EmailStatus.PENDING
                next_attempt = now + RETRY_DELAYS[min(attempts - 1, len(RETRY_DELAYS) - 1)]
            (OutboxEmail.update(status=status, next_attempt_at=next_attempt, last_error=str(error)[:500])
             .where(OutboxEmail.id == email.id).execute())
            continue
        (OutboxEmail.update(status=EmailStatus.SENT, sent_at=now, subject=subject, last_error="")
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
    ticket = Ticket.get_or_none(Ticket.id == notification.ticket_id) if notification.ticket_id else None
    with force_locale(user.locale or "zh_CN"):
        if ticket is not None:
            link = public_link(config, "tickets.show_ticket", ticket_id=ticket.id)
            subject = _render_text("email/ticket_reply_subject.txt", ticket=ticket).strip()
            body = _render_text("email/ticket_reply.txt", ticket=ticket, link=link)
        else:
            request = RefundRequest.get_or_none(RefundRequest.id == notification.request_id)
            link = (public_link(config, "refunds.show_request", request_id=request.id) if request
                    else public_link(config, "site.index"))
            subject = _render_text("email/refund_state_subject.txt", request=request,
                                   notification=notification).strip()
            body = _render_text("email/refund_state.txt", request=request, notification=notification,
                                link=link)
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
