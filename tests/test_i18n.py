"""Languages: the Chinese catalogue is complete, and pages follow the switch, the browser and the locale."""
import datetime
import importlib.util
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from portal.accounts.models import User
from portal.core.db import db
from portal.core.vocabulary import RefundState
from portal.refunds.labels import state_label

# tools/ is not a package: load the script the way `python tools/i18n.py check` runs it.
TOOL = Path(__file__).resolve().parent.parent / "tools" / "i18n.py"
_spec = importlib.util.spec_from_file_location("i18n_tool", TOOL)
i18n = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(i18n)

# What each language's deposit page must show, and what it must not.
PAGE = {
    "zh": {"html": '<html lang="zh-CN">', "shows": ("保证金", "当前可退金额"), "not": "Refundable now",
           "switch": 'href="/lang/en?next=/deposit"'},
    "en": {"html": '<html lang="en">', "shows": ("Deposit", "Refundable now"), "not": "当前可退金额",
           "switch": 'href="/lang/zh_CN?next=/deposit"'},
}
# docs/design.md, "Refund requests: states and transitions": the seller-facing Chinese label of every state.
DESIGNED_STATE_LABELS = {
    "SUBMITTED": "已提交", "WAITING_PERIOD": "公示期", "UNDER_REVIEW": "审核中",
    "APPROVED": "审核通过，待打款", "PAYOUT_PROCESSING": "打款中", "COMPLETED": "已退还",
    "NEEDS_INFO": "待您补充材料", "REJECTED": "已驳回", "CANCELLED": "已撤销", "ON_HOLD": "暂停处理",
    "PAYOUT_FAILED": "打款失败", "ESCALATED": "人工处理中", "EXPIRED": "已过期",
}
ENGLISH_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def test_chinese_catalogue_is_complete():
    """Every id in the code has a checked zh_CN translation with its placeholders, and the .mo is current."""
    problems = i18n.problems()
    assert not problems, ("fix with tools/i18n.py extract, update, translate, compile:\n"
                          + "\n".join(problems))


def test_placeholder_check_catches_lost_and_invented_names():
    """A translation that drops, renames or breaks a placeholder is reported."""
    assert i18n.placeholder_problems("Order %(number)s", "订单 %(number)s") == []
    assert i18n.placeholder_problems("Order %(number)s", "订单") == ["translation lacks %(number)s"]
    assert i18n.placeholder_problems("Order %(number)s", "订单 %(num)s") == [
        "translation lacks %(number)s", "translation has unknown %(num)s"]
    assert i18n.placeholder_problems("Done", "完成 100%") == ["translation has unknown %"]


def test_state_labels_are_the_designed_ones(app):
    """Chinese (the default) shows exactly the state labels docs/design.md names."""
    with app.test_request_context("/"):
        assert {state: state_label(state) for state in tuple(RefundState)} == DESIGNED_STATE_LABELS


@pytest.fixture
def seller(demo_data, client, auth):
    """A browser signed in as the demo seller with no blockers."""
    auth.login("seller-ok")
    return client


def visible_text(html):
    """The page's text without its tags."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# (the switch's cookie, the browser's Accept-Language, the language the page must be in)
LANGUAGE_CASES = [
    (None, None, "zh"),
    (None, "en", "en"),
    (None, "en-US,en;q=0.9", "en"),
    (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh"),
    # Chinese first: a browser that lists Chinese at all gets Chinese, even after English.
    (None, "en-US,en;q=0.9,zh-CN;q=0.8", "zh"),
    (None, "en-GB,en;q=0.9,zh-TW;q=0.1", "zh"),
    (None, "en;q=1,zh;q=0.01", "zh"),
    # Neither English nor Chinese listed: Chinese; a refused Chinese (q=0) does not count as listed.
    (None, "fr-FR,fr;q=0.9", "zh"),
    (None, "en-US,zh;q=0", "en"),
    ("en", None, "en"),
    ("en", "zh-CN", "en"),
    ("zh_CN", "en", "zh"),
]


def test_deposit_page_language(seller):
    """The switch's cookie wins; else English only for a browser listing no Chinese; money looks the same in both."""
    # One signed-in browser for every case: loading the demo once per case would be slow.
    for cookie, accept_language, language in LANGUAGE_CASES:
        case = f"cookie={cookie} Accept-Language={accept_language}"
        seller.delete_cookie("lang")
        if cookie:
            seller.set_cookie("lang", cookie)
        headers = {"Accept-Language": accept_language} if accept_language else {}
        html = seller.get("/deposit", headers=headers).get_data(as_text=True)
        expected = PAGE[language]
        assert expected["html"] in html, case
        text = visible_text(html)
        for words in expected["shows"]:
            assert words in text, case
        assert expected["not"] not in text, case
        assert expected["switch"] in html, case
        assert "¥3,300.00" in text, case


