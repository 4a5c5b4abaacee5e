"""The vocabulary: priority order, identifier syntax."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange import vocab
from exchange.errors import InputError
from exchange.vocab import (
    CLIENT_ID_RE,
    GROUP_ID_RE,
    ICAO_LOCATION_RE,
    PARTY_ID_RE,
    PRIORITIES,
    meets_min_priority,
    priority_rank,
)


def test_priority_order() -> None:
    assert [priority_rank(p) for p in ("flash", "immediate", "priority", "routine")] == [0, 1, 2, 3]
    assert sorted(["routine", "flash", "priority", "immediate"], key=priority_rank) == list(
        PRIORITIES
    )
    assert vocab.AFTN_PRIORITY == {
        "flash": "SS",
        "immediate": "DD",
        "priority": "FF",
        "routine": "GG",
    }


@pytest.mark.parametrize(
    ("priority", "minimum", "expected"),
    [
        ("flash", "routine", True),
        ("flash", "flash", True),
        ("immediate", "flash", False),
        ("priority", "priority", True),
        ("routine", "priority", False),
        ("routine", None, True),
        ("immediate", "priority", True),
    ],
)
def test_meets_min_priority(priority: str, minimum: str | None, expected: bool) -> None:
    assert meets_min_priority(priority, minimum) is expected


@given(st.sampled_from(PRIORITIES), st.sampled_from(PRIORITIES))
def test_meets_min_priority_is_the_rank_order(p: str, q: str) -> None:
    assert meets_min_priority(p, q) == (priority_rank(p) <= priority_rank(q))
    assert meets_min_priority(p, q) or meets_min_priority(q, p)


@pytest.mark.parametrize("bad", ["urgent", "FLASH", "", "SS"])
def test_unknown_priority(bad: str) -> None:
    with pytest.raises(InputError, match=r"^priority: must be one of flash, immediate"):
        priority_rank(bad)
    with pytest.raises(InputError):
        meets_min_priority("flash", bad)


@pytest.mark.parametrize(
    ("regex", "good", "bad"),
    [
        (
            PARTY_ID_RE,
            ["KZ", "UZ", "ICAO", "EU-ECAC", "A" * 32, "9X"],
            ["K", "kz", "KZ\n", "-KZ", "A" * 33, "K Z", "КZ"],
        ),
        (
            GROUP_ID_RE,
            ["cac-avsec", "eurnat-avsec", "casp-mid", "a" * 64],
            ["c", "CAC", "-cac", "a" * 65, "cac avsec", "cac\n", "@subscribers"],
        ),
        (
            CLIENT_ID_RE,
            ["KZ/ops", "ICAO/ta-feed", "UZ/desk.2", "GE/feed_1"],
            ["KZ", "kz/ops", "KZ/Ops", "KZ/", "KZ/ops/x", "KZ/..", "KZ/.ops", "KZ/ops\n"],
        ),
        (
            ICAO_LOCATION_RE,
            ["UAAA", "UBBB", "UGTB", "UTTT"],
            ["uaaa", "UAA", "UAAAA", "UA1A", "ＵＡＡＡ", "UAAA\n"],
        ),
    ],
)
def test_identifier_syntax(regex: object, good: list[str], bad: list[str]) -> None:
    import re

    assert isinstance(regex, re.Pattern)
    for value in good:
        assert regex.match(value), value
    for value in bad:
        assert not regex.match(value), value


def test_vocabularies() -> None:
    assert vocab.TYPES == (
        "threat-assessment",
        "security-measure",
        "advisory",
        "request",
        "revocation",
    )
    assert vocab.TLPS == ("clear", "green", "amber", "amber+strict", "red")
    assert vocab.THREAT_LEVELS == ("low", "moderate", "substantial", "severe", "critical")
    assert {"manpads", "ied", "insider", "cyber", "uas"} <= set(vocab.CATEGORIES)
    assert vocab.SUBSCRIBERS == "@subscribers"
    assert vocab.GROUP_ROLES == ("chair", "member", "observer")
    assert frozenset({"chair", "member"}) == vocab.POSTING_ROLES
