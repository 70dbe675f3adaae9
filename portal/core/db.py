"""The database handle, the base model, transactions that write, and the migrations.

The URL in ``DATABASE_URL`` decides SQLite or PostgreSQL; everything else in the app talks to
``db``, a proxy bound when the app is created (``portal.web.database`` connects it per request).
No Flask here: the commands and the scheduled steps use the same handle.
"""
import os

from peewee import CharField, DatabaseProxy, Model, PostgresqlDatabase, SqliteDatabase
from playhouse import migrations
from playhouse.db_url import connect

db = DatabaseProxy()

MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations")

# Set on every SQLite connection: the busy timeout makes a second writer wait for the lock instead
# of failing at once (SQLite has one writer at a time). WAL, which lets readers go on while one
# writer writes, is stored in the database file itself, so ``migrate`` sets it once.
SQLITE_PRAGMAS = {
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "synchronous": "normal",
}


class BaseModel(Model):
    """Every table of the portal."""

    class Meta:
        database = db
        legacy_table_names = False


class EnumField(CharField):
    """A text column holding one value of a vocabulary enum; reads back as the enum member.

    Writing anything that is not a value of the enum fails before it reaches the database.
    """

    def __init__(self, enum, *args, **kwargs):
        """Remember the enum whose values the column holds."""
        self.enum = enum
        super().__init__(*args, **kwargs)

    def db_value(self, value):
        """The member's string (a plain string must be one of the values)."""
        return None if value is None else self.enum(value).value

    def python_value(self, value):
        """The member for a stored string."""
        return None if value is None else self.enum(value)


def open_database(url, pool_size=8):
    """Make a peewee database for a URL: SQLite with its pragmas, PostgreSQL through a pool.

    Opening a PostgreSQL connection costs several milliseconds, more than most requests; each
    process keeps up to ``pool_size`` open and hands them out per request.
    """
    if url.startswith("sqlite"):
        database = connect(url, pragmas=SQLITE_PRAGMAS, timeout=10)
    elif url.startswith(("postgres://", "postgresql://")):
        pooled = "postgresql+pool://" + url.split("://", 1)[1]
        database = connect(pooled, max_connections=pool_size, stale_timeout=300, timeout=10)
    else:
        database = connect(url)
    database.autorollback = False
    return database


def is_sqlite():
    """True when the bound database is SQLite."""
    return isinstance(db.obj, SqliteDatabase)


def is_postgres():
    """True when the bound database is PostgreSQL."""
    return isinstance(db.obj, PostgresqlDatabase)


def write_transaction():
    """A transaction that will write after reading.

    SQLite has no ``SELECT ... FOR UPDATE``: ``BEGIN IMMEDIATE`` takes the write lock up front so a
    read-then-write cannot be overtaken by another writer. PostgreSQL callers lock rows instead.
    """
    if is_sqlite():
        return db.atomic("IMMEDIATE")
    return db.atomic()


def lock_for_update(query):
    """Add ``FOR UPDATE`` where the database has it (SQLite is already locked by IMMEDIATE)."""
    if is_postgres():
        return query.for_update()
    return query


def migrate():
    """Apply every pending migration; returns the names applied."""
    if is_sqlite():
        db.execute_sql("PRAGMA journal_mode=wal")
    return migrations.run(db.obj, directory=MIGRATIONS_DIR)
