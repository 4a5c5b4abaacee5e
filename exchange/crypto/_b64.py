"""Strict unpadded base64url (RFC 7515 §2): one value, one encoding.

Lenient decoders accept padding, foreign characters and non-zero trailing bits, so two
different strings can mean the same bytes; a signed or hashed value must not.
"""

from __future__ import annotations

import base64
import binascii
import re

from exchange.errors import MalformedEnvelope

__all__ = ["b64u_decode", "b64u_encode"]

_ALPHABET = re.compile(rb"[A-Za-z0-9_-]*")
_VALUE = {
    c: i for i, c in enumerate(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}


def b64u_encode(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(s: str | bytes) -> bytes:
    """Decode canonical unpadded base64url; anything else is ``MalformedEnvelope``."""
    if isinstance(s, str):
        try:
            raw = s.encode("ascii")
        except UnicodeEncodeError:
            raise MalformedEnvelope("invalid base64url") from None
    elif isinstance(s, bytes):
        raw = s
    else:
        raise MalformedEnvelope("invalid base64url")
    n = len(raw)
    rem = n % 4
    if rem == 1 or _ALPHABET.fullmatch(raw) is None:
        raise MalformedEnvelope("invalid base64url")
    if rem:
        # the unused low bits of the last character must be zero (canonical form)
        unused = 4 if rem == 2 else 2
        if _VALUE[raw[-1]] & ((1 << unused) - 1):
            raise MalformedEnvelope("non-canonical base64url")
    try:
        return base64.urlsafe_b64decode(raw + b"=" * (-n % 4))
    except (binascii.Error, ValueError):  # pragma: no cover - excluded above
        raise MalformedEnvelope("invalid base64url") from None
