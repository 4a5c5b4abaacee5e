"""Signing keys held in a PKCS#11 token (HSM, smart card, SoftHSM2), issue 20.

The token holds the Ed25519 key: it is generated on the token as sensitive and not
extractable, and every signature is a ``C_Sign`` with ``CKM_EDDSA``.  Tokens that do not
offer ML-DSA (SoftHSM 2.6 among them, PKCS#11 before 3.2) cannot hold the post-quantum
half, so a hybrid token key keeps its ML-DSA-65 seed in the profile (mode 0600) next to
the token reference: the classical half never leaves the token, the post-quantum half is
software (ADR 0013).  Keys are named by RFC 7512 URIs.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_from_bytes, unquote, unquote_to_bytes

from cryptography.hazmat.primitives.asymmetric import mldsa

from exchange.crypto import b64u_decode
from exchange.crypto.composite import MLDSA65_SEED_SIZE
from exchange.crypto.signing import (
    ALG_EDDSA,
    HybridSigner,
    SigningKey,
    SigningPublicKey,
    parse_signing_jwk,
)
from exchange.errors import InputError, InvalidKey

__all__ = [
    "MODULE_ENV",
    "PIN_ENV",
    "Pkcs11Ed25519Signer",
    "Pkcs11Uri",
    "create_token_key",
    "library",
    "open_token_signer",
]

#: Where the PIN comes from when the URI has no ``pin-source`` (it is never written down).
PIN_ENV = "EXCHANGE_PKCS11_PIN"
#: The PKCS#11 module when the URI has no ``module-path``.
MODULE_ENV = "EXCHANGE_PKCS11_MODULE"
_ED25519_OID = "1.3.101.112"
_PATH_ATTRS = ("token", "manufacturer", "serial", "model", "object", "type", "id")
_QUERY_ATTRS = ("module-path", "module-name", "pin-source", "pin-value")


@dataclass(frozen=True)
class Pkcs11Uri:
    """The parts of an RFC 7512 URI this exchange uses (others are kept for round trip)."""

    path: dict[str, str]
    query: dict[str, str]

    @classmethod
    def parse(cls, uri: str) -> Pkcs11Uri:
        if not uri.startswith("pkcs11:"):
            raise InputError("a PKCS#11 URI starts with 'pkcs11:' (RFC 7512)")
        body, _, q = uri[len("pkcs11:") :].partition("?")
        path = cls._attrs(body, ";", _PATH_ATTRS)
        query = cls._attrs(q, "&", _QUERY_ATTRS)
        if "object" not in path:
            raise InputError("the PKCS#11 URI must name the key: object=LABEL")
        if "token" not in path and "serial" not in path:
            raise InputError("the PKCS#11 URI must name the token: token=LABEL or serial=…")
        return cls(path=path, query=query)

    @staticmethod
    def _attrs(text: str, sep: str, known: tuple[str, ...]) -> dict[str, str]:
        out: dict[str, str] = {}
        for part in filter(None, text.split(sep)):
            name, eq, value = part.partition("=")
            if not eq or name not in known:
                raise InputError(f"unsupported PKCS#11 URI attribute {name!r}")
            if name in out:
                raise InputError(f"PKCS#11 URI attribute {name!r} given twice")
            # ``id`` is raw bytes (kept as latin-1 text); every other value is UTF-8 text
            raw = unquote_to_bytes(value).decode("latin-1")
            out[name] = raw if name == "id" else unquote(value)
        return out

    @property
    def key_id(self) -> bytes | None:
        return self.path["id"].encode("latin-1") if "id" in self.path else None

    def reference(self) -> str:
        """The URI as stored in a profile: never with ``pin-value``."""
        path = ";".join(f"{k}={_quote(k, v)}" for k, v in self.path.items())
        query = "&".join(
            f"{k}={quote(v, safe='/:')}" for k, v in self.query.items() if k != "pin-value"
        )
        return f"pkcs11:{path}" + (f"?{query}" if query else "")

    def module(self) -> str:
        module = self.query.get("module-path") or os.environ.get(MODULE_ENV)
        if not module:
            raise InputError(f"no PKCS#11 module: add ?module-path=… or set {MODULE_ENV}")
        return module

    def pin(self) -> str | None:
        if "pin-value" in self.query:
            return self.query["pin-value"]
        source = self.query.get("pin-source")
        if source:
            path = Path(source.removeprefix("file:"))
            try:
                return path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise InputError(f"cannot read the PIN from {path}: {exc.strerror}") from None
        return os.environ.get(PIN_ENV)


def _quote(name: str, value: str) -> str:
    if name == "id":
        return quote_from_bytes(value.encode("latin-1"), safe="")
    return quote(value, safe="")


_LIBS: dict[str, Any] = {}
_LOCK = threading.Lock()


def library(module: str) -> Any:
    """The loaded PKCS#11 module: a process initialises each module once."""
    import pkcs11

    with _LOCK:
        if module not in _LIBS:
            _LIBS[module] = pkcs11.lib(module)
        return _LIBS[module]


