"""Validation of a bulletin (PROTOCOL §4) and of its routing metadata (§3), and a builder.

The JSON Schema files say what each field looks like; this module adds the rules across
fields that a schema cannot say, and reports every problem as ``path: what is expected``
in one :class:`~exchange.errors.InvalidBulletin`. Pure: the caller passes ``now``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Final

from exchange.bulletin import _schema
from exchange.config import Limits
from exchange.crypto.envelope import ROUTING_FIELDS
from exchange.errors import InvalidBulletin
from exchange.vocab import FUTURE_IAT, REPLY_TYPES, TYPES, iat_problem

__all__ = [
    "BULLETIN_FIELDS",
    "METADATA_FIELDS",
    "OPTIONAL_FIELDS",
    "metadata_of",
    "new_bulletin",
    "validate_body",
    "validate_bulletin",
    "validate_metadata",
]

#: PROTOCOL §3: the routing metadata, copied into the JWE protected header.
METADATA_FIELDS: Final = ROUTING_FIELDS
#: PROTOCOL §4: every field of a bulletin, all required.
BULLETIN_FIELDS: Final = (*METADATA_FIELDS, "title", "lang", "body")
#: Schema 1.1: optional fields beside them (a 1.0 bulletin, without them, is still valid).
OPTIONAL_FIELDS: Final = ("handling", "in_reply_to")

_LIMITS: Final = Limits()
#: Largest integer accepted anywhere: larger ones cannot be times and slow formatting.
_MAX_INT: Final = 2**63
_MIN_INT: Final = -(2**63)
_BODY_WINDOWS: Final = {
    "threat-assessment": ("valid_from", "valid_until"),
    "security-measure": ("effective_from", "effective_until"),
}


def validate_bulletin(obj: object, *, now: int | None = None) -> dict[str, Any]:
    """Return ``obj``, typed, if it is a valid bulletin; else raise :class:`InvalidBulletin`.

    With ``now`` (the caller's clock, in seconds) also check that ``iat`` is at most
    ``vocab.FUTURE_IAT`` seconds ahead of it (PROTOCOL §5). Expiry is not checked:
    an expired bulletin is still a valid one to read.
    """
    bulletin = _checked("bulletin", obj, "bulletin")
    problems = _metadata_rules(bulletin, now)
    problems += _body_rules(bulletin)
    _raise_if(problems)
    return bulletin


def validate_metadata(obj: object, *, now: int | None = None) -> dict[str, Any]:
    """Like :func:`validate_bulletin` for the routing metadata alone (no title/lang/body).

    The server can read only this (the ``avsec`` member of the JWE protected header,
    without ``cc``); checking it at admission gives the sender the same messages.
    """
    if _schema.is_certainly_valid("metadata", obj):  # every post: skip the schema walk
        meta: dict[str, Any] = obj  # type: ignore[assignment]
    else:
        meta = _checked("metadata", obj, "metadata")
    _raise_if(_metadata_rules(meta, now))
    return meta


def validate_body(type_: str, body: object) -> dict[str, Any]:
    """Check one ``body`` against its type's schema (for an editor or a form)."""
    if type_ not in TYPES:
        raise InvalidBulletin(f"type: must be one of {', '.join(TYPES)}")
    checked = _checked(type_, body, "body", prefix=("body",))
    rule = _BODY_WINDOWS.get(type_)
    problems = _window(checked, *rule) if rule is not None else []
    _raise_if(problems + _scope_rules(checked))
    return checked


def metadata_of(bulletin: Mapping[str, Any]) -> dict[str, Any]:
    """The routing metadata of a bulletin, as the protected header must repeat it."""
    return {name: bulletin[name] for name in METADATA_FIELDS}


def new_bulletin(
    *,
    iss: str,
    type: str,  # the protocol's field name, though it shadows the builtin
    title: str,
    body: Mapping[str, Any],
    now: int,
    groups: Iterable[str] = (),
    to: Iterable[str] = (),
    priority: str = "routine",
    tlp: str = "amber",
    lang: str = "en",
    exp: int | None = None,
    supersedes: str | None = None,
    bid: str | None = None,
    handling: str | None = None,
    in_reply_to: str | None = None,
) -> dict[str, Any]:
    """Build a bulletin issued at ``now`` and validate it.

    ``bid`` defaults to a random UUID. ``handling`` and ``in_reply_to`` (schema 1.1) are
    left out of the bulletin when ``None``, so that older readers still open it. For a
    revocation, ``supersedes`` defaults to ``body["revokes"]`` (the two must be equal).
    Tuples in ``body`` become lists.
    """
    if isinstance(groups, str) or isinstance(to, str):
        raise InvalidBulletin("groups, to: must be lists of ids, not a single string")
    plain_body = _plain(body, ("body",))
    if type == "revocation" and supersedes is None and isinstance(plain_body, dict):
        revokes = plain_body.get("revokes")
        supersedes = revokes if isinstance(revokes, str) else None
    bulletin = {
        "v": 1,
        "bid": bid if bid is not None else str(uuid.uuid4()),
        "iss": iss,
        "groups": list(groups),
        "to": list(to),
        "type": type,
        "priority": priority,
        "tlp": tlp,
        "iat": now,
        "exp": exp,
        "supersedes": supersedes,
        "title": title,
        "lang": lang,
        "body": plain_body,
    }
    if handling is not None:
        bulletin["handling"] = handling
    if in_reply_to is not None:
        bulletin["in_reply_to"] = in_reply_to
    return validate_bulletin(bulletin, now=now)


# --- internals --------------------------------------------------------------------------


def _raise_if(problems: list[str]) -> None:
    if not problems:
        return
    shown = problems[: _schema.MAX_MESSAGES]
    detail = "; ".join(shown)
    if len(problems) > len(shown):
        detail += "; and more"
    raise InvalidBulletin(detail, errors=shown)


def _checked(name: str, obj: object, root: str, prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    """``obj`` as a dict once it passes the shape scan and schema ``name``."""
    problem = _scan(obj, root, prefix)
    if problem is not None:
        raise InvalidBulletin(problem, errors=[problem])
    _raise_if(_schema.check(name, obj, root, prefix))
    if not isinstance(obj, dict):  # unreachable: the schema says "type": "object"
        raise InvalidBulletin(f"{root}: must be an object")
    return obj


def _scan(value: object, root: str, prefix: tuple[str, ...]) -> str | None:
    """First structural problem no schema can catch safely: depth, huge ints, bad text.

    Runs over every element of an untrusted object, so scalars are checked inline and
    the path is built only on failure.
    """
    found = _scan_child(value, 0)
    if found is None:
        return None
    path, message = found
    return f"{_schema.format_path([*prefix, *path], root)}: {message}"


_Found = tuple[list[object], str]
_SURROGATE: Final = "must be valid Unicode text (it holds a lone surrogate)"


def _scan_child(value: object, depth: int) -> _Found | None:
    if isinstance(value, str):
        return None if _is_utf8(value) else ([], _SURROGATE)
    if isinstance(value, int):
        return None if _MIN_INT <= value <= _MAX_INT else ([], "number out of range")
    if isinstance(value, dict | list):
        if depth >= _LIMITS.max_json_depth:
            return ([], "is nested too deeply")
        return _scan_container(value, depth)
    return None


def _scan_container(value: dict[object, object] | list[object], depth: int) -> _Found | None:
    pairs = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in pairs:
        if isinstance(value, dict):
            if not isinstance(key, str):
                return ([], "field names must be strings")
            if not _is_utf8(key):
                return ([], _SURROGATE)
        if isinstance(item, str):
            if _is_utf8(item):
                continue
        elif isinstance(item, int):  # also bool
            if _MIN_INT <= item <= _MAX_INT:
                continue
        elif isinstance(item, float) or item is None:
            continue
        found = _scan_child(item, depth + 1)
        if found is not None:
            found[0].insert(0, key)
            return found
    return None


def _is_utf8(text: str) -> bool:
    """False for a lone surrogate, which no UTF-8 encoder (nor JWS payload) can carry."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _metadata_rules(meta: Mapping[str, Any], now: int | None) -> list[str]:
    """PROTOCOL §4, §5 rules across the routing fields."""
    problems: list[str] = []
    if type(meta["v"]) is not int:  # the schema's const 1 also matches 1.0 and true
        problems.append("v: must be 1")
    iat, exp = meta["iat"], meta["exp"]
    if exp is not None and exp <= iat:
        problems.append("exp: must be after iat")  # PROTOCOL §5
    late = None if now is None else iat_problem(iat, now, future=FUTURE_IAT)  # PROTOCOL §5
    if late:
        problems.append(f"iat: must not be {late}")
    if meta["tlp"] == "red" and meta["groups"]:
        problems.append("groups: must be empty when tlp is red; name the recipients in to")
    if not meta["groups"] and not meta["to"]:
        problems.append("to: must name at least one party when groups is empty")
    if meta["supersedes"] is not None and meta["supersedes"] == meta["bid"]:
        problems.append("supersedes: must name an earlier bulletin, not this one")
    if meta["type"] == "revocation" and meta["supersedes"] is None:
        problems.append("supersedes: a revocation must name the bulletin it withdraws")
    return problems


def _body_rules(bulletin: Mapping[str, Any]) -> list[str]:
    """Rules between the body and the rest of the bulletin."""
    body: Mapping[str, Any] = bulletin["body"]
    type_ = bulletin["type"]
    problems: list[str] = []
    window = _BODY_WINDOWS.get(type_)
    if window is not None:
        problems += _window(body, *window)
    if type_ == "revocation":
        supersedes = bulletin["supersedes"]
        if supersedes is not None and body["revokes"] != supersedes:
            problems.append("body.revokes: must equal supersedes (the withdrawn bulletin)")
    if type_ == "request" and body.get("respond_by", bulletin["iat"] + 1) <= bulletin["iat"]:
        problems.append("body.respond_by: must be after iat")
    problems += _scope_rules(body)
    reply = bulletin.get("in_reply_to")
    if reply is not None and type_ not in REPLY_TYPES:
        problems.append(f"in_reply_to: only a {' or an '.join(REPLY_TYPES)} may answer a bulletin")
    if reply is not None and reply == bulletin["bid"]:
        problems.append("in_reply_to: must name another bulletin, not this one")
    return problems


def _scope_rules(body: Mapping[str, Any]) -> list[str]:
    """Schema 1.1: a flight-level band runs from its lower to its upper level."""
    scope = body.get("scope")
    band = scope.get("flight_levels") if isinstance(scope, dict) else None
    if isinstance(band, dict) and band["lower"] > band["upper"]:
        return ["body.scope.flight_levels.upper: must be at least lower"]
    return []


def _window(body: Mapping[str, Any], start: str, end: str) -> list[str]:
    if end in body and body[end] <= body[start]:
        return [f"body.{end}: must be after body.{start}"]
    return []


def _plain(value: object, path: tuple[object, ...]) -> object:
    """Mappings as dicts and tuples as lists, so that a caller's data fits the schema."""
    if len(path) > _LIMITS.max_json_depth:
        raise InvalidBulletin(f"{_schema.format_path(path, 'bulletin')}: is nested too deeply")
    if isinstance(value, Mapping):
        return {key: _plain(item, (*path, key)) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item, (*path, index)) for index, item in enumerate(value)]
    return value
