"""The stream's bounded writer never leaves a failed write unretrieved: a write that
fails at the moment its waiter is cancelled (a peer dropping while the stream closes)
must not end as 'Task exception was never retrieved' (found by CI on PostgreSQL)."""

from __future__ import annotations

import asyncio
import gc
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import ClientConnectionResetError

from exchange.api.routes_stream import _Socket


class _FailingWs:
    async def send_frame(self, data: bytes, opcode: object) -> None:
        raise ClientConnectionResetError("Cannot write to closing transport")


async def test_a_write_failing_as_its_waiter_is_cancelled_is_retrieved() -> None:
    loop = asyncio.get_running_loop()
    leaked: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: leaked.append(context))
    try:
        request = SimpleNamespace(transport=None)
        sock = _Socket(request, _FailingWs(), timeout=10)  # type: ignore[arg-type]
        outer = asyncio.create_task(sock.send_frames(iter([b"frame"])))
        await asyncio.sleep(0)  # outer waits on the write task
        await asyncio.sleep(0)  # the write task fails
        outer.cancel()  # ... and its waiter is cancelled before it looks
        with pytest.raises(asyncio.CancelledError):
            await outer
        await asyncio.sleep(0)
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)
    assert not leaked, [c.get("message") for c in leaked]
