"""The seller's status widgets: create, list the sites allowed to embed, preview, copy, revoke, rotate."""
from flask import Blueprint, abort, current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import RadioField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from portal.core.vocabulary import WidgetVariant
from portal.refunds.models import RefundRequest
from portal.web import htmx
from portal.web.forms import EmptyForm, Form
from portal.web.guards import require_seller, signed_in_only
from portal.widgets import service as widget_service
from portal.widgets import tokens
from portal.widgets.models import Widget

bp = Blueprint("widgets", __name__, url_prefix="/widgets")

VARIANTS = [(WidgetVariant.PUBLIC, _l("Public: the stage, the expected date and the last change")),
            (WidgetVariant.DETAILED, _l("Detailed: also the amount"))]
LANGUAGES = [("zh_CN", _l("Chinese")), ("en", _l("English")),
             ("AUTO", _l("The viewer's browser language (Chinese unless it lists only English)"))]
LANGUAGE_NAMES = {"zh_CN": _l("Chinese"), "en": _l("English"), "AUTO": _l("viewer's language")}
# The plain iframe snippet's height, per variant: the widget's content at 320-400 px wide, in either
# language (tests/e2e measures it, with room to spare); the loader sizes itself instead.
FRAME_HEIGHTS = {WidgetVariant.PUBLIC: 250, WidgetVariant.DETAILED: 280}


class WidgetForm(Form):
    """What the widget shows, and where it may be embedded."""

    target = SelectField(_l("Request to show"), validators=[DataRequired()])
    variant = RadioField(_l("What it shows"), choices=VARIANTS, default=WidgetVariant.PUBLIC,
                         validators=[DataRequired()])
    language = RadioField(_l("Language"), choices=LANGUAGES, default="zh_CN", validators=[DataRequired()])
    origins = TextAreaField(_l("Sites allowed to embed it"), validators=[
        DataRequired(_l("Name at least one site, e.g. https://erp.example.com")), Length(max=2000)])

    def validate_origins(self, field):
        """One origin per line: https, or http://localhost or http://127.0.0.1 with a port for testing."""
        origins, bad = tokens.parse_origins(field.data)
        if bad:
            raise ValidationError(_("Not a site address we can allow: %(lines)s. Use the form "
                                    "https://example.com (no path); http only for localhost with a port.",
                                    lines=", ".join(bad)))
        if len(origins) > 10:
            raise ValidationError(_("At most 10 sites."))
        field.data = "\n".join(origins)


def _target_choices(shop_id):
    """"My latest request" and each of the shop's requests."""
    return [("latest", _("My latest request (follows new requests)"))] + [
        (str(refund.id), _("Request No. %(number)s", number=refund.id))
        for refund in RefundRequest.for_shop(shop_id).limit(20)]


def _own_widget(widget_id):
    """The seller's own live widget, or 404."""
    shop_id = require_seller()
    widget = Widget.get_or_none((Widget.id == widget_id) & (Widget.shop == shop_id) & Widget.revoked_at.is_null())
    if widget is None:
        abort(404)
    return widget


def _page(shop_id, form=None, status=200):
    """The widgets page: each live widget with its snippets, and the form for a new one."""
    form = form or WidgetForm(formdata=None, target="latest")
    form.target.choices = _target_choices(shop_id)
    secret = current_app.config["SECRET_KEY"]
    widgets = [(widget, tokens.make_token(secret, widget)) for widget in
               Widget.select().where((Widget.shop == shop_id) & Widget.revoked_at.is_null()).order_by(Widget.id.desc())]
    return htmx.render("widgets/list.html", status=status, form=form, widgets=widgets, action_form=EmptyForm(),
                       portal_origin=request.host_url.rstrip("/"), language_names=LANGUAGE_NAMES,
                       frame_heights=FRAME_HEIGHTS)


@bp.get("")
def list_widgets():
    """Every live widget with its snippets and a preview."""
    return _page(require_seller())


@bp.post("")
def create_widget():
    """Create a widget."""
    shop_id = require_seller()
    form = WidgetForm()
    form.target.choices = _target_choices(shop_id)
    if not form.validate():
        return _page(shop_id, form, 422)
    widget = widget_service.create(shop_id, current_user,
                                   None if form.target.data == "latest" else int(form.target.data),
                                   form.variant.data, form.origins.data, language=form.language.data)
    flash(_("Widget created. Copy a snippet below into the other site."))
    return htmx.see_other(url_for("widgets.list_widgets") + f"#widget-{widget.id}")


@bp.post("/<int:widget_id>/rotate")
def rotate_widget(widget_id):
    """A new token: every copy of the old one stops working at once."""
    widget = _own_widget(widget_id)
    widget_service.rotate(widget, current_user)
    flash(_("New token made. Replace the snippet on the other sites: the old one no longer works."))
    return htmx.see_other(url_for("widgets.list_widgets") + f"#widget-{widget.id}")


@bp.post("/<int:widget_id>/revoke")
def revoke_widget(widget_id):
    """Switch a widget off for good."""
    widget = _own_widget(widget_id)
    widget_service.revoke(widget, current_user)
    flash(_("Widget revoked. It no longer shows anywhere."))
    return htmx.see_other(url_for("widgets.list_widgets"))


bp.before_request(signed_in_only)
