"""The seller's widgets page: create (one request or "latest"), the allowed sites, preview, snippets, rotate, revoke."""
import json

import pytest

from portal.accounts.models import User
from portal.audit.models import AuditLog
from portal.refunds.models import RefundRequest
from portal.widgets import tokens
from portal.widgets.models import Widget
from tests.conftest import htmx_headers
from tests.factories import Page, csrf_token, sign_in
from tests.widget_helpers import load_demo, make_widget, open_request, shop_of

SNIPPETS = ("iframe", "loader", "json", "badge")


@pytest.fixture
def seller(app, client, auth, monkeypatch):
    """seller-ok signed in, reading English pages; returns the seller's shop."""
    load_demo(app, monkeypatch)
    client.set_cookie("lang", "en")
    assert auth.login("seller-ok").status_code == 303
    return shop_of("seller-ok")


def create(client, origins="https://erp.example.com", target="latest", variant="PUBLIC", **headers):
    """Submit the new-widget form as a browser would."""
    return client.post("/widgets", data={"target": target, "variant": variant, "origins": origins}, headers=headers)


def token_for(app, widget_id):
    """The widget's current token, computed apart from the page."""
    return tokens.make_token(app.config["SECRET_KEY"], Widget.get_by_id(widget_id))


def widget_section(html, widget_id):
    """The parsed page and the card of one widget on it."""
    page = Page(html)
    return page, page.find("section", id=f"widget-{widget_id}")


def test_create_a_widget_for_the_latest_request(client, seller):
    """"My latest request" makes a widget with no fixed request; the page then shows it with its sites."""
    response = create(client, origins="https://erp.example.com\nhttp://localhost:8080")
    widget = Widget.get(Widget.shop == seller.id)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/widgets#widget-{widget.id}")
    assert widget.request_id is None
    assert widget.variant == "PUBLIC"
    assert widget.origin_list == ["https://erp.example.com", "http://localhost:8080"]
    assert widget.version == 1 and widget.revoked_at is None
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    _, card = widget_section(html, widget.id)
    assert "My latest request" in card.text
    assert "https://erp.example.com, http://localhost:8080" in card.text
    assert "Widget created." in html


def test_create_a_widget_for_one_request(client, seller):
    """Choosing a request pins the widget to it, and the card names the request."""
    first = RefundRequest.select().where(RefundRequest.shop == seller.id).order_by(RefundRequest.id).first()
    assert create(client, target=str(first.id)).status_code == 303
    widget = Widget.get(Widget.shop == seller.id)
    assert widget.request_id == first.id
    _, card = widget_section(client.get("/widgets").get_data(as_text=True), widget.id)
    assert f"Request No. {first.id}" in card.text


def test_the_form_offers_latest_and_the_shops_own_requests_only(client, seller):
    """The target list is "latest" plus this shop's requests; another shop's request is no choice."""
    page = Page(client.get("/widgets").get_data(as_text=True))
    offered = [option["value"] for option in page.find_all("option")]
    own = [str(refund.id) for refund in RefundRequest.for_shop(seller.id)]
    assert offered == ["latest", *own]
    others = open_request("seller-review")
    response = create(client, target=str(others.id))
    assert response.status_code == 422
    assert Widget.select().count() == 0


def test_create_records_who_made_it_in_the_audit_log(client, seller):
    """Creating a widget leaves an audit entry with its sites and variant."""
    create(client, variant="DETAILED")
    entry = AuditLog.get(AuditLog.action == "widget.create")
    details = json.loads(entry.details)
    assert entry.shop_id == seller.id
    assert details["origins"] == ["https://erp.example.com"]
    assert details["variant"] == "DETAILED"


@pytest.mark.parametrize("variant, shown", [("PUBLIC", "Public"), ("DETAILED", "Detailed")])
def test_public_or_detailed_variant(client, seller, variant, shown):
    """The chosen variant is stored and named on the widget's card."""
    create(client, variant=variant)
    widget = Widget.get(Widget.shop == seller.id)
    assert widget.variant == variant
    _, card = widget_section(client.get("/widgets").get_data(as_text=True), widget.id)
    assert f"· {shown} ·" in card.text.split("Allowed sites")[0]


@pytest.mark.parametrize("language, shown", [("zh_CN", "Chinese"), ("en", "English"), ("AUTO", "viewer's language"),
                                             (None, "Chinese")])
def test_the_seller_picks_the_widgets_language(client, seller, language, shown):
    """The language chosen (Chinese when none is sent) is stored, audited and named on the card; the
    snippets name none, so the widget's own applies."""
    data = {"target": "latest", "variant": "PUBLIC", "origins": "https://erp.example.com"}
    if language:
        data["language"] = language
    assert client.post("/widgets", data=data).status_code == 303
    widget = Widget.get(Widget.shop == seller.id)
    assert widget.language == (language or "zh_CN")
    assert json.loads(AuditLog.get(AuditLog.action == "widget.create").details)["language"] == widget.language
    page, card = widget_section(client.get("/widgets").get_data(as_text=True), widget.id)
    assert card.text.split("Allowed sites")[0].strip().endswith(shown)
    assert "data-lang" not in page.find("code", id=f"snippet-{widget.id}-loader").text
    assert "lang=" not in page.find("code", id=f"snippet-{widget.id}-iframe").text