def test_language_switch_sets_the_cookie_and_returns(seller):
    """Following the switch link answers 303 back to the page, which is then in English (and back)."""
    response = seller.get("/lang/en?next=/deposit")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/deposit")
    assert PAGE["en"]["html"] in seller.get("/deposit").get_data(as_text=True)
    seller.get("/lang/zh_CN?next=/deposit")
    assert PAGE["zh"]["html"] in seller.get("/deposit").get_data(as_text=True)


def test_dates_follow_the_locale(app, seller):
    """The last order's date reads 2026年11月23日 in Chinese and Nov 23, 2026 in English."""
    with app.app_context(), db.connection_context():
        moment = User.get(User.username == "seller-ok").shop.last_order_at
    day = moment.replace(tzinfo=datetime.UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
    english_month = re.compile(r"\b(" + "|".join(ENGLISH_MONTHS) + r") \d{1,2}, \d{4}")

    chinese = visible_text(seller.get("/deposit").get_data(as_text=True))
    assert f"{day.year}年{day.month}月{day.day}日" in chinese
    assert not english_month.search(chinese)

    seller.set_cookie("lang", "en")
    english = visible_text(seller.get("/deposit").get_data(as_text=True))
    assert f"{ENGLISH_MONTHS[day.month - 1]} {day.day}, {day.year}" in english
    assert "年" not in english


def pre_checks(html):
    """The pre-check findings on a page: ``{code: visible text}``."""
    found = re.findall(r'data-check="(\w+)">(.*?)</li>', html, re.S)
    return {code: visible_text(body).strip() for code, body in found}


def test_pre_checks_are_translated_with_their_values(seller):
    """The full-exit pre-checks read in Chinese, with the notice days and a Chinese date filled in."""
    checks = pre_checks(seller.get("/refunds/new?kind=FULL_EXIT").get_data(as_text=True))
    assert {"EXIT_NOTICE", "QUIET_PERIOD"} <= set(checks)
    assert "30 天" in checks["EXIT_NOTICE"]
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", checks["QUIET_PERIOD"])
    for code, text in checks.items():
        assert not re.search(r"[A-Za-z]{3,}", text), f"{code} is not translated: {text}"


def test_pre_check_amounts_in_both_languages(demo_data, client, auth):
    """Money owed is filled into the message as ¥150.00 in Chinese and in English."""
    auth.login("seller-risky")
    checks = pre_checks(client.get("/refunds/new").get_data(as_text=True))
    assert {"VIOLATION_OPEN", "OPEN_DISPUTE", "ARREARS"} <= set(checks)
    assert "¥150.00" in checks["ARREARS"] and "欠款" in checks["ARREARS"]
    assert "纠纷" in checks["OPEN_DISPUTE"]

    client.set_cookie("lang", "en")
    checks = pre_checks(client.get("/refunds/new").get_data(as_text=True))
    assert "You owe the platform ¥150.00." in checks["ARREARS"]


@pytest.mark.parametrize("accept_language, language", [("en-US,en;q=0.9", "en"), ("en-US,en;q=0.9,zh-CN;q=0.5", "zh")])
def test_the_sign_in_page_follows_the_chinese_first_rule(client, accept_language, language):
    """/login before any cookie: English only for a browser that lists no Chinese at all."""
    html = client.get("/login", headers={"Accept-Language": accept_language}).get_data(as_text=True)
    assert ('<html lang="en">' if language == "en" else '<html lang="zh-CN">') in html
