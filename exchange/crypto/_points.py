"""Reject weak public points before they are registered (PROTOCOL §2).

An Ed25519 key of small order with an all-zero signature verifies any message, and an
X25519 key of small order yields a predictable shared secret.  OpenSSL accepts both as
32 arbitrary bytes, so the check is done here.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric import x25519

__all__ = ["ed25519_point_ok", "x25519_point_ok"]

_P = 2**255 - 19
_D = (-121665 * pow(121666, -1, _P)) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _decode_ed25519(raw: bytes) -> tuple[int, int] | None:
    """RFC 8032 §5.1.3 point decoding, strict: non-canonical encodings fail."""
    y = int.from_bytes(raw, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= _P:
        return None
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P
    x2 = u * pow(v, -1, _P) % _P
    if x2 == 0:
        return None if sign else (0, y)
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
        if (x * x - x2) % _P:
            return None
    if x & 1 != sign:
        x = _P - x
    return x, y


def _double(pt: tuple[int, int]) -> tuple[int, int]:
    x, y = pt
    t = _D * x * x * y * y % _P
    return (
        2 * x * y * pow(1 + t, -1, _P) % _P,
        (y * y + x * x) * pow(1 - t, -1, _P) % _P,
    )


@lru_cache(maxsize=4096)
def ed25519_point_ok(raw: bytes) -> bool:
    """True for a canonical encoding of a curve point whose order is not a divisor of 8."""
    if len(raw) != 32:
        return False
    pt = _decode_ed25519(raw)
    if pt is None:
        return False
    for _ in range(3):
        pt = _double(pt)
    return pt != (0, 1)


# A fixed clamped scalar: its product with a point is zero exactly when the point's order
# divides 8 (on the curve or its twist), which is how RFC 7748 §6.1 says to detect them.
_PROBE = x25519.X25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


@lru_cache(maxsize=4096)
def x25519_point_ok(raw: bytes) -> bool:
    """True for a canonical u-coordinate (< p) that is not of small order."""
    if len(raw) != 32 or int.from_bytes(raw, "little") >= _P:
        return False
    try:
        _PROBE.exchange(x25519.X25519PublicKey.from_public_bytes(raw))
    except ValueError:
        return False
    return True
