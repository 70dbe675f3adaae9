"""Signing in and out, password hashes, and sign-in throttling per account and per address."""
import datetime
import re
from urllib.parse import urljoin, urlsplit

import pytest
from argon2 import PasswordHasher

from portal.accounts import service as account_service
from portal.accounts.models import LoginAttempt, User
from portal.core.clock import utcnow
from portal.core.vocabulary import Role
from tests.factories import PASSWORD, Page, make_shop, make_user, ready_seller, sign_in, use_cheap_hashing

WRONG = "The username or password is wrong."
THROTTLED = "Too many failed sign-ins"


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch):
    """Cheap argon2 for every test here but the one about the production cost."""
    use_cheap_hashing(monkeypatch)


@pytest.fixture
def seller(app):
    """A seller with a shop nothing blocks, whose password is ``PASSWORD``."""
    return ready_seller(username="seller-a")[1]


@pytest.fixture
def english(client):
    """Ask for the English pages, so assertions read the English message ids."""
    client.set_cookie("lang", "en")
    return client


def sign_in_form(client, username, password, **extra):
    """Post the sign-in form."""
    return client.post("/login", data={"username": username, "password": password, **extra})


def app_client(client):
    """Another browser on the same app."""
    return client.application.test_client()


def failed_attempt(username, address, at):
    """A failed sign-in recorded at a moment, as the sign-in form records one."""
    LoginAttempt.create(username=username, address=address, succeeded=False, created_at=at)


def signed_in(client):
    """True when the client's session reaches a seller page."""
    return client.get("/deposit").status_code == 200


def test_login_page_has_the_fields(client):
    """The sign-in page has the username and password fields the design names (docs/design.md, "Stable interfaces")."""
    page = Page(client.get("/login").text)
    assert page.find("input", name="username")
    assert page.find("input", name="password")["type"] == "password"


def test_seller_signs_in_and_lands_on_the_deposit_page(client, seller):
    """The right password signs a seller in and lands (303) on /deposit."""
    response = sign_in_form(client, "seller-a", PASSWORD)
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/deposit"
    assert signed_in(client)


@pytest.mark.parametrize("role", [Role.AGENT, Role.FINANCE])
def test_staff_land_on_their_own_start_page(app, client, role):
    """Support and finance staff land on the staff start page, which opens for them."""
    make_user("staff-1", role=role)
    response = sign_in_form(client, "staff-1", PASSWORD)
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"]).path
    assert location != "/deposit"
    assert client.get(location, follow_redirects=True).status_code == 200


def test_wrong_password_says_so_beside_the_field(english, seller):
    """A wrong password gives 422, a message beside the password field, the username kept."""
    response = sign_in_form(english, "seller-a", "not-the-password")
    assert response.status_code == 422
    page = Page(response.text)
    assert WRONG in page.find("p", id="password-error").text
    assert page.find("input", name="password")["aria-invalid"] == "true"
    assert page.find("input", name="username")["value"] == "seller-a"
    assert not signed_in(english)


def test_unknown_user_gets_the_same_answer(english, seller):
    """An unknown username is answered exactly like a wrong password (usernames do not leak)."""
    unknown = sign_in_form(english, "nobody-here", "not-the-password")
    wrong = sign_in_form(english, "seller-a", "not-the-password")
    assert unknown.status_code == wrong.status_code == 422
    assert Page(unknown.text).find("p", id="password-error").text == Page(wrong.text).find(
        "p", id="password-error").text


def test_empty_form_is_refused_beside_both_fields(client, app):
    """Empty fields are refused with an error beside each and nothing recorded."""
    response = sign_in_form(client, "", "")
    assert response.status_code == 422
    page = Page(response.text)
    assert page.find("p", id="username-error") and page.find("p", id="password-error")
    assert LoginAttempt.select().count() == 0


def test_deactivated_user_cannot_sign_in(client, seller):
    """An account switched off cannot sign in even with the right password."""
    User.update(active=False).where(User.id == seller.id).execute()
    assert sign_in_form(client, "seller-a", PASSWORD).status_code == 422
    assert not signed_in(client)


def test_a_deactivated_user_is_signed_out_of_an_open_session(client, seller):
    """Switching an account off ends its open sessions at the next request."""
    sign_in(client, seller)
    assert signed_in(client)
    User.update(active=False).where(User.id == seller.id).execute()
    assert not signed_in(client)


def test_sign_in_starts_a_fresh_session(client, seller):
    """Nothing put in the session before signing in survives it (no session fixation)."""
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    sign_in_form(client, "seller-a", PASSWORD)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] == str(User.get(User.username == "seller-a").id)


def test_signed_in_user_visiting_login_goes_home(client, seller):
    """A signed-in seller opening /login is sent to the deposit page."""
    sign_in(client, seller)
    response = client.get("/login")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/deposit"


