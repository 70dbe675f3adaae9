"""Touch and screen, in the browser (issue 10, items 4-6).

Every link, button and form control in the header and the main content is a target of at least
44 x 44 CSS px, on a phone (390 px) and on a desktop (1280 px), on the main seller and desk pages;
the desk queue uses a desktop's width and turns into cards on a phone; htmx swaps on the desk
break no Content-Security-Policy rule; the plain iframe snippet is tall enough for the widget at
phone widths.

This module starts its own server (conftest's ``start_portal``): it approves a demo request, which
the session's shared server must not see.
"""
import json
import re

import pytest
from playwright.sync_api import expect

from .conftest import PHONE, PortalDatabase, no_horizontal_scroll, save_screenshot, sign_in, start_portal

pytestmark = pytest.mark.e2e

MIN_TARGET = 44  # CSS px, WCAG 2.5.5 (AAA) and the rule
SIZES = {"phone": None, "desktop": {"width": 1280, "height": 800}}  # phone: the iPhone 12 device (390 px)

SELLER_PAGES = ["/deposit", "/refunds", "/refunds/new", "/refunds/{request}", "/tickets", "/tickets/new",
                "/payee", "/widgets", "/notifications", "/risk", "/disputes"]
DESK_PAGES = ["/desk", "/desk?state=UNDER_REVIEW", "/desk/refunds/{request}", "/desk/shops/{shop}",
              "/desk/audit", "/desk/payouts"]

# Measures every tap target in the header and main content (closed <details> opened first, so
# the forms behind them count too). A checkbox or radio is tapped through its label as well: its
# target is the box around the control and its labels.
_TARGETS_SCRIPT = """() => {
  for (const details of document.querySelectorAll("main details")) { details.open = true; }
  const found = [];
  for (const root of document.querySelectorAll(".site-header, main")) {
    for (const element of root.querySelectorAll("a[href], button, input, select, textarea, summary")) {
      if (element.type === "hidden" || element.closest("[hidden]")) { continue; }
      const own = element.getBoundingClientRect();
      if (own.width === 0 && own.height === 0) { continue; }  // not rendered
      let [left, top, right, bottom] = [own.left, own.top, own.right, own.bottom];
      if (element.type === "checkbox" || element.type === "radio") {
        for (const label of element.labels || []) {
          const box = label.getBoundingClientRect();
          left = Math.min(left, box.left); top = Math.min(top, box.top);
          right = Math.max(right, box.right); bottom = Math.max(bottom, box.bottom);
        }
      }
      const name = element.tagName.toLowerCase() + (element.type ? "[" + element.type + "]" : "")
        + (element.id ? "#" + element.id : "") + " " + (element.textContent || element.name || "").trim().slice(0, 30);
      found.push({name: name, width: right - left, height: bottom - top});
    }
  }
  return found;
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A portal with the demo data of this module's own."""
    portal = start_portal(tmp_path_factory.mktemp("e2e-touch"))
    yield portal
    portal.stop()


@pytest.fixture(scope="module")
def server_db(server):
    """Python against this module's server's database."""
    return PortalDatabase(server.env)


@pytest.fixture(scope="module")
def ids(server_db):
    """The demo's open request of seller-review and its shop."""
    return server_db.run("""
        from portal.accounts.models import User
        from portal.refunds.models import RefundRequest
        seller = User.get(User.username == "seller-review")
        refund = (RefundRequest.select().where(RefundRequest.shop == seller.shop_id)
                  .order_by(RefundRequest.id.desc()).get())
        result = {"request": refund.id, "shop": seller.shop_id}
    """)


@pytest.fixture
def open_page(browser, playwright, server):
    """``open_page(size)``: a signed-out page of a phone or desktop context, failing on console errors.

    Returns the page and the list its console errors go to (a test may expect some, e.g. a 422).
    """
    contexts, problems = [], []

    def _open(size):
        if size == "phone":
            device = dict(playwright.devices[PHONE])
            device.pop("default_browser_type", None)
        else:
            device = {"viewport": SIZES[size]}
        context = browser.new_context(base_url=server.url, locale="zh-CN", timezone_id="Asia/Shanghai", **device)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
        page.on("console", lambda message: problems.append(f"console: {message.text}")
                if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico")
                else None)
        return page, problems

    yield _open
    for context in contexts:
        context.close()


