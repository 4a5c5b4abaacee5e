"""Fixtures for the command-line tests: run ``exchange`` in-process (``main(argv)``) or as
a subprocess, and a real ``exchange serve`` on a free loopback port in a fresh folder."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pgdb import BACKENDS, create_database, drop_database

from exchange.cli.main import main

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


@dataclass
class Result:
    rc: int
    out: str
    err: str

    def ok(self) -> Result:
        assert self.rc == 0, (self.rc, self.out, self.err)
        return self


Run = Callable[..., Result]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No EXCHANGE_* setting of the developer's shell leaks in; run in a fresh folder."""
    for name in list(os.environ):
        if name.startswith("EXCHANGE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Run:
    """``cli("inbox", "--profile", p)``: run the CLI in-process; argparse exits too."""

    def run(*argv: str) -> Result:
        capsys.readouterr()
        try:
            rc = main(list(argv))
        except SystemExit as exc:  # argparse: --help, --version, usage errors
            rc = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return Result(rc, out, err)

    return run


def run_process(*argv: str, timeout: float = 30, **kw: object) -> Result:
    """``python -m exchange.cli.main ARGV`` in the current folder."""
    p = subprocess.run(
        [sys.executable, "-m", "exchange.cli.main", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kw,  # type: ignore[call-overload]
    )
    return Result(p.returncode, p.stdout, p.stderr)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[str], log: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited {proc.returncode}: {log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/v1/health", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"serve did not come up: {log.read_text()}")


@dataclass
class Served:
    folder: Path
    url: str
    port: int
    log: Path


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Run) -> Iterator[Served]:
    """``exchange init`` then ``exchange serve`` (a subprocess) in ``tmp_path``; the
    environment points later commands at it. Stopped with SIGINT, which must exit 0."""
    port = free_port()
    monkeypatch.setenv("EXCHANGE_PORT", str(port))
    init = cli("init").ok()
    assert "keys/OPERATOR/admin" in init.out
    log = tmp_path / "serve.log"
    with log.open("w") as f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "exchange.cli.main", "serve"],
            cwd=tmp_path,
            stdout=f,
            stderr=subprocess.STDOUT,
            text=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log)
        yield Served(tmp_path, url, port, log)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    assert rc == 0, log.read_text()
    text = log.read_text()
    assert f"listening on {url}" in text
    assert "Traceback" not in text, text


@pytest.fixture
def proc() -> Callable[..., Result]:
    """Run ``exchange`` as a subprocess (a real process: exit status, no traceback)."""
    return run_process


@pytest.fixture
def examples() -> Path:
    return EXAMPLES


@dataclass
class Serving:
    proc: subprocess.Popen[str]
    url: str

    def stop(self) -> tuple[str, str]:
        """SIGINT, then the process's stdout and stderr; it must exit 0."""
        self.proc.send_signal(signal.SIGINT)
        out, err = self.proc.communicate(timeout=20)
        assert self.proc.returncode == 0, (out, err)
        return out, err


@pytest.fixture
def start_serve(tmp_path: Path) -> Iterator[Callable[..., Serving]]:
    """``start_serve(port, *args)``: ``exchange serve --port PORT ARGS`` as a process in
    ``tmp_path``, its output captured, up once /v1/health answers; killed if left running."""
    started: list[subprocess.Popen[str]] = []

    def start(port: int, *args: str, log: str = "serve.log", port_flag: bool = True) -> Serving:
        flag = ["--port", str(port)] if port_flag else []
        proc = subprocess.Popen(
            [sys.executable, "-m", "exchange.cli.main", "serve", *flag, *args],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc, tmp_path / log)
        return Serving(proc, url)

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


#: the States ``enrol`` registers: (party, name)
STATES = {
    "KZ": "Civil Aviation Committee of Kazakhstan",
    "UZ": "Civil Aviation Agency of Uzbekistan",
}


@pytest.fixture
def enrol(cli: Run) -> Callable[..., None]:
    """``enrol("KZ", "UZ", url=...)``: keygen, party, client, encryption key for each
    State (desk ``ops``), and the group ``cac-avsec`` with them as members."""

    def run(*parties: str, url: str, group: str = "cac-avsec") -> None:
        cli("admin", "group", "add", group, "Central Asia/Caucasus AVSEC Group").ok()
        for party in parties:
            cli("keygen", f"{party}/ops", "--server-url", url).ok()
            cli("admin", "party", "add", party, STATES.get(party, party)).ok()
            cli(
                "admin", "client", "add", f"{party}/ops", "--roles", "poster,reader",
                "--key", f"keys/{party}/ops",
            ).ok()  # fmt: skip
            cli("admin", "enc-key", "add", party, "--key", f"keys/{party}/ops").ok()
            cli("admin", "member", "set", group, party, "member").ok()

    return run


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A database URL for ``exchange init`` (EXCHANGE_DB_URL): SQLite in the test folder,
    or a fresh PostgreSQL database when EXCHANGE_TEST_PG_URL is set."""
    if request.param == "sqlite":
        url = "sqlite:///exchange.db"
        monkeypatch.setenv("EXCHANGE_DB_URL", url)
        yield url
        return
    name, url = asyncio.run(create_database("cli"))
    monkeypatch.setenv("EXCHANGE_DB_URL", url)
    try:
        yield url
    finally:
        asyncio.run(drop_database(name))


@pytest.fixture
def running(
    cli: Run, db: str, start_serve: Callable[..., Serving], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Serving]:
    """``exchange init`` and ``exchange serve`` on each backend; later commands reach it."""
    port = free_port()
    monkeypatch.setenv("EXCHANGE_PORT", str(port))
    cli("init").ok()
    serving = start_serve(port, "--log-file", "serve.log")
    try:
        yield serving
    finally:
        _out, err = serving.stop()
        assert "Traceback" not in err, err
