"""Parsing untrusted request bodies and parameters into plain, checked values."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from exchange.bulletin import vocab
from exchange.errors import InputError, UnsupportedMediaType

__all__ = [
    "CLIENT_ID",
    "GROUP_ID",
    "KID",
    "PARTY_ID",
    "check_id",
    "json_body",
    "json_request",
    "opt_str",
    "query_int",
    "req_str",
    "str_list",
]

PARTY_ID = vocab.PARTY_ID_RE
#: a key id is a base64url thumbprint (PROTOCOL §2)
KID = re.compile(r"[A-Za-z0-9_-]{1,64}")
GROUP_ID = vocab.GROUP_ID_RE
CLIENT_ID = vocab.CLIENT_ID_RE


def _shape(pattern: re.Pattern[str]) -> str:
    return pattern.pattern.strip("^").removesuffix("\\Z")


def _check_tree(obj: Any, limit: int) -> None:
    """Depth within ``limit``, and every string (member names too) valid Unicode: a lone
    surrogate from a ``\\ud800`` escape cannot be stored, logged or signed."""
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if d > limit:
            raise InputError(f"JSON nested deeper than {limit} levels")
        if isinstance(o, dict):
            stack.extend((k, d) for k in o)
            stack.extend((v, d + 1) for v in o.values())
        elif isinstance(o, list):
            stack.extend((v, d + 1) for v in o)
        elif isinstance(o, str):
            try:
                o.encode("utf-8")
            except UnicodeEncodeError:
                raise InputError("request body holds a lone surrogate") from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate member name")
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# RFC 8259 §4: names SHOULD be unique; a body read two ways by two parsers (a proxy, an
# audit tool) is refused. NaN and Infinity are not JSON at all.
_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constant)

#: C0 and C1 control characters (with DEL): never part of a name or an identifier, and
#: an ESC in a party name would reach every operator's terminal
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def json_request(request: web.Request, body: bytes) -> dict[str, Any]:
    """The JSON object body of an admin or subscription request (``application/json``)."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType("the body must be sent as application/json")
    return json_body(body)


def json_body(body: bytes, *, max_depth: int = 32) -> dict[str, Any]:
    """A JSON object body, or a 400 that says why not."""
    try:
        obj = _DECODER.decode(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError("request body is not UTF-8") from exc
    except (ValueError, RecursionError) as exc:
        raise InputError("request body is not valid JSON") from exc
    if not isinstance(obj, dict):
        raise InputError("request body must be a JSON object")
    _check_tree(obj, max_depth)
    return obj


def req_str(
    obj: dict[str, Any],
    name: str,
    *,
    pattern: re.Pattern[str] | None = None,
    choices: tuple[str, ...] | frozenset[str] | None = None,
    max_len: int = 200,
) -> str:
    v = obj.get(name)
    if not isinstance(v, str) or not v:
        raise InputError(f"'{name}' must be a non-empty string")
    if len(v) > max_len:
        raise InputError(f"'{name}' is longer than {max_len} characters")
    if _CONTROL.search(v):
        raise InputError(f"'{name}' must not hold control characters")
    if pattern is not None and not pattern.fullmatch(v):
        raise InputError(f"'{name}' is not a valid identifier ({_shape(pattern)})")
    if choices is not None and v not in choices:
        raise InputError(f"'{name}' must be one of {', '.join(sorted(choices))}")
    return v


def opt_str(obj: dict[str, Any], name: str, **kw: Any) -> str | None:
    if obj.get(name) is None:
        return None
    return req_str(obj, name, **kw)


def str_list(
    obj: dict[str, Any],
    name: str,
    *,
    choices: frozenset[str] | tuple[str, ...],
    max_items: int = 16,
) -> list[str]:
    v = obj.get(name)
    if not isinstance(v, list) or not v or len(v) > max_items:
        raise InputError(f"'{name}' must be a non-empty list of at most {max_items} strings")
    out: list[str] = []
    for item in v:
        if not isinstance(item, str) or item not in choices:
            raise InputError(f"'{name}' items must be among {', '.join(sorted(choices))}")
        if item not in out:
            out.append(item)
    return out


def check_id(value: str, pattern: re.Pattern[str], what: str) -> str:
    if not pattern.fullmatch(value):
        raise InputError(f"{what} is not valid ({_shape(pattern)})")
    return value


def query_int(
    request: web.Request, name: str, default: int | None, *, lo: int = 0, hi: int = 2**62
) -> int:
    raw = request.query.get(name)
    if raw is None:
        if default is None:
            raise InputError(f"query parameter '{name}' is required")
        return default
    if not re.fullmatch(r"-?[0-9]{1,19}", raw):
        raise InputError(f"query parameter '{name}' must be an integer")
    v = int(raw)
    if not lo <= v <= hi:
        raise InputError(f"query parameter '{name}' must be between {lo} and {hi}")
    return v
