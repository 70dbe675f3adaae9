"""Payout words as pages show them: where one payout attempt stands, as finance and support read it."""
from portal.core.vocabulary import N_, PayoutStatus
from portal.web.text import register_labels

ATTEMPTS = {
    PayoutStatus.PROCESSING: N_("being paid"),
    PayoutStatus.PAID: N_("paid"),
    PayoutStatus.FAILED: N_("returned unpaid"),
}


def register():
    """Name payout attempt states on every page."""
    register_labels("attempt", ATTEMPTS, N_("unknown state"))
