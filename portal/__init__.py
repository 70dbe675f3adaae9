"""The deposit refund portal: the application factory."""
import os
import secrets
from importlib import resources
from pathlib import Path

from flask import Flask
from werkzeug.routing import IntegerConverter

from portal.core.settings import DEFAULTS, from_environment


def create_app(test_config=None):
    """Create and configure the portal; ``test_config`` overrides everything else."""
    app = Flask(__name__, instance_relative_config=True, template_folder=resource_folder("templates"),
                static_folder=resource_folder("static"))
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(DEFAULTS)
    app.config.update(from_environment(os.environ))
    app.config.setdefault("DATABASE_URL", None)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = "sqlite:///" + os.path.join(app.instance_path, "portal.sqlite3")
    if not app.config.get("UPLOAD_DIR"):
        app.config["UPLOAD_DIR"] = os.path.join(app.instance_path, "uploads")
    if test_config is not None:
        app.config.update(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app.instance_path)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", resource_folder("translations"))

    # Every <int:...> in a URL is a database id: anything past a 32-bit integer is simply not found
    # (SQLite would otherwise overflow on it and answer 500).
    app.url_map.converters["int"] = BoundedIntegerConverter

    # Imported here, not at the top: the areas' modules read nothing from the app at import time,
    # but importing ``portal`` (for ``create_app``) must stay cheap for tools that only need settings.
    from portal import web
    from portal.accounts import views as accounts
    from portal.deposit import views as deposit
    from portal.desk import views as desk
    from portal.disputes import views as disputes
    from portal.notifications import views as notifications
    from portal.ops import cli
    from portal.payee import views as payee
    from portal.payouts import views as payouts
    from portal.refunds import views as refunds
    from portal.risk import views as risk
    from portal.tickets import views as tickets
    from portal.web import pages
    from portal.widgets import embed
    from portal.widgets import views as widgets

    web.init_app(app)
    for area in (pages, accounts, deposit, payee, refunds, notifications, tickets, risk, disputes, widgets, desk,
                 payouts, embed):
        app.register_blueprint(area.bp)
    cli.init_app(app)
    return app


def resource_folder(name):
    """The folder ``templates``, ``static`` or ``translations``: in the installed package, else in the checkout."""
    package = resources.files("portal")
    packaged = package / name
    if isinstance(packaged, Path) and packaged.is_dir():
        return str(packaged)
    # A source checkout (also what `pip install -e .` runs) keeps templates/ and static/ at the top
    # level, beside portal/; pyproject.toml maps them into the package only when a wheel is built.
    checkout = Path(str(package)).parent / name
    if checkout.is_dir():
        return str(checkout)
    raise RuntimeError(f"the portal's {name} folder is missing: neither {packaged} nor {checkout} exists")


class BoundedIntegerConverter(IntegerConverter):
    """``int`` in routes, capped at the largest id a table can hold."""

    def __init__(self, url_map, *args, **kwargs):
        """Default the maximum to 2**31 - 1."""
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def _instance_secret(instance_path):
    """The secret key kept under ``instance/``: made once, on first start, readable by us only."""
    path = os.path.join(instance_path, "secret_key")
    try:
        # O_EXCL: of several workers starting at once exactly one writes the key; the rest read it.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        with open(path, encoding="ascii") as existing:
            key = existing.read().strip()
        if key:
            return key
        raise RuntimeError(f"{path} is empty: delete it and start again") from None
    with os.fdopen(descriptor, "w", encoding="ascii") as new:
        key = secrets.token_hex(32)
        new.write(key)
    return key
