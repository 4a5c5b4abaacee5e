"""Signing keys: Ed25519 (PROTOCOL §2) and the ML-DSA-65 + Ed25519 composite (issue 20).

One public-key type serves both kinds so that every verifier dispatches on the key it
resolved, never on what the token claims: a hybrid kid verifies only with the composite
``alg``, an Ed25519 kid only with ``EdDSA`` (see :func:`exchange.crypto.jws.verify_compact`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519, mldsa

from exchange.crypto._b64 import b64u_encode
from exchange.crypto._jwk import (
    KTY_HYBRID,
    OKP_PUBLIC,
    bytes_member,
    check_common,
    check_kid,
    parse_okp,
    require_dict,
    thumbprint,
)
from exchange.crypto._points import ed25519_point_ok
from exchange.crypto.composite import (
    ALG_COMPOSITE,
    ED25519_SIG_SIZE,
    MLDSA65_PUBLIC_SIZE,
    MLDSA65_SEED_SIZE,
    SIGNATURE_SIZE,
    composite_sign,
    composite_verify,
)
from exchange.errors import InvalidKey

__all__ = [
    "ALG_COMPOSITE",
    "ALG_EDDSA",
    "SIGNING_ALGS",
    "Ed25519Signer",
    "HybridSigner",
    "Signer",
    "SigningKey",
    "SigningPublicKey",
    "generate_signer",
    "parse_signing_jwk",
    "signer_from_jwk",
]

ALG_EDDSA = "EdDSA"
#: Every JWS ``alg`` this exchange verifies, each tied to one key kind.
SIGNING_ALGS = frozenset({ALG_EDDSA, ALG_COMPOSITE})
_SIG_SIZE = {ALG_EDDSA: ED25519_SIG_SIZE, ALG_COMPOSITE: SIGNATURE_SIZE}

_HYB_SIG_PUBLIC = frozenset({"kty", "alg", "ed25519", "mldsa65", "kid", "use", "key_ops"})
_HYB_SIG_PRIVATE = _HYB_SIG_PUBLIC | {"ed25519_d", "mldsa65_d"}


@runtime_checkable
class Signer(Protocol):
    """Anything that signs as one key: a key file here, an HSM or a KMS elsewhere.

    ``alg`` is the JWS algorithm of the key (``EdDSA`` or ``ML-DSA-65-Ed25519``); ``sign``
    returns the whole signature for that algorithm.
    """

    @property
    def kid(self) -> str: ...

    @property
    def alg(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


@runtime_checkable
class SigningKey(Signer, Protocol):
    """A ``Signer`` that also publishes its public key (what the server and profiles hold)."""

    @property
    def public(self) -> SigningPublicKey: ...


@dataclass(frozen=True)
class SigningPublicKey:
    """A verified signing key: Ed25519 alone, or the composite with its ML-DSA-65 half.

    ``raw`` is always the Ed25519 half; ``kid`` the RFC 7638 thumbprint (Ed25519) or the
    SHA-256 of the sorted public members (hybrid, as PROTOCOL §2 does for hybrid KEM keys).
    """

    kid: str
    raw: bytes
    key: ed25519.Ed25519PublicKey = field(repr=False, compare=False)
    alg: str = ALG_EDDSA
    mldsa_raw: bytes | None = None
    mldsa_key: mldsa.MLDSA65PublicKey | None = field(default=None, repr=False, compare=False)

    @property
    def is_hybrid(self) -> bool:
        return self.alg == ALG_COMPOSITE

    @property
    def signature_size(self) -> int:
        return _SIG_SIZE[self.alg]

    @classmethod
    def from_raw(cls, raw: bytes, mldsa_raw: bytes | None = None) -> SigningPublicKey:
        if not ed25519_point_ok(bytes(raw)):
            raise InvalidKey("Ed25519 public key is not a valid point of large order")
        ed = ed25519.Ed25519PublicKey.from_public_bytes(raw)
        if mldsa_raw is None:
            kid = thumbprint({"crv": "Ed25519", "kty": "OKP", "x": b64u_encode(raw)})
            return cls(kid=kid, raw=bytes(raw), key=ed)
        if len(mldsa_raw) != MLDSA65_PUBLIC_SIZE:
            raise InvalidKey("ML-DSA-65 public key has the wrong size")
        try:
            m = mldsa.MLDSA65PublicKey.from_public_bytes(bytes(mldsa_raw))
        except ValueError:
            raise InvalidKey("ML-DSA-65 public key is invalid") from None
        kid = thumbprint(
            {
                "alg": ALG_COMPOSITE,
                "ed25519": b64u_encode(raw),
                "kty": KTY_HYBRID,
                "mldsa65": b64u_encode(mldsa_raw),
            }
        )
        return cls(
            kid=kid,
            raw=bytes(raw),
            key=ed,
            alg=ALG_COMPOSITE,
            mldsa_raw=bytes(mldsa_raw),
            mldsa_key=m,
        )

    def to_jwk(self) -> dict[str, str]:
        if self.mldsa_raw is None:
            return {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": b64u_encode(self.raw),
                "kid": self.kid,
                "alg": ALG_EDDSA,
            }
        return {
            "kty": KTY_HYBRID,
            "alg": ALG_COMPOSITE,
            "mldsa65": b64u_encode(self.mldsa_raw),
            "ed25519": b64u_encode(self.raw),
            "kid": self.kid,
        }

    def verify(self, signature: bytes, data: bytes) -> bool:
        """The whole signature for this key's ``alg``: for a hybrid key, both halves."""
        if self.mldsa_key is not None:
            return composite_verify(self.mldsa_key, self.key, signature, data)
        try:
            self.key.verify(signature, data)
        except InvalidSignature:
            return False
        return True


