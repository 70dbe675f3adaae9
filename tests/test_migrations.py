"""The migrations build exactly the schema the models describe, on SQLite and on PostgreSQL."""
import re

import pytest
from peewee import SqliteDatabase
from playhouse.schema_diff import diff_models

from portal.core.db import db, migrate
from portal.core.vocabulary import TERMINAL_STATES
from portal.ops.schema import MODELS, POSTGRES_SEARCH_INDEXES

REFERENCE_SCHEMA = "models_reference"


def where_clause(sql):
    """The condition of a partial index, with quoting, brackets, casts and spacing taken out."""
    match = re.search(r"\bWHERE\b(.*)$", sql or "", re.IGNORECASE | re.DOTALL)
    if match is None:
        return None
    return re.sub(r'["()\s]|::[a-z ]+(\[\])?', "", match.group(1)).lower()


def describe(database, tables, schema=None):
    """Per table: its columns (type, null, key), foreign keys (with ON DELETE) and indexes, as introspected."""
    shape = {}
    for table in sorted(tables):
        columns = {(column.name, (column.full_type or column.data_type).lower(), column.null, column.primary_key)
                   for column in database.get_columns(table, schema)}
        foreign_keys = {(key.column, key.dest_table, key.dest_column, (key.on_delete or "NO ACTION").upper())
                        for key in database.get_foreign_keys(table, schema)}
        # Plain indexes compare by what they index: the frozen models of the migrations name them after
        # the class (ledgerentry_shop_id), the app's models after the table (ledger_entry_shop_id).
        # Partial indexes are named by hand, and their names are compared too.
        indexes = {(index.name if where_clause(index.sql) else None, tuple(index.columns), bool(index.unique),
                    where_clause(index.sql))
                   for index in database.get_indexes(table, schema)
                   if index.name not in POSTGRES_SEARCH_INDEXES}
        shape[table] = {"columns": columns, "foreign keys": foreign_keys, "indexes": indexes}
    return shape


def model_tables():
    """The tables the models declare."""
    return {model._meta.table_name for model in MODELS}


@pytest.fixture
def reference(app, database_url, tmp_path):
    """The shape of a database made straight from the models, beside the migrated one."""
    if database_url.startswith("sqlite"):
        made = SqliteDatabase(str(tmp_path / "from-models.sqlite3"), pragmas={"foreign_keys": 1})
        with made.bind_ctx(MODELS):
            made.create_tables(MODELS)
        yield describe(made, model_tables())
        made.close()
        return
    with db.connection_context():
        db.execute_sql(f'DROP SCHEMA IF EXISTS "{REFERENCE_SCHEMA}" CASCADE')
        db.execute_sql(f'CREATE SCHEMA "{REFERENCE_SCHEMA}"')
        try:
            # Unqualified names go to the first schema on the search path: the models' tables land there.
            db.execute_sql(f'SET search_path TO "{REFERENCE_SCHEMA}"')
            db.create_tables(MODELS, safe=False)
            db.execute_sql("SET search_path TO public")
            yield describe(db, model_tables(), REFERENCE_SCHEMA)
        finally:
            db.execute_sql("SET search_path TO public")
            db.execute_sql(f'DROP SCHEMA IF EXISTS "{REFERENCE_SCHEMA}" CASCADE')


def test_schema_diff_finds_nothing_to_change(app):
    """After migrating, peewee's schema diff finds no table, column or index to add or drop."""
    with db.connection_context():
        difference = diff_models(db, MODELS)
    # The trigram search indexes exist on PostgreSQL only and are not declared by the models.
    changes = [line for line in str(difference).splitlines()
               if line.strip() and not any(name in line for name in POSTGRES_SEARCH_INDEXES)]
    assert not changes, "\n".join(changes)


def test_migrated_schema_matches_the_models_exactly(app, reference):
    """Column types, nullability, keys, ON DELETE rules and indexes (partial ones too) match the models."""
    with db.connection_context():
        tables = set(db.get_tables()) - {"schema_migration"}
        migrated = describe(db, tables)
    assert set(migrated) == set(reference)
    for table in sorted(reference):
        for part in ("columns", "foreign keys", "indexes"):
            assert migrated[table][part] == reference[table][part], (
                f"{table} {part}: only in migrations {migrated[table][part] - reference[table][part]}, "
                f"only in models {reference[table][part] - migrated[table][part]}")


def test_one_open_request_index_names_every_final_state(app):
    """The partial index that allows one open request per shop excludes exactly the terminal states."""
    with db.connection_context():
        [index] = [index for index in db.get_indexes("refund_request")
                   if index.name == "refund_request_one_open_per_shop"]
    assert index.unique and index.columns == ["shop_id"]
    excluded = set(re.findall(r"'([A-Z_]+)'", index.sql))
    assert excluded == set(TERMINAL_STATES)


def test_migrating_again_applies_nothing(app):
    """A database that is up to date has no pending migration."""
    with db.connection_context():
        assert migrate() == []
