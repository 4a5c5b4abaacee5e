"""The console's own words in English and Russian (gettext catalogues, with Babel).

The catalogues ship as ``.po`` files and are compiled in memory at start-up (Babel, no
network, no build step); the page language follows the browser's ``Accept-Language``
until the officer picks one with the switch (a cookie). A bulletin is shown in its own
``lang`` whatever the page language is."""

from __future__ import annotations

import contextvars
import io
from functools import cache
from importlib.resources import files
from typing import Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

__all__ = ["LANGUAGES", "current", "gettext", "ngettext", "pick", "use"]

#: Page languages, the default first, each with its own name.
LANGUAGES: Final = {"en": "English", "ru": "Русский"}
LANG_COOKIE: Final = "avsec_console_lang"

_current: contextvars.ContextVar[str] = contextvars.ContextVar("console_lang", default="en")


@cache
def catalogue(lang: str) -> NullTranslations:
    if lang == "en":
        return NullTranslations()
    po = files("exchange.console").joinpath("locale", lang, "LC_MESSAGES", "messages.po")
    with po.open("rb") as f:
        catalog = read_po(f, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf)


def pick(cookie: str | None, accept_language: str | None) -> str:
    """The cookie's choice, else the first supported language the browser asks for."""
    if cookie in LANGUAGES:
        return cookie
    for part in (accept_language or "").split(","):
        tag = part.split(";", 1)[0].strip().lower()
        if tag == "*":
            break
        base = tag.split("-", 1)[0]
        if base in LANGUAGES:
            return base
    return "en"


def use(lang: str) -> None:
    _current.set(lang if lang in LANGUAGES else "en")


def current() -> str:
    return _current.get()


def gettext(message: str) -> str:
    return catalogue(_current.get()).ugettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return catalogue(_current.get()).ungettext(singular, plural, n)
