"""Why ``cc`` exists (ADR 0004): a real AES-GCM "invisible salamander".

We build one ciphertext and tag that decrypt without error under two different keys, give
each key to a different recipient, and check that the recipient holding the key that does
not match the commitment is stopped with ``CommitmentMismatch`` before decrypting.
"""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from exchange.crypto import (
    ROUTING_FIELDS,
    TYP_ENVELOPE,
    _json,
    b64u_encode,
    open_envelope,
    sign_compact,
)
from exchange.crypto._recipients import wrap_cek
from exchange.crypto.envelope import cek_commitment
from exchange.errors import BadInnerSignature, CommitmentMismatch

_R = 0xE1 << 120


def _mul(x: int, y: int) -> int:
    """Multiplication in GF(2^128) with GCM's bit order (SP 800-38D, Algorithm 1)."""
    z, v = 0, y
    for i in range(127, -1, -1):
        if (x >> i) & 1:
            z ^= v
        v = (v >> 1) ^ _R if v & 1 else v >> 1
    return z


def _pow(x: int, e: int) -> int:
    result = 1 << 127  # the multiplicative identity in GCM's bit order
    while e:
        if e & 1:
            result = _mul(result, x)
        x = _mul(x, x)
        e >>= 1
    return result


def _inv(x: int) -> int:
    return _pow(x, 2**128 - 2)


def _aes_block(key: bytes, block: bytes) -> int:
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return int.from_bytes(enc.update(block) + enc.finalize(), "big")


def _blocks(data: bytes) -> list[int]:
    data += b"\x00" * (-len(data) % 16)
    return [int.from_bytes(data[i : i + 16], "big") for i in range(0, len(data), 16)]


def _ghash(h: int, aad: bytes, ct: bytes) -> int:
    lengths = ((8 * len(aad)) << 64 | (8 * len(ct))).to_bytes(16, "big")
    y = 0
    for x in [*_blocks(aad), *_blocks(ct), int.from_bytes(lengths, "big")]:
        y = _mul(y ^ x, h)
    return y


def salamander(k1: bytes, k2: bytes, iv: bytes, aad: bytes, n_blocks: int = 4) -> bytes:
    """Ciphertext || tag valid under both keys: solve for the last ciphertext block."""
    h1, h2 = _aes_block(k1, bytes(16)), _aes_block(k2, bytes(16))
    j0 = iv + b"\x00\x00\x00\x01"
    s1, s2 = _aes_block(k1, j0), _aes_block(k2, j0)
    ct = bytearray(os.urandom(16 * n_blocks))
    ct[-16:] = bytes(16)
    # GHASH is linear in the last block, whose coefficient is H^2 (the length block is H^1)
    diff = _ghash(h1, aad, bytes(ct)) ^ _ghash(h2, aad, bytes(ct)) ^ s1 ^ s2
    coeff = _mul(h1, h1) ^ _mul(h2, h2)
    ct[-16:] = _mul(diff, _inv(coeff)).to_bytes(16, "big")
    tag = _ghash(h1, aad, bytes(ct)) ^ s1
    return bytes(ct) + tag.to_bytes(16, "big")


def test_gf_arithmetic() -> None:
    x = int.from_bytes(os.urandom(16), "big") | 1
    assert _mul(x, _inv(x)) == 1 << 127


def test_salamander_decrypts_under_both_keys() -> None:
    k1, k2, iv, aad = os.urandom(32), os.urandom(32), os.urandom(12), b"header"
    sealed = salamander(k1, k2, iv, aad)
    p1 = AESGCM(k1).decrypt(iv, sealed, aad)
    p2 = AESGCM(k2).decrypt(iv, sealed, aad)
    assert p1 != p2  # one envelope, two different plaintexts: AES-GCM does not commit


def test_commitment_stops_the_salamander(helpers, sender, party_keys) -> None:
    b = helpers.bulletin(to=["UZ", "GE"], groups=[])
    k1, k2, iv = os.urandom(32), os.urandom(32), os.urandom(12)
    avsec = {name: b[name] for name in ROUTING_FIELDS}
    avsec["cc"] = b64u_encode(cek_commitment(k1))
    protected = b64u_encode(
        _json.dumps({"enc": "A256GCM", "typ": "avsec-bulletin+jwe", "avsec": avsec})
    )
    sealed = salamander(k1, k2, iv, protected.encode())
    jwe = {
        "protected": protected,
        "recipients": [
            wrap_cek(k1, party_keys["UZ"].public, b["bid"], os.urandom),
            wrap_cek(k2, party_keys["GE"].public, b["bid"], os.urandom),
        ],
        "iv": b64u_encode(iv),
        "ciphertext": b64u_encode(sealed[:-16]),
        "tag": b64u_encode(sealed[-16:]),
    }
    env = sign_compact(_json.dumps(jwe), sender, TYP_ENVELOPE)
    resolve = helpers.resolver(sender)

    def open_as(party: str) -> object:
        return open_envelope(
            env, resolve, party=party, key=party_keys[party], audience=lambda m: {"UZ", "GE"}
        )

    # GE's key decrypts the ciphertext fine, but it is not the committed key
    with pytest.raises(CommitmentMismatch):
        open_as("GE")
    # UZ holds the committed key; the plaintext is not a bulletin the sender signed
    with pytest.raises(BadInnerSignature):
        open_as("UZ")
