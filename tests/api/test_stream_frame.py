"""A stream frame is the JSON of the inbox item with its kind, from an item or straight
from a stored row (exchange/bulletin/item.py, the one encoder of an item)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from exchange.bulletin.item import FIELDS, frame_of_row, from_meta, inbox_body
from exchange.bulletin.item import frame as frame_of
from exchange.bulletin.item import from_row as item_of
from exchange.store.bulletins import item_of as store_item_of


def _item(envelope: str) -> dict[str, object]:
    return {
        "seq": 7,
        "bid": "0b9f4a1e-6c2d-4e8a-9a51-3d7f2c1b8e40",
        "iss": "KZ",
        "groups": ["cac-avsec", "@subscribers"],
        "to": [],
        "type": "advisory",
        "priority": "routine",
        "tlp": "amber",
        "iat": 1_800_000_000,
        "exp": None,
        "supersedes": None,
        "envelope": envelope,
    }


def test_a_frame_is_the_item_with_its_kind() -> None:
    item = _item("eyJhbGciOiJFZERTQSJ9.eyJ4IjoxfQ.c2lnLV8")
    assert json.loads(frame_of(item)) == {"kind": "bulletin", **item}


def test_an_envelope_that_would_need_escaping_is_encoded_properly() -> None:
    item = _item('a"b\\c\n\x01é')
    assert json.loads(frame_of(item)) == {"kind": "bulletin", **item}


def _row(**changes: object) -> SimpleNamespace:
    """A stored row as the store reads it (groups and to as the JSON text admission
    wrote)."""
    fields: dict[str, object] = {**_item("eyJhbGciOiJFZERTQSJ9.eyJ4IjoxfQ.c2lnLV8"), **changes}
    fields["groups"] = json.dumps(fields["groups"], separators=(",", ":"))
    fields["to"] = json.dumps(fields["to"], separators=(",", ":"))
    return SimpleNamespace(**fields)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"exp": 1_800_086_400, "supersedes": "1b9f4a1e-6c2d-4e8a-9a51-3d7f2c1b8e40"},
        {"groups": [], "to": ["GE", "UZ"], "tlp": "red"},
        {"groups": ["a-b", "@subscribers", "c"]},
        {"iss": 'K"Z', "groups": ['x"]', "y"], "to": ["\\"]},  # a tampered row
        {"envelope": 'e"vil'},
    ],
)
def test_a_frame_from_a_row_is_the_frame_of_its_item(changes: dict[str, object]) -> None:
    row = _row(**changes)
    from_row = json.loads(frame_of_row(row))
    assert from_row == json.loads(frame_of(item_of(row)))
    assert from_row == {"kind": "bulletin", **item_of(row)}


def test_every_encoder_writes_the_same_item() -> None:
    row = _row(exp=1_800_086_400)
    item = item_of(row)
    assert tuple(item) == FIELDS
    assert store_item_of(row) == item
    meta = {k: v for k, v in item.items() if k not in ("seq", "envelope")}
    assert from_meta(item["seq"], meta, item["envelope"]) == item
    assert json.loads(inbox_body([item], 7)) == {"items": [item], "next": 7}
    assert tuple(json.loads(frame_of_row(row))) == ("kind", *FIELDS)
