"""Who did something, as pages name people: a display name, else what they are (never a username)."""
from flask_babel import gettext as _

from portal.core.vocabulary import N_, Actor

# What the pages call someone without a name shown: the portal itself, the gateway, a role.
ACTORS = {
    Actor.SELLER: N_("The seller"),
    Actor.AGENT: N_("Support"),
    Actor.FINANCE: N_("Finance"),
    Actor.SYSTEM: N_("The portal, automatically"),
    Actor.GATEWAY: N_("The payment gateway"),
}


def actor_name(user, role):
    """Who did something: their display name, else what they are (the portal, support, the seller)."""
    if user is not None and user.display_name:
        return user.display_name
    return _(ACTORS.get(role) or N_("Someone"))


def register(blueprint):
    """Make ``actor_name`` a template helper of every page."""
    blueprint.add_app_template_global(actor_name)
