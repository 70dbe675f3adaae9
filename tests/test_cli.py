"""Operator commands: init-db and demo are idempotent; create-user makes each role and refuses bad input."""
import datetime
import uuid

import pytest
from argon2 import PasswordHasher

from portal import create_app
from portal.accounts import service as account_service
from portal.accounts.models import User
from portal.core.calendar import CalendarOverride
from portal.core.db import db
from portal.core.vocabulary import Role
from portal.ops.schema import MODELS
from portal.shops.models import Shop
from tests.factories import make_shop, use_cheap_hashing

GOOD_PASSWORD = "a-long-password-1"


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch):
    """Cheap argon2 (the demo hashes nine passwords); the hash format is still argon2id."""
    use_cheap_hashing(monkeypatch)


def row_counts():
    """How many rows every table of the portal holds."""
    with db.connection_context():
        return {model.__name__: model.select().count() for model in MODELS}


def invoke(runner, *args, **kwargs):
    """Run a ``flask`` command as ``flask --app portal`` would: inside the app's context."""
    # The real ``flask`` group pushes the app context before any command; the test runner invokes
    # ``app.cli`` directly, which only does so for commands declared with ``app.cli.command``.
    with runner.app.app_context():
        return runner.invoke(args=list(args), **kwargs)


def test_init_db_is_idempotent(runner, app):
    """Running init-db on a ready database succeeds and changes nothing, however often it runs."""
    first = invoke(runner, "init-db")
    assert first.exit_code == 0, first.output
    counts = row_counts()
    with db.connection_context():
        tables = set(db.get_tables())
    second = invoke(runner, "init-db")
    assert second.exit_code == 0, second.output
    assert "Database ready" in second.output
    assert row_counts() == counts
    with db.connection_context():
        assert set(db.get_tables()) == tables


def test_init_db_creates_the_schema_on_a_fresh_database(tmp_path):
    """On a brand-new SQLite file init-db creates every table, then a second run applies nothing."""
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite:///" + str(tmp_path / "fresh.sqlite3"),
                      "SECRET_KEY": "test-" + uuid.uuid4().hex, "UPLOAD_DIR": str(tmp_path / "uploads")})
    runner = app.test_cli_runner()
    result = invoke(runner, "init-db")
    assert result.exit_code == 0, result.output
    with db.connection_context():
        tables = set(db.get_tables())
        applied = list(db.execute_sql("SELECT name FROM schema_migration"))
    assert {model._meta.table_name for model in MODELS} <= tables
    assert invoke(runner, "init-db").exit_code == 0
    with db.connection_context():
        assert list(db.execute_sql("SELECT name FROM schema_migration")) == applied
    db.close()


def test_demo_is_idempotent(runner, app):
    """demo loads the named accounts once; a second run succeeds and adds nothing."""
    first = invoke(runner, "demo")
    assert first.exit_code == 0, first.output
    counts = row_counts()
    with db.connection_context():
        names = {user.username for user in User.select()}
    assert {"seller-ok", "seller-risky", "seller-banned", "agent", "finance"} <= names
    second = invoke(runner, "demo")
    assert second.exit_code == 0, second.output
    assert second.output != first.output
    assert row_counts() == counts


@pytest.mark.parametrize("role", [Role.AGENT, Role.FINANCE])
def test_create_staff_user(runner, app, role):
    """An agent or finance account is created without a shop, with an argon2id hash of the password."""
    result = invoke(runner, "create-user", "staff-1", "--role", role, "--password", GOOD_PASSWORD)
    assert result.exit_code == 0, result.output
    with db.connection_context():
        user = User.get(User.username == "staff-1")
        assert (user.role, user.shop_id, user.active) == (role, None, True)
        assert user.password_hash.startswith("$argon2id$")
        assert account_service.authenticate("staff-1", GOOD_PASSWORD).id == user.id


def test_create_seller_with_a_new_shop(runner, app):
    """A seller created with a shop name and entity gets a new shop with that entity."""
    result = invoke(runner, "create-user", "seller-1", "--password", GOOD_PASSWORD,
                    "--shop-name", "新店", "--entity-name", "新店科技有限公司")
    assert result.exit_code == 0, result.output
    with db.connection_context():
        user = User.get(User.username == "seller-1")
        assert user.role == Role.SELLER
        assert (user.shop.name, user.shop.entity_name) == ("新店", "新店科技有限公司")