def small_targets(page):
    """The tap targets on the page smaller than 44 x 44, and the smallest width and height seen."""
    targets = page.evaluate(_TARGETS_SCRIPT)
    assert targets, f"no tap target measured on {page.url}"
    small = [f"{t['name']} {t['width']:.0f}x{t['height']:.0f}" for t in targets
             if t["width"] < MIN_TARGET - 0.5 or t["height"] < MIN_TARGET - 0.5]
    return small, min(t["width"] for t in targets), min(t["height"] for t in targets)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("username, pages", [("seller-review", SELLER_PAGES), ("agent", DESK_PAGES)],
                         ids=["seller", "desk"])
def test_every_tap_target_is_at_least_44_px(open_page, ids, size, username, pages):
    """Nav links, the language switch, inline links, buttons, inputs, checkboxes and radios: 44 x 44 or more."""
    page, problems = open_page(size)
    sign_in(page, username)
    failures, smallest = [], []
    for path in pages:
        page.goto(path.format(**ids))
        small, width, height = small_targets(page)
        smallest.append((width, height, path))
        failures += [f"{path}: {target}" for target in small]
    print(f"{username} {size}: smallest target {min(s[0] for s in smallest):.0f} px wide, "
          f"{min(s[1] for s in smallest):.0f} px high")
    assert not failures, f"{len(failures)} tap target(s) under {MIN_TARGET} px:\n" + "\n".join(failures[:40])
    assert not problems, "\n".join(problems)


def test_the_desk_queue_uses_a_desktop_and_turns_into_cards_on_a_phone(open_page, ids):
    """1280 px: the queue spans the screen with its eight columns; 390 px: each row is a card, no column squeezed."""
    desktop, problems = open_page("desktop")
    sign_in(desktop, "agent")
    desktop.goto("/desk")
    table = desktop.locator("table.queue-requests")
    expect(table).to_be_visible()
    assert table.bounding_box()["width"] > 1100
    headers = desktop.locator("table.queue-requests thead th").all_inner_texts()
    assert len(headers) == 8 and {"类型", "等待起始", "未结风险", "处理人"} <= set(headers), headers
    # The filters sit on one line beside each other.
    search_box = desktop.locator("#queue-q").bounding_box()
    state_box = desktop.locator("#queue-state").bounding_box()
    assert abs(search_box["y"] - state_box["y"]) < 2
    save_screenshot(desktop, "desk-queue-desktop")

    phone, _problems = open_page("phone")
    sign_in(phone, "agent")
    phone.goto("/desk")
    no_horizontal_scroll(phone)
    first_row = phone.locator("#queue-rows tr").first
    row_box = first_row.bounding_box()
    assert row_box["width"] > 300  # a card across the screen, not a table row
    for cell in first_row.locator("td").all():
        box = cell.bounding_box()
        # A value cell is wide; the old table squeezed these to a character or two per line.
        assert box["width"] > 250, (cell.inner_text(), box)
    assert not problems, "\n".join(problems)


