"""Behaviour of validation beyond the vector table: hostile sizes, messages, the builder."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from exchange.bulletin import (
    metadata_of,
    new_bulletin,
    validate_body,
    validate_bulletin,
    validate_metadata,
)
from exchange.errors import InvalidBulletin

Loader = Callable[[str], dict[str, Any]]
T = 1_790_000_000
THREAT_BODY = {
    "summary": "MANPADS sighted near the approach to UAAA.",
    "threat_level": "severe",
    "categories": ["manpads"],
    "locations": ["UAAA"],
    "valid_from": T,
    "valid_until": T + 86_400,
}


def _detail(obj: object, **kwargs: Any) -> str:
    with pytest.raises(InvalidBulletin) as caught:
        validate_bulletin(obj, **kwargs)
    return caught.value.detail


@pytest.mark.parametrize("obj", [None, 5, "bulletin", [], [{}], True, 1.5, b"{}"])
def test_not_an_object(obj: object) -> None:
    assert _detail(obj) == "bulletin: must be an object"


def test_messages_name_the_expected_values(valid: Loader) -> None:
    b = valid("threat-assessment")
    b["body"]["threat_level"] = "extreme"
    assert _detail(b) == (
        "body.threat_level: must be one of low, moderate, substantial, severe, critical"
    )
    b = valid("threat-assessment")
    b["body"]["locations"] = ["UAAA", "almaty"]
    assert _detail(b) == (
        "body.locations[1]: must be an ICAO location indicator (aerodrome or FIR):"
        " four capital letters, e.g. UAAA"
    )
    b = valid("threat-assessment")
    del b["body"]["summary"]
    assert _detail(b) == "body.summary: is required"
    b = valid("threat-assessment-red")
    b["to"] = ["KZ", "UZ", "KZ"]
    assert _detail(b) == "to: must not repeat an item ([2] repeats [0])"


def test_messages_do_not_echo_values(valid: Loader) -> None:
    """A message may reach a log or a peer: it says what is expected, not what was sent."""
    b = valid("threat-assessment")
    b["iss"] = "secret-source-name"
    b["title"] = "Agent FALCON reports\x07"
    b["body"]["threat_level"] = "codeword-ORCHID"
    detail = _detail(b)
    for value in ("secret-source-name", "FALCON", "ORCHID"):
        assert value not in detail
    b = valid("advisory")
    b["body"]["audience"] = ["operators at OSPREY base", "operators at OSPREY base"]
    assert "OSPREY" not in _detail(b)


def test_unknown_field_names_are_shown_safely(valid: Loader) -> None:
    b = valid("advisory")
    b["body"]["\u202egnp.exe"] = 1
    detail = _detail(b)
    assert "\u202e" not in detail
    assert detail.startswith('body["\\u202egnp.exe"]: unknown field (known fields: summary,')


def test_all_problems_are_reported_up_to_a_cap(valid: Loader) -> None:
    b = valid("security-measure")
    b["priority"] = "urgent"
    b["tlp"] = "white"
    b["body"]["applies_to"] = {}
    with pytest.raises(InvalidBulletin) as caught:
        validate_bulletin(b)
    assert caught.value.extra["errors"] == [
        "priority: must be one of flash, immediate, priority, routine",
        "tlp: must be one of clear, green, amber, amber+strict, red",
        "body.applies_to: must be an object listing at least one airport, route or flight",
    ]
    with pytest.raises(InvalidBulletin) as caught:
        validate_bulletin({})
    assert len(caught.value.extra["errors"]) == 10
    assert caught.value.detail.endswith("; and more")


@pytest.mark.parametrize(
    ("field", "size"),
    [("title", 3_000_000), ("body.summary", 2_000_000), ("body.details", 2_000_000)],
)
def test_huge_strings_are_refused_quickly(valid: Loader, field: str, size: int) -> None:
    b = valid("threat-assessment")
    target, key = (b["body"], field[5:]) if field.startswith("body.") else (b, field)
    target[key] = " " * (size - 1) + "\x00"  # also the worst case for the text patterns
    start = time.perf_counter()
    detail = _detail(b)
    assert time.perf_counter() - start < 1.0
    assert detail.startswith(f"{field}: must be at most ")


def test_many_items_are_refused_quickly(valid: Loader) -> None:
    b = valid("threat-assessment")
    b["to"] = [1, "a", [2], {"b": 3}] * 100_000  # quadratic for a naive uniqueItems
    start = time.perf_counter()
    assert _detail(b) == "to: must have at most 500 items"
    b["to"] = [1, "a", [2], {"b": 3}] * 125
    assert _detail(b).startswith("to[0]: must be a party id")
    b = valid("threat-assessment")
    b["body"]["locations"] = ["UAAA"] * 200_000
    assert _detail(b) == "body.locations: must have at most 500 items"  # one per path
    b = valid("threat-assessment")
    b["to"] = ["KZ"] * 200_000
    assert _detail(b) == "to: must have at most 500 items"
    assert time.perf_counter() - start < 2.0


def test_deep_nesting_is_refused(valid: Loader) -> None:
    b = valid("advisory")
    deep: Any = "x"
    for _ in range(5000):
        deep = {"a": deep}
    b["body"]["guidance"] = deep
    assert _detail(b).endswith(": is nested too deeply")


def test_huge_integer_is_refused(valid: Loader) -> None:
    b = valid("advisory")
    b["iat"] = 10**5000  # repr() of it raises ValueError in Python >= 3.11
    assert _detail(b) == "iat: number out of range"
    b = valid("advisory")
    b["body"]["x"] = [-(10**100)]
    assert _detail(b) == "body.x[0]: number out of range"


def test_lone_surrogate_is_refused(valid: Loader) -> None:
    b = valid("advisory")
    b["body"]["summary"] = "GNSS \ud800 spoofing"
    assert _detail(b) == ("body.summary: must be valid Unicode text (it holds a lone surrogate)")


def test_non_string_keys_are_refused(valid: Loader) -> None:
    b: dict[Any, Any] = valid("advisory")
    b["body"][1] = "one"
    assert _detail(b) == "body: field names must be strings"


@pytest.mark.parametrize(
    ("lang", "title"),
    [
        ("ru", "Угроза ПЗРК в районе аэропорта Алматы"),
        ("kk", "Алматы әуежайы маңындағы ПЗРК қаупі"),
        ("ka", "საფრთხე თბილისის აეროპორტში"),
        ("az", "Bakı hava limanında əlavə yoxlama"),
        ("uz-Latn", "Toshkent aeroportida xavfsizlik choralari"),
        ("tg", "Таҳдид дар фурудгоҳи Душанбе ✈"),
    ],
)
def test_unicode_text_is_accepted(valid: Loader, lang: str, title: str) -> None:
    b = valid("threat-assessment")
    b["lang"], b["title"] = lang, title
    b["body"]["summary"] = title + "\n\tПодробности в приложении."
    assert validate_bulletin(b)["title"] == title


def test_now_bounds_iat_in_the_future(valid: Loader) -> None:
    b = valid("threat-assessment")
    assert validate_bulletin(b, now=b["iat"] - 300) is b
    assert _detail(b, now=b["iat"] - 301) == "iat: must not be more than 300 s in the future"


def test_expired_bulletins_stay_valid(valid: Loader) -> None:
    b = valid("threat-assessment")
    assert validate_bulletin(b, now=b["exp"] + 10 * 365 * 86_400) is b


def test_optional_body_fields(valid: Loader) -> None:
    b = valid("security-measure")
    del b["body"]["effective_until"], b["body"]["rationale"]
    validate_bulletin(b)
    b = valid("request")
    del b["body"]["respond_by"], b["body"]["context"]
    b["body"]["regarding"] = valid("threat-assessment")["bid"]
    validate_bulletin(b)


def test_new_bulletin_defaults() -> None:
    b = new_bulletin(
        iss="KZ",
        type="threat-assessment",
        title="MANPADS near Almaty",
        body=THREAT_BODY,
        now=T,
        groups=("cac-avsec",),
    )
    assert b == {
        "v": 1,
        "bid": b["bid"],
        "iss": "KZ",
        "groups": ["cac-avsec"],
        "to": [],
        "type": "threat-assessment",
        "priority": "routine",
        "tlp": "amber",
        "iat": T,
        "exp": None,
        "supersedes": None,
        "title": "MANPADS near Almaty",
        "lang": "en",
        "body": THREAT_BODY,
    }
    assert str(uuid.UUID(b["bid"])) == b["bid"]
    assert uuid.UUID(b["bid"]).version == 4
    assert b["body"] is not THREAT_BODY


def test_new_bulletin_copies_and_converts_the_body() -> None:
    body: dict[str, Any] = dict(THREAT_BODY, categories=("manpads", "uas"), locations=("UAAA",))
    b = new_bulletin(
        iss="KZ", type="threat-assessment", title="t", body=body, now=T, to=["UZ"], bid=None
    )
    assert b["body"]["categories"] == ["manpads", "uas"]
    body["summary"] = "changed"
    assert b["body"]["summary"] == THREAT_BODY["summary"]


def test_new_bulletin_all_arguments() -> None:
    bid = "2f1e0d9c-8b7a-4695-a4b3-c2d1e0f9a8b7"
    b = new_bulletin(
        iss="UZ",
        type="request",
        title="Request: screening standards",
        body={"question": "Which EDS standard do you use for hold baggage?"},
        now=T,
        groups=["cac-avsec", "@subscribers"],
        to=["ICAO"],
        priority="priority",
        tlp="green",
        lang="ru",
        exp=T + 3600,
        supersedes="0b9f4a1e-6c2d-4e8a-9a51-3d7f2c1b8e40",
        bid=bid,
    )
    assert (b["bid"], b["priority"], b["tlp"], b["lang"], b["exp"]) == (
        bid,
        "priority",
        "green",
        "ru",
        T + 3600,
    )


def test_new_bulletin_revocation_fills_supersedes() -> None:
    withdrawn = "0b9f4a1e-6c2d-4e8a-9a51-3d7f2c1b8e40"
    b = new_bulletin(
        iss="KZ",
        type="revocation",
        title="Withdrawn",
        body={"revokes": withdrawn, "reason": "Issued in error."},
        now=T,
        groups=["cac-avsec"],
    )
    assert b["supersedes"] == withdrawn


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"groups": "cac-avsec"}, "groups, to: must be lists of ids, not a single string"),
        ({"to": "UZ", "groups": []}, "groups, to: must be lists of ids, not a single string"),
        ({"groups": []}, "to: must name at least one party when groups is empty"),
        ({"tlp": "red"}, "groups: must be empty when tlp is red; name the recipients in to"),
        ({"exp": T}, "exp: must be after iat"),
        ({"priority": "urgent"}, "priority: must be one of flash, immediate, priority, routine"),
        ({"type": "notice"}, "type: must be one of threat-assessment, security-measure,"),
        ({"title": ""}, "title: must be a non-blank single line of text"),
        ({"now": 1.5}, "iat: must be a time as whole seconds"),
        ({"bid": "X"}, "bid: must be a bulletin id"),
        ({"body": {"summary": "s"}}, "body.threat_level: is required"),
    ],
)
def test_new_bulletin_refuses(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {
        "iss": "KZ",
        "type": "threat-assessment",
        "title": "t",
        "body": THREAT_BODY,
        "now": T,
        "groups": ["cac-avsec"],
    }
    args.update(kwargs)
    with pytest.raises(InvalidBulletin) as caught:
        new_bulletin(**args)
    assert message in caught.value.detail


def test_validate_body() -> None:
    assert validate_body("threat-assessment", dict(THREAT_BODY)) == THREAT_BODY
    with pytest.raises(InvalidBulletin, match=r"^body.valid_until: must be after body.valid_from$"):
        validate_body("threat-assessment", dict(THREAT_BODY, valid_until=T))
    with pytest.raises(InvalidBulletin, match=r"^body.locations: must have at least 1 item$"):
        validate_body("threat-assessment", dict(THREAT_BODY, locations=[]))
    with pytest.raises(InvalidBulletin, match=r"^type: must be one of "):
        validate_body("notice", {})
    with pytest.raises(InvalidBulletin, match=r"^body: must be an object$"):
        validate_body("advisory", [])


def test_metadata(valid: Loader) -> None:
    b = valid("revocation")
    meta = metadata_of(b)
    assert list(meta) == [
        "v",
        "bid",
        "iss",
        "groups",
        "to",
        "type",
        "priority",
        "tlp",
        "iat",
        "exp",
        "supersedes",
    ]
    assert validate_metadata(meta) is meta
    with pytest.raises(InvalidBulletin, match=r"^title: unknown field"):
        validate_metadata(dict(meta, title="t"))
    with pytest.raises(InvalidBulletin, match=r"^cc: unknown field"):
        validate_metadata(dict(meta, cc="AAAA"))  # the caller strips the commitment
    with pytest.raises(InvalidBulletin, match=r"^iat: must not be more than 300 s in the future"):
        validate_metadata(meta, now=meta["iat"] - 301)
    with pytest.raises(InvalidBulletin, match=r"^metadata: must be an object$"):
        validate_metadata("meta")


def test_schema_1_1_fields_are_optional_and_left_out_when_unused() -> None:
    """A bulletin without handling or in_reply_to (schema 1.0) is still valid; when given,
    they are carried and checked."""
    from exchange.bulletin import new_bulletin

    body = {"summary": "Screening reinforced.", "scope": {"aerodromes": ["UTTT"]}}
    plain = new_bulletin(iss="UZ", type="advisory", title="t", body=body, now=1790000000, to=["KZ"])
    assert "handling" not in plain and "in_reply_to" not in plain
    reply = new_bulletin(
        iss="UZ",
        type="advisory",
        title="t",
        body=body,
        now=1790000000,
        to=["KZ"],
        handling="RESTRICTED: not for onward distribution",
        in_reply_to="0b9f4a1e-6c2d-4e8a-9a51-3d7f2c1b8e40",
    )
    assert reply["in_reply_to"] == "0b9f4a1e-6c2d-4e8a-9a51-3d7f2c1b8e40"
    assert reply["handling"].startswith("RESTRICTED")