def test_sign_out(english, seller):
    """Signing out is a POST from the /logout page; afterwards seller pages ask to sign in."""
    sign_in(english, seller)
    page = Page(english.get("/logout").text)
    assert page.find("form", action="/logout", method="post")
    response = english.post("/logout")
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert "You have signed out." in english.get("/login").text
    assert not signed_in(english)


def test_anonymous_visitor_is_sent_to_sign_in_and_back(client, seller):
    """An anonymous visit to /deposit redirects to /login and, after signing in, back to /deposit."""
    response = client.get("/deposit")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert urlsplit(location).path == "/login"
    next_field = Page(client.get(location).text).find("input", name="next")
    assert next_field["value"].startswith("/deposit")
    response = sign_in_form(client, "seller-a", PASSWORD, next=next_field["value"])
    assert urlsplit(response.headers["Location"]).path == "/deposit"


def test_next_may_be_a_local_path(client, seller):
    """After signing in the seller goes to the local page they asked for."""
    response = sign_in_form(client, "seller-a", PASSWORD, next="/refunds?x=1")
    assert response.status_code == 303
    assert response.headers["Location"] == "/refunds?x=1"


def browser_target(location):
    """Where a browser would go for a Location header (browsers read a backslash as a slash)."""
    cleaned = "".join(char for char in location if char not in "\t\r\n").replace("\\", "/")
    return urlsplit(urljoin("http://localhost/login", cleaned))


@pytest.mark.parametrize("target", [
    "https://evil.example/",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "javascript:alert(1)",
    "evil.example",
    "/deposit\r\nSet-Cookie: planted=1",
])
def test_next_never_leaves_the_site(client, seller, target):
    """Whatever ``next`` holds, the sign-in lands on this site, and never as a 500.

    A control character is dropped from a link's ``?next=`` when the form is drawn; posted by hand
    in the hidden field, it is refused with the 400 page (forms refuse control characters).
    """
    next_kept = Page(client.get("/login", query_string={"next": target}).text).find("input", id="next")
    response = sign_in_form(client, "seller-a", PASSWORD, next=next_kept.attrs.get("value", ""))
    assert response.status_code == 303
    if any(char in target for char in "\t\r\n"):
        assert sign_in_form(app_client(client), "seller-a", PASSWORD, next=target).status_code == 400
    landing = browser_target(response.headers["Location"])
    assert landing.scheme == "http" and landing.netloc == "localhost"
    assert "planted" not in response.headers.get("Set-Cookie", "")


def test_passwords_are_stored_as_argon2id(monkeypatch):
    """hash_password makes an argon2id hash at the library's recommended cost, never the password."""
    monkeypatch.setattr(account_service, "_hasher", PasswordHasher())
    hashed = account_service.hash_password("a-long-password")
    assert hashed.startswith("$argon2id$")
    assert "a-long-password" not in hashed
    assert not PasswordHasher().check_needs_rehash(hashed)


def test_a_weak_stored_hash_is_upgraded_on_sign_in(client, seller, monkeypatch):
    """Signing in with a hash made at lower cost stores a fresh argon2id hash at today's cost."""
    monkeypatch.setattr(account_service, "_hasher", PasswordHasher())
    before = seller.password_hash
    assert sign_in_form(client, "seller-a", PASSWORD).status_code == 303
    after = User.get_by_id(seller.id).password_hash
    assert after != before and after.startswith("$argon2id$")
    assert not PasswordHasher().check_needs_rehash(after)
    assert account_service.authenticate("seller-a", PASSWORD).id == seller.id


def test_five_failures_lock_the_account_even_for_the_right_password(english, seller):
    """After 5 failures the account answers 429 with a clear message, even to the right password."""
    for _ in range(5):
        assert sign_in_form(english, "seller-a", "guess").status_code == 422
    response = sign_in_form(english, "seller-a", PASSWORD)
    assert response.status_code == 429
    assert THROTTLED in Page(response.text).find("p", id="password-error").text
    assert not signed_in(english)


def test_account_lock_does_not_lock_other_accounts(client, app, seller):
    """Failures against one account do not stop another seller signing in from the same address."""
    make_user("seller-b", shop=make_shop())
    for _ in range(5):
        sign_in_form(client, "seller-a", "guess")
    assert sign_in_form(client, "seller-b", PASSWORD).status_code == 303


def test_a_success_clears_the_account_failures(client, seller):
    """Four failures then a success: the next four failures do not lock the account."""
    for _ in range(4):
        sign_in_form(client, "seller-a", "guess")
    assert sign_in_form(client, "seller-a", PASSWORD).status_code == 303
    assert account_service.failures_since(utcnow() - datetime.timedelta(hours=1), username="seller-a") == 0
    client.post("/logout")
    for _ in range(4):
        assert sign_in_form(client, "seller-a", "guess").status_code == 422
    assert sign_in_form(client, "seller-a", PASSWORD).status_code == 303


