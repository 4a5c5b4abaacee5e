"""The header every benchmark prints: the machine, the software, the disk, the load,
so that a figure can be read next to where it was measured."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent


PACKAGES = ("avsec-exchange", "aiohttp", "cryptography", "SQLAlchemy", "aiosqlite", "asyncpg")


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
