"""Strict JSON in, compact JSON out.

Duplicate member names, NaN/Infinity and invalid UTF-8 are rejected: two parsers must
never read one document two ways.
"""

from __future__ import annotations

import json
import re
from typing import Any

from exchange.errors import ExchangeError, MalformedEnvelope

__all__ = ["dumps", "loads_object"]


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate member")
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constant)


def loads_object(
    data: bytes | str, error: type[ExchangeError] = MalformedEnvelope, what: str = "JSON"
) -> dict[str, Any]:
    """Parse one JSON object, raising ``error`` on anything else."""
    try:
        if isinstance(data, bytes):
            text = data.decode("utf-8")
        else:
            text = data
            text.encode("utf-8")  # a str holding a lone surrogate is not Unicode text
        obj = _DECODER.decode(text)
        if _SURROGATE_ESCAPE.search(text):
            # a lone escaped surrogate decodes to a str that cannot be encoded again
            json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError, UnicodeError):
        raise error(f"{what} is not valid JSON") from None
    if not isinstance(obj, dict):
        raise error(f"{what} is not a JSON object")
    return obj


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON: no white space, non-ASCII kept as is, no NaN."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )
