"""Which language a request is answered in: the one rule, for pages and for embedded widgets."""
from babel import Locale
from flask import current_app, request
from flask_babel import get_locale

from portal.web.security import is_sessionless

# What ``?lang=`` may say, and the language each spelling means.
LANGUAGE_PARAMS = {"zh": "zh_CN", "zh_CN": "zh_CN", "zh-CN": "zh_CN", "en": "en"}


def language_from_param(value):
    """The language a ``?lang=`` value names; Chinese for anything else."""
    return LANGUAGE_PARAMS.get(value or "zh_CN", "zh_CN")


def select_locale():
    """Chinese first: the switch's cookie, else English only for a browser that lists no Chinese at all.

    The README's "Language" section states the same rule. Routes that other sites embed read no
    cookie: their language comes from ``?lang=`` alone.
    """
    if is_sessionless(request.path):
        return language_from_param(request.args.get("lang"))
    languages = current_app.config["LANGUAGES"]
    chosen = request.cookies.get("lang")
    if chosen in languages:
        return chosen
    return browser_language(request.accept_languages)


def browser_language(accept_languages):
    """``zh_CN`` unless the browser asks for English and lists no Chinese (any zh-*) at any weight."""
    listed = [value.lower() for value, quality in accept_languages if quality > 0]
    if any(value == "zh" or value.startswith("zh-") for value in listed):
        return "zh_CN"
    if any(value == "en" or value.startswith("en-") for value in listed):
        return "en"
    return "zh_CN"


def current_language():
    """The request's language as settings and the switch spell it (``zh_CN`` or ``en``).

    Not ``str(get_locale())``: Babel expands zh_CN to ``zh_Hans_CN`` (which is also why the
    Chinese catalogue lives in ``translations/zh_Hans_CN``).
    """
    locale = get_locale()
    for code in current_app.config["LANGUAGES"]:
        if Locale.parse(code) == locale:
            return code
    return current_app.config["BABEL_DEFAULT_LOCALE"]