def _hybrid_public(d: dict[str, object], allowed: frozenset[str]) -> tuple[bytes, bytes]:
    if d.get("kty") != KTY_HYBRID or d.get("alg") != ALG_COMPOSITE:
        raise InvalidKey("expected an AVSEC-HYB ML-DSA-65-Ed25519 JWK")
    check_common(d, allowed, ALG_COMPOSITE, "sig")
    return bytes_member(d, "ed25519", 32), bytes_member(d, "mldsa65", MLDSA65_PUBLIC_SIZE)


def parse_signing_jwk(jwk: object) -> SigningPublicKey:
    """A public signing JWK from an untrusted source: OKP Ed25519 or AVSEC-HYB composite."""
    d = require_dict(jwk)
    if d.get("kty") == KTY_HYBRID:
        key = SigningPublicKey.from_raw(*_hybrid_public(d, _HYB_SIG_PUBLIC))
    else:
        key = SigningPublicKey.from_raw(parse_okp(d, "Ed25519", ALG_EDDSA, "sig", OKP_PUBLIC))
    check_kid(d, key.kid)
    return key


class Ed25519Signer:
    """A ``Signer`` backed by an Ed25519 private key held in memory."""

    __slots__ = ("_key", "public")

    alg = ALG_EDDSA

    def __init__(self, key: ed25519.Ed25519PrivateKey) -> None:
        self._key = key
        self.public = SigningPublicKey.from_raw(key.public_key().public_bytes_raw())

    def __repr__(self) -> str:
        return f"Ed25519Signer(kid={self.kid!r})"

    @classmethod
    def generate(cls) -> Ed25519Signer:
        return cls(ed25519.Ed25519PrivateKey.generate())

    @classmethod
    def from_jwk(cls, jwk: object) -> Ed25519Signer:
        """A private OKP Ed25519 JWK with ``d``; ``x``, when present, must match it."""
        raw_x = parse_okp(jwk, "Ed25519", ALG_EDDSA, "sig", OKP_PUBLIC | {"d"})
        d = bytes_member(require_dict(jwk), "d", 32)
        signer = cls(ed25519.Ed25519PrivateKey.from_private_bytes(d))
        if signer.public.raw != raw_x:
            raise InvalidKey("JWK x does not match d")
        check_kid(require_dict(jwk), signer.kid)
        return signer

    @property
    def kid(self) -> str:
        return self.public.kid

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def to_private_jwk(self) -> dict[str, str]:
        jwk = self.public.to_jwk()
        jwk["d"] = b64u_encode(self._key.private_bytes_raw())
        return jwk


