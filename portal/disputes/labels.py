"""Dispute words as pages show them: the state of a buyer dispute, by its code."""
from portal.core.vocabulary import N_, DisputeStatus
from portal.web.text import register_labels

STATES = {
    DisputeStatus.NEGOTIATING: N_("Negotiating with the buyer"),
    DisputeStatus.PLATFORM_REVIEW: N_("The platform is reviewing"),
    DisputeStatus.RESOLVED: N_("Resolved"),
}


def register():
    """Name dispute states on every page (the seller's and the desk's)."""
    register_labels("dispute", STATES, N_("Unknown state"))
