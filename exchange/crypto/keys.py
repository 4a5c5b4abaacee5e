"""Public and private keys as JWKs (PROTOCOL §2, §9), and the ``Signer`` interface.

Parsing is strict because a key is registered once and then trusted: malformed keys,
private members on a public key, small-order points and a ``kid`` that is not the key's
thumbprint are all ``InvalidKey``.  Signing keys live in :mod:`exchange.crypto.signing`
and are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.hpke import MLKEM768X25519PrivateKey, MLKEM768X25519PublicKey

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
from exchange.crypto._points import x25519_point_ok
from exchange.crypto.signing import (
    ALG_COMPOSITE,
    ALG_EDDSA,
    Ed25519Signer,
    HybridSigner,
    Signer,
    SigningKey,
    SigningPublicKey,
    generate_signer,
    parse_signing_jwk,
    signer_from_jwk,
)
from exchange.errors import InvalidKey

__all__ = [
    "ALG_COMPOSITE",
    "ALG_EDDSA",
    "ALG_HYBRID",
    "ALG_X25519",
    "Ed25519Signer",
    "EncryptionPrivateKey",
    "EncryptionPublicKey",
    "HybridSigner",
    "Signer",
    "SigningKey",
    "SigningPublicKey",
    "generate_signer",
    "parse_encryption_jwk",
    "parse_signing_jwk",
    "signer_from_jwk",
]

ALG_X25519 = "ECDH-ES+A256KW"
ALG_HYBRID = "HPKE-MLKEM768X25519"
MLKEM768_PUBLIC_SIZE = 1184
MLKEM768_SEED_SIZE = 64

_OKP_PUBLIC = OKP_PUBLIC
_HYB_PUBLIC = frozenset({"kty", "alg", "x25519", "mlkem768", "kid", "use", "key_ops"})


# --- encryption ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EncryptionPublicKey:
    """A party's encryption key: X25519 (``ECDH-ES+A256KW``) or the ML-KEM-768 hybrid."""

    kid: str
    alg: str
    x25519_raw: bytes
    mlkem768_raw: bytes | None
    x25519_key: x25519.X25519PublicKey = field(repr=False, compare=False)
    hpke_key: MLKEM768X25519PublicKey | None = field(repr=False, compare=False)

    @property
    def is_hybrid(self) -> bool:
        return self.alg == ALG_HYBRID

    @classmethod
    def _build(cls, x_raw: bytes, m_raw: bytes | None) -> EncryptionPublicKey:
        if not x25519_point_ok(x_raw):
            raise InvalidKey("X25519 public key is not a valid point of large order")
        xkey = x25519.X25519PublicKey.from_public_bytes(x_raw)
        if m_raw is None:
            kid = thumbprint({"crv": "X25519", "kty": "OKP", "x": b64u_encode(x_raw)})
            return cls(
                kid=kid,
                alg=ALG_X25519,
                x25519_raw=x_raw,
                mlkem768_raw=None,
                x25519_key=xkey,
                hpke_key=None,
            )
        try:
            mkey = mlkem.MLKEM768PublicKey.from_public_bytes(m_raw)
        except ValueError:
            raise InvalidKey("ML-KEM-768 public key is invalid") from None
        kid = thumbprint(
            {
                "alg": ALG_HYBRID,
                "kty": KTY_HYBRID,
                "mlkem768": b64u_encode(m_raw),
                "x25519": b64u_encode(x_raw),
            }
        )
        return cls(
            kid=kid,
            alg=ALG_HYBRID,
            x25519_raw=x_raw,
            mlkem768_raw=m_raw,
            x25519_key=xkey,
            hpke_key=MLKEM768X25519PublicKey(mkey, xkey),
        )

    def to_jwk(self) -> dict[str, str]:
        if self.mlkem768_raw is None:
            return {
                "kty": "OKP",
                "crv": "X25519",
                "x": b64u_encode(self.x25519_raw),
                "kid": self.kid,
                "alg": ALG_X25519,
            }
        return {
            "kty": KTY_HYBRID,
            "alg": ALG_HYBRID,
            "x25519": b64u_encode(self.x25519_raw),
            "mlkem768": b64u_encode(self.mlkem768_raw),
            "kid": self.kid,
        }


