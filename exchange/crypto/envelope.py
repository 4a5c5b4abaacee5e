"""The sealed bulletin (PROTOCOL §3): inner JWS, multi-recipient JWE, outer JWS.

``seal`` is the sender's side, ``verify_envelope`` the server's (public keys only) and
``open_envelope`` a recipient's.  A recipient gets the whole bulletin or a specific error,
never partial plaintext.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from exchange.crypto import _json
from exchange.crypto._b64 import b64u_encode
from exchange.crypto._parse import (
    ENC,
    IV_SIZE,
    ROUTING_FIELDS,
    TYP_JWE,
    ParsedEnvelope,
    check_metadata,
    parse_envelope,
)
from exchange.crypto._recipients import CEK_SIZE, unwrap_cek, wrap_cek
from exchange.crypto.jws import TYP_BULLETIN, TYP_ENVELOPE, sign_compact, verify_compact
from exchange.crypto.keys import EncryptionPrivateKey, EncryptionPublicKey, Signer, SigningPublicKey
from exchange.errors import (
    BadInnerSignature,
    CommitmentMismatch,
    CryptoError,
    DecryptFailed,
    DuplicateRecipient,
    InvalidBulletin,
    MalformedEnvelope,
    MetadataMismatch,
    NotARecipient,
)
from exchange.vocab import MAX_BODY, MAX_RECIPIENTS

__all__ = [
    "MAX_ENVELOPE",
    "MAX_RECIPIENTS",
    "ROUTING_FIELDS",
    "EnvelopeInfo",
    "OpenedBulletin",
    "cek_commitment",
    "open_envelope",
    "seal",
    "verify_envelope",
]

MAX_ENVELOPE = MAX_BODY
_CC_LABEL = b"avsec-cek-commit-v1"

Resolver = Callable[[str], SigningPublicKey | None]


@dataclass(frozen=True)
class EnvelopeInfo:
    """What the server learns from an envelope: sender, routing metadata, recipients."""

    kid: str
    metadata: dict[str, Any]
    recipient_kids: tuple[str, ...]
    sha256: bytes
    size: int


@dataclass(frozen=True)
class OpenedBulletin:
    """A bulletin that passed every check of PROTOCOL §3."""

    bulletin: dict[str, Any]
    metadata: dict[str, Any]
    sender_kid: str
    inner_jws: str
    envelope_sha256: bytes


def cek_commitment(cek: bytes) -> bytes:
    """``cc``: binds every recipient to one CEK, since AES-GCM does not commit to its key."""
    return hashlib.sha256(_CC_LABEL + cek).digest()


def _assemble(
    metadata: Mapping[str, Any],
    inner_jws: bytes,
    signer: Signer,
    wraps: Sequence[tuple[EncryptionPublicKey, bytes]],
    cek: bytes,
    rand: Callable[[int], bytes],
) -> str:
    """Encrypt ``inner_jws`` under ``cek`` and sign the JWE.

    ``wraps`` pairs each recipient with the key wrapped for it (normally ``cek``); tests
    use this seam to build envelopes an honest sender never would.
    """
    iv = rand(IV_SIZE)
    if len(iv) != IV_SIZE:
        raise InvalidBulletin("rand returned an IV of the wrong size")
    avsec = {name: metadata[name] for name in ROUTING_FIELDS}
    avsec["cc"] = b64u_encode(cek_commitment(cek))
    protected = b64u_encode(_json.dumps({"enc": ENC, "typ": TYP_JWE, "avsec": avsec}))
    sealed = AESGCM(cek).encrypt(iv, inner_jws, protected.encode("ascii"))
    bid = str(metadata["bid"])
    jwe = {
        "protected": protected,
        "recipients": [wrap_cek(key, recipient, bid, rand) for recipient, key in wraps],
        "iv": b64u_encode(iv),
        "ciphertext": b64u_encode(sealed[:-16]),
        "tag": b64u_encode(sealed[-16:]),
    }
    return sign_compact(_json.dumps(jwe), signer, TYP_ENVELOPE)


def seal(
    bulletin: Mapping[str, Any],
    signer: Signer,
    recipients: Sequence[EncryptionPublicKey],
    *,
    rand: Callable[[int], bytes] = os.urandom,
) -> str:
    """Sign, encrypt to each recipient, and sign again; returns the envelope.

    ``rand`` is called for the CEK (32), the IV (12), then one ephemeral X25519 key (32)
    per classical recipient in order, so a fixed source gives reproducible envelopes.
    """
    if not isinstance(bulletin, Mapping):
        raise InvalidBulletin("a bulletin is a JSON object")
    metadata = check_metadata(dict(bulletin), InvalidBulletin)
    if not recipients:
        raise InvalidBulletin("a bulletin needs at least one recipient")
    if len({r.kid for r in recipients}) != len(recipients):
        raise DuplicateRecipient("a recipient is listed twice")
    try:
        payload = _json.dumps(dict(bulletin))
    except (TypeError, ValueError):
        raise InvalidBulletin("the bulletin is not serialisable as JSON") from None
    # what we sign must be what recipients' strict parser reads back (no key collisions
    # such as 1 and "1", which json.dumps would emit as a duplicate member)
    _json.loads_object(payload, InvalidBulletin, "bulletin")
    inner = sign_compact(payload, signer, TYP_BULLETIN).encode("ascii")
    cek = rand(CEK_SIZE)
    if len(cek) != CEK_SIZE:
        raise InvalidBulletin("rand returned a key of the wrong size")
    return _assemble(metadata, inner, signer, [(r, cek) for r in recipients], cek, rand)


def verify_envelope(
    envelope: str | bytes,
    resolve: Resolver,
    *,
    max_size: int = MAX_ENVELOPE,
    max_recipients: int = MAX_RECIPIENTS,
) -> EnvelopeInfo:
    """The server's check: outer signature and strict structure, without any private key."""
    parsed = parse_envelope(envelope, resolve, max_size=max_size, max_recipients=max_recipients)
    return EnvelopeInfo(
        kid=parsed.kid,
        metadata=dict(parsed.metadata),
        recipient_kids=tuple(r.kid for r in parsed.recipients),
        sha256=parsed.sha256,
        size=parsed.size,
    )


