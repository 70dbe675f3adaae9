"""When things happen to a refund request: its working-day window, its due dates, how often to poll.

Pure rules: the caller passes the working-day calendar (with the operators' overrides) and the
settings; nothing here reads the database or the app.
"""
import datetime
from dataclasses import dataclass

from portal.core.vocabulary import RefundState, Turn
from portal.refunds import states


@dataclass(frozen=True)
class Timing:
    """The working-day calendar and the promised 3-7 day window."""

    calendar: object
    min_workdays: int
    max_workdays: int

    @classmethod
    def from_config(cls, config, calendar):
        """The window the settings promise, on this calendar."""
        return cls(calendar, int(config["REFUND_MIN_WORKDAYS"]), int(config["REFUND_MAX_WORKDAYS"]))

    def due_date(self, review_start):
        """The last working day of the window that starts with review."""
        return self.calendar.add_workdays(review_start, self.max_workdays)

    def window(self, request):
        """The working-day window of a request, counted from the start of its review."""
        return self.calendar.window(review_start(request), self.min_workdays, self.max_workdays)


def review_start(request):
    """When the working-day clock of a request starts: after its waiting period, else on submit."""
    return request.review_starts_at or request.created_at


def needs_info_due(request, calendar, workdays):
    """The last day to answer a NEEDS_INFO request: the agent's date, else N working days after asking."""
    if request.info_due_date is not None:
        return request.info_due_date
    return calendar.add_workdays(request.state_changed_at, workdays)


def poll_seconds(request, config, now):
    """How soon a page should ask again: soon while things move, rarely while waiting, never when final."""
    if states.is_final(request.state):
        return None
    recently_changed = now - request.state_changed_at < datetime.timedelta(minutes=10)
    if request.state == RefundState.PAYOUT_PROCESSING or recently_changed:
        return config["POLL_FAST_SECONDS"]
    if states.TURNS[request.state] in (Turn.SUPPORT, Turn.FINANCE):
        return config["POLL_SLOW_SECONDS"]
    return config["POLL_IDLE_SECONDS"]
