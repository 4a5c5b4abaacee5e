"""The fast acceptance check of flat schemas: it may send a valid object to the full
validator, but it must never accept one that the schema (or the structural scan)
refuses."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.bulletin import _fast, _schema
from exchange.bulletin.validate import validate_metadata
from exchange.errors import InvalidBulletin


def _meta() -> dict[str, Any]:
    return {
        "v": 1,
        "bid": str(uuid.uuid4()),
        "iss": "KZ",
        "groups": ["cac-avsec"],
        "to": ["UZ"],
        "type": "advisory",
        "priority": "routine",
        "tlp": "amber",
        "iat": 1_800_000_000,
        "exp": None,
        "supersedes": None,
    }


def test_a_valid_metadata_takes_the_fast_path() -> None:
    assert _schema.is_certainly_valid("metadata", _meta())


_ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=80),
    st.sampled_from(
        ["KZ\n", "kz", "@subscribers", "cac-avsec", "red", "flash", str(uuid.uuid4()), "1"]
    ),
    st.lists(st.text(max_size=10), max_size=4),
    st.lists(st.sampled_from(["KZ", "UZ", "cac", "KZ\n", "@subscribers"]), max_size=4),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@settings(max_examples=600, deadline=None)
@given(
    edits=st.lists(
        st.tuples(st.sampled_from([*_meta().keys(), "extra", "title"]), _ODD_VALUES),
        max_size=3,
    ),
    drop=st.lists(st.sampled_from(list(_meta().keys())), max_size=2),
)
def test_fast_acceptance_implies_the_schema_accepts(
    edits: list[tuple[str, object]], drop: list[str]
) -> None:
    meta = _meta()
    for key, value in edits:
        meta[key] = value
    for key in drop:
        meta.pop(key, None)
    if _schema.is_certainly_valid("metadata", meta):
        assert _schema.check("metadata", copy.deepcopy(meta), "metadata") == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("v", True),
        ("v", 1.0),
        ("iss", "KZ\n"),
        ("groups", ["cac", "cac"]),
        ("to", "UZ"),
        ("iat", -1),
        ("iat", 2**64),
        ("exp", 1.5),
        ("supersedes", "not-a-uuid"),
        ("tlp", "purple"),
    ],
)
def test_each_broken_field_goes_to_the_full_validator(field: str, value: object) -> None:
    meta = _meta()
    meta[field] = value
    assert not _schema.is_certainly_valid("metadata", meta)
    with pytest.raises(InvalidBulletin, match=field):
        validate_metadata(meta)


def test_an_unknown_keyword_makes_the_check_refuse_everything() -> None:
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["a"],
        "properties": {"a": {"type": "string", "pattern": "^x$", "format": "email"}},
    }
    check = _fast.compile_flat(schema, lambda ref: {}, _schema.compiled_pattern)
    assert check({"a": "x"}) is False


def test_free_text_is_left_to_the_full_validator() -> None:
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"a": {"type": "string"}},
    }
    check = _fast.compile_flat(schema, lambda ref: {}, _schema.compiled_pattern)
    assert check({"a": "\ud800"}) is False


def test_the_nested_schemas_are_not_flat() -> None:
    assert not _schema.is_certainly_valid("bulletin", {**_meta(), "title": "t"})