def test_htmx_swaps_on_the_desk_break_no_csp_rule_and_refresh_the_side_panels(open_page, ids, server_db):
    """Filter, search, an invalid and then a valid inline approval: no CSP error; held and balance follow."""
    page, problems = open_page("desktop")
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    sign_in(page, "agent")
    page.goto("/desk")
    page.locator("#queue-state").select_option("NEEDS_INFO")
    expect(page.locator("#queue-rows [data-refund-state]").first).to_have_attribute("data-refund-state", "NEEDS_INFO")
    expect(page.locator("[data-filter='open']")).not_to_have_attribute("aria-current", "page")
    page.locator("#queue-state").select_option("")
    page.locator("#queue-q").fill(f"申请单 {ids['request']}")
    page.locator("form[role=search] button[type=submit]").click()
    expect(page.locator("#queue-rows tr")).to_have_count(1)
    page.locator("#queue-q").fill("没有这家店")
    page.locator("form[role=search] button[type=submit]").click()
    expect(page.locator("[data-empty=search]")).to_contain_text("没有与“没有这家店”匹配的结果")

    page.goto(f"/desk/refunds/{ids['request']}")
    held_before = page.locator("#desk-deposit dd").nth(2).inner_text()
    page.locator("details:has(form[action$='/approve']) > summary").click()
    amount = page.locator("#approve-amount")
    # An amount the server would refuse is not confirmed: it goes straight back with the reason.
    amount.fill("12abc")
    page.locator("form[action$='/approve'] button[type=submit]").click()
    expect(page.locator("#approve-amount-error, form[action$='/approve'] .error").first).to_be_visible()
    assert dialogs == []
    # A valid, lower amount asks once, then the decision and the side panels come back together.
    page.locator("#approve-amount").fill("500")
    page.locator("form[action$='/approve'] button[type=submit]").click()
    expect(page.locator("#desk-request [data-refund-state]").first).to_have_attribute("data-refund-state", "APPROVED")
    assert len(dialogs) == 1
    expect(page.locator("#desk-deposit dd").nth(2)).to_have_text("¥500.00")
    assert held_before != "¥500.00"
    held = server_db.run("""
        from portal.refunds import service as refund_service
        result = refund_service.held_for(params["request"])
    """, request=ids["request"])
    assert held == 50_000
    csp = [problem for problem in problems if "Content Security Policy" in problem or "Refused to" in problem]
    assert not csp, "\n".join(csp)
    # The only console error is Chromium's note about the designed 422 of the refused amount.
    assert all("422" in problem for problem in problems), "\n".join(problems)


@pytest.mark.parametrize("variant", ["PUBLIC", "DETAILED"])
def test_the_iframe_snippets_height_fits_the_widget_at_phone_widths(open_page, server_db, variant):
    """At 320-400 px wide, in both languages, the widget's content fits the copied snippet's height."""
    widget_id = server_db.run("""
        from portal.accounts.models import User
        from portal.core.db import write_transaction
        from portal.widgets.models import Widget
        # seller-exit's full exit waits for review: its widget shows the most lines (date, estimate note).
        seller = User.get(User.username == "seller-exit")
        with write_transaction():
            widget = Widget.create(shop=seller.shop_id, variant=params["variant"], origins="https://erp.example.com")
        result = widget.id
    """, variant=variant)
    page, problems = open_page("desktop")
    sign_in(page, "seller-exit")
    page.goto("/widgets")
    snippet = page.locator(f"#snippet-{widget_id}-iframe").inner_text()
    src, height = re.search(r'src="([^"]+)".*height="(\d+)"', snippet).groups()
    height = int(height)
    heights = {}
    for width in (320, 360, 400):
        # A tall viewport, so the page's own height is its content's (scrollHeight never drops below the viewport).
        page.set_viewport_size({"width": width, "height": 800})
        for lang in ("zh", "en"):
            page.goto(f"{src}?lang={lang}")
            heights[f"{width}/{lang}"] = page.evaluate("() => Math.ceil(document.body.getBoundingClientRect().bottom)")
    print(f"{variant}: content heights {json.dumps(heights)}, snippet height {height}")
    assert max(heights.values()) <= height, heights
    assert not problems, "\n".join(problems)


def test_a_revoked_widget_shows_a_styled_note_in_its_frame(open_page, server_db):
    """After revoking, the frame shows "no longer shared" with the widget's stylesheet, not a bare error page."""
    token = server_db.run("""
        from portal.accounts.models import User
        from portal.core.clock import utcnow
        from portal.core.db import write_transaction
        from portal.widgets import tokens
        from portal.widgets.models import Widget
        seller = User.get(User.username == "seller-review")
        with write_transaction():
            widget = Widget.create(shop=seller.shop_id, origins="https://erp.example.com")
            token = tokens.make_token(app.config["SECRET_KEY"], widget)
            Widget.update(revoked_at=utcnow(), version=Widget.version + 1).where(Widget.id == widget.id).execute()
        result = token
    """)
    page, problems = open_page("phone")
    response = page.goto(f"/embed/{token}")
    assert response.status == 404
    note = page.locator("[data-widget-gone]")
    expect(note).to_contain_text("该退还进度已停止共享。")
    # Styled by embed.css: the bordered box of a widget, not the browser's default page.
    assert page.evaluate("() => getComputedStyle(document.querySelector('main')).borderTopStyle") == "dashed"
    assert not [problem for problem in problems if "404" not in problem], "\n".join(problems)


