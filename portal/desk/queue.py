"""The desk's queue: open requests by due date (working days), with filters, counts, search and pages."""

import datetime
import re

from flask import request
from flask_login import current_user
from peewee import JOIN, SQL, Case, fn

from portal.accounts.models import User
from portal.core.calendar import working_calendar
from portal.core.clock import utcnow
from portal.core.vocabulary import (
    OPEN_DISPUTE_STATES,
    TERMINAL_STATES,
    ArrearStatus,
    RefundState,
    TicketStatus,
    ViolationStatus,
)
from portal.core.workdays import to_shanghai_date
from portal.desk.blueprint import bp
from portal.disputes.models import Dispute
from portal.refunds.models import RefundRequest
from portal.risk.models import Arrear, RiskFlag, Violation
from portal.shops.models import Shop
from portal.tickets.models import Ticket
from portal.web import htmx
from portal.web.forms import query_text

QUEUE_PAGE_SIZE = 50
FILTERS = ("open", "overdue", "mine", "unassigned")


def _today():
    """Today's date in Shanghai: what "overdue" is measured against."""
    return to_shanghai_date(utcnow())


# "申请单 10", "request 10", "No. 10", "#10", "第10号": a request number with the words the pages put around it.
REQUEST_NUMBER = re.compile(
    r"^(?:申请单|退款申请|申请|request|req\.?|no\.?|number|编号|单号|第|#|\s)*(\d{1,15})\s*号?$", re.IGNORECASE)


def request_number_in(search):
    """The request number a search names ("申请单 10", "request 10", "No. 10", "#10", "10"), or None."""
    match = REQUEST_NUMBER.match((search or "").strip())
    return int(match.group(1)) if match else None


def _risk_count():
    """A correlated count of the shop's open risks (active flags, violations, disputes, arrears) per row.

    Subqueries in the row's own SELECT: the queue stays one statement however many rows it shows.
    """
    counts = [
        RiskFlag.select(fn.COUNT(RiskFlag.id)).where((RiskFlag.shop == Shop.id) & RiskFlag.cleared_at.is_null()),
        Violation.select(fn.COUNT(Violation.id)).where((Violation.shop == Shop.id)
                                                       & (Violation.status == ViolationStatus.OPEN)),
        Dispute.select(fn.COUNT(Dispute.id)).where((Dispute.shop == Shop.id)
                                                   & Dispute.status.in_(OPEN_DISPUTE_STATES)),
        Arrear.select(fn.COUNT(Arrear.id)).where((Arrear.shop == Shop.id) & (Arrear.status == ArrearStatus.OPEN)),
    ]
    # Wrapped in COALESCE: "+" between two bare SELECTs would be peewee's UNION ALL, not a sum.
    total = fn.COALESCE(counts[0], 0)
    for count in counts[1:]:
        total = total + fn.COALESCE(count, 0)
    return total


def _queue_query(state, view, search):
    """Open (or one state's) requests with their shop, risks and assignee, by due date, filtered."""
    assignee = User.alias()
    query = (RefundRequest
             # The joined user's id too: without it peewee sets assigned_to_id to None on each row.
             .select(RefundRequest, Shop.name, Shop.entity_name, Shop.status, assignee.id, assignee.display_name,
                     assignee.username, _risk_count().alias("risk_count"))
             .join(Shop)
             .switch(RefundRequest)
             .join(assignee, JOIN.LEFT_OUTER, on=(RefundRequest.assigned_to == assignee.id)))
    if state in tuple(RefundState):
        query = query.where(RefundRequest.state == state)
    else:
        query = query.where(RefundRequest.state.not_in(TERMINAL_STATES))
    if view == "overdue":
        # A finished request is never overdue, whatever state filter is on.
        query = query.where((RefundRequest.due_date < _today())
                            & RefundRequest.state.not_in(TERMINAL_STATES))
    elif view == "mine":
        query = query.where(RefundRequest.assigned_to == current_user.id)
    elif view == "unassigned":
        query = query.where(RefundRequest.assigned_to.is_null())
    search = (search or "").strip()
    if search:
        number = request_number_in(search)
        if number is not None:
            # A request number is looked up by id alone (an OR across two tables would scan them).
            query = query.where(RefundRequest.id == number)
        else:
            # The names the queue shows: the shop, its legal entity, and who the request is assigned to.
            query = query.where(Shop.name.contains(search) | Shop.entity_name.contains(search)
                                | assignee.display_name.contains(search) | assignee.username.contains(search))
    return query


