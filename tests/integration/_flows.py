"""Helpers the integration tests share: bulletins, hand-sealed envelopes, raw posts and
acks, and a background stream collector."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from support import Harness

from exchange.bulletin.validate import new_bulletin
from exchange.client import ExchangeClient
from exchange.crypto import b64u_decode, b64u_encode, jws
from exchange.crypto.envelope import seal
from exchange.crypto.keys import Ed25519Signer, Signer

#: ``await make_harness(**ServerConfig overrides)`` (the fixture in conftest.py)
MakeHarness = Callable[..., Awaitable[Harness]]

__all__ = [
    "Collector",
    "MakeHarness",
    "ack_token",
    "advisory",
    "eventually",
    "post_ack",
    "post_raw",
    "seal_to",
    "tamper",
    "threat",
    "tree_size",
]


def threat(iss: str, *, now: int | None = None, **kw: Any) -> dict[str, Any]:
    now = int(time.time()) if now is None else now
    body = {
        "summary": "Credible reporting of MANPADS near Almaty approach",
        "threat_level": "substantial",
        "categories": ["manpads"],
        "locations": ["UAAA"],
        "valid_from": now,
        "valid_until": now + 7 * 86400,
    }
    args: dict[str, Any] = {
        "iss": iss,
        "type": "threat-assessment",
        "title": "MANPADS threat UAAA",
        "body": body,
        "now": now,
        "groups": ["cac-avsec"],
        "priority": "immediate",
        "tlp": "amber",
    }
    args.update(kw)
    return new_bulletin(**args)


def advisory(iss: str, *, now: int | None = None, **kw: Any) -> dict[str, Any]:
    now = int(time.time()) if now is None else now
    args: dict[str, Any] = {
        "iss": iss,
        "type": "advisory",
        "title": "Laser illumination reports",
        "body": {"summary": "Several crews reported green lasers on final at UTTT"},
        "now": now,
        "groups": ["cac-avsec"],
        "priority": "routine",
        "tlp": "green",
    }
    args.update(kw)
    return new_bulletin(**args)


async def seal_to(
    client: ExchangeClient,
    bulletin: Mapping[str, Any],
    parties: Iterable[str],
    *,
    signer: Signer | None = None,
    refresh: bool = True,
) -> str:
    """Seal to exactly ``parties``' active keys, bypassing the SDK's own routing (so the
    server's checks are what is tested)."""
    d = await client.directory(refresh=refresh)
    return seal(bulletin, signer or client.signer, d.keys_for(sorted(set(parties))))


async def post_raw(h: Harness, client: ExchangeClient, envelope: str | bytes) -> tuple[int, Any]:
    """POST /v1/bulletins without the SDK (no receipt check, no re-seal)."""
    body = envelope.encode() if isinstance(envelope, str) else envelope
    assert isinstance(client.signer, Ed25519Signer)
    return await h.raw(
        "POST",
        "/v1/bulletins",
        client_id=client.client_id,
        signer=client.signer,
        body=body,
        content_type="application/jose",
    )


def ack_token(signer: Signer, payload: Mapping[str, Any], typ: str = jws.TYP_ACK) -> str:
    return jws.sign_compact(json.dumps(dict(payload), separators=(",", ":")).encode(), signer, typ)


async def post_ack(h: Harness, client: ExchangeClient, bid: str, token: str) -> tuple[int, Any]:
    assert isinstance(client.signer, Ed25519Signer)
    return await h.raw(
        "POST",
        f"/v1/bulletins/{bid}/acks",
        client_id=client.client_id,
        signer=client.signer,
        body=token.encode(),
        content_type="application/jose",
    )


def tamper(envelope: str, part: int) -> str:
    """Flip one bit in part ``part`` (1 payload, 2 signature) of a compact JWS."""
    parts = envelope.split(".")
    raw = bytearray(b64u_decode(parts[part]))
    raw[len(raw) // 2] ^= 0x01
    parts[part] = b64u_encode(bytes(raw))
    return ".".join(parts)


async def eventually(check: Callable[[], Any], timeout: float = 5.0, step: float = 0.05) -> Any:
    """Poll ``check`` (sync or async) until it returns a truthy value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(step)


class Collector:
    """Runs ``client.stream(after, **filters)`` in the background and keeps every message."""

    def __init__(self, client: ExchangeClient, after: int = 0, **filters: Any) -> None:
        self.client = client
        self.messages: list[dict[str, Any]] = []
        self.arrival: list[float] = []
        self._task = asyncio.create_task(self._run(after, filters))

    async def _run(self, after: int, filters: dict[str, Any]) -> None:
        async for msg in self.client.stream(after, **filters):
            self.messages.append(msg)
            self.arrival.append(time.monotonic())

    @property
    def bulletins(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["kind"] == "bulletin"]

    @property
    def bids(self) -> list[str]:
        return [m["bid"] for m in self.bulletins]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["kind"] == kind]

    async def until_bid(self, bid: str, timeout: float = 10.0) -> None:
        await self.until(lambda: bid in self.bids, timeout)

    async def until(self, cond: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            if self._task.done():
                self._task.result()  # raise what ended the stream
                raise AssertionError("the stream ended")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"stream of {self.client.client_id}: condition not met in {timeout} s; "
                    f"got {[(m['kind'], m.get('seq')) for m in self.messages][-10:]}"
                )
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def tree_size(h: Harness) -> int:
    """The audit log's size, from a tree head the server signed (PROTOCOL §8)."""
    _, data = await h.admin.request("GET", "/v1/audit/sth")
    key = await h.admin.server_key()
    v = jws.verify_compact(data["sth"], lambda k: key if k == key.kid else None, jws.TYP_STH)
    return int(json.loads(v.payload)["tree_size"])