def test_the_file_input_lists_the_chosen_files(open_page, tmp_path):
    """The evidence input is a large button; after choosing, the file names and sizes are listed under it."""
    page, problems = open_page("phone")
    sign_in(page, "seller-review")
    page.goto("/tickets/new")
    file_input = page.locator("input[type=file]")
    assert file_input.bounding_box()["height"] >= 56
    first, second = tmp_path / "凭证.png", tmp_path / "receipt.pdf"
    first.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 3000)
    second.write_bytes(b"%PDF-1.4\n" + b"0" * 2_000_000)
    file_input.set_input_files([str(first), str(second)])
    listed = page.locator(".chosen-files li")
    expect(listed).to_have_count(2)
    assert re.search(r"凭证\.png\s*3 KB", listed.nth(0).inner_text())
    assert re.search(r"receipt\.pdf\s*1\.9 MB", listed.nth(1).inner_text())
    assert not problems, "\n".join(problems)


def test_signing_out_is_one_tap_and_a_confirmation(open_page):
    """The header's sign-out asks once and signs out; saying no keeps the seller signed in."""
    page, problems = open_page("phone")
    sign_in(page, "seller-ok")
    answers = iter(["dismiss", "accept"])
    asked = []

    def _dialog(dialog):
        asked.append(dialog.message)
        dialog.dismiss() if next(answers) == "dismiss" else dialog.accept()

    page.on("dialog", _dialog)
    page.locator(".signout").click()
    expect(page).to_have_url(re.compile(r"/deposit$"))
    page.locator(".signout").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    assert asked == ["现在退出登录吗？", "现在退出登录吗？"]
    assert not problems, "\n".join(problems)


def test_a_confirmation_shows_beside_the_widget_it_is_about(open_page):
    """After creating a widget the page scrolls to its card; the "created" message is inside that card, in view."""
    page, problems = open_page("phone")
    sign_in(page, "seller-info")
    page.goto("/widgets")
    page.locator("#origins").fill("https://erp.example.com")
    page.locator("input[name=language][value=en]").check()
    page.locator("form[action$='/widgets'] button[type=submit].primary").click()
    expect(page).to_have_url(re.compile(r"/widgets#widget-\d+$"))
    widget_id = re.search(r"#widget-(\d+)$", page.url).group(1)
    notice = page.locator(f"#widget-{widget_id} .flash[role=status]")
    expect(notice).to_be_visible()
    expect(notice).to_be_in_viewport()
    expect(page.locator(f"#widget-{widget_id} [data-widget-language]")).to_have_attribute("data-widget-language", "en")
    # The preview speaks the language chosen.
    expect(page.frame_locator(f"#widget-{widget_id} iframe").locator("html")).to_have_attribute("lang", "en")
    assert not problems, "\n".join(problems)


def test_email_and_account_number_inputs_look_like_the_other_fields(open_page):
    """On /payee the e-mail and account-number inputs have the text inputs' border, corners, height and width."""
    page, problems = open_page("phone")
    sign_in(page, "seller-review")
    page.goto("/payee")
    looks = page.evaluate("""() => Object.fromEntries(["holder_name", "account_number", "email"].map(id => {
      const input = document.getElementById(id);
      const style = getComputedStyle(input);
      return [id, [style.borderTopWidth, style.borderTopStyle, style.borderTopColor, style.borderRadius,
                   style.fontSize, Math.round(input.getBoundingClientRect().height),
                   Math.round(input.getBoundingClientRect().width)]];
    }))""")
    assert looks["account_number"] == looks["holder_name"], looks
    assert looks["email"] == looks["holder_name"], looks
    assert not problems, "\n".join(problems)
