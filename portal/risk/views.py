"""The seller's risk page: what holds refunds back (violations, disputes, money owed, warnings) and what to do."""
from flask import Blueprint

from portal.disputes.models import Dispute
from portal.risk import labels as risk_labels
from portal.risk import service as risk_service
from portal.risk.models import Arrear, RiskFlag, Violation
from portal.web import htmx
from portal.web.guards import require_seller, signed_in_only

bp = Blueprint("risk", __name__, url_prefix="/risk")
risk_labels.register()


@bp.get("")
def show_risks():
    """Open violations, disputes and money owed with their effect, active warnings, and the cleared ones."""
    shop_id = require_seller()
    active = risk_service.banner_flags(shop_id)
    cleared = list(RiskFlag.select().where((RiskFlag.shop == shop_id) & RiskFlag.cleared_at.is_null(False))
                   .order_by(RiskFlag.cleared_at.desc()).limit(20))
    return htmx.render("risk/show.html", flags=active, cleared=cleared,
                       violations=list(Violation.open_for(shop_id)), disputes=list(Dispute.open_for(shop_id)),
                       arrears=list(Arrear.open_for(shop_id)))


bp.before_request(signed_in_only)
