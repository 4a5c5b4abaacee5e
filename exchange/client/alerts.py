"""Alerts in the SDK: manage a party's webhooks and e-mail addresses, and verify a push
on the receiving side (docs/alerts.md, ADR 0012).

A receiver verifies each push with :class:`PushVerifier`: the RFC 9421 signature by
the server's Ed25519 key (pinned from the profile or ``GET /v1/server-key``) over the
method, the target URI, the content type and the RFC 9530 Content-Digest of the body;
the signature's age; and the delivery id (``nonce``), which it remembers for the
window so that a redelivery (at least once) is recognised as a repeat."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from http_message_signatures import (
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)

from exchange.client.api import ExchangeClient
from exchange.crypto.keys import SigningPublicKey
from exchange.errors import BadSignature, InputError

__all__ = [
    "COVERED",
    "PushVerifier",
    "VerifiedPush",
    "add_mail",
    "add_webhook",
    "deliveries",
    "list_endpoints",
    "redeliver",
    "remove_endpoint",
]

#: what every push's signature covers (the signing side is exchange/service/alerts)
COVERED = ("@method", "@target-uri", "content-type", "content-digest")
TAG = "avsec-alert"


async def add_webhook(
    client: ExchangeClient,
    party: str,
    url: str,
    *,
    mode: str = "notification",
    events: list[str] | None = None,
    types: list[str] | None = None,
    min_priority: str | None = None,
) -> dict[str, Any]:
    body = {"party": party, "kind": "webhook", "url": url, "mode": mode}
    return await _add(client, body, events, types, min_priority)


async def add_mail(
    client: ExchangeClient,
    party: str,
    address: str,
    *,
    events: list[str] | None = None,
    types: list[str] | None = None,
    min_priority: str | None = None,
) -> dict[str, Any]:
    body = {"party": party, "kind": "mail", "address": address}
    return await _add(client, body, events, types, min_priority)


async def _add(
    client: ExchangeClient,
    body: dict[str, Any],
    events: list[str] | None,
    types: list[str] | None,
    min_priority: str | None,
) -> dict[str, Any]:
    body.update(events=events, types=types, min_priority=min_priority)
    out: dict[str, Any] = await client.admin("POST", "/v1/alerts/endpoints", body)
    return out


async def list_endpoints(client: ExchangeClient, party: str | None = None) -> list[Any]:
    path = "/v1/alerts/endpoints" + (f"?party={party}" if party else "")
    out: list[Any] = (await client.admin("GET", path))["endpoints"]
    return out


async def remove_endpoint(client: ExchangeClient, endpoint_id: str) -> int:
    return int((await client.admin("DELETE", f"/v1/alerts/endpoints/{endpoint_id}"))["cancelled"])


async def deliveries(
    client: ExchangeClient, endpoint_id: str, state: str | None = None
) -> list[Any]:
    path = f"/v1/alerts/endpoints/{endpoint_id}/deliveries" + (f"?state={state}" if state else "")
    out: list[Any] = (await client.admin("GET", path))["deliveries"]
    return out


async def redeliver(client: ExchangeClient, endpoint_id: str, ids: list[int] | None = None) -> int:
    body = {"ids": ids} if ids else None
    out = await client.admin("POST", f"/v1/alerts/endpoints/{endpoint_id}/redeliver", body)
    return int(out["requeued"])


# --- the receiving side -----------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedPush:
    """A push whose signature verified. ``duplicate``: this delivery id was seen within
    the window (a redelivery: answer 2xx and do not act on it twice)."""

    payload: dict[str, Any]
    nonce: str
    created: int
    duplicate: bool


class _Request:
    def __init__(self, method: str, url: str, headers: Mapping[str, str]) -> None:
        self.method = method.upper()
        self.url = url
        self.headers = dict(headers)


class _OneKey(HTTPSignatureKeyResolver):
    def __init__(self, key: SigningPublicKey) -> None:
        self.key = key

    def resolve_public_key(self, key_id: str) -> ed25519.Ed25519PublicKey | None:
        return self.key.key if key_id == self.key.kid else None

    def resolve_private_key(self, key_id: str) -> Any:  # pragma: no cover - verify only
        raise InvalidSignature("no private keys here")


class PushVerifier:
    """Verifies pushes for one receiver; keeps the delivery ids of ``window`` seconds."""

    def __init__(self, server_key: SigningPublicKey, *, window: int = 300) -> None:
        self.server_key = server_key
        self.window = window
        self._seen: dict[str, int] = {}
        self._verifier = HTTPMessageVerifier(
            signature_algorithm=algorithms.ED25519, key_resolver=_OneKey(server_key)
        )

    def verify(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes, *, now: int
    ) -> VerifiedPush:
        """``url``: the full URL as the server addressed it (the registered URL).
        Raises BadSignature for a push that is not the server's or is too old."""
        req = _Request(method, url, headers)
        try:
            results = self._verifier.verify(
                req, max_age=None, expect_tag=TAG, require_components=COVERED, body=body
            )
        except InvalidSignature as exc:
            raise BadSignature("the push's signature does not verify") from exc
        if len(results) != 1 or results[0].body is None:
            raise BadSignature("the push's signature does not cover its body")
        params = results[0].parameters
        created, nonce = params.get("created"), results[0].nonce
        if not isinstance(created, int) or not nonce:
            raise BadSignature("the push's signature has no created time or nonce")
        if created < now - self.window or created > now + 60:
            raise BadSignature("the push's signature is too old or in the future")
        if results[0].covered_components.get('"content-type"') != "application/json":
            raise BadSignature("the push is not signed as application/json")
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise InputError("the push's body is not JSON") from exc
        if not isinstance(payload, dict) or payload.get("id") != nonce:
            raise BadSignature("the push's body does not name its signed delivery id")
        self._seen = {n: t for n, t in self._seen.items() if t >= now - self.window}
        duplicate = nonce in self._seen
        self._seen[nonce] = created
        return VerifiedPush(payload, nonce, created, duplicate)
