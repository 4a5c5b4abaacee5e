"""Starting and stopping one console: the SDK state, the web app, a loopback socket."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from exchange.client import ExchangeClient
from exchange.client.record import LocalRecord
from exchange.console.app import make_app
from exchange.console.security import Secrets
from exchange.console.state import ConsoleState

__all__ = ["RECORD_FILE", "Console"]

#: The console's own record in a profile folder (sent bulletins, own acks).
RECORD_FILE = "console.json"
HOST = "127.0.0.1"


@dataclass
class Console:
    client: ExchangeClient
    record_path: Path | None = None
    secrets: Secrets = field(default_factory=Secrets)
    state: ConsoleState | None = None
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def login_url(self) -> str:
        return f"{self.url}/login?token={self.secrets.launch_token}"

    async def start(self, port: int = 0) -> str:
        """Listen on loopback only (``port`` 0: a free one); return the login URL."""
        await self.client.directory()  # fails fast: server down, profile unknown
        self.state = ConsoleState(self.client, LocalRecord.load(self.record_path))
        roles = await self.state.roles()
        await self.state.start()
        app = make_app(self.state, self.secrets, admin="admin" in roles, poster="poster" in roles)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1]) if sockets else port
        self.secrets.allow_port(self.port)
        return self.login_url

    async def stop(self) -> None:
        if self.state is not None:
            await self.state.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
