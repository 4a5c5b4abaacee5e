"""Strict unpadded base64url (RFC 7515 §2): one value, one encoding.

Lenient decoders accept padding, foreign characters and non-zero trailing bits, so two
different strings can mean the same bytes; a signed or hashed value must not.

The check runs in C: ``bytes.translate`` maps the url alphabet onto the standard one and
every character outside it (``+``, ``/``, ``=`` included) onto ``!``, which
``binascii.a2b_base64(strict_mode=True)`` refuses, as it refuses white space and bytes
above 127; only the trailing bits are checked here (issue 19: the regex and the
lenient decoder behind it were a sixth of the event loop's time).
"""

from __future__ import annotations

import base64
import binascii

from exchange.errors import MalformedEnvelope

__all__ = ["b64u_decode", "b64u_encode"]

_URL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_STD = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
#: url alphabet -> standard alphabet; every other byte -> "!" (not base64 in strict mode)
_TO_STD = bytes(_STD[_URL.index(c)] if c in _URL else ord("!") for c in range(256))
_VALUE = {c: i for i, c in enumerate(_URL)}
_PAD = (b"", b"", b"==", b"=")


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
    rem = len(raw) % 4
    if rem == 1:
        raise MalformedEnvelope("invalid base64url")
    try:
        out = binascii.a2b_base64(raw.translate(_TO_STD) + _PAD[rem], strict_mode=True)
    except binascii.Error:
        raise MalformedEnvelope("invalid base64url") from None
    # the unused low bits of the last character must be zero (canonical form); the
    # character is in the alphabet, or a2b_base64 had refused it
    if rem and _VALUE[raw[-1]] & (0b1111 if rem == 2 else 0b11):
        raise MalformedEnvelope("non-canonical base64url")
    return out
