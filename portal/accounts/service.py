"""Passwords and sign-in throttling (no Flask here: the views call these)."""
import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from peewee import fn

from portal.accounts.models import LoginAttempt, User
from portal.core.clock import utcnow
from portal.core.db import write_transaction

_hasher = PasswordHasher()

# Verifying against this when the username does not exist keeps the answer time the same,
# so timing does not tell which usernames exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password):
    """An argon2id hash of a password."""
    return _hasher.hash(password)


def authenticate(username, password):
    """The active user with these credentials, or None."""
    user = User.get_or_none(User.username == username.strip())
    if user is None:
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        User.update(password_hash=hash_password(password)).where(User.id == user.id).execute()
    return user


def failures_since(since, username=None, address=None):
    """Failed attempts since a moment, for one account or one address."""
    query = LoginAttempt.select(fn.COUNT(LoginAttempt.id)).where(
        (LoginAttempt.succeeded == False) & (LoginAttempt.created_at >= since))  # noqa: E712
    if username is not None:
        query = query.where(LoginAttempt.username == username)
    if address is not None:
        query = query.where(LoginAttempt.address == address)
    return query.scalar() or 0


def throttled_until(username, address, window_minutes, max_per_account, max_per_address, now=None):
    """When sign-in may be tried again, or None when it may be tried now.

    Counted in the database, so it holds across every app process.
    """
    now = now or utcnow()
    window = datetime.timedelta(minutes=window_minutes)
    since = now - window
    for count, limit, condition in (
        (failures_since(since, username=username.strip()), max_per_account,
         LoginAttempt.username == username.strip()),
        (failures_since(since, address=address), max_per_address, LoginAttempt.address == address),
    ):
        if count >= limit:
            oldest = (LoginAttempt.select(fn.MIN(LoginAttempt.created_at))
                      .where(condition & (LoginAttempt.succeeded == False)  # noqa: E712
                             & (LoginAttempt.created_at >= since))
                      .scalar())
            return (oldest or now) + window
    return None


def record_attempt(username, address, succeeded, now=None):
    """Remember one attempt; a success clears the account's earlier failures."""
    now = now or utcnow()
    with write_transaction():
        LoginAttempt.create(username=username.strip()[:150], address=address, succeeded=succeeded,
                            created_at=now)
        if succeeded:
            (LoginAttempt.delete()
             .where((LoginAttempt.username == username.strip()) & (LoginAttempt.succeeded == False))  # noqa: E712
             .execute())
