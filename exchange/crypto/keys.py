"""Public and private keys as JWKs (PROTOCOL §2, §9), and the ``Signer`` interface.

Parsing is strict because a key is registered once and then trusted: malformed keys,
private members on a public key, small-order points and a ``kid`` that is not the key's
thumbprint are all ``InvalidKey``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519, mlkem, x25519
from cryptography.hazmat.primitives.hpke import MLKEM768X25519PrivateKey, MLKEM768X25519PublicKey

from exchange.crypto import _json
from exchange.crypto._b64 import b64u_decode, b64u_encode
from exchange.crypto._points import ed25519_point_ok, x25519_point_ok
from exchange.errors import CryptoError, InvalidKey

__all__ = [
    "ALG_EDDSA",
    "ALG_HYBRID",
    "ALG_X25519",
    "Ed25519Signer",
    "EncryptionPrivateKey",
    "EncryptionPublicKey",
    "Signer",
    "SigningPublicKey",
    "parse_encryption_jwk",
    "parse_signing_jwk",
]

ALG_EDDSA = "EdDSA"
ALG_X25519 = "ECDH-ES+A256KW"
ALG_HYBRID = "HPKE-MLKEM768X25519"
KTY_HYBRID = "AVSEC-HYB"
MLKEM768_PUBLIC_SIZE = 1184
MLKEM768_SEED_SIZE = 64

# Members a public JWK may carry; anything else (notably ``d``) is refused.
_OKP_PUBLIC = frozenset({"kty", "crv", "x", "kid", "alg", "use", "key_ops"})
_HYB_PUBLIC = frozenset({"kty", "alg", "x25519", "mlkem768", "kid", "use", "key_ops"})


@runtime_checkable
class Signer(Protocol):
    """Anything that signs with an Ed25519 key: a key file here, an HSM or a KMS elsewhere."""

    @property
    def kid(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


def _thumbprint(members: dict[str, str]) -> str:
    """RFC 7638: SHA-256 of the required members, sorted, no white space."""
    canonical = _json.dumps(dict(sorted(members.items())))
    return b64u_encode(hashlib.sha256(canonical).digest())


def _require_dict(jwk: object) -> dict[str, object]:
    if not isinstance(jwk, dict) or not all(isinstance(k, str) for k in jwk):
        raise InvalidKey("a JWK must be a JSON object")
    return jwk


def _str_member(jwk: dict[str, object], name: str) -> str:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise InvalidKey(f"JWK member {name!r} missing or not a string")
    return value


def _bytes_member(jwk: dict[str, object], name: str, size: int) -> bytes:
    try:
        raw = b64u_decode(_str_member(jwk, name))
    except CryptoError:
        raise InvalidKey(f"JWK member {name!r} is not base64url") from None
    if len(raw) != size:
        raise InvalidKey(f"JWK member {name!r} has the wrong size")
    return raw


def _check_common(jwk: dict[str, object], allowed: frozenset[str], alg: str, use: str) -> None:
    extra = set(jwk) - allowed
    if extra:
        raise InvalidKey(f"unexpected JWK members: {', '.join(sorted(extra))}")
    if "alg" in jwk and jwk["alg"] != alg:
        raise InvalidKey("JWK alg does not match the key type")
    if "use" in jwk and jwk["use"] != use:
        raise InvalidKey("JWK use does not match the key type")
    if "key_ops" in jwk and (
        not isinstance(jwk["key_ops"], list) or not all(isinstance(o, str) for o in jwk["key_ops"])
    ):
        raise InvalidKey("JWK key_ops must be a list of strings")


def _check_kid(jwk: dict[str, object], kid: str) -> None:
    if "kid" in jwk and jwk["kid"] != kid:
        raise InvalidKey("JWK kid is not the key's thumbprint")


# --- signing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SigningPublicKey:
    """A verified Ed25519 public key; ``kid`` is its RFC 7638 thumbprint."""

    kid: str
    raw: bytes
    key: ed25519.Ed25519PublicKey = field(repr=False, compare=False)

    @classmethod
    def from_raw(cls, raw: bytes) -> SigningPublicKey:
        if not ed25519_point_ok(bytes(raw)):
            raise InvalidKey("Ed25519 public key is not a valid point of large order")
        x = b64u_encode(raw)
        kid = _thumbprint({"crv": "Ed25519", "kty": "OKP", "x": x})
        return cls(kid=kid, raw=bytes(raw), key=ed25519.Ed25519PublicKey.from_public_bytes(raw))

    def to_jwk(self) -> dict[str, str]:
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64u_encode(self.raw),
            "kid": self.kid,
            "alg": ALG_EDDSA,
        }

    def verify(self, signature: bytes, data: bytes) -> bool:
        try:
            self.key.verify(signature, data)
        except InvalidSignature:
            return False
        return True


def _parse_okp(jwk: object, crv: str, alg: str, use: str, allowed: frozenset[str]) -> bytes:
    d = _require_dict(jwk)
    if d.get("kty") != "OKP" or d.get("crv") != crv:
        raise InvalidKey(f"expected an OKP {crv} JWK")
    _check_common(d, allowed, alg, use)
    return _bytes_member(d, "x", 32)


def parse_signing_jwk(jwk: object) -> SigningPublicKey:
    """A public Ed25519 JWK (RFC 8037) from an untrusted source."""
    raw = _parse_okp(jwk, "Ed25519", ALG_EDDSA, "sig", _OKP_PUBLIC)
    key = SigningPublicKey.from_raw(raw)
    _check_kid(_require_dict(jwk), key.kid)
    return key


class Ed25519Signer:
    """A ``Signer`` backed by an Ed25519 private key held in memory."""

    __slots__ = ("_key", "public")

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
        raw_x = _parse_okp(jwk, "Ed25519", ALG_EDDSA, "sig", _OKP_PUBLIC | {"d"})
        d = _bytes_member(_require_dict(jwk), "d", 32)
        signer = cls(ed25519.Ed25519PrivateKey.from_private_bytes(d))
        if signer.public.raw != raw_x:
            raise InvalidKey("JWK x does not match d")
        _check_kid(_require_dict(jwk), signer.kid)
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
            kid = _thumbprint({"crv": "X25519", "kty": "OKP", "x": b64u_encode(x_raw)})
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
        kid = _thumbprint(
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
    _check_common(d, allowed, ALG_HYBRID, "enc")
    return _bytes_member(d, "x25519", 32), _bytes_member(d, "mlkem768", MLKEM768_PUBLIC_SIZE)


def parse_encryption_jwk(jwk: object) -> EncryptionPublicKey:
    """A public encryption JWK (X25519 OKP or AVSEC-HYB) from an untrusted source."""
    d = _require_dict(jwk)
    if d.get("kty") == "OKP":
        key = EncryptionPublicKey._build(
            _parse_okp(d, "X25519", ALG_X25519, "enc", _OKP_PUBLIC), None
        )
    elif d.get("kty") == KTY_HYBRID:
        key = EncryptionPublicKey._build(*_hybrid_members(d, _HYB_PUBLIC))
    else:
        raise InvalidKey("unsupported encryption key type")
    _check_kid(d, key.kid)
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
        d = _require_dict(jwk)
        if d.get("kty") == "OKP":
            x_pub = _parse_okp(d, "X25519", ALG_X25519, "enc", _OKP_PUBLIC | {"d"})
            key = cls(x25519.X25519PrivateKey.from_private_bytes(_bytes_member(d, "d", 32)), None)
            m_pub = None
        elif d.get("kty") == KTY_HYBRID:
            x_pub, m_pub = _hybrid_members(d, _HYB_PUBLIC | {"x25519_d", "mlkem768_d"})
            x_priv = x25519.X25519PrivateKey.from_private_bytes(_bytes_member(d, "x25519_d", 32))
            seed = _bytes_member(d, "mlkem768_d", MLKEM768_SEED_SIZE)
            key = cls(x_priv, mlkem.MLKEM768PrivateKey.from_seed_bytes(seed))
        else:
            raise InvalidKey("unsupported encryption key type")
        if key.public.x25519_raw != x_pub or key.public.mlkem768_raw != m_pub:
            raise InvalidKey("JWK public members do not match the private key")
        _check_kid(d, key.kid)
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
