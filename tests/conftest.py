"""The fixture stack: ``app`` on a fresh database (SQLite and PostgreSQL) → ``client``, ``runner``, ``auth``.

Every test that uses ``app`` runs twice, once per database. PostgreSQL comes from
``TEST_POSTGRES_URL`` (default: the local server, database ``test``); each xdist worker gets a
database of its own. Without a server the PostgreSQL half is skipped with a reason, except under
CI (``CI=true``), where it must run.
"""
import os
import uuid

import pytest

from portal import create_app
from portal.core.db import db, migrate
from portal.ops import demo

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = demo.PASSWORD


def _postgres_admin():
    """A connection to the server's maintenance database, or None when there is no server."""
    try:
        import psycopg2
    except ImportError:  # pragma: no cover - psycopg2 is a dependency
        return None
    try:
        connection = psycopg2.connect(POSTGRES_URL, connect_timeout=3)
    except psycopg2.OperationalError:
        return None
    connection.autocommit = True
    return connection


@pytest.fixture(scope="session")
def postgres_url(worker_id):
    """A PostgreSQL database for this test worker, migrated once; skipped without a server."""
    admin = _postgres_admin()
    if admin is None:
        if IN_CI:
            pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL}, and under CI it must be")
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL} (set TEST_POSTGRES_URL to run these)")
    # The process id too: several test runs on one machine must not share a database.
    name = f"portal_test_{worker_id}_{os.getpid()}".replace("-", "_")
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    yield url
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def _empty_postgres(url):
    """Bring a PostgreSQL test database to an empty, migrated state quickly."""
    tables = [name for name in db.get_tables() if name != "schema_migration"]
    if not tables:
        migrate()
        return
    quoted = ", ".join(f'"{name}"' for name in tables)
    db.execute_sql(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
    migrate()  # picks up any migration added since the database was first made


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    """The database a test runs on: a fresh SQLite file, or this worker's PostgreSQL database."""
    if request.param == "sqlite":
        return "sqlite:///" + str(tmp_path / "portal.sqlite3")
    return request.getfixturevalue("postgres_url")


def make_app(database_url, tmp_path, **overrides):
    """An app on ``database_url`` with an empty, migrated schema."""
    config = {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-" + uuid.uuid4().hex,
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "WTF_CSRF_ENABLED": False,
    }
    config.update(overrides)
    app = create_app(config)
    with db.connection_context():
        if database_url.startswith("postgres"):
            _empty_postgres(database_url)
        else:
            migrate()
    return app


def release_connections():
    """Close this thread's connection and every pooled one (each test's app has its own pool)."""
    if not db.is_closed():
        db.close()
    if hasattr(db.obj, "close_all"):
        db.obj.close_all()


@pytest.fixture
def app(database_url, tmp_path):
    """The portal on an empty database, CSRF off (one test keeps it on: ``csrf_app``)."""
    app = make_app(database_url, tmp_path)
    yield app
    release_connections()


@pytest.fixture
def csrf_app(database_url, tmp_path):
    """The portal with CSRF protection on, as in production."""
    app = make_app(database_url, tmp_path, WTF_CSRF_ENABLED=True)
    yield app
    release_connections()


@pytest.fixture
def demo_data(app):
    """The demo accounts and data loaded into the test database."""
    with app.app_context(), db.connection_context():
        demo.load(app.config)
    return app


@pytest.fixture
def client(app):
    """A browser without JavaScript."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """The ``flask`` command line."""
    return app.test_cli_runner()


class AuthActions:
    """Sign in and out through the real form."""

    def __init__(self, client):
        self._client = client

    def login(self, username="seller-ok", password=PASSWORD):
        """Sign in as a user; returns the response."""
        return self._client.post("/login", data={"username": username, "password": password})

    def logout(self):
        """Sign out."""
        return self._client.post("/logout")


@pytest.fixture
def auth(client):
    """Sign-in helper bound to ``client``."""
    return AuthActions(client)


def htmx_headers(target=None):
    """The headers htmx sends for a fragment request."""
    headers = {"HX-Request": "true"}
    if target:
        headers["HX-Target"] = target
    return headers