def test_twenty_failures_from_one_address_lock_that_address(app, seller):
    """Twenty failures from one address (any usernames) lock it; another address still signs in."""
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for attempt in range(20):
        # Four failures per username stay under the account limit: only the address limit is tested.
        assert sign_in_form(attacker, f"guess-{attempt % 5}", "guess").status_code == 422
    assert sign_in_form(attacker, "seller-a", PASSWORD).status_code == 429
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert sign_in_form(elsewhere, "seller-a", PASSWORD).status_code == 303


def test_old_failures_fall_out_of_the_window(client, app, seller):
    """Failures older than the window no longer count."""
    long_ago = utcnow() - datetime.timedelta(minutes=app.config["LOGIN_WINDOW_MINUTES"] + 1)
    for _ in range(5):
        failed_attempt("seller-a", "127.0.0.1", long_ago)
    assert sign_in_form(client, "seller-a", PASSWORD).status_code == 303


POLICY = account_service.ThrottlePolicy(window=datetime.timedelta(minutes=15), max_per_account=5, max_per_address=20,
                                 first_delay=datetime.timedelta(seconds=30),
                                 longest_delay=datetime.timedelta(minutes=15))


def test_past_the_limit_the_wait_doubles_after_each_failure(app):
    """Five failures are free; then the next attempt waits 30 s after the latest, 60 s after the sixth, and so on."""
    now = utcnow()
    for minutes in (10, 8, 6, 4, 2):
        failed_attempt("someone", "10.0.0.1", now - datetime.timedelta(minutes=minutes))
    # The fifth failure was two minutes ago: its 30 s are over, so one more attempt may be checked.
    gate = account_service.begin_attempt("someone", "10.0.0.2", POLICY, now=now)
    assert gate.attempt_id is not None and gate.retry_at is None
    # That attempt is counted before its password is checked: the next waits 60 s after it.
    retry_at = account_service.begin_attempt("someone", "10.0.0.2", POLICY, now=now).retry_at
    assert retry_at == now + datetime.timedelta(seconds=60)
    later = now + datetime.timedelta(seconds=61)
    assert account_service.begin_attempt("someone", "10.0.0.3", POLICY, now=later).attempt_id is not None
    retry_at = account_service.begin_attempt("someone", "10.0.0.3", POLICY, now=later).retry_at
    assert retry_at == later + datetime.timedelta(seconds=120)
    assert account_service.begin_attempt("someone-else", "10.0.0.2", POLICY, now=now).retry_at is None


def test_the_wait_never_grows_past_the_window(app):
    """However many failures, the next attempt is at most one window after the latest."""
    now = utcnow()
    for seconds in range(40):
        failed_attempt("someone", f"10.0.1.{seconds}", now - datetime.timedelta(seconds=seconds))
    assert account_service.begin_attempt("someone", "10.0.0.2", POLICY, now=now).retry_at == now + POLICY.window


def test_a_second_factor_skips_the_account_wait_but_not_the_address_wait(app):
    """A caller that checked a staff TOTP code passes an account's wait; an address's wait still holds."""
    now = utcnow()
    for _ in range(5):
        failed_attempt("agent-a", "10.0.0.1", now)
    assert account_service.begin_attempt("agent-a", "10.0.0.2", POLICY, now=now).retry_at is not None
    with_code = account_service.begin_attempt("agent-a", "10.0.0.2", POLICY, now=now, extra_proof=True)
    assert with_code.attempt_id is not None
    for number in range(20):
        failed_attempt(f"guess-{number}", "10.0.0.9", now)
    assert account_service.begin_attempt("agent-a", "10.0.0.9", POLICY, now=now, extra_proof=True).retry_at is not None


def test_the_throttled_page_says_when_to_come_back(english, seller):
    """The 429 names the moment (to the second) and sends Retry-After."""
    for _ in range(5):
        sign_in_form(english, "seller-a", "guess")
    response = sign_in_form(english, "seller-a", "guess")
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 30
    assert re.search(r"try again after \d{1,2}:\d{2}:\d{2}", Page(response.text).find("p", id="password-error").text)


def test_the_header_signs_out_in_one_tap_with_a_confirmation(csrf_app):
    """Every signed-in page's header posts sign-out itself (CSRF token, a question to confirm): no detour page."""
    client = csrf_app.test_client()
    _shop, user = ready_seller()
    sign_in(client, user)
    page = client.get("/deposit", headers={"Accept-Language": "en"}).get_data(as_text=True)
    form = Page(page).find("form", action="/logout", method="post")
    assert form, "no sign-out form in the header"
    assert form.attrs.get("data-confirm") == "Sign out now?"
    token = re.search(r'<form class="signout-form"[^>]*>\s*<input type="hidden" name="csrf_token" value="([^"]+)"',
                      page).group(1)
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303 and urlsplit(response.headers["Location"]).path == "/login"
    assert client.get("/deposit").status_code == 302
