"""What the widget tests share: the demo at test speed, widgets made straight in the database, the public URLs."""
from portal.accounts.models import User
from portal.core.db import db
from portal.ops import demo
from portal.refunds.models import RefundRequest
from portal.shops.models import Shop
from portal.widgets import tokens
from portal.widgets.models import Widget
from tests.factories import use_cheap_hashing

ORIGINS = ("https://erp.example.com", "http://localhost:8080")


def load_demo(app, monkeypatch):
    """The demo accounts and requests (docs/design.md, "Stable interfaces"), with cheap password hashes."""
    use_cheap_hashing(monkeypatch)
    with app.app_context(), db.connection_context():
        demo.load(app.config)
    return app


def shop_of(username):
    """The shop a demo seller belongs to."""
    return Shop.get_by_id(User.get(User.username == username).shop_id)


def open_request(username):
    """The newest request of a demo seller's shop."""
    return RefundRequest.for_shop(shop_of(username).id).first()


def make_widget(username, request=None, variant="PUBLIC", origins=ORIGINS):
    """A live widget of a seller's shop, made straight in the database (the seller page has its own tests)."""
    return Widget.create(shop=shop_of(username).id, request=request, variant=variant, origins="\n".join(origins))


def token_of(app, widget):
    """The current token of a widget, as the seller page would show it."""
    return tokens.make_token(app.config["SECRET_KEY"], Widget.get_by_id(widget.id))


def public_urls(token):
    """Every route another site loads with a token: page, refresh, JSON, badge."""
    return [f"/embed/{token}", f"/embed/{token}/status", f"/api/v1/status/{token}", f"/badge/{token}.svg"]
