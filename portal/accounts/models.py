"""Who signs in, and the sign-in attempts kept to throttle guessing."""
from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField

from portal.core.clock import utcnow
from portal.core.db import BaseModel, EnumField
from portal.core.vocabulary import STAFF_ROLES, Role
from portal.shops.models import Shop


class User(BaseModel):
    """Someone who signs in: a seller (with a shop), a support agent or a finance officer."""

    username = CharField(unique=True)
    password_hash = CharField()
    role = EnumField(Role, default=Role.SELLER)
    display_name = CharField(default="")
    shop = ForeignKeyField(Shop, null=True, backref="users", on_delete="RESTRICT")
    email = CharField(null=True)  # where notifications are mailed, when SMTP is configured
    locale = CharField(default="zh_CN")  # the language of those e-mails
    active = BooleanField(default=True)
    created_at = DateTimeField(default=utcnow)

    # Flask-Login's user protocol.
    is_anonymous = False

    @property
    def is_authenticated(self):
        """Flask-Login: a loaded user is signed in."""
        return True

    @property
    def is_active(self):
        """Flask-Login: a deactivated account cannot sign in."""
        return self.active

    def get_id(self):
        """Flask-Login: the id kept in the session."""
        return str(self.id)

    @property
    def is_staff(self):
        """Support agents and finance officers use the desk."""
        return self.role in STAFF_ROLES


class LoginAttempt(BaseModel):
    """One sign-in attempt, kept to throttle guessing per account and per address."""

    username = CharField(index=True)
    address = CharField(index=True)
    succeeded = BooleanField()
    created_at = DateTimeField(default=utcnow, index=True)


class SignInSession(BaseModel):
    """One signed-in browser: the signed cookie names it, and every request checks it is still open.

    Only a hash of the cookie's token is stored, so the table cannot be used to sign in.
    """

    user = ForeignKeyField(User, backref="sign_in_sessions", on_delete="CASCADE")
    token_hash = CharField(unique=True)
    created_at = DateTimeField(default=utcnow)
    last_seen_at = DateTimeField(default=utcnow)
    user_agent = CharField(default="")
    address = CharField(default="")
    ended_at = DateTimeField(null=True, index=True)

    @classmethod
    def open_for(cls, user_id):
        """A user's sessions that have not ended, the most recently used first."""
        return (cls.select().where((cls.user == user_id) & cls.ended_at.is_null())
                .order_by(cls.last_seen_at.desc(), cls.id.desc()))
