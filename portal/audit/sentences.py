"""What each audit action is called, and the sentence an entry of it reads as, as message ids.

A sentence names who did it (``%(who)s``) and what it was done to (``%(request)s``, ``%(shop)s``,
``%(ticket)s``: links on the page), with the details the action recorded (an amount, a reason, a
flag). The page fills them in the reader's language (``portal.desk.audit_log.audit_sentence``). An action
this table does not know still reads as a sentence, the general one.

No Flask here: the ids are only marked for extraction.
"""
from portal.core.vocabulary import N_

# action: (what the action filter calls it, the sentence of one entry)
ACTIONS = {
    "refund.assign": (N_("Took a request"), N_("%(who)s took %(request)s")),
    "refund.approved": (N_("Approved a request"), N_("%(who)s approved %(request)s for %(amount)s")),
    "refund.rejected": (N_("Rejected a request"), N_("%(who)s rejected %(request)s: %(reason)s")),
    "refund.needs_info": (N_("Asked for information"), N_("%(who)s asked the seller of %(request)s for information")),
    "refund.on_hold": (N_("Put a request on hold"), N_("%(who)s put %(request)s on hold: %(reason)s")),
    "refund.under_review": (N_("Released a hold"), N_("%(who)s took %(request)s off hold, back to review")),
    "payout.start": (N_("Started a payout"), N_("%(who)s started payout %(reference)s of %(amount)s for %(request)s")),
    "payout.paid": (N_("Recorded a payout"),
                    N_("%(who)s recorded %(request)s as paid: %(amount)s, bank reference %(bank_reference)s")),
    "payout.failed": (N_("Recorded a failed payout"), N_("%(who)s recorded that the payout of %(request)s failed: "
                                                         "%(reason)s")),
    "payee.reveal": (N_("Revealed an account number"),
                     N_("%(who)s revealed the full payee account number of %(request)s")),
    "risk.raise": (N_("Raised a risk flag"), N_("%(who)s raised a risk flag on %(shop)s: %(flag)s (%(severity)s, "
                                                "%(effect)s)")),
    "risk.clear": (N_("Cleared a risk flag"), N_("%(who)s cleared the risk flag “%(flag)s” on %(shop)s")),
    "shop.ban": (N_("Banned a shop"), N_("%(who)s banned %(shop)s")),
    "dispute.resolve": (N_("Decided a buyer dispute"), N_("%(who)s decided a buyer dispute of %(shop)s")),
    "ticket.reply": (N_("Replied to a ticket"), N_("%(who)s replied to %(ticket)s")),
    "ticket.note": (N_("Added an internal note"), N_("%(who)s added an internal note to %(ticket)s")),
    "ticket.status": (N_("Changed a ticket's status"), N_("%(who)s set %(ticket)s to “%(status)s”")),
    "ticket.assign": (N_("Took a ticket"), N_("%(who)s took %(ticket)s")),
    "widget.create": (N_("Created a status widget"), N_("%(who)s created a status widget for %(shop)s")),
    "widget.rotate": (N_("Renewed a widget's link"), N_("%(who)s renewed the link of a status widget of %(shop)s")),
    "widget.revoke": (N_("Revoked a status widget"), N_("%(who)s revoked a status widget of %(shop)s")),
}
OTHER_ACTION = (N_("Another action"), N_("%(who)s made a change to %(subject)s"))

# Details that are someone's own words (staff only): shown quoted, as typed, after the sentence.
QUOTED = {"risk.raise": "rationale", "risk.clear": "rationale", "shop.ban": "reason", "dispute.resolve": "outcome"}


def title_id(action):
    """The message id that names an action in the filter."""
    return ACTIONS.get(action, OTHER_ACTION)[0]


def sentence_id(action):
    """The message id of an entry's sentence."""
    return ACTIONS.get(action, OTHER_ACTION)[1]