def _open_session(uri: Pkcs11Uri, *, rw: bool) -> Any:
    from pkcs11 import exceptions as p11e

    module = uri.module()
    try:
        token = library(module).get_token(
            token_label=uri.path.get("token"), token_serial=_serial(uri.path.get("serial"))
        )
        try:
            return token.open(user_pin=uri.pin(), rw=rw)
        except p11e.UserAlreadyLoggedIn:
            # a login is per application, not per session: this process is logged in
            return token.open(rw=rw)
    except p11e.NoSuchToken:
        raise InputError("no PKCS#11 token matches the URI") from None
    except p11e.MultipleTokensReturned:
        raise InputError("more than one PKCS#11 token matches the URI") from None
    except (p11e.PinIncorrect, p11e.PinLenRange, p11e.ArgumentsBad, p11e.UserNotLoggedIn):
        raise InputError("the PKCS#11 PIN is wrong or missing") from None
    except p11e.PKCS11Error as exc:
        raise InputError(f"PKCS#11 error: {type(exc).__name__}") from None
    except (RuntimeError, OSError) as exc:
        raise InputError(f"cannot load the PKCS#11 module {module}: {exc}") from None


def _serial(serial: str | None) -> bytes | None:
    return None if serial is None else serial.encode("ascii")


def _find(session: Any, uri: Pkcs11Uri, object_class: Any) -> Any:
    from pkcs11 import Attribute, KeyType
    from pkcs11 import exceptions as p11e

    attrs: dict[Any, Any] = {
        Attribute.CLASS: object_class,
        Attribute.KEY_TYPE: KeyType.EC_EDWARDS,
        Attribute.LABEL: uri.path["object"],
    }
    if uri.key_id is not None:
        attrs[Attribute.ID] = uri.key_id
    try:
        return session.get_key(**_kw(attrs))
    except p11e.NoSuchKey:
        return None
    except p11e.MultipleObjectsReturned:
        raise InputError("more than one key on the token matches the URI") from None


def _kw(attrs: dict[Any, Any]) -> dict[str, Any]:
    from pkcs11 import Attribute

    names = {
        Attribute.CLASS: "object_class",
        Attribute.KEY_TYPE: "key_type",
        Attribute.LABEL: "label",
        Attribute.ID: "id",
    }
    return {names[k]: v for k, v in attrs.items()}


def _ed25519_public(pub: Any) -> bytes:
    from pkcs11 import Attribute

    point = bytes(pub[Attribute.EC_POINT])
    # CKA_EC_POINT is a DER OCTET STRING holding the 32-byte key (some tokens omit the DER)
    if len(point) == 34 and point[:2] == b"\x04\x20":
        return point[2:]
    if len(point) == 32:
        return point
    raise InvalidKey("the token's Ed25519 public key has an unexpected encoding")


class Pkcs11Ed25519Signer:
    """An Ed25519 ``Signer`` whose private key stays on the token (``CKM_EDDSA``)."""

    __slots__ = ("_key", "_lock", "_session", "public", "uri")

    alg = ALG_EDDSA

    def __init__(self, session: Any, key: Any, public: bytes, uri: Pkcs11Uri) -> None:
        self._session = session
        self._key = key
        self._lock = threading.Lock()
        self.public = SigningPublicKey.from_raw(public)
        self.uri = uri

    def __repr__(self) -> str:
        return f"Pkcs11Ed25519Signer(kid={self.kid!r})"

    @property
    def kid(self) -> str:
        return self.public.kid

    def sign(self, data: bytes) -> bytes:
        from pkcs11 import Mechanism

        with self._lock:
            return bytes(self._key.sign(data, mechanism=Mechanism.EDDSA))

    def close(self) -> None:
        self._session.close()


