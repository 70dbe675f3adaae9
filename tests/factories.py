"""Small, fast builders of test data, and the page-reading helpers the view tests share.

The demo hashes nine passwords at production cost (about 50 ms each); these builders store one cheap
argon2id hash made once, and sign people in by writing the session the way Flask-Login does.
"""
import datetime
import re
import uuid
from html.parser import HTMLParser

from argon2 import PasswordHasher

from portal.accounts import service as account_service
from portal.accounts.models import User
from portal.core.clock import utcnow
from portal.core.vocabulary import EntryType, Role
from portal.deposit import ledger
from portal.deposit.models import LedgerEntry
from portal.payee.models import PayeeAccount, PayeeChange
from portal.refunds.models import RefundRequest
from portal.shops.models import CategoryRequirement, Shop

PASSWORD = "right-password-2026"
# argon2id at a deliberately tiny cost: the same algorithm and format, microseconds instead of the
# production cost (which is 50 ms on a quiet machine and far more on a busy two-core runner).
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
CHEAP_HASH = CHEAP_HASHER.hash(PASSWORD)
ENTITY = "杭州测试科技有限公司"
ACCOUNT_NUMBER = "6214830012345678"
DAY = datetime.timedelta(days=1)


def use_cheap_hashing(monkeypatch):
    """Make every hash and check in ``portal.accounts`` cheap for one test (the demo's too)."""
    monkeypatch.setattr(account_service, "_hasher", CHEAP_HASHER)
    monkeypatch.setattr(account_service, "_DUMMY_HASH", CHEAP_HASHER.hash("not-a-real-password"))


def days_ago(days):
    """A naive-UTC moment some days before now."""
    return utcnow() - days * DAY


def make_shop(name="测试小店", entity_name=ENTITY, **facts):
    """A shop with a complete profile and no order for 200 days; ``facts`` override any field."""
    fields = {"contact_name": "张三", "contact_phone": "13800001234", "last_order_at": days_ago(200)}
    fields.update(facts)
    return Shop.create(name=name, entity_name=entity_name, **fields)


def make_user(username=None, role=Role.SELLER, shop=None, password_hash=CHEAP_HASH, **fields):
    """A user (a seller when ``shop`` is given) whose password is ``PASSWORD``."""
    username = username or f"user-{uuid.uuid4().hex[:10]}"
    return User.create(username=username, password_hash=password_hash, role=role, display_name=username,
                       shop=shop, **fields)


def add_entry(shop, entry_type, amount_fen, reason="", **fields):
    """Append one ledger entry to a shop."""
    return LedgerEntry.create(shop=shop, entry_type=entry_type, amount_fen=amount_fen, reason=reason, **fields)


def add_category(shop, required_fen, code="3C", name_zh="3C数码", name_en="Consumer electronics"):
    """A business category and the deposit it requires."""
    return CategoryRequirement.create(shop=shop, code=code, name_zh=name_zh, name_en=name_en,
                                      required_fen=required_fen)


def add_payee(shop, holder_name=None, number=ACCOUNT_NUMBER, changed_at=None, bank_name="招商银行杭州分行"):
    """Payee details for a shop (held by its entity unless told otherwise), changed long ago by default."""
    changed_at = changed_at or days_ago(200)
    payee = PayeeAccount.create(shop=shop, holder_name=holder_name or shop.entity_name, account_type="CORPORATE",
                                bank_name=bank_name, account_number=number, updated_at=changed_at)
    PayeeChange.create(shop=shop, changed_at=changed_at, summary="created")
    return payee


def ready_seller(username=None, paid_in_fen=500_000, required_fen=200_000, **facts):
    """A seller whose shop nothing blocks: ¥5,000 paid in, ¥2,000 required, so ¥3,000 refundable."""
    shop = make_shop(**facts)
    add_category(shop, required_fen)
    add_payee(shop)
    add_entry(shop, EntryType.TOP_UP, paid_in_fen, reason="top_up", created_at=days_ago(300))
    return shop, make_user(username, shop=shop)


def figures_from_entries_of(shop, required=0):
    """A shop's figures summed entry by entry from its ledger rows (independently of the page's query)."""
    rows = LedgerEntry.select(LedgerEntry.entry_type, LedgerEntry.amount_fen).where(LedgerEntry.shop == shop.id)
    return ledger.figures_from_entries(rows.tuples(), required)


def sign_in(client, user):
    """Sign a test client in as ``user`` without a password round-trip (what signing in stores)."""
    token = account_service.start_session(user, "test client", "127.0.0.1")
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
        session["sid"] = token


