"""Sessions that really end: a server-side record per signed-in browser, checked on every request.

A copied cookie used to keep working for hours after sign-out, because the signed cookie was the
whole session. Now the cookie names a session row, and signing out (here, on another device, or
everywhere) ends that row for every copy of the cookie at once.
"""
import pytest

from portal.accounts.models import SignInSession, User
from portal.core.vocabulary import RefundKind
from portal.refunds import prechecks
from portal.refunds import service as refund_service
from tests.factories import PASSWORD, Page, make_user, ready_seller, use_cheap_hashing  # noqa: F401


@pytest.fixture
def seller(app, monkeypatch):
    """A seller whose password is ``PASSWORD`` (hashed cheaply)."""
    use_cheap_hashing(monkeypatch)
    return ready_seller(username="seller-a")[1]


def signed_in_browser(app, username="seller-a", agent="Browser A"):
    """A test client signed in through the form, with its own user agent."""
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = agent
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 303, response.text
    return client


def copy_of(app, client):
    """Another browser holding an exact copy of ``client``'s session cookie."""
    stolen = app.test_client()
    cookie = client.get_cookie("portal_session")
    stolen.set_cookie("portal_session", cookie.value)
    return stolen


def reaches_deposit(client):
    """True when the client's session still opens a seller page."""
    return client.get("/deposit").status_code == 200


def test_a_copied_cookie_stops_working_when_its_owner_signs_out(app, seller):
    """Signing out ends the server-side session: a copy of the cookie made before is signed out too."""
    browser = signed_in_browser(app)
    stolen = copy_of(app, browser)
    assert reaches_deposit(stolen)
    assert browser.post("/logout").status_code == 303
    response = stolen.get("/deposit")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert SignInSession.select().where(SignInSession.ended_at.is_null()).count() == 0


def test_the_live_poll_refuses_a_session_that_ended(app, seller):
    """The refund page's poll, which authorises in its own query, also needs the session open."""
    browser = signed_in_browser(app)
    request = refund_service.submit(seller.shop_id, seller, RefundKind.SURPLUS, 10_000, "a" * 32,
                                    prechecks.Policy()).request
    url = f"/refunds/{request.id}/status?v={request.version}"
    stolen = copy_of(app, browser)
    assert stolen.get(url).status_code == 204
    browser.post("/logout")
    assert stolen.get(url).status_code == 302


def test_the_sessions_page_lists_each_device_and_ends_one(app, seller):
    """/account/sessions shows every open session, marks this one, and ends another at once."""
    phone = signed_in_browser(app, agent="Phone browser")
    laptop = signed_in_browser(app, agent="Laptop browser")
    page = Page(laptop.get("/account/sessions").text)
    items = {" ".join(item.text.split(" ")[:2]): item for item in page.find_all("li", data_session=True)}
    assert set(items) == {"Phone browser", "Laptop browser"}
    assert len(page.find_all(data_this_session=True)) == 1
    assert "本设备" in items["Laptop browser"].text and "本设备" not in items["Phone browser"].text
    phone_session = SignInSession.get(SignInSession.user_agent == "Phone browser")
    response = laptop.post(f"/account/sessions/{phone_session.id}/end")
    assert response.status_code == 303
    assert not reaches_deposit(phone) and reaches_deposit(laptop)


def test_another_accounts_session_answers_404(app, seller):
    """A session id of someone else is not found, and stays open."""
    other = make_user(username="seller-b", shop=User.get_by_id(seller.id).shop)
    intruder = signed_in_browser(app)
    victim = signed_in_browser(app, username="seller-b", agent="Victim")
    victim_session = SignInSession.get(SignInSession.user == other.id)
    assert intruder.post(f"/account/sessions/{victim_session.id}/end").status_code == 404
    assert reaches_deposit(victim)


def test_sign_out_everywhere_ends_every_session_this_one_too(app, seller):
    """One button signs the account out on every device."""
    first, second = signed_in_browser(app, agent="One"), signed_in_browser(app, agent="Two")
    response = second.post("/account/sessions/end-all")
    assert response.status_code == 303 and response.headers["Location"].endswith("/login")
    assert not reaches_deposit(first) and not reaches_deposit(second)
    assert SignInSession.select().where(SignInSession.ended_at.is_null()).count() == 0


def test_a_deactivated_account_is_signed_out_at_once(app, seller):
    """Deactivating an account ends what its open sessions can do on the next request."""
    browser = signed_in_browser(app)
    User.update(active=False).where(User.id == seller.id).execute()
    assert not reaches_deposit(browser)


def test_the_database_keeps_only_a_hash_of_the_token(app, seller):
    """The cookie's token is not in the table: a leaked table signs nobody in."""
    browser = signed_in_browser(app)
    with browser.session_transaction() as session:
        token = session["sid"]
    [row] = list(SignInSession.select())
    assert token not in row.token_hash and len(row.token_hash) == 64