def test_an_unknown_widget_language_is_refused(client, seller):
    """A language that is not offered re-renders the form (422) and creates nothing."""
    response = client.post("/widgets", data={"target": "latest", "variant": "PUBLIC", "language": "fr",
                                             "origins": "https://erp.example.com"})
    assert response.status_code == 422
    assert Widget.select().count() == 0


def test_an_unknown_variant_is_refused(client, seller):
    """Only PUBLIC and DETAILED exist; anything else re-renders the form and creates nothing."""
    assert create(client, variant="EVERYTHING").status_code == 422
    assert Widget.select().count() == 0


@pytest.mark.parametrize("typed, stored", [
    ("https://erp.example.com", ["https://erp.example.com"]),
    ("https://ERP.example.com/\nhttps://shop.example.cn:8443", ["https://erp.example.com", "https://shop.example.cn:8443"]),
    ("http://localhost:8080", ["http://localhost:8080"]),
    ("http://127.0.0.1:5000\n\nhttps://a.example.com\n", ["http://127.0.0.1:5000", "https://a.example.com"]),
])
def test_allowed_sites_are_stored_normalised(client, seller, typed, stored):
    """https origins and local testing origins are accepted, lower-cased, without a trailing slash."""
    assert create(client, origins=typed).status_code == 303
    assert Widget.get(Widget.shop == seller.id).origin_list == stored


@pytest.mark.parametrize("typed", [
    "http://example.com",
    "https://erp.example.com/status",
    "javascript:alert(1)",
    "not a site",
    "https://erp.example.com\nhttp://example.com",
    "http://localhost",
    "https://erp.example.com; script-src *",
])
def test_a_bad_site_is_refused_beside_the_field_and_nothing_is_created(client, seller, typed):
    """422: the message sits beside the sites field, names the bad line, the typed text stays; no widget."""
    response = create(client, origins=typed)
    assert response.status_code == 422
    page = Page(response.get_data(as_text=True))
    textarea = page.find("textarea", name="origins")
    assert textarea.text == " ".join(typed.split())
    assert textarea["aria-invalid"] == "true"
    error = page.find("p", id="origins-error")
    assert "Not a site address we can allow" in error.text
    assert " ".join(typed.splitlines()[-1].split()) in error.text
    assert "origins-error" in textarea["aria-describedby"]
    assert Widget.select().count() == 0
    assert AuditLog.select().where(AuditLog.action == "widget.create").count() == 0


def test_no_site_at_all_is_refused(client, seller):
    """An empty list of sites asks for at least one."""
    response = create(client, origins="  \n ")
    assert response.status_code == 422
    assert "Name at least one site" in Page(response.get_data(as_text=True)).find("p", id="origins-error").text
    assert Widget.select().count() == 0


def test_more_than_ten_sites_are_refused(client, seller):
    """At most ten sites per widget."""
    typed = "\n".join(f"https://s{number}.example.com" for number in range(11))
    response = create(client, origins=typed)
    assert response.status_code == 422
    assert "At most 10 sites" in Page(response.get_data(as_text=True)).find("p", id="origins-error").text
    assert Widget.select().count() == 0


def test_the_card_previews_the_widget_and_its_four_snippets_carry_the_token(app, client, seller):
    """The preview frame and the iframe, loader, JSON and badge snippets all use the current token."""
    create(client)
    widget = Widget.get(Widget.shop == seller.id)
    token = token_for(app, widget.id)
    page, card = widget_section(client.get("/widgets").get_data(as_text=True), widget.id)
    [preview] = page.with_class("widget-preview", "iframe")
    assert preview["src"] == f"/embed/{token}"
    codes = {key: page.find("code", id=f"snippet-{widget.id}-{key}").text for key in SNIPPETS}
    assert f'<iframe src="http://localhost/embed/{token}"' in codes["iframe"]
    assert f'data-refund-widget="{token}"' in codes["loader"]
    assert 'src="http://localhost/embed.js"' in codes["loader"]
    assert codes["json"] == f"http://localhost/api/v1/status/{token}"
    assert f'src="http://localhost/badge/{token}.svg"' in codes["badge"]
    for key in SNIPPETS:
        assert page.find("button", data_copy=f"snippet-{widget.id}-{key}").text == "Copy"


