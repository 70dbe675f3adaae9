"""Changes a seller makes to their shop: the exit notice and the contact support uses."""
from portal.core.clock import utcnow
from portal.core.db import write_transaction
from portal.shops.models import Shop


def give_exit_notice(shop_id, now=None):
    """Record the shop's exit notice once; giving it again keeps the first date."""
    now = now or utcnow()
    with write_transaction():
        (Shop.update(exit_notice_at=now)
         .where((Shop.id == shop_id) & (Shop.exit_notice_at.is_null())).execute())
