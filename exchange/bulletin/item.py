"""The inbox item (PROTOCOL §7), and its encodings: the only place its shape is written.

An item is a bulletin's routing metadata with its ``seq`` and its envelope. The store
reads items back from rows (:func:`from_row`), admission makes the item of a bulletin it
just accepted (:func:`from_meta`), and the REST inbox (:func:`inbox_body`) and the stream
(:func:`frame`, :func:`frame_of_row`) encode them. Encoding uses ``orjson``: an envelope
is up to ``max_body`` bytes, and a catch-up encodes thousands of them (several times
faster than ``json.dumps`` or splicing strings, measured in one process)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson

from exchange.crypto.envelope import ROUTING_FIELDS

__all__ = [
    "FIELDS",
    "dumps",
    "frame",
    "frame_of_row",
    "from_meta",
    "from_row",
    "inbox_body",
]

#: the members of an item, in the order they are sent (PROTOCOL §7): the envelope's
#: routing metadata but its version, between the seq and the envelope itself
FIELDS: Final = ("seq", *(f for f in ROUTING_FIELDS if f != "v"), "envelope")


def _item(
    seq: int, meta: Mapping[str, Any], groups: list[str], to: list[str], envelope: str
) -> dict[str, Any]:
    exp = meta["exp"]
    return {
        "seq": int(seq),
        "bid": meta["bid"],
        "iss": meta["iss"],
        "groups": groups,
        "to": to,
        "type": meta["type"],
        "priority": meta["priority"],
        "tlp": meta["tlp"],
        "iat": int(meta["iat"]),
        "exp": None if exp is None else int(exp),
        "supersedes": meta["supersedes"],
        "envelope": envelope,
    }


def from_meta(seq: int, meta: Mapping[str, Any], envelope: str) -> dict[str, Any]:
    """The item of a bulletin admission accepted, as :func:`from_row` reads it back."""
    return _item(seq, meta, list(meta["groups"]), list(meta["to"]), envelope)


def from_row(row: Any) -> dict[str, Any]:
    """The item of a stored row (``store.bulletins.ITEM_COLUMNS``: ``groups`` and ``to``
    are the JSON text admission wrote)."""
    m = row._mapping if hasattr(row, "_mapping") else vars(row)
    return _item(m["seq"], m, json.loads(m["groups"]), json.loads(m["to"]), m["envelope"])


def dumps(obj: Any) -> bytes:
    """Compact JSON as UTF-8 bytes (a stream message, a heartbeat, a notice)."""
    return orjson.dumps(obj)


def frame(item: Mapping[str, Any]) -> bytes:
    """The stream message for one item (PROTOCOL §7): the item with ``kind``."""
    return orjson.dumps({"kind": "bulletin", **item})


def frame_of_row(row: Any) -> bytes:
    """:func:`frame` of a stored row."""
    return frame(from_row(row))


def inbox_body(items: Sequence[Mapping[str, Any]], nxt: int) -> bytes:
    """``GET /v1/inbox``'s answer: one page of items and the cursor to ask after."""
    return orjson.dumps({"items": items, "next": nxt})
