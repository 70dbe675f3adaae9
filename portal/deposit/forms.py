"""The deposit page's forms."""
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField
from wtforms.validators import DataRequired

from portal.web.forms import Form


class ExitNoticeForm(Form):
    """Giving exit notice: the seller confirms they mean it (works without JavaScript)."""

    confirm = BooleanField(_l("I want to leave the platform and start the notice period"),
                           validators=[DataRequired(_l("Tick the box to confirm the exit notice."))])
