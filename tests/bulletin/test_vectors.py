"""The data vectors: every valid example passes, every bad one fails naming its field."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from exchange.bulletin import metadata_of, validate_body, validate_bulletin, validate_metadata
from exchange.errors import InvalidBulletin


def test_valid_vector(valid_name: str, valid: Callable[[str], dict[str, Any]]) -> None:
    bulletin = valid(valid_name)
    before = json.dumps(bulletin, sort_keys=True)
    assert validate_bulletin(bulletin) is bulletin
    assert json.dumps(bulletin, sort_keys=True) == before  # validation changes nothing
    assert validate_bulletin(bulletin, now=bulletin["iat"]) is bulletin
    assert validate_metadata(metadata_of(bulletin))["bid"] == bulletin["bid"]
    assert validate_body(bulletin["type"], bulletin["body"]) is bulletin["body"]


def test_every_type_has_a_valid_vector(valid: Callable[[str], dict[str, Any]]) -> None:
    from exchange.vocab import TYPES

    for type_ in TYPES:
        assert valid(type_)["type"] == type_


def test_invalid_vector(
    invalid_case: dict[str, Any], build_case: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    bulletin = build_case(invalid_case)
    with pytest.raises(InvalidBulletin) as caught:
        validate_bulletin(bulletin)
    field = invalid_case["error"]
    errors: list[str] = caught.value.extra["errors"]
    assert any(e.startswith(f"{field}: ") for e in errors), (field, errors)
    assert f"{field}: " in caught.value.detail
    assert caught.value.status == 400
    assert caught.value.problem()["type"] == "urn:avsec:error:invalid-bulletin"


def test_invalid_metadata_fails_the_same_way(
    routing_case: dict[str, Any], build_case: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    """A bad routing field is refused by the server's check as by the client's."""
    bulletin = build_case(routing_case)
    meta = {k: v for k, v in bulletin.items() if k not in {"title", "lang", "body"}}
    with pytest.raises(InvalidBulletin) as caught:
        validate_metadata(meta)
    assert f"{routing_case['error']}: " in caught.value.detail
