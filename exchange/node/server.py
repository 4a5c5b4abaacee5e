"""One node process serving: the aiohttp runner, its site, and its orderly stop (drain,
then streams closed with 1001 going away)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass

from aiohttp import web

from exchange.api.app import create_app
from exchange.config import ServerConfig
from exchange.node.http import HTTP_LOG, Gate
from exchange.node.setup import open_exchange
from exchange.service.alerts.worker import background as alert_worker
from exchange.service.core import Exchange

__all__ = ["RunningServer", "banner", "run_node", "start", "stop_on_signals"]

log = logging.getLogger("exchange.server")


@dataclass
class RunningServer:
    runner: web.AppRunner
    url: str
    exchange: Exchange
    gate: Gate

    async def stop(self) -> None:
        """Stop accepting connections, let requests already received finish (up to
        ``drain_timeout``), then close streams with 1001 and release the database."""
        for site in list(self.runner.sites):
            await site.stop()
        if not await self.gate.drain(self.exchange.config.drain_timeout):
            log.warning("%d requests still running after the drain timeout", self.gate.active)
        await self.runner.cleanup()


async def start(
    ex: Exchange, host: str = "127.0.0.1", port: int = 0, *, reuse_port: bool = False
) -> RunningServer:
    """Serve ``ex`` on ``host:port`` (0: a free port) inside the running loop."""
    app = create_app(ex)
    app.cleanup_ctx.append(alert_worker(ex.alert_worker))  # webhooks and mails (docs/alerts.md)
    gate = Gate()
    app.middlewares.append(gate.middleware(ex.limits))  # innermost: errors become problems
    runner = web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        shutdown_timeout=5.0,
        # bounds the wait for a request's headers, and an idle kept-alive connection
        keepalive_timeout=ex.limits.header_timeout,
        auto_decompress=False,  # see the gate: compressed bodies are refused, not inflated
        logger=HTTP_LOG,
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True, reuse_port=reuse_port or None)
    await site.start()
    actual = port
    for addr in runner.addresses:  # the port the OS chose when asked for 0
        actual = int(addr[1])
        break
    return RunningServer(runner, f"http://{host}:{actual}", ex, gate)


def banner(config: ServerConfig, url: str) -> str:
    """The one line ``serve`` prints on the terminal once it listens."""
    workers = f", {config.workers} workers" if config.workers > 1 else ""
    logs = f"log {config.log_file}" if config.log_file else "log on stderr"
    return f"AVSEC Exchange '{config.exchange_id}' listening on {url} ({logs}{workers})"


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (the running loop's handlers)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def run_node(config: ServerConfig) -> None:
    """One process: run until SIGINT/SIGTERM; then stop accepting, finish in-flight
    requests and close streams with 1001 (going away)."""
    ex = await open_exchange(config)
    server = await start(ex, config.host, config.port, reuse_port=config.reuse_port)
    log.info("serving %s at %s", config.exchange_id, server.url)
    if not config.reuse_port:  # a worker of several: the supervisor says it once
        print(banner(config, server.url), flush=True)
    try:
        await stop_on_signals().wait()
    finally:
        await server.stop()
