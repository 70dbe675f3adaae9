"""Risk words as pages show them: rule violations, money owed, risk flags, their severity and effect.

Each stored code has a message id here; ``register`` hands the tables to the page shell, so that
every page names a code with ``code_label(kind, code)`` in its reader's language and never prints
the code itself. A code a table lacks (a violation the platform added later, a flag raised before
the list existed) gets the table's general name.
"""
from portal.core.vocabulary import N_, FlagEffect, FlagSeverity
from portal.web.text import register_labels

# Platform rule violations, synced from the platform's rules system by their code.
VIOLATIONS = {
    "LATE_SHIPMENT": N_("Late shipment"),
    "FALSE_ADVERTISING": N_("Misleading product description"),
    "COUNTERFEIT": N_("Selling counterfeit goods"),
    "FAKE_REVIEWS": N_("Fake orders or reviews"),
    "PROHIBITED_GOODS": N_("Prohibited goods"),
    "POOR_SERVICE": N_("Poor after-sales service"),
}

# Why a shop owes the platform money: ``Arrear.reason`` holds one of these codes, or an operator's
# own words (shown as typed).
ARREAR_REASONS = {
    "service_fee": N_("Unpaid technical service fee"),
    "buyer_compensation": N_("Buyer compensation the deposit did not cover"),
    "penalty": N_("Unpaid penalty for a rule violation"),
}

# The risks staff flag (ACCOUNT_BANNED is raised by a ban, never chosen by hand).
RISK_CODES = {
    "ACCOUNT_BANNED": N_("Shop banned"),
    "FAKE_ORDERS": N_("Suspected fake orders"),
    "ABNORMAL_REFUNDS": N_("Unusual refund pattern"),
    "IDENTITY_CHECK": N_("Identity to be verified"),
    "PAYEE_RISK": N_("Payee account at risk"),
    "LINKED_ACCOUNTS": N_("Linked to a high-risk account"),
    "OTHER_RISK": N_("Other account risk"),
}
RAISABLE_RISK_CODES = tuple(code for code in RISK_CODES if code != "ACCOUNT_BANNED")

SEVERITIES = {FlagSeverity.HIGH: N_("High"), FlagSeverity.MEDIUM: N_("Medium"), FlagSeverity.LOW: N_("Low")}

EFFECTS = {FlagEffect.BLOCKS: N_("Blocks refunds"), FlagEffect.DELAYS: N_("Delays refunds"),
           FlagEffect.NONE: N_("No effect on refunds")}


def register():
    """Name violations, arrears, risks, severities and effects on every page."""
    register_labels("violation", VIOLATIONS, N_("A platform rule violation"))
    register_labels("arrear", ARREAR_REASONS, N_("Money owed to the platform"))
    register_labels("risk", RISK_CODES, N_("Account risk"))
    register_labels("severity", SEVERITIES, N_("Unknown severity"))
    register_labels("effect", EFFECTS, N_("Unknown effect"))
