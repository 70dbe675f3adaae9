"""Status widgets sellers let other sites embed, and the shared rate counters."""
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from portal.core.clock import utcnow
from portal.core.db import BaseModel, EnumField
from portal.core.vocabulary import WidgetVariant
from portal.refunds.models import RefundRequest
from portal.shops.models import Shop


class Widget(BaseModel):
    """A read-only status widget a seller lets other sites embed."""

    shop = ForeignKeyField(Shop, backref="widgets", on_delete="CASCADE")
    request = ForeignKeyField(RefundRequest, null=True, on_delete="CASCADE")  # None: "my latest request"
    variant = EnumField(WidgetVariant, default=WidgetVariant.PUBLIC)
    language = CharField(default="zh_CN")  # zh_CN, en, or AUTO: the viewer's browser (Chinese first)
    origins = TextField()  # the sites allowed to embed it, one origin per line
    version = IntegerField(default=1)  # in every token: bumping it makes every old token fail at once
    revoked_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)

    @property
    def origin_list(self):
        """The allowed origins as a list."""
        return [line.strip() for line in self.origins.splitlines() if line.strip()]


class RateCounter(BaseModel):
    """Requests counted per key and minute, shared by every app process (for 429s)."""

    key = CharField()
    window = IntegerField()  # minutes since the epoch
    count = IntegerField(default=0)

    class Meta:
        indexes = ((("key", "window"), True),)
