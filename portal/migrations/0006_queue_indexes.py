"""Indexes for the desk queue at scale: its filter counts, and substring search by shop on PostgreSQL.

Measured on 100,000 requests (docs/benchmarks.md): the counts read every open request's row;
a shop-name search (ILIKE '%…%') read every shop. Trigram indexes need the pg_trgm extension;
where the database user may not create it, the search still works, only without the index.
"""
import logging

from peewee import PostgresqlDatabase

logger = logging.getLogger("portal.migrations")

OPEN = "state NOT IN ('COMPLETED', 'REJECTED', 'CANCELLED', 'EXPIRED')"


def up(migrator, db):
    # Everything the four counts look at, for open requests only: an index-only scan.
    db.execute_sql(f"CREATE INDEX refund_request_open_counts ON refund_request (due_date, assigned_to_id) "
                   f"WHERE {OPEN}")
    if isinstance(db, PostgresqlDatabase):
        try:
            with db.atomic():
                db.execute_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except Exception as error:  # noqa: BLE001 - a managed server may refuse; search still works
            logger.warning("pg_trgm not available (%s): shop search runs without a trigram index", error)
            return
        db.execute_sql("CREATE INDEX shop_name_trgm ON shop USING gin (name gin_trgm_ops)")
        db.execute_sql("CREATE INDEX shop_entity_name_trgm ON shop USING gin (entity_name gin_trgm_ops)")


def down(migrator, db):
    db.execute_sql("DROP INDEX IF EXISTS shop_entity_name_trgm")
    db.execute_sql("DROP INDEX IF EXISTS shop_name_trgm")
    db.execute_sql("DROP INDEX IF EXISTS refund_request_open_counts")