def create_token_key(uri_text: str, kind: str = "hybrid") -> tuple[SigningKey, dict[str, str]]:
    """Generate the Ed25519 key on the token; return the signer and the profile reference.

    The reference is the public JWK plus ``pkcs11`` (the URI without any PIN) and, for a
    hybrid key, the ML-DSA-65 seed ``mldsa65_d``.
    """
    from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
    from pkcs11 import exceptions as p11e
    from pkcs11.util.ec import encode_named_curve_parameters

    if kind not in ("hybrid", "ed25519"):
        raise InputError("the key kind is hybrid or ed25519")
    uri = Pkcs11Uri.parse(uri_text)
    session = _open_session(uri, rw=True)
    if _find(session, uri, ObjectClass.PRIVATE_KEY) is not None:
        session.close()
        raise InputError(f"the token already holds a key {uri.path['object']!r}; not replaced")
    key_id = uri.key_id or os.urandom(8)
    common = {Attribute.LABEL: uri.path["object"], Attribute.ID: key_id, Attribute.TOKEN: True}
    try:
        pub, priv = session.generate_keypair(
            KeyType.EC_EDWARDS,
            mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
            public_template={
                **common,
                Attribute.EC_PARAMS: encode_named_curve_parameters(_ED25519_OID),
                Attribute.VERIFY: True,
            },
            private_template={
                **common,
                Attribute.SIGN: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.PRIVATE: True,
            },
        )
    except p11e.PKCS11Error as exc:
        session.close()
        what = type(exc).__name__
        raise InputError(f"the token could not create an Ed25519 key: {what}") from None
    path = dict(uri.path)
    path["id"] = key_id.decode("latin-1")
    ref_uri = Pkcs11Uri(path=path, query=uri.query)
    ed = Pkcs11Ed25519Signer(session, priv, _ed25519_public(pub), ref_uri)
    return _wrap(ed, kind, None)


def _wrap(
    ed: Pkcs11Ed25519Signer, kind: str, seed: bytes | None
) -> tuple[SigningKey, dict[str, str]]:
    if kind == "ed25519":
        ref = ed.public.to_jwk()
        ref["pkcs11"] = ed.uri.reference()
        return ed, ref
    m = (
        mldsa.MLDSA65PrivateKey.generate()
        if seed is None
        else (mldsa.MLDSA65PrivateKey.from_seed_bytes(seed))
    )
    hybrid = HybridSigner(m, ed.public.raw, ed.sign)
    ref = hybrid.mldsa_seed_jwk()
    ref["pkcs11"] = ed.uri.reference()
    return hybrid, ref


def open_token_signer(ref: dict[str, Any]) -> SigningKey:
    """The signer a profile's reference names; the token's key must match its public key."""
    from pkcs11 import ObjectClass

    uri_text = ref.get("pkcs11")
    if not isinstance(uri_text, str):
        raise InvalidKey("a PKCS#11 key reference needs a 'pkcs11' URI")
    public = {k: v for k, v in ref.items() if k not in ("pkcs11", "mldsa65_d")}
    expected = parse_signing_jwk(public)
    uri = Pkcs11Uri.parse(uri_text)
    session = _open_session(uri, rw=False)
    priv = _find(session, uri, ObjectClass.PRIVATE_KEY)
    pub = _find(session, uri, ObjectClass.PUBLIC_KEY)
    if priv is None or pub is None:
        session.close()
        raise InputError(f"the token holds no key {uri.path['object']!r}")
    ed = Pkcs11Ed25519Signer(session, priv, _ed25519_public(pub), uri)
    if not expected.is_hybrid:
        signer, _ = _wrap(ed, "ed25519", None)
    else:
        seed_text = ref.get("mldsa65_d")
        if not isinstance(seed_text, str):
            raise InvalidKey("a hybrid PKCS#11 reference needs its ML-DSA-65 seed")
        seed = b64u_decode(seed_text)
        if len(seed) != MLDSA65_SEED_SIZE:
            raise InvalidKey("the ML-DSA-65 seed has the wrong size")
        signer, _ = _wrap(ed, "hybrid", seed)
    if signer.public != expected:
        ed.close()
        raise InvalidKey("the token's key does not match the profile's public key")
    return signer
