"""Passwords and sign-in throttling (no Flask here: the views call these)."""
import dataclasses
import datetime
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from peewee import fn

from portal.accounts.models import LoginAttempt, SignInSession, User
from portal.core.clock import utcnow
from portal.core.db import db, is_postgres, write_transaction

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
    """Failed attempts since a moment, for one account or one address (an attempt being checked counts)."""
    query = LoginAttempt.select(fn.COUNT(LoginAttempt.id)).where(
        (LoginAttempt.succeeded == False) & (LoginAttempt.created_at >= since))  # noqa: E712
    if username is not None:
        query = query.where(LoginAttempt.username == username)
    if address is not None:
        query = query.where(LoginAttempt.address == address)
    return query.scalar() or 0


@dataclasses.dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures are free in the window, per account and per address, and how the wait grows after."""

    window: datetime.timedelta
    max_per_account: int
    max_per_address: int
    first_delay: datetime.timedelta
    longest_delay: datetime.timedelta

    @classmethod
    def from_config(cls, config):
        """The policy the settings describe."""
        return cls(window=datetime.timedelta(minutes=config["LOGIN_WINDOW_MINUTES"]),
                   max_per_account=config["LOGIN_MAX_FAILURES_PER_ACCOUNT"],
                   max_per_address=config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
                   first_delay=datetime.timedelta(seconds=config["LOGIN_FIRST_DELAY_SECONDS"]),
                   longest_delay=datetime.timedelta(minutes=config["LOGIN_WINDOW_MINUTES"]))

    def delay_after(self, failures, limit):
        """The wait after the latest failure: none under the limit, then doubling up to the longest."""
        if failures < limit:
            return None
        return min(self.first_delay * (2 ** min(failures - limit, 30)), self.longest_delay)


@dataclasses.dataclass(frozen=True)
class Gate:
    """The answer to "may this sign-in be checked now?": the attempt recorded, or when to come back."""

    attempt_id: int | None = None
    retry_at: datetime.datetime | None = None


def _retry_at(condition, limit, policy, now):
    """When the failures matching a condition next allow an attempt, or None when one is allowed now."""
    recent = (LoginAttempt.select(fn.COUNT(LoginAttempt.id), fn.MAX(LoginAttempt.created_at))
              .where(condition & (LoginAttempt.succeeded == False)  # noqa: E712
                     & (LoginAttempt.created_at >= now - policy.window))
              .tuples().get())
    failures, latest = recent
    delay = policy.delay_after(failures or 0, limit)
    if delay is None or latest + delay <= now:
        return None
    return latest + delay


def _lock_key(kind, value):
    """A 64-bit advisory-lock key for one account or one address."""
    digest = hashlib.blake2b(f"sign-in:{kind}:{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def begin_attempt(username, address, policy, now=None, extra_proof=False):
    """Record a sign-in attempt *before* its password is checked, or say when the next may be made.

    The count and the record happen in one write transaction, serialised per account and per
    address (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: advisory locks on both keys), so parallel
    guesses cannot all read "under the limit" before any of them is counted. The attempt is stored
    as a failure and turned into a success by ``finish_attempt``: one that never finishes counts.

    Past the limit nobody is refused for good: the next attempt waits a delay that doubles with each
    failure. ``extra_proof`` is for a caller that has already checked a second factor (a staff TOTP
    code): it skips the account's delay, so guessing at an account cannot keep its owner out, while
    the address's delay still holds.
    """
    username = username.strip()[:150]
    now = now or utcnow()
    with write_transaction():
        if is_postgres():
            # Sorted, so two sign-ins never wait on each other's second lock.
            for key in sorted((_lock_key("account", username), _lock_key("address", address))):
                db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (key,))
        waits = [_retry_at(LoginAttempt.address == address, policy.max_per_address, policy, now)]
        if not extra_proof:
            waits.append(_retry_at(LoginAttempt.username == username, policy.max_per_account, policy, now))
        waits = [moment for moment in waits if moment is not None]
        if waits:
            return Gate(retry_at=max(waits))
        attempt = LoginAttempt.create(username=username, address=address, succeeded=False, created_at=now)
    return Gate(attempt_id=attempt.id)


def finish_attempt(attempt_id, succeeded):
    """Settle a checked attempt: a success clears the account's earlier failures, a failure stays counted."""
    if not succeeded:
        return
    with write_transaction():
        attempt = LoginAttempt.get_by_id(attempt_id)
        (LoginAttempt.delete()
         .where((LoginAttempt.username == attempt.username) & (LoginAttempt.succeeded == False)  # noqa: E712
                & (LoginAttempt.id != attempt.id) & (LoginAttempt.created_at <= attempt.created_at))
         .execute())
        LoginAttempt.update(succeeded=True).where(LoginAttempt.id == attempt.id).execute()



# --- sign-in sessions -------------------------------------------------------------------------

# How stale a session's "last seen" may get before a request writes it again: a write per request
# would cost every page a statement, a write per few minutes keeps the list honest enough.
LAST_SEEN_EVERY = datetime.timedelta(minutes=5)


def token_hash(token):
    """What the database keeps of a session token (SHA-256): a leaked table signs nobody in."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(user, user_agent, address, now=None):
    """Open a session for a user who just proved who they are; returns the token for the cookie."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    with write_transaction():
        SignInSession.create(user=user.id, token_hash=token_hash(token), created_at=now, last_seen_at=now,
                             user_agent=(user_agent or "")[:255], address=(address or "")[:64])
    return token


def session_user(user_id, token, now=None):
    """The active user whose open session the cookie names, or None (ended, unknown, or deactivated).

    One query; "last seen" is written at most every few minutes.
    """
    if not token:
        return None
    now = now or utcnow()
    row = (User.select(User, SignInSession.id.alias("session_id"), SignInSession.last_seen_at.alias("seen"))
           .join(SignInSession, on=(SignInSession.user == User.id))
           .where((User.id == user_id) & (User.active == True)  # noqa: E712
                  & (SignInSession.token_hash == token_hash(token)) & SignInSession.ended_at.is_null())
           .objects().first())
    if row is not None and now - row.seen > LAST_SEEN_EVERY:
        with write_transaction():
            SignInSession.update(last_seen_at=now).where(SignInSession.id == row.session_id).execute()
    return row


def end_session(token, now=None):
    """End the session a cookie names (signing out)."""
    if token:
        with write_transaction():
            (SignInSession.update(ended_at=now or utcnow())
             .where((SignInSession.token_hash == token_hash(token)) & SignInSession.ended_at.is_null()).execute())


def end_sessions(user_id, session_id=None, now=None):
    """End one of a user's sessions, or all of them; returns how many ended."""
    query = (SignInSession.update(ended_at=now or utcnow())
             .where((SignInSession.user == user_id) & SignInSession.ended_at.is_null()))
    if session_id is not None:
        query = query.where(SignInSession.id == session_id)
    with write_transaction():
        return query.execute()
