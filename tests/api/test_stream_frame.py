"""A stream frame spliced together is the JSON of the item, byte for byte the same data."""

from __future__ import annotations

import json

from exchange.api.routes_stream import frame_of


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
    item = _item('a"b\\c\n')
    assert json.loads(frame_of(item)) == {"kind": "bulletin", **item}
