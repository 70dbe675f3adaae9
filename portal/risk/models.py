"""What stands against a shop: risk flags, rule violations and money owed."""
from peewee import Case, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from portal.accounts.models import User
from portal.core.clock import utcnow
from portal.core.db import BaseModel, EnumField
from portal.core.vocabulary import ArrearStatus, FlagEffect, FlagSeverity, ViolationStatus
from portal.shops.models import Shop


class Violation(BaseModel):
    """A rule violation found against a shop; an open one blocks refunds."""

    shop = ForeignKeyField(Shop, backref="violations", on_delete="CASCADE")
    code = CharField()
    description = TextField()
    status = EnumField(ViolationStatus, default=ViolationStatus.OPEN)
    opened_at = DateTimeField(default=utcnow)
    closed_at = DateTimeField(null=True)

    @classmethod
    def open_for(cls, shop_id):
        """Open violations of a shop, newest first."""
        return cls.select().where((cls.shop == shop_id) & (cls.status == ViolationStatus.OPEN)).order_by(cls.id.desc())


class Arrear(BaseModel):
    """Money the shop owes the platform (fees, compensation not covered by the deposit)."""

    shop = ForeignKeyField(Shop, backref="arrears", on_delete="CASCADE")
    amount_fen = IntegerField()
    reason = TextField()
    status = EnumField(ArrearStatus, default=ArrearStatus.OPEN)
    created_at = DateTimeField(default=utcnow)

    @classmethod
    def open_for(cls, shop_id):
        """Unsettled arrears of a shop."""
        return cls.select().where((cls.shop == shop_id) & (cls.status == ArrearStatus.OPEN)).order_by(cls.id.desc())


class RiskFlag(BaseModel):
    """A risk on a seller's account: what the seller reads, why (staff only), and what it does to refunds."""

    shop = ForeignKeyField(Shop, backref="risk_flags", on_delete="CASCADE")
    code = CharField()
    severity = EnumField(FlagSeverity, default=FlagSeverity.MEDIUM)
    seller_text = TextField()
    seller_text_language = CharField(default="")  # the language seller_text and how_to_fix were written in
    rationale = TextField()  # internal: never shown to the seller
    effect = EnumField(FlagEffect, default=FlagEffect.NONE)  # on refunds
    how_to_fix = TextField(default="")
    raised_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    raised_at = DateTimeField(default=utcnow)
    seen_at = DateTimeField(null=True)  # when the seller first saw it
    cleared_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    cleared_at = DateTimeField(null=True)
    clear_rationale = TextField(default="")

    @classmethod
    def active_for(cls, shop_id):
        """A shop's flags that are not cleared, most severe first."""
        order = Case(cls.severity, [(FlagSeverity.HIGH.value, 0), (FlagSeverity.MEDIUM.value, 1)], 2)
        return (cls.select().where((cls.shop == shop_id) & cls.cleared_at.is_null())
                .order_by(order, cls.id.desc()))

    @classmethod
    def blocking_codes(cls, shop_id):
        """Codes of the shop's active flags that block refunds."""
        return tuple(code for (code,) in cls.select(cls.code)
                     .where((cls.shop == shop_id) & cls.cleared_at.is_null() & (cls.effect == FlagEffect.BLOCKS))
                     .tuples())
