"""Where a signing key lives: a private JWK file, or a reference to a PKCS#11 token.

``signing.jwk`` (PROTOCOL §9, and the server's key) holds either a private JWK (Ed25519
or AVSEC-HYB) or a *reference*: the public JWK plus a ``pkcs11`` RFC 7512 URI (and, for a
hybrid key, the software ML-DSA-65 seed).  Callers load any of them with
:func:`load_signer`; only this package imports the PKCS#11 binding, and only when a
reference asks for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exchange.crypto.signing import SigningKey, parse_signing_jwk, signer_from_jwk
from exchange.keyfiles import read_json

__all__ = ["PRIVATE_MEMBERS", "load_signer", "public_signing_jwk", "signer_from_document"]

#: Members of a key file that never leave the machine (nor reach the operator).
PRIVATE_MEMBERS = frozenset({"d", "ed25519_d", "mldsa65_d", "pkcs11"})


def signer_from_document(doc: Any) -> SigningKey:
    """The signer a ``signing.jwk`` document describes (private JWK or token reference)."""
    if isinstance(doc, dict) and "pkcs11" in doc:
        from exchange.keystore.pkcs11 import open_token_signer

        return open_token_signer(doc)
    return signer_from_jwk(doc)


def load_signer(path: Path) -> SigningKey:
    """Read ``path`` and open the signer it describes."""
    return signer_from_document(read_json(path))


def public_signing_jwk(doc: Any) -> dict[str, str]:
    """The public JWK of any ``signing.jwk`` document, checked (private members dropped)."""
    if isinstance(doc, dict) and "pkcs11" not in doc and PRIVATE_MEMBERS & doc.keys():
        return signer_from_jwk(doc).public.to_jwk()
    if isinstance(doc, dict):
        doc = {k: v for k, v in doc.items() if k not in PRIVATE_MEMBERS}
    return parse_signing_jwk(doc).to_jwk()
