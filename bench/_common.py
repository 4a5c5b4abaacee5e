"""Shared pieces of the benchmark scripts: the machine report, a real server process,
enrolment through the admin API, pre-sealed bulletins, pre-signed requests, wrk, CPU and
memory meters, and py-spy.

Not a benchmark itself; each ``bench/*.py`` script imports it. Everything here talks only
to 127.0.0.1 and cleans up what it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exchange.client import ExchangeClient
from exchange.config import ServerConfig
from exchange.crypto import tokens
from exchange.crypto.keys import (
    Ed25519Signer,
    EncryptionPrivateKey,
    parse_encryption_jwk,
    signer_from_jwk,
)
from exchange.keyfiles import read_json, read_profile

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
EXCHANGE_ID = "bench-exchange"
PACKAGES = ("avsec-exchange", "aiohttp", "cryptography", "SQLAlchemy", "aiosqlite", "asyncpg")

# --- the machine --------------------------------------------------------------------------


def cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def mem_total_gib() -> float:
    with contextlib.suppress(OSError), open("/proc/meminfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    return float("nan")


def loadavg() -> str:
    try:
        with open("/proc/loadavg", encoding="utf-8") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"


def _git_rev() -> str:
    try:
        rev = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "exchange"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev + (" (exchange/ modified)" if dirty else "")


def _fs_of(path: Path) -> str:
    best, fstype, dev = "", "?", "?"
    with contextlib.suppress(OSError), open("/proc/mounts", encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            mnt = parts[1]
            if str(path).startswith(mnt) and len(mnt) > len(best):
                best, dev, fstype = mnt, parts[0], parts[2]
    return f"{fstype} on {dev}"


def fsync_ms(folder: Path, n: int = 30) -> float:
    """Median time of a 4 KiB append plus fsync: what one durable commit costs at least."""
    path = folder / "fsync.probe"
    samples = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            os.write(fd, b"x" * 4096)
            os.fsync(fd)
            samples.append(time.perf_counter() - t0)
    finally:
        os.close(fd)
        path.unlink()
    return statistics.median(samples) * 1000


def wrk_version() -> str:
    exe = shutil.which("wrk")
    if exe is None:
        return "not installed (apt-get install -y wrk)"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    return out.split("Copyright")[0].strip() or "unknown"


def print_machine(title: str, settings: dict[str, Any], workdir: Path | None = None) -> None:
    """The header every script prints: what ran where, with which settings."""
    print(f"# {title}")
    print(f"date:        {time.strftime('%Y-%m-%d %H:%M:%S %z')}")
    print(f"cpu:         {cpu_model()}")
    print(f"cores:       {os.cpu_count()}")
    print(f"memory:      {mem_total_gib():.1f} GiB")
    print(f"os:          {platform.platform()}")
    print(f"python:      {platform.python_version()} ({sys.executable})")
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    print(f"packages:    {', '.join(versions)}")
    print(f"exchange:    git {_git_rev()}")
    print(f"wrk:         {wrk_version()}")
    if workdir is not None:
        print(f"work dir:    {workdir} ({_fs_of(workdir)}); fsync p50 {fsync_ms(workdir):.2f} ms")
    print(f"load avg:    {loadavg()} (1, 5, 15 min) at start")
    for k, v in settings.items():
        print(f"{k + ':':<12} {v}")
    print(flush=True)


# --- statistics ---------------------------------------------------------------------------


def pct(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(p / 100 * len(s) + 0.5) - 1))
    return s[k]


def median(values: Iterable[float]) -> float:
    vals = [v for v in values if v == v]
    return statistics.median(vals) if vals else float("nan")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table (ready to paste into docs/benchmarks.md)."""
    rows = [[_cell(c) for c in r] for r in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"]
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        out.append("| " + " | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) + " |")
    return "\n".join(out)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        if v != v:
            return "n/a"
        return f"{v:,.1f}" if abs(v) >= 10 else f"{v:.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


# --- processes: CPU and memory ------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (all its threads) and of its live child
    processes (the workers of ``exchange serve --workers``)."""
    total = 0.0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:  # itself, or a child
            total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


def worker_pids(pid: int) -> list[int]:
    """The worker processes of ``exchange serve --workers`` run by ``pid`` (children that
    run multiprocessing's spawn entry point, not its resource tracker), oldest first."""
    out = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if ppid == pid and b"spawn_main" in cmdline:
            out.append(int(entry.name))
    return sorted(out)


def proc_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def machine_busy() -> tuple[float, float]:
    with open("/proc/stat", encoding="ascii") as f:
        vals = [int(v) for v in f.readline().split()[1:]]
    idle = vals[3] + vals[4]
    return float(sum(vals) - idle), float(sum(vals))


class CpuMeter:
    """CPU use of some processes, and of the whole machine, between start() and stop()."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.result: dict[str, float] = {}

    def start(self) -> CpuMeter:
        self._t0 = time.perf_counter()
        self._cpu0 = {k: proc_cpu_seconds(p) for k, p in self.pids.items()}
        self._m0 = machine_busy()
        return self

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self._t0
        for k, p in self.pids.items():
            with contextlib.suppress(OSError):
                self.result[f"{k} cpu %"] = (proc_cpu_seconds(p) - self._cpu0[k]) / wall * 100
        b1, t1 = machine_busy()
        b0, t0 = self._m0
        self.result["machine busy %"] = (b1 - b0) / max(1.0, t1 - t0) * 100
        return self.result

    def describe(self) -> str:
        parts = [f"{k} {v:.0f}" for k, v in self.result.items()]
        return ", ".join(parts) + f" (100 % = one core of {os.cpu_count()})"


def raise_nofile(n: int = 65536) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        try:  # root may raise the hard limit too
            resource.setrlimit(resource.RLIMIT_NOFILE, (n, max(hard, n)))
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --- a real server ------------------------------------------------------------------------


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


# --- parties, enrolment -------------------------------------------------------------------


@dataclass
class Party:
    """A party the benchmark holds every private key of."""

    id: str
    enc: EncryptionPrivateKey
    clients: list[tuple[str, Ed25519Signer]] = field(default_factory=list)
    roles: tuple[str, ...] = ("poster", "reader")

    @staticmethod
    def make(pid: str, n_clients: int = 1, kind: str = "hybrid") -> Party:
        p = Party(pid, EncryptionPrivateKey.generate(kind))  # type: ignore[arg-type]
        p.clients = [(f"{pid}/ops{i}", Ed25519Signer.generate()) for i in range(n_clients)]
        return p


def admin_client(workdir: Path, url: str) -> ExchangeClient:
    folder = workdir / "keys" / "OPERATOR" / "admin"
    profile = read_profile(folder)
    return ExchangeClient(
        server_url=url,
        client_id=profile.client_id,
        exchange_id=profile.exchange_id,
        signer=signer_from_jwk(read_json(folder / "signing.jwk")),
        server_kid=profile.server_kid,
        verify_log=False,
    )


async def _gather_limited(coros: Iterable[Any], limit: int = 8) -> None:
    sem = asyncio.Semaphore(limit)

    async def one(c: Any) -> None:
        async with sem:
            await c

    await asyncio.gather(*(one(c) for c in coros))


async def enrol(
    workdir: Path,
    url: str,
    parties: Sequence[Party],
    groups: dict[str, dict[str, str]],
) -> float:
    """Register parties, their clients and encryption keys, then groups and members,
    through the admin API (each change is audited, as in production). Returns seconds."""
    t0 = time.perf_counter()
    admin = admin_client(workdir, url)
    try:
        await _gather_limited(
            admin.admin("POST", "/v1/admin/parties", {"id": p.id, "name": p.id, "kind": "state"})
            for p in parties
        )
        jobs = []
        for p in parties:
            for cid, signer in p.clients:
                body = {
                    "id": cid,
                    "party": p.id,
                    "roles": list(p.roles),
                    "jwk": signer.public.to_jwk(),
                }
                jobs.append(admin.admin("POST", "/v1/admin/clients", body))
            jobs.append(
                admin.admin(
                    "POST",
                    f"/v1/admin/parties/{p.id}/encryption-keys",
                    {"jwk": p.enc.public.to_jwk()},
                )
            )
        await _gather_limited(jobs)
        await _gather_limited(
            admin.admin("POST", "/v1/admin/groups", {"id": gid, "name": gid}) for gid in groups
        )
        await _gather_limited(
            admin.admin("PUT", f"/v1/admin/groups/{gid}/members/{party}", {"role": role})
            for gid, members in groups.items()
            for party, role in members.items()
        )
    finally:
        await admin.close()
    return time.perf_counter() - t0


# --- bulletins ----------------------------------------------------------------------------

_SUMMARY = (
    "Credible reporting indicates that a small group has acquired at least one "
    "man-portable air-defence system and has shown interest in flights approaching and "
    "departing the capital's international airport during the coming fortnight. "
)


def bulletin(iss: str, groups: Sequence[str], *, now: int, n: int = 0) -> dict[str, Any]:
    """A valid threat assessment of about 1.5 KiB of JSON (docs/bulletins.md)."""
    return {
        "v": 1,
        "bid": str(uuid.uuid4()),
        "iss": iss,
        "groups": list(groups),
        "to": [],
        "type": "threat-assessment",
        "priority": "immediate",
        "tlp": "amber",
        "iat": now,
        "exp": now + 7 * 86400,
        "supersedes": None,
        "title": f"Benchmark threat assessment {n}",
        "lang": "en",
        "body": {
            "summary": _SUMMARY * 3,
            "threat_level": "substantial",
            "categories": ["manpads", "uas"],
            "locations": ["UAAA", "UACC", "UTTT", "UBBB"],
            "valid_from": now,
            "valid_until": now + 7 * 86400,
            "confidence": "moderate",
            "sources": ["National security service liaison report"],
            "recommendations": [
                "Intensify patrols of the approach and departure corridors.",
                "Brief flight crews on MANPADS-aware departure and arrival procedures.",
            ],
        },
    }


_POOL_KEYS: dict[str, Any] = {}


def _pool_init(signers: dict[str, dict[str, str]], enc: dict[str, dict[str, str]]) -> None:
    _POOL_KEYS["signers"] = {cid: signer_from_jwk(j) for cid, j in signers.items()}
    _POOL_KEYS["enc"] = {pid: parse_encryption_jwk(j) for pid, j in enc.items()}


def _seal_job(job: tuple[dict[str, Any], str, list[str]]) -> str:
    from exchange.crypto.envelope import seal

    b, cid, recipients = job
    keys = _POOL_KEYS["enc"]
    return seal(b, _POOL_KEYS["signers"][cid], [keys[r] for r in recipients])


def seal_many(
    parties: Sequence[Party],
    jobs: Sequence[tuple[dict[str, Any], str, list[str]]],
    workers: int | None = None,
) -> list[str]:
    """Seal (bulletin, sender client id, recipient parties) jobs on every core."""
    signers = {cid: s.to_private_jwk() for p in parties for cid, s in p.clients}
    enc = {p.id: p.enc.public.to_jwk() for p in parties}
    with ProcessPoolExecutor(
        max_workers=workers or os.cpu_count() or 1,
        initializer=_pool_init,
        initargs=(signers, enc),
    ) as pool:
        return list(pool.map(_seal_job, jobs, chunksize=16))


def token(signer: Ed25519Signer, client_id: str, method: str, path: str, body: bytes | None) -> str:
    """A fresh single-use request token (PROTOCOL §6), valid for 300 s."""
    return tokens.make_request_token(
        signer,
        client_id=client_id,
        aud=EXCHANGE_ID,
        method=method,
        path=path,
        body=body,
        now=int(time.time()),
        lifetime=300,
    )


def write_requests(path: Path, posts: Sequence[tuple[str, Ed25519Signer, str]]) -> int:
    """One line per POST /v1/bulletins: ``token<TAB>envelope``, for bench/post.lua. Each
    token is fresh (its own jti and body hash). Returns the file size in bytes."""
    with open(path, "w", encoding="ascii") as f:
        for cid, signer, envelope in posts:
            t = token(signer, cid, "POST", "/v1/bulletins", envelope.encode("ascii"))
            f.write(f"{t}\t{envelope}\n")
    return path.stat().st_size


# --- wrk ----------------------------------------------------------------------------------


def run_wrk(
    url: str, reqfile: Path, *, threads: int, connections: int, max_seconds: int = 120
) -> dict[str, Any]:
    """Send every request in ``reqfile`` once, over ``connections`` keep-alive
    connections; returns the figures bench/post.lua prints."""
    exe = shutil.which("wrk")
    if exe is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    cmd = [
        exe,
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{max_seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(BENCH / "post.lua"),
        url + "/v1/bulletins",
        "--",
        str(reqfile),
        str(threads),
    ]
    for old in reqfile.parent.glob(reqfile.name + ".done-*"):
        old.unlink()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + max_seconds + 30
    while proc.poll() is None and time.monotonic() < deadline:
        if len(list(reqfile.parent.glob(reqfile.name + ".done-*"))) >= threads:
            break
        time.sleep(0.05)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # wrk then stops and prints (done() runs)
    stdout, stderr = proc.communicate(timeout=60)
    for old in reqfile.parent.glob(reqfile.name + ".done-*"):
        old.unlink()
    for line in stdout.splitlines():
        if line.startswith("BENCHJSON "):
            return dict(json.loads(line[len("BENCHJSON ") :]))
    out = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    raise RuntimeError(f"wrk printed no figures:\n{out.stdout}\n{out.stderr}")


# --- py-spy -------------------------------------------------------------------------------


class PySpy:
    """``py-spy record`` of one process while a measurement runs (raw collapsed stacks,
    idle samples included so that event-loop idleness shows as time in select)."""

    def __init__(self, pid: int, out: Path, *, rate: int = 100) -> None:
        exe = (
            os.environ.get("PY_SPY")
            or shutil.which("py-spy")
            or shutil.which("py-spy", path=str(Path(sys.executable).parent))
        )
        if exe is None:
            raise SystemExit("py-spy is not installed: pip install py-spy (or set PY_SPY)")
        out.parent.mkdir(parents=True, exist_ok=True)
        self.out = out
        self.cmd = [
            exe,
            "record",
            "--pid",
            str(pid),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--idle",
            "--threads",
            "--output",
            str(out),
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> PySpy:
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.5)  # let it attach
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        if self.out.exists():
            from profile_summary import summarise

            print(f"\nprofile: {self.out}")
            print(summarise(self.out, top=18))
        else:
            err = self.proc.stderr.read().decode() if self.proc.stderr else ""
            print(f"\npy-spy wrote no profile: {err.strip()[:400]}")


def maybe_profile(
    folder: str | None, pid: int, name: str
) -> contextlib.AbstractContextManager[Any]:
    if not folder:
        return contextlib.nullcontext()
    return PySpy(pid, Path(folder) / f"{name}.txt")


# --- posting from Python (open loop, at a fixed rate) ---------------------------------------


def receipt_fields(receipt: str) -> dict[str, Any]:
    """The payload of a receipt JWS, with ``accepted_at`` as epoch seconds."""
    import base64
    import datetime as dt

    payload = receipt.split(".")[1]
    data = dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))
    at = dt.datetime.strptime(data["accepted_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    data["accepted_s"] = at.replace(tzinfo=dt.UTC).timestamp()
    return data


async def post_at_rate(
    url: str, posts: Sequence[tuple[str, Ed25519Signer, str]], rate: float
) -> list[dict[str, Any]]:
    """POST each envelope once, starting one every 1/rate s whatever the answers (open
    loop); tokens are made just before the run. Returns per post: t_send, t_resp,
    status, and the receipt's seq, recipients and accepted_s."""
    import aiohttp

    bodies = [
        (env.encode("ascii"), token(s, cid, "POST", "/v1/bulletins", env.encode("ascii")))
        for cid, s, env in posts
    ]
    results: list[dict[str, Any]] = [{} for _ in bodies]
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=60)
    ) as session:

        async def one(i: int) -> None:
            body, tok = bodies[i]
            headers = {"Authorization": f"Bearer {tok}", "Content-Type": "application/jose"}
            t_send = time.time()
            try:
                async with session.post(url + "/v1/bulletins", data=body, headers=headers) as r:
                    data = await r.json(content_type=None)
                    status = r.status
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                results[i] = {"t_send": t_send, "status": type(exc).__name__}
                return
            res: dict[str, Any] = {"t_send": t_send, "t_resp": time.time(), "status": status}
            if status in (200, 201):
                res.update(receipt_fields(data["receipt"]))
            results[i] = res

        tasks = []
        start = time.perf_counter() + 0.05
        for i in range(len(bodies)):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    return results
