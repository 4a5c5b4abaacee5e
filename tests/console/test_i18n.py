"""The console's catalogues: every marked message has a Russian translation, and the
page language follows the cookie, then Accept-Language."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import exchange.console
from exchange.console import i18n

PACKAGE = Path(exchange.console.__file__).parent
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def _marked() -> set[str]:
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(PACKAGE), METHODS, OPTIONS, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_marked_message_has_a_russian_translation() -> None:
    marked = _marked()
    assert len(marked) > 150
    po = PACKAGE / "locale" / "ru" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as f:
        catalog = read_po(f, locale="ru")
    translated = {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted(marked - set(translated))
    assert not missing, f"no Russian for: {missing[:10]}"


def test_the_compiled_catalogue_translates() -> None:
    i18n.use("ru")
    try:
        assert i18n.gettext("Inbox") == "Входящие"
        assert i18n.gettext("a message nobody marked") == "a message nobody marked"
    finally:
        i18n.use("en")
    assert i18n.gettext("Inbox") == "Inbox"


@pytest.mark.parametrize(
    ("cookie", "accept", "expected"),
    [
        (None, "ru-RU,ru;q=0.9,en;q=0.8", "ru"),
        (None, "kk-KZ, ru;q=0.8", "ru"),
        (None, "fr-FR, de;q=0.5", "en"),
        (None, None, "en"),
        ("en", "ru", "en"),
        ("ru", "en-GB", "ru"),
        ("xx", "ru", "ru"),
        (None, "*", "en"),
    ],
)
def test_language_choice(cookie: str | None, accept: str | None, expected: str) -> None:
    assert i18n.pick(cookie, accept) == expected
