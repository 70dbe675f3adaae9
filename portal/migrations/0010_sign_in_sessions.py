"""Server-side records of signed-in browsers: signing out, deactivation and "sign out everywhere"
end a session at once, on every host, whatever copies of the cookie exist.

Python-side defaults live in the models.
"""
from peewee import *


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = 'user'

    class SignInSession(Model):
        user = ForeignKeyField(User, on_delete='CASCADE')
        token_hash = CharField(unique=True)
        created_at = DateTimeField()
        last_seen_at = DateTimeField()
        user_agent = CharField()
        address = CharField()
        ended_at = DateTimeField(null=True, index=True)
        class Meta:
            database = db
            table_name = 'sign_in_session'
    db.create_tables([SignInSession])


def down(migrator, db):
    db.execute_sql('DROP TABLE sign_in_session')
