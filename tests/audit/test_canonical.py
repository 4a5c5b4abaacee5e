"""canonical_json: one byte string per JSON value, since those bytes are hashed as leaves."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.audit.canonical import canonical_json
from exchange.errors import InputError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"b": 1, "a": [1, 2, {"d": None, "c": True}]}, b'{"a":[1,2,{"c":true,"d":null}],"b":1}'),
        ({"z": {"y": {"x": 0}}, "Z": 1, "_": 2}, b'{"Z":1,"_":2,"z":{"y":{"x":0}}}'),
        ({"name": "Zürich ✈ 東京"}, '{"name":"Zürich ✈ 東京"}'.encode()),
        ({"emoji": "🛫"}, '{"emoji":"🛫"}'.encode()),
        ({"ctl": 'a\nb\t"\\'}, b'{"ctl":"a\\nb\\t\\"\\\\"}'),
        ([], b"[]"),
        ({}, b"{}"),
        ("x", b'"x"'),
        (1.5, b"1.5"),
        (-0.0, b"-0.0"),
        (10**20, b"100000000000000000000"),
        ((1, 2), b"[1,2]"),
    ],
)
def test_known_encodings(value: object, expected: bytes) -> None:
    assert canonical_json(value) == expected


def test_key_order_is_independent_of_insertion() -> None:
    a = {"kind": "ack", "log_index": 7, "bulletin": "b1"}
    b = dict(reversed(list(a.items())))
    assert canonical_json(a) == canonical_json(b)


@pytest.mark.parametrize(
    "value",
    [
        math.nan,
        math.inf,
        -math.inf,
        {"x": [1.0, math.nan]},
        {1: "int key"},
        {"a": {None: 1}},
        {True: 1},
        {(1, 2): 1},
        {"a": 1, 2: "mixed"},
        "\ud800",  # a lone surrogate has no UTF-8 encoding
        {"\udfff": 1},
        b"bytes",
        {1, 2},
        object(),
        {"n": 10**5000},  # beyond Python's int-to-str limit
    ],
)
def test_refuses_values_without_a_canonical_form(value: object) -> None:
    with pytest.raises(InputError):
        canonical_json(value)


def test_refuses_cycles() -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(InputError):
        canonical_json(loop)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(exclude_categories=["Cs"])),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(JSON)
def test_parse_and_reencode_is_identity(value: object) -> None:
    data = canonical_json(value)
    text = data.decode("utf-8")
    assert json.loads(text) == value
    assert canonical_json(json.loads(text)) == data
    assert "\n" not in text  # control characters inside strings are escaped
