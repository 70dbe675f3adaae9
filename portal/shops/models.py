"""A seller's shop: its registered entity, its standing and the platform facts the pre-checks use."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from portal.core.clock import utcnow
from portal.core.db import BaseModel, EnumField
from portal.core.vocabulary import ShopStatus


class Shop(BaseModel):
    """A seller's shop: its registered entity and the platform facts the pre-checks use.

    Order, after-sales and last-order facts are synced from the platform's order system; the portal
    only reads them.
    """

    name = CharField()
    entity_name = CharField()  # 主体名称: the registered company or person the shop belongs to
    status = EnumField(ShopStatus, default=ShopStatus.ACTIVE)
    banned_at = DateTimeField(null=True)
    ban_reason = TextField(default="")
    ban_reason_language = CharField(default="")  # the language the agent wrote ban_reason in (zh_CN, en)
    last_order_at = DateTimeField(null=True)
    unfinished_orders = IntegerField(default=0)
    open_after_sales = IntegerField(default=0)
    exit_notice_at = DateTimeField(null=True)
    contact_name = CharField(default="")
    contact_phone = CharField(default="")
    created_at = DateTimeField(default=utcnow)

    @property
    def banned(self):
        """True when the platform has banned the shop."""
        return self.status == ShopStatus.BANNED

    def profile_missing(self):
        """Names of the profile fields support needs but the shop has not filled in."""
        missing = []
        if not self.contact_name.strip():
            missing.append("contact_name")
        if not self.contact_phone.strip():
            missing.append("contact_phone")
        return tuple(missing)


class CategoryRequirement(BaseModel):
    """The deposit one business category requires of a shop."""

    shop = ForeignKeyField(Shop, backref="categories", on_delete="CASCADE")
    code = CharField()
    name_zh = CharField()
    name_en = CharField()
    required_fen = IntegerField()

    class Meta:
        indexes = ((("shop", "code"), True),)
