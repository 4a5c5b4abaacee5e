"""Alert tests' helpers: a real receiving HTTP server on loopback that records every
push and answers as a test tells it (a status, or a hang), and a harness factory whose
server may push to loopback (the operator's allowance, set explicitly)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from support import Harness

from exchange.config import AlertsConfig

__all__ = ["LOOPBACK_OK", "MakeHarness", "Push", "Receiver", "fast_alerts"]

MakeHarness = Callable[..., Awaitable[Harness]]


def fast_alerts(**kw: Any) -> AlertsConfig:
    """Loopback allowed (tests only), quick polls, short backoff and timeouts."""
    args: dict[str, Any] = {
        "allow_networks": ("127.0.0.0/8",),
        "poll_interval": 0.05,
        "backoff_base": 0.2,
        "backoff_max": 0.4,
        "webhook_timeout": 1.0,
        "max_attempts": 3,
        "lease": 5.0,
    }
    args.update(kw)
    return AlertsConfig(**args)


LOOPBACK_OK = fast_alerts


@dataclass
class Push:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """``answers``: statuses to answer in turn (then 200); ``"hang"`` sleeps past any
    timeout."""

    answers: list[int | str] = field(default_factory=list)
    pushes: list[Push] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.pushes.append(Push(request.method, str(request.url), dict(request.headers), body))
        answer = self.answers.pop(0) if self.answers else 200
        if answer == "hang":
            await asyncio.sleep(30)
            answer = 200
        return web.Response(status=int(answer), text="ok")

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
