"""Sign-in throttling under real concurrency: fifty simultaneous wrong guesses, on both databases."""
import datetime
import threading

import pytest

from portal.accounts import service as account_service
from portal.accounts.models import LoginAttempt
from portal.core.db import db
from tests.factories import CHEAP_HASHER, PASSWORD, make_shop, make_user, use_cheap_hashing

GUESSES = 50


class CountingHasher:
    """The cheap test hasher, counting every password verification (the thing throttling must bound)."""

    def __init__(self, hasher):
        self._hasher = hasher
        self._lock = threading.Lock()
        self.verifications = 0

    def verify(self, stored_hash, password):
        """Count, then verify as argon2 does."""
        with self._lock:
            self.verifications += 1
        return self._hasher.verify(stored_hash, password)

    def __getattr__(self, name):
        return getattr(self._hasher, name)


@pytest.fixture
def hasher(monkeypatch):
    """Cheap argon2 whose verifications are counted."""
    use_cheap_hashing(monkeypatch)
    counting = CountingHasher(CHEAP_HASHER)
    monkeypatch.setattr(account_service, "_hasher", counting)
    return counting


def guess_all_at_once(app, attempts):
    """POST /login once per (username, password, address), each from its own thread and client, all at once."""
    barrier = threading.Barrier(len(attempts))
    statuses = [None] * len(attempts)
    errors = []

    def guess(index, username, password, address):
        """One guesser: wait for the others, then post the form."""
        try:
            client = app.test_client()
            client.environ_base["REMOTE_ADDR"] = address
            barrier.wait(timeout=30)
            statuses[index] = client.post("/login", data={"username": username, "password": password}).status_code
        except BaseException as error:  # noqa: B036 - reported to the main thread below
            errors.append(error)
        finally:
            if not db.is_closed():
                db.close()

    threads = [threading.Thread(target=guess, args=(index, *attempt)) for index, attempt in enumerate(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return statuses


def age_every_attempt(app):
    """Move every recorded attempt back past the window and any delay, as if time had passed."""
    shift = datetime.timedelta(minutes=app.config["LOGIN_WINDOW_MINUTES"] + 1)
    for attempt in LoginAttempt.select():
        LoginAttempt.update(created_at=attempt.created_at - shift).where(LoginAttempt.id == attempt.id).execute()


def test_fifty_parallel_guesses_at_one_account_check_at_most_five_passwords(app, hasher):
    """Fifty wrong passwords for one account from fifty addresses at once: at most five are checked."""
    make_user("seller-a", shop=make_shop())
    statuses = guess_all_at_once(app, [("seller-a", f"guess-{n}", f"198.51.100.{n + 1}") for n in range(GUESSES)])
    limit = app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    assert hasher.verifications <= limit
    assert statuses.count(422) == hasher.verifications
    assert statuses.count(429) == GUESSES - hasher.verifications
    assert 500 not in statuses
    age_every_attempt(app)
    response = app.test_client().post("/login", data={"username": "seller-a", "password": PASSWORD})
    assert response.status_code == 303


def test_fifty_parallel_guesses_from_one_address_check_at_most_twenty_passwords(app, hasher):
    """Fifty wrong sign-ins from one address, each at another account, at once: at most twenty are checked."""
    make_user("seller-a", shop=make_shop())
    statuses = guess_all_at_once(app, [(f"user-{n}", "guess", "203.0.113.9") for n in range(GUESSES)])
    limit = app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"]
    assert hasher.verifications <= limit
    assert statuses.count(429) == GUESSES - hasher.verifications
    assert 500 not in statuses
    age_every_attempt(app)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    assert client.post("/login", data={"username": "seller-a", "password": PASSWORD}).status_code == 303
