"""The SDK reads ``Retry-After`` on 429 and 503 (PROTOCOL §7): the error carries it, and
a client allowed to wait (``retry_wait``) waits it out, a bounded time, then raises."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from exchange.client.transport import Transport
from exchange.crypto.signing import generate_signer
from exchange.errors import ExchangeError, NotFound, RateLimited, StorageError, Unavailable


def _problem(status: int, code: str, retry_after: str) -> web.Response:
    body = ExchangeError("busy").problem() | {"type": f"urn:avsec:error:{code}", "status": status}
    return web.json_response(
        body,
        status=status,
        content_type="application/problem+json",
        headers={"Retry-After": retry_after},
    )


Script = list[Callable[[], web.Response]]


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Script, list[str]]]:
    """A stand-in exchange answering each request with the next scripted answer."""
    script: Script = []
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        return script.pop(0)()

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", script, seen
    await runner.cleanup()


def _client(url: str, **kw: Any) -> Transport:
    return Transport(
        server_url=url,
        client_id="KZ/ops",
        exchange_id="ex",
        signer=generate_signer("ed25519"),
        **kw,
    )


async def test_the_error_carries_retry_after(server: tuple[str, Script, list[str]]) -> None:
    url, script, _ = server
    script += [lambda: _problem(429, "rate-limited", "7"), lambda: _problem(503, "overloaded", "3")]
    t = _client(url)
    try:
        with pytest.raises(RateLimited) as limited:
            await t.request("GET", "/v1/inbox")
        assert limited.value.retry_after == 7
        with pytest.raises(Unavailable) as busy:
            await t.request("GET", "/v1/inbox")
        assert busy.value.retry_after == 3
    finally:
        await t.close()


async def test_a_bounded_wait_then_success(
    server: tuple[str, Script, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, script, seen = server
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr("exchange.client.transport.asyncio.sleep", sleep)
    script += [
        lambda: _problem(429, "rate-limited", "2"),
        lambda: _problem(503, "unavailable", "1"),
        lambda: web.json_response({"items": []}),
    ]
    t = _client(url, retry_wait=3)
    try:
        assert await t.request("GET", "/v1/inbox") == (200, {"items": []})
    finally:
        await t.close()
    assert slept == [2, 1]
    assert len(set(seen)) == 3  # a fresh token each try: a jti is spent once


async def test_the_wait_is_bounded(
    server: tuple[str, Script, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, script, _ = server
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr("exchange.client.transport.asyncio.sleep", sleep)
    script += [lambda: _problem(503, "unavailable", "2")] * 3 + [
        lambda: web.json_response({}, status=404)
    ]
    t = _client(url, retry_wait=5)
    try:
        with pytest.raises(StorageError) as exc:
            await t.request("GET", "/v1/inbox")
        assert exc.value.retry_after == 2
        assert slept == [2, 2]  # a third wait would pass the 5 s allowed
        with pytest.raises(NotFound):  # never retried
            await t.request("GET", "/v1/inbox")
    finally:
        await t.close()
