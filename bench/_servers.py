"""A real server process (bench/_server.py, or a reference server) on a loopback port,
optionally under callgrind, and the temporary folder its database and keys live in.
Everything it starts it stops."""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from _machine import BENCH

from exchange.config import ServerConfig

EXCHANGE_ID = "bench-exchange"


@dataclass
class ServerProcess:
    """``bench/_server.py`` (``exchange.node.serve`` with bench limits) in a subprocess."""

    proc: subprocess.Popen[str]
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


#: ``--callgrind DIR``: server processes run under ``valgrind --tool=callgrind`` (set by a
#: script); instruction counts do not depend on the machine's load, so a loaded machine
#: can still compare two servers (issue 19)
CALLGRIND: dict[str, Path] = {}


def _wrap(cmd: list[str]) -> list[str]:
    out = CALLGRIND.get("dir")
    if out is None:
        return cmd
    out.mkdir(parents=True, exist_ok=True)
    vg = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg.%p", "--dump-line=no"]
    return vg + cmd


class Instructions:
    """Instructions a callgrind-run process executes between ``start`` and ``stop``, all
    threads (``callgrind_control --zero`` / ``--dump``)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.count = float("nan")

    def start(self) -> Instructions:
        if "dir" in CALLGRIND:
            subprocess.run(
                ["callgrind_control", "--zero", str(self.pid)], check=True, capture_output=True
            )
        return self

    def stop(self) -> float:
        if "dir" not in CALLGRIND:
            return self.count
        before = set(CALLGRIND["dir"].glob(f"cg.{self.pid}.*"))
        subprocess.run(
            ["callgrind_control", "--dump", str(self.pid)], check=True, capture_output=True
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            new = set(CALLGRIND["dir"].glob(f"cg.{self.pid}.*")) - before
            for f in new:
                for line in f.read_text(errors="replace").splitlines():
                    if line.startswith(("summary:", "totals:")):
                        self.count = float(line.split()[1])
                        return self.count
            time.sleep(0.2)
        return self.count


def _wait_for_url(proc: subprocess.Popen[str], what: str, timeout: float = 60.0) -> str:
    if "dir" in CALLGRIND:
        timeout *= 10
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited with status {proc.returncode}")
            time.sleep(0.05)
            continue
        m = re.search(r"listening on (http://\S+)", line)
        if m:
            return m.group(1)
    proc.kill()
    raise RuntimeError(f"{what} did not start within {timeout} s")


def start_server(
    workdir: Path, *, rate: float = 1e6, extra: Sequence[str] = (), db: str | None = None
) -> ServerProcess:
    """Start the exchange on a free loopback port with the database in ``workdir`` (or
    at the PostgreSQL URL ``db``).

    The request log (JSON lines at INFO, as ``exchange serve`` writes it) goes to
    ``workdir/server.log``: writing it is part of the measured cost."""
    log = workdir / "server.log"
    cmd = [
        sys.executable,
        str(BENCH / "_server.py"),
        "--db",
        db_url(workdir, db),
        "--keys",
        str(workdir / "keys"),
        "--exchange-id",
        EXCHANGE_ID,
        "--rate",
        str(rate),
        *extra,
    ]
    with open(log, "a", encoding="utf-8") as err:
        proc = subprocess.Popen(
            _wrap(cmd), stdout=subprocess.PIPE, stderr=err, text=True, cwd=workdir
        )
    return ServerProcess(proc, _wait_for_url(proc, "the exchange server"), log)


def start_ceiling(
    keyfile: Path, *, bare: bool = False, lean: bool = False, server_key: str = "hybrid"
) -> ServerProcess:
    """bench/ceiling_server.py (the project's crypto), or bench/lean_server.py (``lean``:
    the same work with ``cryptography`` directly); receipts signed with ``server_key``."""
    script = "lean_server.py" if lean else "ceiling_server.py"
    cmd = [sys.executable, str(BENCH / script), "--keys", str(keyfile)]
    cmd += ["--server-key", server_key]
    if bare:
        cmd.append("--bare")
    log = keyfile.parent / "ceiling.log"
    with open(log, "a", encoding="utf-8") as err:
        proc = subprocess.Popen(_wrap(cmd), stdout=subprocess.PIPE, stderr=err, text=True)
    return ServerProcess(proc, _wait_for_url(proc, "the ceiling server"), log)


def db_url(workdir: Path, db: str | None = None) -> str:
    """``db`` (a PostgreSQL URL) if given, else a SQLite file in ``workdir``."""
    return db or f"sqlite+aiosqlite:///{workdir / 'exchange.db'}"


def config(workdir: Path, db: str | None = None) -> ServerConfig:
    return ServerConfig(
        db_url=db_url(workdir, db), keys_dir=workdir / "keys", exchange_id=EXCHANGE_ID
    )


async def init_exchange(workdir: Path, signing: str = "hybrid", db: str | None = None) -> Path:
    """``exchange init``: schema, server key (``signing``), the operator's admin profile.
    The keys go to ``workdir``; the database is there too unless ``db`` names one (it
    must be empty: see bench/_pg.py)."""
    from exchange.node import init

    return await init(config(workdir, db), signing=signing)


@contextlib.contextmanager
def workspace(keep: bool = False) -> Iterator[Path]:
    """A temporary folder under the system temp dir (not tmpfs-backed here, so that
    commits are as durable as on a server's disk)."""
    path = Path(tempfile.mkdtemp(prefix="avsec-bench-"))
    try:
        yield path
    finally:
        if keep:
            print(f"(kept {path})")
        else:
            shutil.rmtree(path, ignore_errors=True)
