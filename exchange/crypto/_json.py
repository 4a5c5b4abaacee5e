"""Strict JSON in, compact JSON out: the one reader for every untrusted JSON text.

Duplicate member names, NaN/Infinity (also as an overflowing ``1e400``), invalid UTF-8
and lone surrogates are rejected, so that two parsers never read one document two ways;
nesting deeper than ``max_depth`` and integers outside a signed 64-bit column are
rejected too, so that nothing a peer signs can reach a database column it cannot fit
(issue 17, defect 1 and 2).
"""

from __future__ import annotations

import json
import math
from typing import Any

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


def check_tree(obj: Any, max_depth: int = MAX_DEPTH) -> str | None:
    """Why ``obj`` is not a safe document (too deep, an integer no column holds, a string
    that is not Unicode text), or None. Iterative: no recursion limit to hit."""
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if d > max_depth:
            return f"nested deeper than {max_depth} levels"
        if isinstance(o, dict):
            stack.extend((k, d) for k in o)
            stack.extend((v, d + 1) for v in o.values())
        elif isinstance(o, list):
            stack.extend((v, d + 1) for v in o)
        elif isinstance(o, str):
            if not o.isascii():
                try:
                    o.encode("utf-8")
                except UnicodeEncodeError:
                    return "holds a lone surrogate"
        elif isinstance(o, int) and not isinstance(o, bool) and not INT_MIN <= o <= INT_MAX:
            return "holds an integer out of range"
    return None


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
            text = data.decode("utf-8")
        else:
            text = data
            text.encode("utf-8")  # a str holding a lone surrogate is not Unicode text
        obj = _DECODER.decode(text)
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
