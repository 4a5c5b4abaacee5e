"""Starting a node: open the database, check its schema, load the server key, serve."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from exchange.api.app import create_app
from exchange.config import ServerConfig
from exchange.crypto.keys import Ed25519Signer
from exchange.errors import InputError
from exchange.keyfiles import (
    Profile,
    profile_dir,
    read_json,
    write_profile,
    write_secret_json,
)
from exchange.logs import setup_logging
from exchange.service import Exchange
from exchange.service.admin import bootstrap
from exchange.service.clock import Clock
from exchange.store.db import Database
from exchange.store.migrate import check_schema, upgrade

__all__ = ["RunningServer", "init", "open_exchange", "serve", "start"]

log = logging.getLogger("exchange.server")


async def open_exchange(
    config: ServerConfig, *, migrate: bool = False, clock: Clock | None = None
) -> Exchange:
    db = Database(config.db_url)
    try:
        if migrate:
            await upgrade(db)
        else:
            await check_schema(db)
        path = config.server_key_path
        if not path.exists():
            raise InputError(f"no server key at {path}: run 'exchange init' first")
        signer = Ed25519Signer.from_jwk(read_json(path))
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
) -> Path:
    """Create the schema, the server's signing key and the operator's first admin
    profile (PROTOCOL §9). Returns the admin profile folder."""
    key_path = config.server_key_path
    if key_path.exists():
        raise InputError(f"{key_path} exists: this exchange is already initialised")
    client_id = f"{operator_party}/{admin_name}"
    folder = profile_dir(config.keys_dir, client_id)
    if (folder / "signing.jwk").exists():
        raise InputError(f"{folder} already holds a profile")
    db = Database(config.db_url)
    try:
        await upgrade(db)
        server_signer = Ed25519Signer.generate()
        admin_signer = Ed25519Signer.generate()
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
    write_secret_json(key_path, server_signer.to_private_jwk())
    write_secret_json(folder / "signing.jwk", admin_signer.to_private_jwk())
    url = server_url or f"http://{config.host}:{config.port}"
    write_profile(
        folder,
        Profile(client_id, operator_party, url, config.exchange_id, server_signer.kid),
    )
    return folder


@dataclass
class RunningServer:
    runner: web.AppRunner
    url: str
    exchange: Exchange

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start(ex: Exchange, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve ``ex`` on ``host:port`` (0: a free port) inside the running loop."""
    app = create_app(ex)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    actual = port
    for addr in runner.addresses:  # the port the OS chose when asked for 0
        actual = int(addr[1])
        break
    return RunningServer(runner, f"http://{host}:{actual}", ex)


async def serve(config: ServerConfig) -> None:
    """Run until SIGINT/SIGTERM; then stop accepting, finish in-flight requests and
    close streams with 1001 (going away)."""
    setup_logging()
    ex = await open_exchange(config)
    server = await start(ex, config.host, config.port)
    log.info("serving %s at %s", config.exchange_id, server.url)
    print(f"AVSEC Exchange '{config.exchange_id}' listening on {server.url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
