"""Payee details (收款信息): holder must be the entity, the number stays masked, every change is recorded."""
from urllib.parse import urlsplit

import pytest

from portal.core.vocabulary import EntryType, Role
from portal.payee.models import PayeeAccount, PayeeChange
from portal.shops.models import Shop
from tests.factories import (
    ACCOUNT_NUMBER,
    ENTITY,
    Page,
    add_category,
    add_entry,
    add_payee,
    check_codes,
    days_ago,
    form_submit_button,
    htmx_destination,
    htmx_headers,
    make_shop,
    make_user,
    sign_in,
)

NEW_NUMBER = "6222 0200 0000 1111"


@pytest.fixture
def seller(app):
    """A seller with a complete shop and payee details changed long ago."""
    shop = make_shop()
    add_category(shop, 200_000)
    add_entry(shop, EntryType.TOP_UP, 500_000)
    add_payee(shop)
    return make_user("seller-a", shop=shop)


@pytest.fixture
def signed_in(client, seller):
    """The client, signed in as the seller, reading English pages."""
    client.set_cookie("lang", "en")
    sign_in(client, seller)
    return client


def payee_form(**changes):
    """A complete, valid payee form; ``changes`` override fields."""
    data = {"holder_name": ENTITY, "account_type": "CORPORATE", "bank_name": "中国工商银行杭州分行",
            "account_number": NEW_NUMBER}
    data.update(changes)
    return data


def test_page_shows_the_number_masked_only(signed_in):
    """The payee page shows the last four digits; the full number appears nowhere in the HTML."""
    html = signed_in.get("/payee").text
    assert "•••• 5678" in html
    assert ACCOUNT_NUMBER not in html and "62148300" not in html
    assert Page(html).find("input", name="account_number").get("value", "") == ""


def test_holder_must_be_the_entity(signed_in, seller):
    """Another holder name gives 422, the error beside the field, the typed values kept, nothing written."""
    changes_before = PayeeChange.select().count()
    response = signed_in.post("/payee", data=payee_form(holder_name="王小明", account_type="PERSONAL"))
    assert response.status_code == 422
    page = Page(response.text)
    holder = page.find("input", name="holder_name")
    assert holder["value"] == "王小明" and holder["aria-invalid"] == "true"
    assert ENTITY in page.find("p", id="holder_name-error").text
    assert page.find("input", name="bank_name")["value"] == "中国工商银行杭州分行"
    assert page.find("input", name="account_type", value="PERSONAL").has("checked")
    assert not page.find("input", name="account_type", value="CORPORATE").has("checked")
    assert PayeeChange.select().count() == changes_before
    assert PayeeAccount.get(PayeeAccount.shop == seller.shop_id).account_number == ACCOUNT_NUMBER


def test_holder_may_differ_in_spaces_and_bracket_width(signed_in, seller):
    """The entity written with full-width brackets or spaces is the same holder."""
    Shop.update(entity_name="深圳ABC贸易（有限）公司").where(Shop.id == seller.shop_id).execute()
    response = signed_in.post("/payee", data=payee_form(holder_name=" 深圳abc贸易(有限) 公司"))
    assert response.status_code == 303


def test_a_change_is_saved_and_recorded(signed_in, seller):
    """A valid change saves the details, records who changed what and when (number masked), and lands on /payee."""
    response = signed_in.post("/payee", data=payee_form())
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/payee"
    payee = PayeeAccount.get(PayeeAccount.shop == seller.shop_id)
    assert (payee.bank_name, payee.account_number) == ("中国工商银行杭州分行", "6222020000001111")
    change = PayeeChange.select().where(PayeeChange.shop == seller.shop_id).order_by(PayeeChange.id.desc()).get()
    assert change.changed_by_id == seller.id
    assert change.changed_at > days_ago(1)
    assert "6222020000001111" not in change.summary and "1111" in change.summary
    html = signed_in.get("/payee").text
    assert "•••• 1111" in html and "6222020000001111" not in html