def _hybrid_members(d: dict[str, object], allowed: frozenset[str]) -> tuple[bytes, bytes]:
    if d.get("kty") != KTY_HYBRID or d.get("alg") != ALG_HYBRID:
        raise InvalidKey("expected an AVSEC-HYB JWK")
    check_common(d, allowed, ALG_HYBRID, "enc")
    return bytes_member(d, "x25519", 32), bytes_member(d, "mlkem768", MLKEM768_PUBLIC_SIZE)


def parse_encryption_jwk(jwk: object) -> EncryptionPublicKey:
    """A public encryption JWK (X25519 OKP or AVSEC-HYB) from an untrusted source."""
    d = require_dict(jwk)
    if d.get("kty") == "OKP":
        key = EncryptionPublicKey._build(
            parse_okp(d, "X25519", ALG_X25519, "enc", _OKP_PUBLIC), None
        )
    elif d.get("kty") == KTY_HYBRID:
        key = EncryptionPublicKey._build(*_hybrid_members(d, _HYB_PUBLIC))
    else:
        raise InvalidKey("unsupported encryption key type")
    check_kid(d, key.kid)
    return key


class EncryptionPrivateKey:
    """A party's private encryption key (PROTOCOL §9 file format)."""

    __slots__ = ("_hpke", "_mlkem", "_x25519", "public")

    def __init__(
        self, x25519_key: x25519.X25519PrivateKey, mlkem_key: mlkem.MLKEM768PrivateKey | None
    ) -> None:
        self._x25519 = x25519_key
        self._mlkem = mlkem_key
        self._hpke = None if mlkem_key is None else MLKEM768X25519PrivateKey(mlkem_key, x25519_key)
        m_raw = None if mlkem_key is None else mlkem_key.public_key().public_bytes_raw()
        self.public = EncryptionPublicKey._build(x25519_key.public_key().public_bytes_raw(), m_raw)

    def __repr__(self) -> str:
        return f"EncryptionPrivateKey(alg={self.public.alg!r}, kid={self.kid!r})"

    @property
    def kid(self) -> str:
        return self.public.kid

    @property
    def alg(self) -> str:
        return self.public.alg

    @classmethod
    def generate(cls, kind: Literal["hybrid", "x25519"] = "hybrid") -> EncryptionPrivateKey:
        if kind not in ("hybrid", "x25519"):
            raise InvalidKey("unknown key kind")
        m = mlkem.MLKEM768PrivateKey.generate() if kind == "hybrid" else None
        return cls(x25519.X25519PrivateKey.generate(), m)

    @classmethod
    def from_jwk(cls, jwk: object) -> EncryptionPrivateKey:
        """Read the §9 private JWK; the public members must match the private ones."""
        d = require_dict(jwk)
        if d.get("kty") == "OKP":
            x_pub = parse_okp(d, "X25519", ALG_X25519, "enc", _OKP_PUBLIC | {"d"})
            key = cls(x25519.X25519PrivateKey.from_private_bytes(bytes_member(d, "d", 32)), None)
            m_pub = None
        elif d.get("kty") == KTY_HYBRID:
            x_pub, m_pub = _hybrid_members(d, _HYB_PUBLIC | {"x25519_d", "mlkem768_d"})
            x_priv = x25519.X25519PrivateKey.from_private_bytes(bytes_member(d, "x25519_d", 32))
            seed = bytes_member(d, "mlkem768_d", MLKEM768_SEED_SIZE)
            key = cls(x_priv, mlkem.MLKEM768PrivateKey.from_seed_bytes(seed))
        else:
            raise InvalidKey("unsupported encryption key type")
        if key.public.x25519_raw != x_pub or key.public.mlkem768_raw != m_pub:
            raise InvalidKey("JWK public members do not match the private key")
        check_kid(d, key.kid)
        return key

    def to_private_jwk(self) -> dict[str, str]:
        jwk = self.public.to_jwk()
        x_d = b64u_encode(self._x25519.private_bytes_raw())
        if self._mlkem is None:
            jwk["d"] = x_d
        else:
            jwk["x25519_d"] = x_d
            jwk["mlkem768_d"] = b64u_encode(self._mlkem.private_bytes_raw())
        return jwk

    # internal: used by the envelope code only
    def _x25519_key(self) -> x25519.X25519PrivateKey:
        return self._x25519

    def _hpke_key(self) -> MLKEM768X25519PrivateKey | None:
        return self._hpke
