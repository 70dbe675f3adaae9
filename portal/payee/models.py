"""Where a shop's refunds are paid, and every change to it."""
from peewee import CharField, DateTimeField, ForeignKeyField, TextField, fn

from portal.accounts.models import User
from portal.core.clock import utcnow
from portal.core.db import BaseModel, EnumField
from portal.core.vocabulary import AccountType
from portal.shops.models import Shop


class PayeeAccount(BaseModel):
    """Where a shop's refunds are paid (收款信息): one per shop, replaced on change."""

    shop = ForeignKeyField(Shop, backref="payee_accounts", unique=True, on_delete="CASCADE")
    holder_name = CharField()
    account_type = EnumField(AccountType)
    bank_name = CharField()
    account_number = CharField()
    updated_at = DateTimeField(default=utcnow)

    @property
    def masked_number(self):
        """The account number as shown: only the last four digits."""
        digits = self.account_number
        return "•••• " + digits[-4:] if len(digits) > 4 else "••••"


class PayeeChange(BaseModel):
    """A record of each change to the payee details, for the recently-changed warning and audit."""

    shop = ForeignKeyField(Shop, backref="payee_changes", on_delete="CASCADE")
    changed_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    changed_at = DateTimeField(default=utcnow, index=True)
    summary = TextField()  # what changed, with account numbers masked

    @classmethod
    def latest_at(cls, shop_id):
        """When the shop's payee details last changed (None if never)."""
        return cls.select(fn.MAX(cls.changed_at)).where(cls.shop == shop_id).scalar()
