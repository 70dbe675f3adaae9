"""Every table of the portal, for the commands and checks that treat the schema as a whole."""
from portal.accounts.models import LoginAttempt, SignInSession, User
from portal.audit.models import AuditLog
from portal.core.calendar import CalendarOverride
from portal.deposit.models import LedgerEntry
from portal.disputes.models import Dispute
from portal.notifications.models import Notification, OutboxEmail
from portal.payee.models import PayeeAccount, PayeeChange
from portal.payouts.models import PayoutAttempt, WebhookEvent
from portal.refunds.models import ReasonCode, RefundAttachment, RefundEvent, RefundRequest
from portal.risk.models import Arrear, RiskFlag, Violation
from portal.shops.models import CategoryRequirement, Shop
from portal.tickets.models import Attachment, CannedReply, Ticket, TicketMessage
from portal.widgets.models import RateCounter, Widget

# Indexes only migration 0006 makes, on PostgreSQL with pg_trgm: the models cannot declare them
# (SQLite has no trigram index), so schema comparisons leave them out.
POSTGRES_SEARCH_INDEXES = ("shop_name_trgm", "shop_entity_name_trgm")

MODELS = [Shop, User, LoginAttempt, CategoryRequirement, Violation, Dispute, Arrear, PayeeAccount,
          PayeeChange, RefundRequest, RefundEvent, LedgerEntry, CalendarOverride, ReasonCode, Notification,
          OutboxEmail, PayoutAttempt, WebhookEvent, AuditLog, RiskFlag, Ticket, TicketMessage, Attachment,
          RefundAttachment, CannedReply, Widget, RateCounter, SignInSession]
