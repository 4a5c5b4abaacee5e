"""The leaf encoding of the audit log: canonical JSON (PROTOCOL §8).

Every audit entry is hashed as the exact bytes produced here, so two servers (or a
server and an auditor) that hold the same entry must produce the same bytes: keys
sorted, no white space, UTF-8 without ``\\u`` escapes for non-ASCII text.  Anything
that has no single JSON spelling (NaN, infinities, non-string keys, lone surrogates,
arbitrary objects) is refused rather than guessed at.
"""

from __future__ import annotations

import json

from exchange.errors import InputError

__all__ = ["canonical_json"]

_ENCODER = json.JSONEncoder(
    ensure_ascii=False,
    allow_nan=False,
    sort_keys=True,
    separators=(",", ":"),
)


def _check_keys(obj: object) -> None:
    """Refuse non-string keys: ``{1: x}`` and ``{"1": x}`` would encode alike."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if not isinstance(key, str):
                    raise InputError("canonical JSON object keys must be strings")
                stack.append(value)
        elif isinstance(item, list | tuple):
            stack.extend(item)


def canonical_json(obj: object) -> bytes:
    """Encode ``obj`` as canonical JSON bytes: the exact leaf bytes of the audit log.

    Raises :class:`~exchange.errors.InputError` for values with no canonical form.
    Key order is Python's code-point order (equal to RFC 8785's UTF-16 order for
    keys in the Basic Multilingual Plane).
    """
    try:
        data = _ENCODER.encode(obj).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        # ValueError covers NaN/inf, circular references and huge ints;
        # UnicodeEncodeError (a ValueError) covers lone surrogates.
        raise InputError("value has no canonical JSON encoding") from exc
    _check_keys(obj)  # after encoding, which has already refused cycles
    return data
