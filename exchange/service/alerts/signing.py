"""Signing a push: RFC 9421 HTTP Message Signatures with the server's Ed25519 key
(ADR 0012). Covered: ``@method``, ``@target-uri``, ``content-type`` and
``content-digest`` (RFC 9530, SHA-256 of the body), with ``created``, ``keyid``,
``alg="ed25519"``, ``nonce`` (the delivery's id, the same on every retry) and
``tag="avsec-alert"``. The signature base is built by ``http-message-signatures`` and
signed through the exchange's ``Signer`` (a key file today, an HSM tomorrow)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from http_message_signatures import HTTPMessageSigner, algorithms

from exchange.crypto.keys import HybridSigner, SigningKey

__all__ = ["COVERED", "LABEL", "TAG", "sign_push"]

LABEL = "avsec"
TAG = "avsec-alert"
COVERED = ("@method", "@target-uri", "content-type", "content-digest")
CONTENT_TYPE = "application/json"


@dataclass
class _Message:
    """The request as the library reads it: method, URL and headers."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


def sign_push(
    signer: SigningKey, url: str, body: bytes, *, nonce: str, created: int
) -> dict[str, str]:
    """The headers of one signed POST of ``body`` to ``url``: Content-Type,
    Content-Digest, Signature-Input and Signature. RFC 9421 has no composite algorithm,
    so a hybrid server key signs pushes with its Ed25519 half (ADR 0012): a push is a
    short-lived notice, not evidence kept for years."""
    msg = _Message("POST", url, {"Content-Type": CONTENT_TYPE})
    hms = HTTPMessageSigner(signature_algorithm=algorithms.ED25519)
    prepared = hms.prepare(
        msg,
        key_id=signer.kid,
        created=datetime.datetime.fromtimestamp(created, tz=datetime.UTC),
        nonce=nonce,
        label=LABEL,
        tag=TAG,
        covered_component_ids=COVERED,
        body=body,
    )
    sign = signer.sign_classical if isinstance(signer, HybridSigner) else signer.sign
    hms.apply(msg, prepared, sign(prepared.signature_base))
    return dict(msg.headers)