def test_blank_number_keeps_the_old_one(signed_in, seller):
    """Leaving the number empty changes the other fields and keeps the account number on file."""
    response = signed_in.post("/payee", data=payee_form(account_number=""))
    assert response.status_code == 303
    payee = PayeeAccount.get(PayeeAccount.shop == seller.shop_id)
    assert payee.account_number == ACCOUNT_NUMBER
    assert payee.bank_name == "中国工商银行杭州分行"


def test_saving_the_same_details_records_nothing(signed_in, seller):
    """Submitting the details already on file writes no change record."""
    before = PayeeChange.select().count()
    response = signed_in.post("/payee", data=payee_form(bank_name="招商银行杭州分行", account_number=""))
    assert response.status_code == 303
    assert PayeeChange.select().count() == before
    assert "Nothing changed." in signed_in.get("/payee").text


@pytest.mark.parametrize("number", ["1234", "6222-abcd-0000", "1" * 31])
def test_bad_account_numbers_are_refused_beside_the_field(signed_in, seller, number):
    """A number that is not 8 to 30 digits is refused beside its field, and nothing is written."""
    before = PayeeChange.select().count()
    response = signed_in.post("/payee", data=payee_form(account_number=number))
    assert response.status_code == 422
    assert Page(response.text).find("p", id="account_number-error")
    assert PayeeChange.select().count() == before


@pytest.mark.parametrize("typed", ["６２２２　０２００　００００　１１１１", "６２２２－０２００－００００－１１１１",
                                   "𝟔𝟐𝟐𝟐𝟎𝟐𝟎𝟎𝟎𝟎𝟎𝟎𝟏𝟏𝟏𝟏", "6222 ０２００ 0000 1111"],
                         ids=["full-width", "full-width-hyphens", "mathematical", "mixed"])
def test_digits_typed_in_another_width_are_saved_as_ascii(signed_in, seller, typed):
    """Full-width (and other Nd digits NFKC maps to 0-9) are stored as ASCII; the page says what was saved."""
    response = signed_in.post("/payee", data=payee_form(account_number=typed))
    assert response.status_code == 303
    assert PayeeAccount.get(PayeeAccount.shop == seller.shop_id).account_number == "6222020000001111"
    change = PayeeChange.select().order_by(PayeeChange.id.desc()).get()
    assert change.summary.endswith("****1111")
    html = signed_in.get("/payee").text
    assert "•••• 1111" in html
    assert "The account number was saved in the digits 0 to 9: it ends in 1111." in html


def test_ascii_digits_say_nothing_about_conversion(signed_in, seller):
    """Digits typed as 0-9 (with spaces) are saved without the conversion note."""
    assert signed_in.post("/payee", data=payee_form()).status_code == 303
    assert "saved in the digits 0 to 9" not in signed_in.get("/payee").text


@pytest.mark.parametrize(("typed", "shown"), [
    ("٦٢٢٢٠٢٠٠٠٠٠٠١١١١", "٦٢٠١"),  # Arabic-Indic: digits of their own, which NFKC leaves alone
    ("۶۲۲۲۰۲۰۰۰۰۰۰۱۱۱۱", "۶۲۰۱"),  # Extended Arabic-Indic (Persian)
    ("६२२२०२००००००११११", "६२०१"),  # Devanagari
    ("6222020000001¹¹¹", "¹"),  # superscripts: NFKC maps them to digits, but they are not digits
    ("①②③④⑤⑥⑦⑧⑨", "①②③④⑤⑥⑦⑧⑨"),  # circled numbers: likewise
], ids=["arabic-indic", "persian", "devanagari", "superscript", "circled"])
def test_digits_that_are_not_0_to_9_are_refused_and_named(signed_in, seller, typed, shown):
    """Other scripts' digits, superscripts and circled numbers: 422, named beside the field, typed text kept."""
    response = signed_in.post("/payee", data=payee_form(account_number=typed))
    assert response.status_code == 422
    page = Page(response.text)
    assert page.find("p", id="account_number-error").text.strip() == (
        f"Type the account number with the digits 0 to 9: the bank cannot take “{shown}”.")
    assert page.find("input", name="account_number")["value"] == typed
    assert PayeeAccount.get(PayeeAccount.shop == seller.shop_id).account_number == ACCOUNT_NUMBER


