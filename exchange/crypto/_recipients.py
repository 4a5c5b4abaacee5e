"""Per-recipient wrapping of the content key (PROTOCOL §3).

``ECDH-ES+A256KW`` is RFC 7518 §4.6 exactly, so any JOSE library can open it;
``HPKE-MLKEM768X25519`` is an RFC 9180 base-mode single-shot seal of the key, bound to the
bulletin and the recipient by ``info``.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from exchange.crypto._b64 import b64u_decode, b64u_encode
from exchange.crypto._points import x25519_point_ok
from exchange.crypto.keys import ALG_HYBRID, ALG_X25519, EncryptionPrivateKey, EncryptionPublicKey
from exchange.errors import ExchangeError, UnwrapFailed

__all__ = ["ENCRYPTED_KEY_SIZE", "hpke_info", "unwrap_cek", "wrap_cek"]

CEK_SIZE = 32
_SUITE = Suite(KEM.MLKEM768_X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)

#: exact size of ``encrypted_key`` per alg: an A256KW-wrapped 32-byte key, and the HPKE
#: encapsulated key followed by the AES-256-GCM sealed key and its tag
ENCRYPTED_KEY_SIZE = {
    ALG_X25519: CEK_SIZE + 8,
    ALG_HYBRID: KEM.MLKEM768_X25519.enc_length() + CEK_SIZE + 16,
}


def _concat_kdf_otherinfo(alg: str, keydatalen: int) -> bytes:
    name = alg.encode("ascii")
    # AlgorithmID, PartyUInfo (empty), PartyVInfo (empty), SuppPubInfo (key length in bits)
    return struct.pack(">I", len(name)) + name + struct.pack(">III", 0, 0, keydatalen)


_OTHERINFO = _concat_kdf_otherinfo(ALG_X25519, 8 * CEK_SIZE)


def _kek(shared: bytes) -> bytes:
    """RFC 7518 §4.6.2 Concat KDF: one SHA-256 round yields the 256-bit KEK."""
    return hashlib.sha256(b"\x00\x00\x00\x01" + shared + _OTHERINFO).digest()


def hpke_info(bid: str, kid: str) -> bytes:
    return f"avsec-cek-v1|{bid}|{kid}".encode()


def wrap_cek(
    cek: bytes, recipient: EncryptionPublicKey, bid: str, rand: Callable[[int], bytes]
) -> dict[str, Any]:
    """One ``recipients`` entry of the JWE."""
    if recipient.hpke_key is not None:
        encrypted = _SUITE.encrypt(cek, recipient.hpke_key, info=hpke_info(bid, recipient.kid))
        header: dict[str, Any] = {"alg": ALG_HYBRID, "kid": recipient.kid}
    else:
        eph = x25519.X25519PrivateKey.from_private_bytes(rand(32))
        encrypted = aes_key_wrap(_kek(eph.exchange(recipient.x25519_key)), cek)
        epk = {"kty": "OKP", "crv": "X25519", "x": b64u_encode(eph.public_key().public_bytes_raw())}
        header = {"alg": ALG_X25519, "kid": recipient.kid, "epk": epk}
    return {"header": header, "encrypted_key": b64u_encode(encrypted)}


def unwrap_cek(
    header: dict[str, Any], encrypted_key: str, bid: str, key: EncryptionPrivateKey
) -> bytes:
    """Recover the CEK from our own entry; every failure is ``UnwrapFailed``."""
    try:
        wrapped = b64u_decode(encrypted_key)
        if header.get("alg") != key.alg:
            raise UnwrapFailed("entry alg does not match the key")
        hpke_key = key._hpke_key()
        if hpke_key is not None:
            cek = _SUITE.decrypt(wrapped, hpke_key, info=hpke_info(bid, key.kid))
        else:
            epk = b64u_decode(header["epk"]["x"])
            if not x25519_point_ok(epk):
                raise UnwrapFailed("epk is not a valid X25519 point")
            shared = key._x25519_key().exchange(x25519.X25519PublicKey.from_public_bytes(epk))
            cek = aes_key_unwrap(_kek(shared), wrapped)
    except UnwrapFailed:
        raise
    except (ExchangeError, InvalidTag, InvalidUnwrap, ValueError, KeyError, TypeError):
        # a bad tag, a bad wrap, a malformed value: one answer for all
        raise UnwrapFailed("content key could not be unwrapped") from None
    if len(cek) != CEK_SIZE:
        raise UnwrapFailed("content key has the wrong size")
    return cek
