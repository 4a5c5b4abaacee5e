"""Composite ML-DSA-65 + Ed25519 signatures (issue 20, ADR 0013).

The combiner is the one of draft-ietf-lamps-pq-composite-sigs as profiled for JOSE by
draft-ietf-jose-pq-composite-sigs: both halves sign the same message representative

    M' = base64url( Prefix || Label || 0x00 || SHA-512(M) )

(``0x00`` is the length of the empty application context), ML-DSA-65 with ``ctx = Label``,
and the signature is ``mldsa_sig || ed25519_sig``.  A signature is valid only when both
halves verify, so forging one needs both Ed25519 and ML-DSA-65 broken.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519, mldsa

from exchange.crypto._b64 import b64u_encode

__all__ = [
    "ALG_COMPOSITE",
    "ED25519_SIG_SIZE",
    "LABEL",
    "MLDSA65_PUBLIC_SIZE",
    "MLDSA65_SEED_SIZE",
    "MLDSA65_SIG_SIZE",
    "PREFIX",
    "SIGNATURE_SIZE",
    "composite_sign",
    "composite_verify",
    "message_representative",
]

#: JWS ``alg`` of the JOSE composite draft for this pair.
ALG_COMPOSITE = "ML-DSA-65-Ed25519"
#: The draft's domain separator, common to every composite algorithm.
PREFIX = b"CompositeAlgorithmSignatures2025"
#: The per-algorithm label; also the ML-DSA context string.
LABEL = b"COMPSIG-MLDSA65-Ed25519-SHA512"

MLDSA65_PUBLIC_SIZE = 1952
MLDSA65_SEED_SIZE = 32
MLDSA65_SIG_SIZE = 3309
ED25519_SIG_SIZE = 64
SIGNATURE_SIZE = MLDSA65_SIG_SIZE + ED25519_SIG_SIZE


def message_representative(message: bytes) -> bytes:
    """M' for the JOSE serialization: the base64url of ``Prefix||Label||0x00||SHA-512(M)``."""
    return b64u_encode(PREFIX + LABEL + b"\x00" + hashlib.sha512(message).digest()).encode("ascii")


def composite_sign(
    mldsa_key: mldsa.MLDSA65PrivateKey, ed_sign: Callable[[bytes], bytes], message: bytes
) -> bytes:
    """Both halves over M'; ``ed_sign`` is a key's ``sign`` here or a token's elsewhere."""
    m_prime = message_representative(message)
    ed_sig = ed_sign(m_prime)
    if len(ed_sig) != ED25519_SIG_SIZE:
        raise ValueError("the Ed25519 half has the wrong size")
    return mldsa_key.sign(m_prime, LABEL) + ed_sig


def composite_verify(
    mldsa_pub: mldsa.MLDSA65PublicKey,
    ed_pub: ed25519.Ed25519PublicKey,
    signature: bytes,
    message: bytes,
) -> bool:
    """True only when the signature has the exact size and both halves verify."""
    if len(signature) != SIGNATURE_SIZE:
        return False
    m_prime = message_representative(message)
    ok = True
    try:
        mldsa_pub.verify(signature[:MLDSA65_SIG_SIZE], m_prime, LABEL)
    except InvalidSignature:
        ok = False
    try:
        ed_pub.verify(signature[MLDSA65_SIG_SIZE:], m_prime)
    except InvalidSignature:
        ok = False
    return ok
