"""Strict JSON in, compact JSON out: the one reader for every untrusted JSON text.

Duplicate member names, NaN/Infinity (also as an overflowing ``1e400``), invalid UTF-8
and lone surrogates are rejected, so that two parsers never read one document two ways;
nesting deeper than ``max_depth`` and integers outside a signed 64-bit column are
rejected too, so that nothing a peer signs can reach a database column it cannot fit
(issue 17, defect 1 and 2).

Speed (issue 19): a document with no backslash is parsed by ``orjson`` and accepted only
when nothing can differ from the strict reader: with no escapes every ``"`` opens or
closes a string, so splitting on it counts the member names (a duplicate leaves fewer
members in the dicts than in the text) and shows every number (a run of 19 digits could
be an integer orjson reads as a float). Anything else, and anything orjson refuses, goes
through the strict stdlib reader, which decides and words the error.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

from exchange.errors import ExchangeError, MalformedEnvelope

__all__ = ["INT_MAX", "INT_MIN", "MAX_DEPTH", "check_tree", "dumps", "loads_object"]

#: what a BIGINT column (PostgreSQL) or an INTEGER (SQLite) holds
INT_MAX = 2**63 - 1
INT_MIN = -(2**63)
#: default nesting bound of an untrusted document (``Limits.max_json_depth``)
MAX_DEPTH = 32


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate member")
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


_DECODER = json.JSONDecoder(
    object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_float=_finite
)


def _text_ok(s: str) -> bool:
    if s.isascii():
        return True
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _scalar_problem(v: Any) -> str | None:
    if isinstance(v, str):
        return None if _text_ok(v) else "holds a lone surrogate"
    if isinstance(v, int) and not isinstance(v, bool) and not INT_MIN <= v <= INT_MAX:
        return "holds an integer out of range"
    return None


def _walk(obj: Any, max_depth: int) -> tuple[str | None, int]:
    """(why ``obj`` is not a safe document or None, how many object members it holds).
    The root is at depth 1, a container's members one deeper; only containers go on
    the stack, scalars are checked where they are met."""
    deeper = f"nested deeper than {max_depth} levels"
    if not isinstance(obj, dict | list):
        return (deeper if max_depth < 1 else _scalar_problem(obj)), 0
    members = 0
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if d > max_depth:
            return deeper, members
        if isinstance(o, dict):
            members += len(o)
            for k in o:
                if not _text_ok(k):
                    return "holds a lone surrogate", members
            values: Any = o.values()
        else:
            values = o
        if o and d >= max_depth:  # its members would be deeper than the bound
            return deeper, members
        for v in values:
            if isinstance(v, dict | list):
                stack.append((v, d + 1))
            else:
                why = _scalar_problem(v)
                if why is not None:
                    return why, members
    return None, members


def check_tree(obj: Any, max_depth: int = MAX_DEPTH) -> str | None:
    """Why ``obj`` is not a safe document (too deep, an integer no column holds, a string
    that is not Unicode text), or None. Iterative: no recursion limit to hit."""
    return _walk(obj, max_depth)[0]


_LONG_NUMBER = re.compile(rb"[0-9]{19}")
_WS = b" \t\n\r"


def _fast(raw: bytes) -> tuple[Any, int] | None:
    """(orjson's document, its member count in the text), or None for the strict path."""
    if b"\\" in raw:
        return None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    outside = raw.split(b'"')[::2]  # no escapes: the even pieces are outside strings
    # \x01 (never outside a string of valid JSON) marks where each piece starts
    joined = b"\x01".join(outside)
    if _LONG_NUMBER.search(joined):
        return None
    if b" " in joined or b"\n" in joined or b"\t" in joined or b"\r" in joined:
        return obj, sum(1 for piece in outside[1:] if piece.lstrip(_WS)[:1] == b":")
    return obj, joined.count(b"\x01:")


def _strict(text: str) -> Any:
    return _DECODER.decode(text)


def loads_object(
    data: bytes | str,
    error: type[ExchangeError] = MalformedEnvelope,
    what: str = "JSON",
    *,
    max_depth: int = MAX_DEPTH,
) -> dict[str, Any]:
    """Parse one JSON object, raising ``error`` on anything else."""
    try:
        if isinstance(data, bytes):
            raw = data
            text = None
        else:
            text = data
            raw = text.encode("utf-8")  # a str holding a lone surrogate is not Unicode text
        fast = _fast(raw)
        if fast is not None:
            obj, members = fast
            why, seen = _walk(obj, max_depth)
            if why is None and seen == members:
                if not isinstance(obj, dict):
                    raise error(f"{what} is not a JSON object")
                return obj
        obj = _strict(text if text is not None else raw.decode("utf-8"))
    except (ValueError, RecursionError, UnicodeError):
        raise error(f"{what} is not valid JSON") from None
    if not isinstance(obj, dict):
        raise error(f"{what} is not a JSON object")
    why = check_tree(obj, max_depth)
    if why is not None:
        raise error(f"{what} {why}")
    return obj


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON: no white space, non-ASCII kept as is, no NaN."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )
