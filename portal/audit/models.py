"""The append-only audit log of desk actions and sensitive views."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from portal.accounts.models import User
from portal.core.clock import utcnow
from portal.core.db import BaseModel, EnumField
from portal.core.vocabulary import Actor
from portal.refunds.models import RefundRequest
from portal.shops.models import Shop


class AuditLog(BaseModel):
    """One desk action or sensitive view: append-only (the database refuses updates and deletes)."""

    actor = ForeignKeyField(User, null=True, on_delete="RESTRICT")
    actor_role = EnumField(Actor)
    action = CharField(index=True)
    request = ForeignKeyField(RefundRequest, null=True, on_delete="RESTRICT")
    shop = ForeignKeyField(Shop, null=True, on_delete="RESTRICT")
    ticket_id = IntegerField(null=True, index=True)  # tickets come later in the schema than the log
    details = TextField(default="")  # what changed, as JSON
    created_at = DateTimeField(default=utcnow, index=True)
