"""Following the live stream (PROTOCOL §7): reconnect on a drop and resume after the
last seq seen, so a reader never misses a bulletin and never needs a second cursor."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from exchange.client.transport import Transport
from exchange.errors import AuthError, ExchangeError, Forbidden, InputError, NotFound

__all__ = ["stream_messages"]

#: a refused stream handshake that retrying cannot fix (429 and 5xx are retried)
_HANDSHAKE_REFUSALS: dict[int, type[ExchangeError]] = {
    400: InputError,
    401: AuthError,
    403: Forbidden,
    404: NotFound,
}


async def stream_messages(
    client: Transport,
    after: int = 0,
    *,
    min_priority: str | None = None,
    types: list[str] | None = None,
    reconnect: bool = True,
    heartbeats: bool = False,
    link_events: bool = False,
) -> AsyncIterator[dict[str, Any]]:
    """Stream messages; on a drop, reconnect and resume after the last seq seen.
    ``link_events``: also yield ``{"kind": "disconnected", "last_contact", "error"}``
    at each failed attempt and ``{"kind": "reconnected", "outage", "cursor"}``, so a
    user can be told the stream is not live (times: epoch seconds)."""
    cursor = after
    delay = 0.2
    last_contact: float | None = None
    down_since: float | None = None
    while True:
        params: dict[str, str] = {"after": str(cursor)}
        if min_priority:
            params["min_priority"] = min_priority
        if types:
            params["types"] = ",".join(types)
        params["access_token"] = client.token("GET", "/v1/stream")
        try:
            async with client.session.ws_connect(
                client.server_url + "/v1/stream", params=params, heartbeat=30.0
            ) as ws:
                delay = 0.2
                last_contact = time.time()
                if link_events and down_since is not None:
                    outage = last_contact - down_since
                    yield {"kind": "reconnected", "outage": outage, "cursor": cursor}
                down_since = None
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    last_contact = time.time()
                    data = json.loads(msg.data)
                    if data.get("kind") == "bulletin":
                        cursor = max(cursor, int(data["seq"]))
                    elif data.get("kind") == "heartbeat":
                        # everything up to the server's cursor was pushed, or filtered
                        # out by this very stream's filters: resume after it
                        if isinstance(data.get("cursor"), int):
                            cursor = max(cursor, data["cursor"])
                        if not heartbeats:
                            continue
                    yield data
        except aiohttp.WSServerHandshakeError as exc:
            # The handshake's problem+json body is not readable here: map by status.
            refused = _HANDSHAKE_REFUSALS.get(exc.status)
            if refused is not None:
                raise refused(f"the stream was refused: HTTP {exc.status}") from exc
            error = f"HTTP {exc.status}"
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            error = str(exc) or type(exc).__name__
        else:
            error = "the server closed the stream"
        if not reconnect:
            return
        if down_since is None:
            down_since = time.time()
        if link_events:
            yield {"kind": "disconnected", "last_contact": last_contact, "error": error}
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)
