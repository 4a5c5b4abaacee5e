"""The key lifecycle in the SDK (issue 18): rotate this client's signing key, proving
possession of both keys (the request is signed by the current key, the proof by the new
one); the operator's side is in :class:`exchange.client.admin.Admin`."""

from __future__ import annotations

import json
import time
from typing import Any

from exchange.client.api import ExchangeClient
from exchange.crypto import jws
from exchange.crypto.signing import Signer

__all__ = ["key_proof", "rotate_signing_key"]


def key_proof(client_id: str, old_kid: str, new: Signer, *, now: int | None = None) -> str:
    """The new key's signature over {client, old_kid, new_kid, iat}."""
    claims = {
        "client": client_id,
        "old_kid": old_kid,
        "new_kid": new.kid,
        "iat": int(time.time()) if now is None else now,
    }
    return jws.sign_compact(
        json.dumps(claims, separators=(",", ":")).encode(), new, jws.TYP_KEY_PROOF
    )


async def rotate_signing_key(
    client: ExchangeClient,
    new: Signer,
    public_jwk: dict[str, Any],
    *,
    grace: int | None = None,
    expires_at: int | None = None,
) -> dict[str, Any]:
    """Register ``new`` as this client's signing key; from then on ``client`` signs with
    it. The old key verifies until the answer's ``retire_at`` (ms)."""
    body: dict[str, Any] = {
        "jwk": public_jwk,
        "proof": key_proof(client.client_id, client.signer.kid, new),
    }
    if grace is not None:
        body["grace"] = grace
    if expires_at is not None:
        body["expires_at"] = expires_at
    out: dict[str, Any] = await client.admin("POST", "/v1/keys/signing", body)
    client.signer = new
    return out
