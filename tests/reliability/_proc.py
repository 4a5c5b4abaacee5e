"""The real server as its own process: ``exchange init`` in a folder, then ``exchange
serve`` on a free loopback port, stopped with SIGKILL (a crash) or SIGTERM (a clean stop)
and started again on the same port and database.

Two ways to start a process, same code path inside it (``exchange.cli.main.main(argv)``):

- ``exec``: the ``exchange`` console script, a fresh interpreter (what an operator runs);
- ``fork``: a child of a multiprocessing *forkserver* that has already imported the
  exchange, so that a crash-restart round costs a fork instead of ~2 s of imports.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import aiohttp

__all__ = ["ServerProcess", "free_port", "read_log"]

Mode = Literal["exec", "fork"]

_PRELOAD = ["exchange.cli.main", "exchange.node", "aiosqlite", "asyncpg"]
_ctx: Any = None


def _forkserver() -> Any:
    global _ctx
    if _ctx is None:
        _ctx = multiprocessing.get_context("forkserver")
        _ctx.set_forkserver_preload(_PRELOAD)
    return _ctx


def _child(argv: list[str], log: str, env: dict[str, str]) -> None:
    """Runs in the forked process: the log file becomes stdout and stderr, then the CLI."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    for name in [n for n in os.environ if n.startswith("EXCHANGE_")]:
        del os.environ[name]
    os.environ.update(env)
    from exchange.cli.main import main

    sys.exit(main(argv))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_log(path: Path) -> list[dict[str, Any]]:
    """The JSON log lines of a server's log file (other lines are skipped)."""
    out = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


class ServerProcess:
    """One exchange (a folder, a database, a port) whose server process comes and goes."""

    def __init__(
        self,
        folder: Path,
        db_url: str,
        *,
        mode: Mode = "fork",
        exchange_id: str = "rel-exchange",
        port: int | None = None,
        env: dict[str, str] | None = None,
        serve_args: Sequence[str] = (),
    ) -> None:
        self.folder = folder
        self.db_url = db_url
        self.mode = mode
        self.exchange_id = exchange_id
        self.port = port or free_port()
        self.env = dict(env or {})
        self.serve_args = list(serve_args)
        self.keys = folder / "keys"
        self.log = folder / "serve.log"
        self.starts = 0
        self._proc: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_profile(self) -> Path:
        return self.keys / "OPERATOR" / "admin"

    def _argv(self, command: str) -> list[str]:
        return [
            command,
            "--db",
            self.db_url,
            "--keys",
            str(self.keys),
            "--port",
            str(self.port),
            "--exchange-id",
            self.exchange_id,
        ]

    def _spawn(self, argv: Sequence[str]) -> Any:
        if self.mode == "exec":
            exe = shutil.which("exchange") or str(Path(sys.executable).parent / "exchange")
            env = {k: v for k, v in os.environ.items() if not k.startswith("EXCHANGE_")}
            env.update(self.env)
            with self.log.open("a") as f:
                return subprocess.Popen(
                    [exe, *argv], cwd=self.folder, stdout=f, stderr=subprocess.STDOUT, env=env
                )
        p = _forkserver().Process(target=_child, args=(list(argv), str(self.log), self.env))
        p.start()
        return p

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return int(self._proc.pid)

    def returncode(self) -> int | None:
        p = self._proc
        if p is None:
            return None
        if isinstance(p, subprocess.Popen):
            return p.poll()
        return p.exitcode  # type: ignore[no-any-return]

    async def wait(self, timeout: float) -> int:
        """Wait for the process to exit; its status (negative: killed by that signal)."""
        deadline = time.monotonic() + timeout
        while (rc := self.returncode()) is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"server pid {self.pid} still running after {timeout} s")
            await asyncio.sleep(0.02)
        if not isinstance(self._proc, subprocess.Popen):
            self._proc.join()
        return rc

    async def init(self) -> Path:
        """``exchange init`` (the schema, the server key, the admin profile)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._proc = self._spawn(self._argv("init"))
        rc = await self.wait(60)
        assert rc == 0, self.log.read_text()
        return self.admin_profile

    async def start(self, timeout: float = 30) -> None:
        """``exchange serve``, then wait until ``/v1/health`` answers 200."""
        assert self.returncode() is not None or self._proc is None, "already running"
        self._proc = self._spawn([*self._argv("serve"), *self.serve_args])
        self.starts += 1
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as s:
            while time.monotonic() < deadline:
                if self.returncode() is not None:
                    raise AssertionError(f"serve exited {self.returncode()}: {self.tail()}")
                try:
                    async with s.get(self.url + "/v1/health") as r:
                        if r.status == 200:
                            return
                except (aiohttp.ClientError, OSError, TimeoutError):
                    pass
                await asyncio.sleep(0.03)
        raise AssertionError(f"serve did not come up: {self.tail()}")

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs at all (a crash, an OOM kill, a power cut of
        the process)."""
        self.signal(signal.SIGKILL)
        assert await self.wait(10) == -signal.SIGKILL

    async def terminate(self, timeout: float = 20) -> int:
        self.signal(signal.SIGTERM)
        return await self.wait(timeout)

    async def stop(self) -> None:
        if self._proc is not None and self.returncode() is None:
            self.signal(signal.SIGKILL)
            await self.wait(10)

    def children(self) -> list[int]:
        """Pids of the server process's live workers (``--workers``: multiprocessing
        spawn children; its resource tracker is not one)."""
        out = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[1]) == self.pid and b"spawn_main" in cmdline:
                out.append(int(entry.name))
        return out

    def rss(self) -> int:
        """Resident memory of the server process, in bytes (Linux /proc)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def tail(self, n: int = 4000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text[-n:]

    def log_records(self) -> list[dict[str, Any]]:
        return read_log(self.log) if self.log.exists() else []