def test_first_details_need_a_number(client, app):
    """A shop with no payee yet must enter the account number."""
    user = make_user("seller-new", shop=make_shop())
    client.set_cookie("lang", "en")
    sign_in(client, user)
    assert "No payee account yet" in client.get("/payee").text
    response = client.post("/payee", data=payee_form(account_number=""))
    assert response.status_code == 422
    assert "Enter the account number." in Page(response.text).find("p", id="account_number-error").text
    assert client.post("/payee", data=payee_form()).status_code == 303
    assert PayeeAccount.get(PayeeAccount.shop == user.shop_id).account_number == "6222020000001111"
    assert PayeeChange.select().where(PayeeChange.shop == user.shop_id).count() == 1


def test_recent_change_warns_on_the_refund_form(signed_in, seller):
    """After a change /refunds/new shows the PAYEE_RECENTLY_CHANGED warning, and it does not block."""
    assert "PAYEE_RECENTLY_CHANGED" not in check_codes(signed_in.get("/refunds/new").text)
    signed_in.post("/payee", data=payee_form())
    html = signed_in.get("/refunds/new").text
    assert check_codes(html) == ["PAYEE_RECENTLY_CHANGED"]
    assert "check-warning" in Page(html).find("li", data_check="PAYEE_RECENTLY_CHANGED")["class"]
    assert not form_submit_button(html).has("disabled")
    assert "6222020000001111" not in html


def test_htmx_save_answers_with_a_client_redirect(signed_in):
    """Saved through htmx the answer is 204 with the page to go to, not a 3xx htmx would swap in."""
    response = signed_in.post("/payee", data=payee_form(), headers=htmx_headers())
    assert response.status_code == 204
    assert urlsplit(htmx_destination(response)).path == "/payee"


def test_profile_contact_is_saved_and_checked(signed_in, seller):
    """The shop contact is saved; a bad phone is refused beside its field; a missing one blocks refunds."""
    Shop.update(contact_name="", contact_phone="").where(Shop.id == seller.shop_id).execute()
    assert "PROFILE_INCOMPLETE" in check_codes(signed_in.get("/refunds/new").text)
    response = signed_in.post("/payee/profile", data={"contact_name": "李四", "contact_phone": "call me"})
    assert response.status_code == 422
    page = Page(response.text)
    assert page.find("p", id="contact_phone-error")
    assert page.find("input", name="contact_name")["value"] == "李四"
    response = signed_in.post("/payee/profile", data={"contact_name": "李四", "contact_phone": "138 0000 5678"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/payee#profile")
    assert Shop.get_by_id(seller.shop_id).contact_phone == "138 0000 5678"
    assert "PROFILE_INCOMPLETE" not in check_codes(signed_in.get("/refunds/new").text)


def test_staff_get_404_and_anonymous_visitors_sign_in(client, app):
    """Payee pages belong to sellers: staff get 404, anonymous visitors go to /login."""
    assert urlsplit(client.get("/payee").headers["Location"]).path == "/login"
    sign_in(client, make_user("agent-1", role=Role.AGENT))
    assert client.get("/payee").status_code == 404
    assert client.post("/payee", data=payee_form()).status_code == 404
    assert PayeeChange.select().count() == 0


def test_contact_email_is_kept_for_notifications_in_the_current_language(app, client, auth, demo_data):
    """Saving the contact with an e-mail stores it on the seller's account with the language in use."""
    from portal.accounts.models import User
    from portal.core.db import db

    auth.login("seller-ok")
    client.set_cookie("lang", "en")
    response = client.post("/payee/profile", data={"contact_name": "王经理", "contact_phone": "13800001234",
                                                   "email": "boss@shop.example"})
    assert response.status_code == 303
    with app.app_context(), db.connection_context():
        user = User.get(User.username == "seller-ok")
        assert (user.email, user.locale) == ("boss@shop.example", "en")
    bad = client.post("/payee/profile", data={"contact_name": "王经理", "contact_phone": "13800001234",
                                              "email": "not-an-address"})
    assert bad.status_code == 422
    assert "not-an-address" in bad.text and "name@example.com" in bad.text