def test_rotate_gives_new_snippets_and_retires_the_old_token(app, client, seller):
    """After rotating, every snippet shows the new token, the old one appears nowhere and no longer works."""
    create(client)
    widget = Widget.get(Widget.shop == seller.id)
    old = token_for(app, widget.id)
    response = client.post(f"/widgets/{widget.id}/rotate")
    assert response.status_code == 303
    assert Widget.get_by_id(widget.id).version == 2
    new = token_for(app, widget.id)
    html = client.get("/widgets").get_data(as_text=True)
    page, _ = widget_section(html, widget.id)
    assert old not in html
    for key in SNIPPETS:
        assert new in page.find("code", id=f"snippet-{widget.id}-{key}").text
    assert "the old one no longer works" in html
    assert client.get(f"/embed/{old}").status_code == 404
    assert client.get(f"/embed/{new}").status_code == 200
    assert AuditLog.select().where(AuditLog.action == "widget.rotate").count() == 1


def test_revoke_removes_the_widget_from_the_page_and_everywhere(app, client, seller):
    """A revoked widget leaves the page, its token stops working, and it cannot be rotated back."""
    create(client)
    widget = Widget.get(Widget.shop == seller.id)
    token = token_for(app, widget.id)
    response = client.post(f"/widgets/{widget.id}/revoke")
    assert response.status_code == 303
    assert Widget.get_by_id(widget.id).revoked_at is not None
    html = client.get("/widgets").get_data(as_text=True)
    assert f'id="widget-{widget.id}"' not in html
    assert token not in html
    assert client.get(f"/embed/{token}").status_code == 404
    assert client.post(f"/widgets/{widget.id}/rotate").status_code == 404
    assert client.post(f"/widgets/{widget.id}/revoke").status_code == 404


@pytest.mark.parametrize("action", ["rotate", "revoke"])
def test_rotate_and_revoke_are_not_links(client, seller, action):
    """A GET (a link, a prefetch) changes nothing: 405."""
    widget = make_widget("seller-ok")
    assert client.get(f"/widgets/{widget.id}/{action}").status_code == 405
    after = Widget.get_by_id(widget.id)
    assert after.version == 1 and after.revoked_at is None


@pytest.mark.parametrize("action", ["rotate", "revoke"])
def test_another_sellers_widget_is_not_found(client, seller, action):
    """A widget id of another shop answers 404 and stays as it was."""
    foreign = make_widget("seller-review")
    assert client.post(f"/widgets/{foreign.id}/{action}").status_code == 404
    after = Widget.get_by_id(foreign.id)
    assert after.version == 1 and after.revoked_at is None
    assert client.post(f"/widgets/{foreign.id + 1000}/{action}").status_code == 404


def test_another_sellers_widgets_are_not_listed(app, client, seller):
    """The page lists only the seller's own widgets."""
    foreign = make_widget("seller-review")
    html = client.get("/widgets").get_data(as_text=True)
    assert f'id="widget-{foreign.id}"' not in html
    assert token_for(app, foreign.id) not in html


def test_create_from_htmx_redirects_by_header(client, seller):
    """An htmx submit gets HX-Redirect to the new card instead of a 303 it would follow blindly."""
    response = create(client, **htmx_headers())
    widget = Widget.get(Widget.shop == seller.id)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"].endswith(f"/widgets#widget-{widget.id}")


@pytest.mark.parametrize("username", ["agent", "finance"])
def test_staff_have_no_widgets_page(app, client, auth, monkeypatch, username):
    """Support and finance get 404 on the seller's widgets page and its actions."""
    load_demo(app, monkeypatch)
    widget = make_widget("seller-ok")
    auth.login(username)
    assert client.get("/widgets").status_code == 404
    assert create(client).status_code == 404
    assert client.post(f"/widgets/{widget.id}/revoke").status_code == 404
    assert Widget.select().count() == 1
    assert Widget.get_by_id(widget.id).revoked_at is None


def test_anonymous_visitors_are_sent_to_sign_in(app, client, monkeypatch):
    """Without signing in, the page redirects to the sign-in form and a post creates nothing."""
    load_demo(app, monkeypatch)
    response = client.get("/widgets")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    create(client)
    assert Widget.select().count() == 0


def test_rotate_revoke_and_create_need_the_csrf_token(csrf_app, monkeypatch):
    """With CSRF on (as in production) a post without the token is a 400 that changes nothing; with it, it works."""
    load_demo(csrf_app, monkeypatch)
    client = csrf_app.test_client()
    client.set_cookie("lang", "en")
    sign_in(client, User.get(User.username == "seller-ok"))
    widget = make_widget("seller-ok")
    for url in (f"/widgets/{widget.id}/rotate", f"/widgets/{widget.id}/revoke"):
        response = client.post(url)
        assert response.status_code == 400
        assert "did not come from this site" in response.get_data(as_text=True)
    assert create(client).status_code == 400
    after = Widget.get_by_id(widget.id)
    assert (after.version, after.revoked_at) == (1, None)
    assert Widget.select().count() == 1

    token = csrf_token(client.get("/widgets").get_data(as_text=True))
    assert client.post(f"/widgets/{widget.id}/rotate", data={"csrf_token": token}).status_code == 303
    assert client.post(f"/widgets/{widget.id}/revoke", data={"csrf_token": token}).status_code == 303
    after = Widget.get_by_id(widget.id)
    assert after.version == 3 and after.revoked_at is not None