class HybridSigner:
    """A composite ML-DSA-65 + Ed25519 ``Signer``.

    The Ed25519 half is any ``sign`` function: an in-memory key, or a PKCS#11 token
    (``exchange.keystore.pkcs11``) so that the classical private key never leaves it.
    """

    __slots__ = ("_ed_key", "_ed_sign", "_mldsa", "public")

    alg = ALG_COMPOSITE

    def __init__(
        self,
        mldsa_key: mldsa.MLDSA65PrivateKey,
        ed_public: bytes,
        ed_sign: Callable[[bytes], bytes],
        ed_key: ed25519.Ed25519PrivateKey | None = None,
    ) -> None:
        self._mldsa = mldsa_key
        self._ed_sign = ed_sign
        self._ed_key = ed_key
        m_raw = mldsa_key.public_key().public_bytes_raw()
        self.public = SigningPublicKey.from_raw(ed_public, m_raw)

    def __repr__(self) -> str:
        return f"HybridSigner(kid={self.kid!r})"

    @classmethod
    def from_keys(
        cls, mldsa_key: mldsa.MLDSA65PrivateKey, ed_key: ed25519.Ed25519PrivateKey
    ) -> HybridSigner:
        return cls(mldsa_key, ed_key.public_key().public_bytes_raw(), ed_key.sign, ed_key)

    @classmethod
    def generate(cls) -> HybridSigner:
        ed = ed25519.Ed25519PrivateKey.generate()
        return cls.from_keys(mldsa.MLDSA65PrivateKey.generate(), ed)

    @classmethod
    def from_jwk(cls, jwk: object) -> HybridSigner:
        """The private AVSEC-HYB signing JWK: public members plus ``ed25519_d``, ``mldsa65_d``."""
        d = require_dict(jwk)
        ed_pub, m_pub = _hybrid_public(d, _HYB_SIG_PRIVATE)
        ed = ed25519.Ed25519PrivateKey.from_private_bytes(bytes_member(d, "ed25519_d", 32))
        seed = bytes_member(d, "mldsa65_d", MLDSA65_SEED_SIZE)
        signer = cls.from_keys(mldsa.MLDSA65PrivateKey.from_seed_bytes(seed), ed)
        if signer.public.raw != ed_pub or signer.public.mldsa_raw != m_pub:
            raise InvalidKey("JWK public members do not match the private key")
        check_kid(d, signer.kid)
        return signer

    @property
    def kid(self) -> str:
        return self.public.kid

    def sign(self, data: bytes) -> bytes:
        return composite_sign(self._mldsa, self._ed_sign, data)

    def sign_classical(self, data: bytes) -> bytes:
        """The Ed25519 half alone, for formats with no composite algorithm (RFC 9421
        webhook pushes, docs/alerts.md); never for a JWS, whose ``alg`` names the pair."""
        return self._ed_sign(data)

    def mldsa_seed_jwk(self) -> dict[str, str]:
        """The public JWK plus the ML-DSA seed only (the Ed25519 half lives elsewhere)."""
        jwk = self.public.to_jwk()
        jwk["mldsa65_d"] = b64u_encode(self._mldsa.private_bytes_raw())
        return jwk

    def to_private_jwk(self) -> dict[str, str]:
        if self._ed_key is None:
            raise InvalidKey("the Ed25519 half of this key is not exportable")
        jwk = self.mldsa_seed_jwk()
        jwk["ed25519_d"] = b64u_encode(self._ed_key.private_bytes_raw())
        return jwk


def signer_from_jwk(jwk: object) -> Ed25519Signer | HybridSigner:
    """A private signing JWK of either kind (PROTOCOL §9 ``signing.jwk``)."""
    if isinstance(jwk, dict) and jwk.get("kty") == KTY_HYBRID:
        return HybridSigner.from_jwk(jwk)
    return Ed25519Signer.from_jwk(jwk)


def generate_signer(kind: Literal["hybrid", "ed25519"] = "hybrid") -> Ed25519Signer | HybridSigner:
    """A new signing key: hybrid unless Ed25519 alone is asked for (issue 20)."""
    if kind == "hybrid":
        return HybridSigner.generate()
    if kind == "ed25519":
        return Ed25519Signer.generate()
    raise InvalidKey("unknown signing key kind")