def request_rows():
    """How many refund requests and ledger entries exist: what 'nothing written' compares."""
    return RefundRequest.select().count(), LedgerEntry.select().count()


def idempotency_key(html):
    """The idempotency key the application form carries."""
    match = re.search(r'name="idempotency_key"[^>]*value="([0-9a-f]{32})"', html) or re.search(
        r'value="([0-9a-f]{32})"[^>]*name="idempotency_key"', html)
    assert match, "the form carries no idempotency key"
    return match.group(1)


def htmx_headers(target=None):
    """The headers htmx sends when it asks for a fragment (kept here so no test imports conftest)."""
    headers = {"HX-Request": "true"}
    if target:
        headers["HX-Target"] = target
    return headers


def htmx_destination(response):
    """Where an htmx response sends the browser (``HX-Location`` or ``HX-Redirect``), or None."""
    target = response.headers.get("HX-Location") or response.headers.get("HX-Redirect")
    if target and target.startswith("{"):  # HX-Location may be a JSON object with a path
        import json

        target = json.loads(target)["path"]
    return target


def csrf_token(html):
    """The CSRF token of a page, from its meta tag."""
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match, "the page has no csrf-token meta tag"
    return match.group(1)


class Page(HTMLParser):
    """A parsed page: every element's attributes and text, enough to find what a user would see."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self, html):
        """Parse the whole page at once."""
        super().__init__(convert_charrefs=True)
        self.elements = []  # [tag, attrs, text parts]
        self._open = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        """Record an element; its text is collected until it closes."""
        element = [tag, dict(attrs), []]
        self.elements.append(element)
        if tag not in self.VOID:
            self._open.append(element)

    def handle_endtag(self, tag):
        """Close the innermost open element of this tag."""
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index][0] == tag:
                del self._open[index:]
                break

    def handle_data(self, data):
        """Text belongs to every element it is inside."""
        for element in self._open:
            element[2].append(data)

    def find_all(self, tag=None, **attrs):
        """Elements with this tag (any when None) whose attributes have these values (True: present)."""
        found = []
        for name, element_attrs, text in self.elements:
            if tag is not None and name != tag:
                continue
            if all(key.replace("_", "-") in element_attrs if value is True
                   else element_attrs.get(key.replace("_", "-")) == value for key, value in attrs.items()):
                found.append(Element(name, element_attrs, " ".join("".join(text).split())))
        return found

    def find(self, tag=None, **attrs):
        """The one element that matches (fails the test when there is none)."""
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag or '*'}> with {attrs} on the page"
        return found[0]

    def with_class(self, css_class, tag=None):
        """Elements carrying a CSS class."""
        return [element for element in self.find_all(tag)
                if css_class in element.attrs.get("class", "").split()]


class Element:
    """One element of a parsed page."""

    def __init__(self, tag, attrs, text):
        """Keep the tag, its attributes and its whitespace-collapsed text."""
        self.tag = tag
        self.attrs = attrs
        self.text = text

    def __getitem__(self, name):
        """An attribute that must be there."""
        return self.attrs[name]

    def get(self, name, default=None):
        """An attribute, or ``default``."""
        return self.attrs.get(name, default)

    def has(self, name):
        """True when the element carries the attribute (boolean attributes such as ``disabled``)."""
        return name in self.attrs

    def __repr__(self):
        """The element as a failing assertion shows it."""
        return f"<{self.tag} {self.attrs} {self.text[:60]!r}>"


def figures_on(html):
    """``{figure name: text}`` of every element marked ``data-figure`` on a page."""
    return {element["data-figure"]: element.text for element in Page(html).find_all(data_figure=True)}


def fix_links(html):
    """``{pre-check code: href}`` of the 'where to fix it' link inside each finding on a page."""
    links = {}
    for match in re.finditer(r'<li[^>]*data-check="([A-Z_]+)"(.*?)</li>', html, re.DOTALL):
        fix = Page(match.group(2)).with_class("fix", "a")
        if fix:
            links[match.group(1)] = fix[0]["href"]
    return links


def check_codes(html):
    """The pre-check codes shown on a page, in page order."""
    return [element["data-check"] for element in Page(html).find_all("li", data_check=True)]


def form_submit_button(html):
    """The first submit button of the page's content: the header's sign-out button is not it."""
    buttons = [button for button in Page(html).find_all("button", type="submit") if button.get("class") != "signout"]
    assert buttons, "no submit button in the page's content"
    return buttons[0]
