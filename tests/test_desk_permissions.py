"""Who may use the desk: anonymous visitors sign in first, sellers never learn it exists (404),
agents decide but do not pay, finance pays but does not decide; a refusal writes nothing."""
from urllib.parse import urlsplit

import pytest

from portal.core.vocabulary import RefundState, Role
from tests.desk_helpers import (
    AGENT_ACTIONS,
    BOTH_ACTIONS,
    FINANCE_ACTIONS,
    LEADS_TO,
    NEEDS_STATE,
    audit_of,
    footprint,
    form,
    post,
    reason_codes,
    request_in,
    signed_in,
    staff,
    state_of,
)
from tests.factories import ACCOUNT_NUMBER, use_cheap_hashing

ALL_ACTIONS = AGENT_ACTIONS + FINANCE_ACTIONS + BOTH_ACTIONS
PAGES = ("/desk", "/desk?view=open", "/desk?view=overdue", "/desk?view=mine", "/desk?view=unassigned",
         "/desk?state=UNDER_REVIEW", "/desk?q=店铺", "/desk/payouts", "/desk/audit",
         "/desk/audit?action=refund.approved",
         "/desk/refunds/{id}", "/desk/refunds/{id}/checks",
         "/desk/reasons/message?form=reject&reject-reason_code=PENDING_COMPLAINT")
# Who is refused which POSTs, and how.
REFUSED = {
    "anonymous": (ALL_ACTIONS, "login"),
    "seller": (ALL_ACTIONS, 404),
    Role.AGENT: (FINANCE_ACTIONS, 403),
    Role.FINANCE: (AGENT_ACTIONS, 403),
}
ALLOWED = {Role.AGENT: AGENT_ACTIONS + BOTH_ACTIONS, Role.FINANCE: FINANCE_ACTIONS + BOTH_ACTIONS}


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch):
    """Cheap password hashes: nothing here depends on their cost."""
    use_cheap_hashing(monkeypatch)


@pytest.fixture
def world(app):
    """One request in each state some desk action needs, and the people who might act on them."""
    reason_codes()
    requests = {}
    seller = None
    for state in sorted(set(NEEDS_STATE.values())):
        refund, _shop, owner = request_in(state)
        requests[state] = refund
        if state == RefundState.UNDER_REVIEW:
            seller = owner  # a seller whose own request is on the desk: still no desk for them
    return {"requests": requests, "seller": seller, Role.AGENT: staff(Role.AGENT), Role.FINANCE: staff(Role.FINANCE)}


def browser(app, world, role):
    """A test client signed in as ``role`` (anonymous: not signed in)."""
    if role == "anonymous":
        client = app.test_client()
        client.set_cookie("lang", "en")
        return client
    return signed_in(app, world["seller"] if role == "seller" else world[role])


def pages_of(world):
    """Every desk page URL, filled in with a real request."""
    request_id = world["requests"][RefundState.UNDER_REVIEW].id
    return [page.format(id=request_id) for page in PAGES]


def assert_sent_to_sign_in(response, htmx=False):
    """An anonymous visitor is sent to /login: a redirect, or HX-Redirect for htmx."""
    if htmx:
        assert response.status_code == 204
        assert urlsplit(response.headers["HX-Redirect"]).path == "/login"
    else:
        assert response.status_code in (302, 303)
        assert urlsplit(response.headers["Location"]).path == "/login"


def test_anonymous_visitors_are_sent_to_sign_in_everywhere(app, world):
    """Every desk page and action sends an anonymous visitor to /login (HX-Redirect for htmx); nothing is written."""
    client = browser(app, world, "anonymous")
    before = footprint()
    for url in pages_of(world):
        assert_sent_to_sign_in(client.get(url))
        assert_sent_to_sign_in(client.get(url, headers={"HX-Request": "true"}), htmx=True)
    for action in ALL_ACTIONS:
        refund = world["requests"][NEEDS_STATE[action]]
        assert_sent_to_sign_in(post(client, refund.id, action))
        assert_sent_to_sign_in(post(client, refund.id, action, htmx=True), htmx=True)
    assert footprint() == before


def test_sellers_get_404_for_every_desk_page_and_action(app, world):
    """To a seller the desk does not exist: 404 for every page and action, even on their own request."""
    client = browser(app, world, "seller")
    before = footprint()
    for url in pages_of(world):
        assert client.get(url).status_code == 404, url
        assert client.get(url, headers={"HX-Request": "true"}).status_code == 404, url
    for action in ALL_ACTIONS:
        refund = world["requests"][NEEDS_STATE[action]]
        assert post(client, refund.id, action).status_code == 404, action
    assert footprint() == before
    html = client.get("/desk/refunds/{}".format(world["requests"][RefundState.UNDER_REVIEW].id)).text
    assert ACCOUNT_NUMBER not in html and "data-refund-state" not in html


@pytest.mark.parametrize("role", [Role.AGENT, Role.FINANCE])
def test_staff_can_open_every_desk_page(app, world, role):
    """Agents and finance both read the queue, payouts, audit log, a request, its checks and reason texts."""
    client = browser(app, world, role)
    for url in pages_of(world):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("role", [Role.AGENT, Role.FINANCE])
def test_staff_are_refused_the_other_roles_actions_and_nothing_is_written(app, world, role):
    """Agents get 403 for payout actions and finance gets 403 for decisions; the database is unchanged."""
    actions, status = REFUSED[role]
    client = browser(app, world, role)
    before = footprint()
    for action in actions:
        refund = world["requests"][NEEDS_STATE[action]]
        response = post(client, refund.id, action)
        assert response.status_code == status, action
        assert "Not for your role" in response.text
        assert post(client, refund.id, action, htmx=True).status_code == status, action
    assert footprint() == before


@pytest.mark.parametrize("role", [Role.AGENT, Role.FINANCE])
def test_staff_may_take_their_own_actions(app, world, role):
    """Each action the role may take applies: 303 to the request page, the state moved, an audit row by them."""
    user = world[role]
    client = browser(app, world, role)
    for action in ALLOWED[role]:
        refund, _shop, _seller = request_in(NEEDS_STATE[action])
        data = form(action, **({"amount": "1000.00"} if action == "payout/paid" else {}))
        response = post(client, refund.id, action, data)
        if action == "payee/reveal":
            assert response.status_code == 200
            assert ACCOUNT_NUMBER in response.text
        else:
            assert response.status_code == 303, (action, response.text[:2000])
            assert urlsplit(response.headers["Location"]).path == f"/desk/refunds/{refund.id}"
        if action in LEADS_TO:
            assert state_of(refund.id) == LEADS_TO[action], action
        entries = audit_of(refund.id)
        assert entries, action
        assert entries[-1].actor_id == user.id and entries[-1].actor_role == role
