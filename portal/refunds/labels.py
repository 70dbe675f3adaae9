"""Refund words as pages show them: state labels, pre-check messages and titles, refusals, fix links.

The rules modules hold message ids; this module translates them in the reader's language, and
``register`` makes them template helpers of every page (the desk's and the widget's too).
"""
from flask import url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.routing import BuildError

from portal.refunds import prechecks, states
from portal.web.text import translate_params


def state_label(state):
    """A request state's seller-facing label in the current language."""
    return _(states.STATE_LABELS[state])


def staff_state_label(state):
    """A request state as the desk reads it."""
    return _(states.STAFF_STATE_LABELS.get(state) or states.STATE_LABELS[state])


def check_title(code):
    """A pre-check code's short title in the current language."""
    title = prechecks.CHECK_TITLES.get(code)
    return _(title) if title else _("Another pre-check")


def check_message(check):
    """A pre-check finding's message, translated and filled in (in the plural form its count needs)."""
    params = translate_params(check.params)
    if isinstance(check.message, tuple):
        singular, plural = check.message
        return ngettext(singular, plural, params["count"], **params)
    return _(check.message, **params)


def fix_url(check):
    """Where a pre-check finding is fixed, as a URL (None if that page does not exist yet)."""
    try:
        url = url_for(check.fix_endpoint, **check.fix_params)
    except BuildError:
        return None
    return url + ("#" + check.fix_anchor if check.fix_anchor else "")


def refusal_text(refused):
    """A refused transition's message, naming states by their labels in the current language."""
    params = {key: (state_label(value) if key in ("source", "target") and value in states.STATE_LABELS
                    else value) for key, value in refused.params.items()}
    return _(refused.message, **params)


def register(blueprint):
    """Make the refund words template helpers of every page of the app."""
    for helper in (state_label, staff_state_label, check_title, check_message, fix_url):
        blueprint.add_app_template_global(helper)
    blueprint.add_app_template_global(states, "refund_states")