def test_create_seller_for_an_existing_shop(runner, app):
    """A second seller can be added to an existing shop by its id."""
    with db.connection_context():
        shop = make_shop()
    result = invoke(runner, "create-user", "seller-2", "--shop-id", str(shop.id), "--password", GOOD_PASSWORD)
    assert result.exit_code == 0, result.output
    with db.connection_context():
        assert User.get(User.username == "seller-2").shop_id == shop.id
        assert Shop.select().count() == 1


def test_create_user_strips_the_username(runner, app):
    """Spaces around the username are dropped, so the account can sign in with what the form sends."""
    assert invoke(runner, "create-user", " staff-4 ", "--role", Role.AGENT, "--password", GOOD_PASSWORD).exit_code == 0
    with db.connection_context():
        assert account_service.authenticate("staff-4", GOOD_PASSWORD) is not None


def test_create_user_asks_for_the_password_twice(runner, app):
    """Without --password the command prompts (hidden, with confirmation)."""
    result = invoke(runner, "create-user", "staff-2", "--role", Role.AGENT,
                    input=f"{GOOD_PASSWORD}\n{GOOD_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert GOOD_PASSWORD not in result.output
    with db.connection_context():
        assert account_service.authenticate("staff-2", GOOD_PASSWORD) is not None


@pytest.mark.parametrize(("username", "args", "exit_code", "message"), [
    ("someone", ["--role", Role.AGENT, "--password", "short"], 2, "at least 10 characters"),
    ("someone", ["--password", GOOD_PASSWORD], 2, "--shop-id"),  # a seller needs a shop
    ("someone", ["--password", GOOD_PASSWORD, "--shop-name", "只有店名"], 2, "--entity-name"),
    ("someone", ["--password", GOOD_PASSWORD, "--shop-id", "999999"], 2, "no shop 999999"),
    ("someone", ["--role", "admin", "--password", GOOD_PASSWORD], 2, "admin"),
    ("  ", ["--role", Role.AGENT, "--password", GOOD_PASSWORD], 2, "USERNAME"),
])
def test_create_user_refuses_bad_input(runner, app, username, args, exit_code, message):
    """Bad input is refused with a message naming the problem, and nothing is created."""
    counts = row_counts()
    result = invoke(runner, "create-user", username, *args)
    assert result.exit_code == exit_code, result.output
    assert message in result.output
    assert row_counts() == counts


def test_create_user_refuses_a_taken_username(runner, app):
    """A taken username is refused, and the shop the command would have made is not left behind."""
    assert invoke(runner, "create-user", "seller-1", "--role", Role.AGENT, "--password", GOOD_PASSWORD).exit_code == 0
    counts = row_counts()
    result = invoke(runner, "create-user", "seller-1", "--password", GOOD_PASSWORD,
                    "--shop-name", "新店", "--entity-name", "新店科技有限公司")
    assert result.exit_code == 1
    assert "taken" in result.output
    assert row_counts() == counts


def test_real_cost_hash_from_create_user(runner, app, monkeypatch):
    """With the production hasher the stored hash needs no upgrade (it is made at today's cost)."""
    monkeypatch.setattr(account_service, "_hasher", PasswordHasher())
    assert invoke(runner, "create-user", "staff-3", "--role", Role.FINANCE, "--password", GOOD_PASSWORD).exit_code == 0
    with db.connection_context():
        stored = User.get(User.username == "staff-3").password_hash
    assert stored.startswith("$argon2id$") and not PasswordHasher().check_needs_rehash(stored)


def test_calendar_overrides(runner, app):
    """calendar set adds or changes an override, list shows it, unset removes it."""
    assert invoke(runner, "calendar", "set", "2027-02-20", "workday", "--note", "调休").exit_code == 0
    assert invoke(runner, "calendar", "set", "2027-02-20", "off").exit_code == 0
    with db.connection_context():
        override = CalendarOverride.get()
        assert (override.day, override.is_workday) == (datetime.date(2027, 2, 20), False)
    assert "2027-02-20  off" in invoke(runner, "calendar", "list").output
    assert invoke(runner, "calendar", "unset", "2027-02-20").output.strip() == "Removed."
    assert invoke(runner, "calendar", "list").output.strip() == "No overrides."
