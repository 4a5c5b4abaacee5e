"""Summarise a ``py-spy record --format raw --idle --threads`` profile as text.

Run: ``python bench/profile_summary.py PROFILE.txt [--top N]``. The benchmark scripts
call it for their ``--profile DIR`` option. It prints, per thread, how much of the time it
was busy; then for the event-loop thread (MainThread) the share of its busy time spent
under each package or module (inclusive), and the functions that were on CPU (self time).

Flame graphs come from the same data: ``py-spy record --format speedscope`` or
``--format flamegraph`` instead of ``raw``.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

#: leaf frames that mean "waiting, not working"
IDLE_LEAVES = (
    "EpollSelector.select",
    "select (selectors.py",
    "Condition.wait",
    "Queue.get",
    "SimpleQueue.get",
    "Event.wait",
    "_wait_for_tstate_lock",
    "Thread.join",
    "lock.acquire",
)

#: inclusive buckets for the event-loop thread: (label, pattern in a frame)
BUCKETS: tuple[tuple[str, str], ...] = (
    ("exchange.api (handlers, middlewares)", "exchange/api/"),
    ("exchange.service", "exchange/service/"),
    ("exchange.store (queries)", "exchange/store/"),
    ("exchange.crypto (all)", "exchange/crypto/"),
    ("  Ed25519 verify", "SigningPublicKey.verify"),
    ("  Ed25519 sign", "Ed25519Signer.sign"),
    ("  strict base64url", "b64u_decode"),
    ("  strict JSON", "loads_object"),
    ("exchange.audit (Merkle, canonical JSON)", "exchange/audit/"),
    ("exchange.bulletin (metadata validation)", "exchange/bulletin/"),
    ("SQLAlchemy", "sqlalchemy/"),
    ("aiosqlite (loop side)", "aiosqlite/"),
    ("aiohttp", "aiohttp/"),
    ("  aiohttp websocket writer", "_websocket/writer"),
    ("logging (request log)", "logging/"),
    ("json (stdlib)", "json/"),
)

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]*)(?::\d+)?\)$")


def _parse(path: Path) -> list[tuple[str, list[str], int]]:
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        thread = frames[0].split(": ", 1)[-1] if frames[0].startswith("thread") else "?"
        out.append((thread, frames[1:], int(count)))
    return out


def _aiosqlite_wait_line() -> str:
    """aiosqlite's worker thread waits in ``tx.get()``, a C call py-spy does not show:
    its samples end on that line of ``_connection_worker_thread``."""
    try:
        import inspect

        import aiosqlite.core

        lines, start = inspect.getsourcelines(aiosqlite.core._connection_worker_thread)
    except (ImportError, OSError, AttributeError):
        return "aiosqlite/core.py:59)"
    for i, line in enumerate(lines):
        if "tx.get()" in line:
            return f"aiosqlite/core.py:{start + i})"
    return "aiosqlite/core.py:59)"


_AIOSQLITE_WAIT = _aiosqlite_wait_line()


def _idle(frames: list[str]) -> bool:
    if not frames:
        return True
    leaf = frames[-1]
    if leaf.startswith("_connection_worker_thread") and leaf.endswith(_AIOSQLITE_WAIT):
        return True
    return any(leaf.startswith(p) or p in leaf for p in IDLE_LEAVES)


def _short(frame: str) -> str:
    m = _FRAME.match(frame)
    if not m:
        return frame
    f = m.group("file")
    for marker in ("site-packages/", "lib/python3"):
        if marker in f:
            f = f.split(marker, 1)[1]
            f = f.split("/", 1)[1] if marker == "lib/python3" and "/" in f else f
    if "/exchange/" in f:
        f = "exchange/" + f.split("/exchange/", 1)[1]
    return f"{m.group('func')} ({f})"


def summarise(path: Path, top: int = 15) -> str:
    rows = _parse(path)
    if not rows:
        return "(empty profile)"
    lines = []
    per_thread: Counter[str] = Counter()
    busy_thread: Counter[str] = Counter()
    for thread, frames, n in rows:
        name = thread.split(" ", 1)[0] if thread.startswith("MainThread") else thread
        per_thread[name] += n
        if not _idle(frames):
            busy_thread[name] += n
    ticks = max(1, sum(n for t, n in per_thread.items() if t.startswith("MainThread")))
    lines.append("threads: busy time as % of one core (wall-clock samples, idle included)")
    # aiosqlite/asyncio worker threads are many and alike: group them
    grouped: Counter[str] = Counter()
    grouped_busy: Counter[str] = Counter()
    for t, n in per_thread.items():
        key = "MainThread (event loop)" if t.startswith("MainThread") else re.sub(r"-\d+", "-N", t)
        grouped[key] += n
        grouped_busy[key] += busy_thread[t]
    for t, n in grouped.most_common(6):
        count = max(1, round(n / ticks))
        lines.append(f"  {t:<44} x{count:<3} busy {grouped_busy[t] / ticks * 100:6.1f} %")

    main = [(f, n) for t, f, n in rows if t.startswith("MainThread") and not _idle(f)]
    main_total = sum(per_thread[t] for t in per_thread if t.startswith("MainThread"))
    busy = sum(n for _, n in main)
    if not busy:
        return "\n".join(lines)
    lines.append(
        f"event loop busy {busy / max(1, main_total) * 100:.1f} % of {main_total} samples;"
        " below, shares of its busy time"
    )
    lines.append("inclusive, by component:")
    for label, pattern in BUCKETS:
        hit = sum(n for f, n in main if any(pattern in x for x in f))
        if hit:
            lines.append(f"  {label:<42} {hit / busy * 100:5.1f} %")
    incl: Counter[str] = Counter()
    self_: Counter[str] = Counter()
    for f, n in main:
        self_[_short(f[-1])] += n
        for name in {_short(x) for x in f}:
            incl[name] += n
    lines.append("self time (on CPU in this function):")
    for name, n in self_.most_common(top):
        lines.append(f"  {n / busy * 100:5.1f} %  {name}")
    lines.append("inclusive, project and library functions:")
    shown = 0
    for name, n in incl.most_common():
        if n / busy > 0.97 or "asyncio/" in name or "<module>" in name or "runners" in name:
            continue
        lines.append(f"  {n / busy * 100:5.1f} %  {name}")
        shown += 1
        if shown >= top:
            break
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    print(summarise(args.profile, args.top))


if __name__ == "__main__":
    main()
