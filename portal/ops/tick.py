"""``flask --app portal tick``: the time-based steps, safe to run every minute and concurrently.

Each step re-reads and locks its row and moves it by a conditional update, so two ticks running
at once perform every step exactly once: the second finds nothing left to do.
"""
import logging
from dataclasses import dataclass, field

import click
from flask import current_app

from portal.core.calendar import working_calendar
from portal.core.clock import utcnow
from portal.core.db import db
from portal.core.vocabulary import RefundState
from portal.notifications import email
from portal.refunds import service as refund_service
from portal.refunds.models import RefundRequest
from portal.widgets import service as widget_service

logger = logging.getLogger(__name__)


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
    policy = refund_service.policy_from(config)
    due_waiting = (RefundRequest.select(RefundRequest.id)
                   .where((RefundRequest.state == RefundState.WAITING_PERIOD)
                          & (RefundRequest.review_starts_at <= now))
                   .order_by(RefundRequest.id).tuples())
    for (request_id,) in list(due_waiting):
        moved = _step(report, refund_service.start_review_if_due, request_id, policy, now)
        if moved == RefundState.UNDER_REVIEW:
            report.reviews_started.append(request_id)
        elif moved == RefundState.ON_HOLD:
            report.put_on_hold.append(request_id)

    calendar = working_calendar()
    workdays = int(config["NEEDS_INFO_EXPIRY_WORKDAYS"])
    # Requests waiting for the seller are few at any moment; the calendar decides for each.
    candidates = (RefundRequest.select(RefundRequest.id)
                  .where(RefundRequest.state == RefundState.NEEDS_INFO)
                  .order_by(RefundRequest.id).tuples())
    for (request_id,) in list(candidates):
        expired = _step(report, refund_service.expire_if_due, request_id, calendar, workdays, now)
        if expired == RefundState.EXPIRED:
            report.expired.append(request_id)

    widget_service.forget_old_counts(now)
    if config.get("SMTP_HOST"):
        report.emails_queued = email.queue_emails(config, now)
        report.emails_sent, report.emails_failed = email.send_due_emails(config, now)
    return report


@click.command("tick")
def tick_command():
    """Run the due time-based steps: waiting periods, expiries, e-mails (cron: every minute)."""
    with db.connection_context():
        report = run(current_app.config)
    click.echo(report.summary())
    if report.errors:
        # A non-zero exit makes cron tell the operator; everything else due was still done.
        click.get_current_context().exit(1)
