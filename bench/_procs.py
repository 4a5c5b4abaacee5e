"""CPU and memory of processes and of the machine, read from /proc, and the open-file
limit (thousands of connections need more than the default)."""

from __future__ import annotations

import contextlib
import os
import resource
import time

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
