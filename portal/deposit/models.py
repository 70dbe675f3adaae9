"""The deposit ledger: append-only entries from which every figure is derived."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField, fn

from portal.accounts.models import User
from portal.core.clock import utcnow
from portal.core.db import BaseModel, EnumField
from portal.core.vocabulary import EntryType
from portal.refunds.models import RefundRequest
from portal.risk.models import Violation
from portal.shops.models import Shop


class LedgerEntry(BaseModel):
    """One append-only entry of a shop's deposit ledger; the figures are derived from these."""

    shop = ForeignKeyField(Shop, backref="ledger_entries", on_delete="RESTRICT")
    entry_type = EnumField(EntryType)
    amount_fen = IntegerField()
    reason = TextField(default="")
    violation = ForeignKeyField(Violation, null=True, on_delete="RESTRICT")
    refund_request = ForeignKeyField(RefundRequest, null=True, backref="ledger_entries",
                                     on_delete="RESTRICT")
    bank_reference = CharField(null=True)
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("shop", "id"), False),)

    @classmethod
    def totals_for(cls, shop_id):
        """``{entry_type: total fen}`` for a shop, in one grouped query."""
        rows = (cls.select(cls.entry_type, fn.SUM(cls.amount_fen).alias("total"))
                .where(cls.shop == shop_id)
                .group_by(cls.entry_type)
                .tuples())
        return {entry_type: int(total) for entry_type, total in rows}

    @classmethod
    def page_for(cls, shop_id, before_id=None, size=20):
        """One page of a shop's ledger, newest first, keyset-paginated by id (no OFFSET)."""
        query = cls.select().where(cls.shop == shop_id)
        if before_id is not None:
            query = query.where(cls.id < before_id)
        return query.order_by(cls.id.desc()).limit(size)
