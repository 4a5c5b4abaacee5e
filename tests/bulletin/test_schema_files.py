"""The packaged JSON Schema files: well formed, in step with vocab, usable as they are."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from exchange import vocab
from exchange.bulletin import BULLETIN_FIELDS, METADATA_FIELDS, OPTIONAL_FIELDS
from exchange.bulletin._schema import SCHEMA_NAMES, load_schema

SCHEMAS = {name: load_schema(name) for name in SCHEMA_NAMES}


def _subschemas(node: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if isinstance(node, dict):
        out.append(node)
        for value in node.values():
            out += _subschemas(value)
    elif isinstance(node, list):
        for value in node:
            out += _subschemas(value)
    return out


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    schema = SCHEMAS[name]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].startswith("urn:avsec:schema:v1:")
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_patterns_are_portable_and_bounded(name: str) -> None:
    """Anchored, compile in Python, described (it is the error message), and a pattern
    that can match any length has a maxLength beside it, checked before the regex."""
    for sub in _subschemas(SCHEMAS[name]):
        if "pattern" in sub:
            pattern = sub["pattern"]
            assert pattern.startswith("^") and pattern.endswith("$"), pattern
            re.compile(pattern)
            assert "description" in sub, pattern
            if "+" in pattern or "*" in pattern:
                assert "maxLength" in sub, pattern


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_arrays_are_bounded(name: str) -> None:
    for sub in _subschemas(SCHEMAS[name]):
        if sub.get("type") == "array":
            assert isinstance(sub.get("maxItems"), int), sub


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_objects_are_closed(name: str) -> None:
    for sub in _subschemas(SCHEMAS[name]):
        if sub.get("type") == "object" and "properties" in sub:
            assert sub.get("additionalProperties") is False


def test_vocab_matches_schemas() -> None:
    defs = SCHEMAS["common"]["$defs"]
    assert tuple(defs["type"]["enum"]) == vocab.TYPES
    assert tuple(defs["priority"]["enum"]) == vocab.PRIORITIES
    assert tuple(defs["tlp"]["enum"]) == vocab.TLPS
    assert tuple(defs["threat_level"]["enum"]) == vocab.THREAT_LEVELS
    assert tuple(defs["category"]["enum"]) == vocab.CATEGORIES
    assert tuple(defs["risk_rating"]["enum"]) == vocab.RISK_RATINGS
    assert defs["party"]["pattern"] == vocab.PARTY_ID_RE.pattern.replace("\\Z", "$")
    assert defs["icao_location"]["pattern"] == vocab.ICAO_LOCATION_RE.pattern.replace("\\Z", "$")
    group = vocab.GROUP_ID_RE.pattern[1:].replace("\\Z", "")
    assert defs["group_or_subscribers"]["pattern"] == f"^({vocab.SUBSCRIBERS}|{group})$"


def test_bulletin_and_metadata_fields() -> None:
    bulletin, metadata = SCHEMAS["bulletin"], SCHEMAS["metadata"]
    assert tuple(bulletin["required"]) == BULLETIN_FIELDS
    assert tuple(bulletin["properties"]) == (*BULLETIN_FIELDS, *OPTIONAL_FIELDS)
    assert tuple(metadata["required"]) == METADATA_FIELDS
    for field in METADATA_FIELDS:
        assert metadata["properties"][field] == bulletin["properties"][field]


def test_every_type_has_a_body_schema() -> None:
    branches = {b["if"]["properties"]["type"]["const"] for b in SCHEMAS["bulletin"]["allOf"]}
    assert branches == set(vocab.TYPES)
    for type_ in vocab.TYPES:
        assert SCHEMAS[type_]["$id"] == f"urn:avsec:schema:v1:body:{type_}"


@functools.cache
def _stock_validator() -> Draft202012Validator:
    """The files with an unmodified validator, as a State's own tool would use them."""
    registry: Registry[Any] = Registry().with_resources(
        (s["$id"], DRAFT202012.create_resource(s)) for s in SCHEMAS.values()
    )
    return Draft202012Validator(SCHEMAS["bulletin"], registry=registry)


def test_stock_validator_accepts_valid_vectors(
    valid_name: str, valid: Callable[[str], dict[str, Any]]
) -> None:
    _stock_validator().validate(valid(valid_name))


def test_stock_validator_rejects_schema_level_bad_vectors(
    invalid_case: dict[str, Any], build_case: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    """Each bad vector is refused by the schema files alone, unless a rule across fields,
    or a difference of Python's regex or number types, is what it tests."""
    cross_field = {
        "exp before iat",
        "exp equal to iat",
        "supersedes itself",
        "red with a group",
        "red to subscribers",
        "no recipient at all",
        "valid_until before valid_from",
        "ends before it starts",
        "respond_by before iat",
        "revocation without supersedes",
        "revocation of another bulletin",
        "revocation of itself",
        "in_reply_to on a threat assessment",
        "reply to itself",
        "flight-level band upside down",
        # python-jsonschema: "$" matches before a final newline; 1.0 is an integer
        "iss with a trailing newline",
        "location with a trailing newline",
        "iat as a float",
    }
    errors = list(_stock_validator().iter_errors(build_case(invalid_case)))
    assert bool(errors) != (invalid_case["name"] in cross_field)
