"""Parsing untrusted request bodies and parameters into plain, checked values."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from aiohttp import web

from exchange import vocab
from exchange.crypto import loads_object
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
    "query_flag",
    "query_int",
    "req_str",
    "str_list",
]

PARTY_ID = vocab.PARTY_ID_RE
#: a key id is a base64url thumbprint (PROTOCOL §2)
KID = vocab.KID_RE
GROUP_ID = vocab.GROUP_ID_RE
CLIENT_ID = vocab.CLIENT_ID_RE


def _shape(pattern: re.Pattern[str]) -> str:
    return pattern.pattern.strip("^").removesuffix("\\Z")


#: C0 and C1 control characters (with DEL): never part of a name or an identifier, and
#: an ESC in a party name would reach every operator's terminal
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: Unicode categories never allowed in a name (issue 17): format characters (bidi
#: overrides and isolates, zero-width joiners and spaces, BOM, tags, soft hyphen), line
#: and paragraph separators, surrogates, private use and unassigned code points. A
#: right-to-left override makes one party's name read as another's in every view.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _invisible(text: str) -> bool:
    return not text.isascii() and any(unicodedata.category(ch) in _INVISIBLE for ch in text)


def json_request(request: web.Request, body: bytes) -> dict[str, Any]:
    """The JSON object body of an admin or subscription request (``application/json``)."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType("the body must be sent as application/json")
    return json_body(body)


def json_body(body: bytes, *, max_depth: int = 32) -> dict[str, Any]:
    """A JSON object body, or a 400 that says why not."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError("request body is not UTF-8") from exc
    # the one strict reader of every signed payload too (exchange/crypto/_json.py)
    return loads_object(body, InputError, "request body", max_depth=max_depth)


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
    if _CONTROL.search(v) or _invisible(v):
        raise InputError(f"'{name}' must not hold control, format or invisible characters")
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


def query_flag(request: web.Request, name: str) -> bool:
    """A yes/no query parameter: absent, ``0`` or ``false`` is no; ``1`` or ``true`` yes."""
    raw = request.query.get(name)
    if raw is None or raw in ("0", "false"):
        return False
    if raw in ("1", "true"):
        return True
    raise InputError(f"query parameter '{name}' must be 1 or 0")
