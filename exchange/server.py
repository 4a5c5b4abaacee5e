"""Starting a node: open the database, check its schema, load the server key, serve.

The node also owns its connections' lifecycle, which aiohttp leaves open by default:
a deadline on each request's headers and body (slow clients), and a drain on shutdown
(stop accepting, let requests already received finish, then close streams with 1001)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Middleware

from exchange.api.app import create_app
from exchange.api.problems import problem_response
from exchange.config import Limits, ServerConfig
from exchange.crypto.keys import SigningKey, generate_signer
from exchange.errors import InputError, Unavailable
from exchange.keyfiles import (
    Profile,
    profile_dir,
    write_profile,
    write_secret_json,
)
from exchange.keystore import load_signer
from exchange.logs import setup_logging
from exchange.service import Exchange
from exchange.service.admin import bootstrap
from exchange.service.alerts.worker import background as alert_worker
from exchange.service.clock import Clock
from exchange.store.db import Database
from exchange.store.migrate import check_exchange_id, check_schema, require_database, upgrade

__all__ = [
    "Gate",
    "RunningServer",
    "banner",
    "init",
    "open_exchange",
    "serve",
    "start",
    "stop_on_signals",
]

log = logging.getLogger("exchange.server")


async def open_exchange(
    config: ServerConfig, *, migrate: bool = False, clock: Clock | None = None
) -> Exchange:
    db = Database(config.db_url, connect_timeout=config.db_connect_timeout)
    try:
        if migrate:
            await upgrade(db)
        else:
            require_database(db)
            await check_schema(db)
        await check_exchange_id(db, config.exchange_id, record=migrate)
        path = config.server_key_path
        if not path.exists():
            raise InputError(f"no server key at {path}: run 'exchange init' first")
        signer = load_signer(path)
    except BaseException:
        await db.close()
        raise
    return Exchange(config, db, signer, clock=clock)


async def init(
    config: ServerConfig,
    *,
    operator_party: str = "OPERATOR",
    operator_name: str = "Exchange operator",
    admin_name: str = "admin",
    server_url: str | None = None,
    signing: str = "hybrid",
    pkcs11_uri: str | None = None,
) -> Path:
    """Create the schema, the server's signing key and the operator's first admin
    profile (PROTOCOL §9). Returns the admin profile folder.

    Keys are hybrid ML-DSA-65 + Ed25519 unless ``signing="ed25519"``; with ``pkcs11_uri``
    the server key's Ed25519 half is created on that token (issue 20)."""
    key_path = config.server_key_path
    if key_path.exists():
        raise InputError(f"{key_path} exists: this exchange is already initialised")
    client_id = f"{operator_party}/{admin_name}"
    folder = profile_dir(config.keys_dir, client_id)
    if (folder / "signing.jwk").exists():
        raise InputError(f"{folder} already holds a profile")
    db = Database(config.db_url, connect_timeout=config.db_connect_timeout)
    try:
        await upgrade(db)
        await check_exchange_id(db, config.exchange_id, record=True)
        server_signer, server_doc = _new_server_key(signing, pkcs11_uri)
        admin_signer = generate_signer("ed25519" if signing == "ed25519" else "hybrid")
        ex = Exchange(config, db, server_signer)
        await bootstrap(
            ex,
            party=operator_party,
            party_name=operator_name,
            client_id=client_id,
            jwk=admin_signer.public.to_jwk(),
        )
    finally:
        await db.close()
    write_secret_json(key_path, server_doc)
    write_secret_json(folder / "signing.jwk", admin_signer.to_private_jwk())
    url = server_url or f"http://{config.host}:{config.port}"
    write_profile(
        folder,
        Profile(client_id, operator_party, url, config.exchange_id, server_signer.kid),
    )
    return folder


def _new_server_key(signing: str, pkcs11_uri: str | None) -> tuple[SigningKey, dict[str, str]]:
    """A new server key and what ``signing.jwk`` holds: the private JWK or a token reference."""
    if signing not in ("hybrid", "ed25519"):
        raise InputError("the signing key kind is hybrid or ed25519")
    if pkcs11_uri is not None:
        from exchange.keystore.pkcs11 import create_token_key

        return create_token_key(pkcs11_uri, signing)
    signer = generate_signer("ed25519" if signing == "ed25519" else "hybrid")
    return signer, signer.to_private_jwk()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _MalformedRequests(logging.Filter):
    """aiohttp answers a request its parser refuses (a header line over 8,190 bytes, too
    many headers, a bad method) with 400 and logs it as "Error handling request" at
    ERROR, with a traceback: any client could fill the logs with tracebacks. It is the
    peer's fault, so it becomes one warning line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg, record.args = "malformed request refused: %s", (type(exc).__name__,)
            record.exc_info, record.exc_text = None, None
        return True


#: the connection-level log of the node (aiohttp's RequestHandler logs here)
_http_log = logging.getLogger("exchange.http")
_http_log.addFilter(_MalformedRequests())

#: streams last until the server closes them; they are not requests to drain
_STREAM = "/v1/stream"


class Gate:
    """The requests a node is serving (streams aside), and its drain on shutdown."""

    def __init__(self) -> None:
        self.active = 0
        self.draining = False
        self._idle = asyncio.Event()
        self._idle.set()

    async def drain(self, seconds: float) -> bool:
        """Refuse new requests and wait up to ``seconds`` for those in progress.
        Returns whether every one finished."""
        self.draining = True
        try:
            await asyncio.wait_for(self._idle.wait(), seconds)
        except TimeoutError:
            return False
        return True

    def middleware(self, limits: Limits) -> Middleware:
        @web.middleware
        async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
            if self.draining:  # a new request on a kept-alive connection
                resp = problem_response(Unavailable("server shutting down; retry shortly"))
                resp.force_close()
                return resp
            if request.path == _STREAM:
                return await handler(request)
            self.active += 1
            self._idle.clear()
            try:
                if request.body_exists:
                    if request.headers.get("Content-Encoding", "identity").lower() != "identity":
                        # Bodies are JOSE or JSON, never compressed; aiohttp would inflate
                        # a gzip bomb into memory before any size limit applies.
                        raise web.HTTPUnsupportedMediaType(text="content codings not accepted")
                    # aiohttp has no body deadline: a client sending a byte a second
                    # would hold a handler (and a concurrency slot) for weeks.
                    declared = min(request.content_length or limits.max_body, limits.max_body)
                    deadline = limits.body_timeout + declared / limits.body_min_rate
                    try:
                        async with asyncio.timeout(deadline):
                            await request.read()
                    except TimeoutError:
                        raise web.HTTPRequestTimeout() from None
                return await handler(request)
            finally:
                self.active -= 1
                if not self.active:
                    self._idle.set()

        return gate


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
    app.cleanup_ctx.append(alert_worker(ex))  # webhooks and mails (docs/alerts.md)
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
        logger=_http_log,
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


async def serve(config: ServerConfig) -> None:
    """Run until SIGINT/SIGTERM; then stop accepting, finish in-flight requests and
    close streams with 1001 (going away)."""
    setup_logging(config.log_level, config.log_file)
    if config.workers > 1:
        from exchange.workers import supervise

        await supervise(config)
        return
    ex = await open_exchange(config)
    server = await start(ex, config.host, config.port, reuse_port=config.reuse_port)
    log.info("serving %s at %s", config.exchange_id, server.url)
    if not config.reuse_port:  # a worker of several: the supervisor says it once
        print(banner(config, server.url), flush=True)
    try:
        await stop_on_signals().wait()
    finally:
        await server.stop()
