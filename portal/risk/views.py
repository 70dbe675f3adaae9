"""The seller's risk page: every warning on the account, what it does to refunds, and how to appeal."""
from flask import Blueprint

from portal.risk import labels as risk_labels
from portal.risk import service as risk_service
from portal.risk.models import RiskFlag
from portal.web import htmx
from portal.web.guards import require_seller, signed_in_only

bp = Blueprint("risk", __name__, url_prefix="/risk")
risk_labels.register()


@bp.get("")
def show_risks():
    """Active warnings in full, and the cleared ones below them."""
    shop_id = require_seller()
    active = risk_service.banner_flags(shop_id)
    cleared = list(RiskFlag.select().where((RiskFlag.shop == shop_id) & RiskFlag.cleared_at.is_null(False))
                   .order_by(RiskFlag.cleared_at.desc()).limit(20))
    return htmx.render("risk/show.html", flags=active, cleared=cleared)


bp.before_request(signed_in_only)
