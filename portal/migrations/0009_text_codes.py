"""The language free text was written in, so pages can mark text that is not in the reader's language.

Refund events (the message to the seller), ticket messages, a shop's ban message and a risk flag's
seller text record the writer's page language. Rows from before stay empty: their language is
judged from the text itself.
"""
from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_column('refund_event', 'seller_message_language', CharField(default='')))
    migrator.migrate(migrator.add_column('ticket_message', 'language', CharField(default='')))
    migrator.migrate(migrator.add_column('shop', 'ban_reason_language', CharField(default='')))
    migrator.migrate(migrator.add_column('risk_flag', 'seller_text_language', CharField(default='')))


def down(migrator, db):
    migrator.migrate(migrator.drop_column('risk_flag', 'seller_text_language'))
    migrator.migrate(migrator.drop_column('shop', 'ban_reason_language'))
    migrator.migrate(migrator.drop_column('ticket_message', 'language'))
    migrator.migrate(migrator.drop_column('refund_event', 'seller_message_language'))
