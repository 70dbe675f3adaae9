"""Notifications against the database: tell sellers about changes, count and mark what they read."""
from portal.accounts.models import User
from portal.core.clock import utcnow
from portal.core.db import write_transaction
from portal.core.vocabulary import Role
from portal.notifications.models import Notification


def notify_sellers(request, event, now):
    """An in-app notification for every active seller account of the request's shop.

    Runs inside the transaction of the change it tells about.
    """
    sellers = User.select(User.id).where((User.shop == request.shop_id) & (User.role == Role.SELLER)
                                         & (User.active == True))  # noqa: E712
    for (user_id,) in sellers.tuples():
        Notification.create(user=user_id, request=request.id, event=event.id, state=event.to_state,
                            created_at=now)


def notify_ticket_reply(ticket, message, now):
    """An in-app notice of support's reply for every active seller account of the ticket's shop.

    Runs inside the reply's transaction; ``tick`` mails it like any other notification when SMTP is
    configured. Internal notes never get here, so nothing of them reaches the seller.
    """
    sellers = User.select(User.id).where((User.shop == ticket.shop_id) & (User.role == Role.SELLER)
                                         & (User.active == True))  # noqa: E712
    for (user_id,) in sellers.tuples():
        Notification.create(user=user_id, ticket=ticket.id, ticket_message=message.id, created_at=now)


def mark_read(user_id, notification_id=None):
    """Mark one notification (or all of them) read for a user."""
    query = Notification.update(read_at=utcnow()).where((Notification.user == user_id)
                                                        & Notification.read_at.is_null())
    if notification_id is not None:
        query = query.where(Notification.id == notification_id)
    with write_transaction():
        query.execute()
