"""Simplified Chinese and English through Flask-Babel message catalogues.

The language is the person's own setting, then the browser's Accept-Language, then the
deployment's default (zh-CN for the demo). API callers get English unless their
request asks for Chinese, so scripts keep stable messages; the pages send the page's
language with every fetch, so a person reads API errors in the language of the page.
"""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request
from flask_babel import Babel, get_locale, refresh

# Babel locale id -> the name a person picks it by.
LANGUAGES = {"zh_CN": "中文", "en": "English"}
LANG_COOKIE = "patrolmap_lang"
_TAGS = {"zh-CN": "zh_CN", "en": "en"}

babel = Babel()


def normalise_language(value: str | None) -> str | None:
    """Accept zh_CN, zh-CN, zh-Hans, zh, en, en-US ...; None for anything else."""
    if not value:
        return None
    value = value.strip().replace("-", "_").lower()
    if value.startswith("zh"):
        return "zh_CN"
    if value.startswith("en"):
        return "en"
    return None


def select_locale() -> str:
    if not has_request_context():
        return "en"  # command line: messages stay as written
    user = g.get("user")
    own = normalise_language(user.language) if user is not None else None
    if own:
        return own
    cookie = normalise_language(request.cookies.get(LANG_COOKIE))
    if cookie:
        return cookie
    best = request.accept_languages.best_match(list(_TAGS))
    if best:
        return _TAGS[best]
    if request.path.startswith("/api/"):
        return "en"
    return normalise_language(current_app.config["DEFAULT_LANGUAGE"]) or "en"


def html_lang() -> str:
    """The page's lang attribute: zh-CN or en."""
    locale = get_locale()
    return "zh-CN" if locale is not None and locale.language == "zh" else "en"


def current_language() -> str:
    """zh_CN or en: the key of LANGUAGES this request is answered in."""
    locale = get_locale()
    return "zh_CN" if locale is not None and locale.language == "zh" else "en"


def init_i18n(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    # Flask-Babel caches the locale on `g`, which outlives a request when an app context is
    # already pushed (tests, CLI calling the app): choose afresh for every request.
    app.before_request(refresh)
    app.jinja_env.globals.update(html_lang=html_lang, languages=LANGUAGES, current_language=current_language)
