"""Trade disputes between a shop and its buyers."""
from peewee import CharField, DateTimeField, ForeignKeyField, TextField

from portal.core.clock import utcnow
from portal.core.db import BaseModel, EnumField
from portal.core.vocabulary import OPEN_DISPUTE_STATES, DisputeStatus
from portal.shops.models import Shop


class Dispute(BaseModel):
    """A trade dispute with a buyer; open ones block refunds until resolved."""

    shop = ForeignKeyField(Shop, backref="disputes", on_delete="CASCADE")
    order_number = CharField()
    complaint = TextField()
    status = EnumField(DisputeStatus, default=DisputeStatus.NEGOTIATING)
    outcome = TextField(default="")
    opened_at = DateTimeField(default=utcnow)
    resolved_at = DateTimeField(null=True)

    @classmethod
    def open_for(cls, shop_id):
        """Open disputes of a shop, newest first."""
        return (cls.select()
                .where((cls.shop == shop_id) & (cls.status.in_(OPEN_DISPUTE_STATES)))
                .order_by(cls.id.desc()))