def _decrypt(parsed: ParsedEnvelope, key: EncryptionPrivateKey) -> bytes:
    entry = next((r for r in parsed.recipients if r.kid == key.kid), None)
    if entry is None:
        raise NotARecipient("no entry for this key")
    cek = unwrap_cek(entry.header, entry.encrypted_key, parsed.metadata["bid"], key)
    if not hmac.compare_digest(cek_commitment(cek), parsed.cc):
        raise CommitmentMismatch("content key does not match cc")
    try:
        return AESGCM(cek).decrypt(parsed.iv, parsed.ciphertext + parsed.tag, parsed.protected)
    except InvalidTag:
        raise DecryptFailed("decryption failed") from None


def _same_json(a: Any, b: Any) -> bool:
    # type-exact equality: 1, 1.0 and true are different JSON values
    return _json.dumps(a) == _json.dumps(b)


def open_envelope(
    envelope: str | bytes,
    resolve: Resolver,
    *,
    party: str,
    key: EncryptionPrivateKey,
    audience: Callable[[Mapping[str, Any]], Collection[str]],
    max_size: int = MAX_ENVELOPE,
    max_recipients: int = MAX_RECIPIENTS,
) -> OpenedBulletin:
    """Every recipient check of PROTOCOL §3, in order; see the module docstring."""
    parsed = parse_envelope(envelope, resolve, max_size=max_size, max_recipients=max_recipients)
    plaintext = _decrypt(parsed, key)
    outer_key = resolve(parsed.kid)
    try:
        inner = verify_compact(
            plaintext, lambda kid: outer_key if kid == parsed.kid else None, TYP_BULLETIN
        )
    except CryptoError:
        raise BadInnerSignature("inner signature verification failed") from None
    bulletin = _json.loads_object(inner.payload, MalformedEnvelope, "bulletin")
    for name in ROUTING_FIELDS:
        if name not in bulletin or not _same_json(bulletin[name], parsed.metadata[name]):
            raise MetadataMismatch(f"routing field {name} differs from the signed bulletin")
    metadata = dict(parsed.metadata)
    if party not in audience(dict(metadata)):
        raise NotARecipient("this party is not in the bulletin's audience")
    return OpenedBulletin(
        bulletin=bulletin,
        metadata=metadata,
        sender_kid=parsed.kid,
        inner_jws=plaintext.decode("ascii"),
        envelope_sha256=parsed.sha256,
    )