def _queue_counts():
    """How many open requests each filter holds, in one aggregate query."""
    today = _today()
    row = (RefundRequest
           .select(fn.COUNT(SQL("*")),
                   fn.SUM(Case(None, [((RefundRequest.due_date < today), 1)], 0)),
                   fn.SUM(Case(None, [((RefundRequest.assigned_to == current_user.id), 1)], 0)),
                   fn.SUM(Case(None, [(RefundRequest.assigned_to.is_null(), 1)], 0)))
           .where(RefundRequest.state.not_in(TERMINAL_STATES))
           .tuples()
           .get())
    return dict(zip(FILTERS, (int(value or 0) for value in row), strict=True))


def _open_tickets(view, search):
    """Tickets that are not resolved, by due date, under the same filters as the requests."""
    query = (Ticket.select(Ticket, Shop.name).join(Shop)
             .where(Ticket.status != TicketStatus.RESOLVED))
    if view == "overdue":
        query = query.where((Ticket.due_date < _today()) & Ticket.paused_at.is_null())
    elif view == "mine":
        query = query.where(Ticket.assigned_to == current_user.id)
    elif view == "unassigned":
        query = query.where(Ticket.assigned_to.is_null())
    search = (search or "").strip()
    if search:
        query = query.where(Shop.name.contains(search) | Ticket.subject.contains(search))
    return list(query.order_by(Ticket.due_date.asc(nulls="LAST"), Ticket.id).limit(QUEUE_PAGE_SIZE))


def _parse_cursor(raw):
    """The keyset cursor ``YYYY-MM-DD.<id>`` (``none.<id>`` past the last due date) of the next page, or None."""
    if not raw:
        return None
    day, _sep, request_id = raw.partition(".")
    if not request_id.isdigit() or len(request_id) > 15:
        return None
    if day == "none":
        return None, int(request_id)
    try:
        return datetime.date.fromisoformat(day), int(request_id)
    except ValueError:
        return None


def _queue_page(query, cursor):
    """One page of the queue after ``cursor``, and the cursor of the next page (None on the last)."""
    if cursor:
        due, last_id = cursor
        # Keyset: the rows after the last one shown, in (due_date, id) order with requests that have
        # no due date (made before due dates existed) last; no OFFSET.
        if due is None:
            query = query.where(RefundRequest.due_date.is_null() & (RefundRequest.id > last_id))
        else:
            query = query.where((RefundRequest.due_date > due)
                                | ((RefundRequest.due_date == due) & (RefundRequest.id > last_id))
                                | RefundRequest.due_date.is_null())
    rows = list(query.order_by(RefundRequest.due_date.asc(nulls="LAST"), RefundRequest.id)
                .limit(QUEUE_PAGE_SIZE + 1))
    if len(rows) <= QUEUE_PAGE_SIZE:
        return rows, None
    rows = rows[:QUEUE_PAGE_SIZE]
    last = rows[-1]
    return rows, f"{last.due_date.isoformat() if last.due_date else 'none'}.{last.id}"


@bp.get("")
def show_queue():
    """Requests by due date (working days), with filters, counts, search and keyset pages."""
    state = query_text("state")
    view = query_text("view", "open")
    view = view if view in FILTERS else "open"
    search = query_text("q")[:100]
    rows, next_cursor = _queue_page(_queue_query(state, view, search), _parse_cursor(query_text("after")))
    rows_context = {"rows": rows, "state": state, "view": view, "search": search, "next_cursor": next_cursor,
                    "today": _today(), "waited": _working_days_waited(rows)}
    # The "More" link's rows for htmx; without JavaScript the same link opens a whole page.
    if request.args.get("after") and htmx.is_fragment_request():
        return htmx.render("desk/queue.html", "queue_rows", **rows_context)
    # Tickets join the queue on its first page (a state filter is about requests only).
    tickets = [] if state or request.args.get("after") else _open_tickets(view, search)
    return htmx.render("desk/queue.html", "queue_results", counts=_queue_counts(), states=tuple(RefundState),
                       tickets=tickets, **rows_context)


def _working_days_waited(rows):
    """``{request id: working days since its last state change}`` (one calendar read for the page)."""
    if not rows:
        return {}
    calendar = working_calendar()
    now = utcnow()
    return {row.id: calendar.workdays_between(row.state_changed_at, now) for row in rows}

