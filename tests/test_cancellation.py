"""A background loop stops when it is cancelled, also when it wakes at that moment.

On Python 3.11, ``asyncio.wait_for`` returns the inner result and drops the
cancellation when both arrive in the same loop iteration (fixed in 3.12). A loop built
on it then runs on after its task was cancelled, and whoever awaits that task (a node
shutting down) waits forever: the suite hung twice in CI on the alert worker this way.
``asyncio.timeout`` keeps the cancellation, so the code uses it throughout."""

from __future__ import annotations

import ast
import asyncio
import pathlib
from typing import Any, cast

import exchange
from exchange.config import AlertsConfig
from exchange.service.alerts.worker import AlertWorker

ROOT = pathlib.Path(exchange.__file__).parent


def _wait_for_calls(source: str) -> int:
    tree = ast.parse(source)
    return sum(
        1
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute)
        and n.attr == "wait_for"
        and isinstance(n.value, ast.Name)
        and n.value.id == "asyncio"
    )


def test_no_asyncio_wait_for_in_the_package() -> None:
    bad = [
        str(p.relative_to(ROOT))
        for p in sorted(ROOT.rglob("*.py"))
        if _wait_for_calls(p.read_text(encoding="utf-8"))
    ]
    assert not bad, bad


def test_the_source_check_finds_a_wait_for() -> None:
    assert _wait_for_calls("async def f(e):\n    await asyncio.wait_for(e.wait(), 1)\n") == 1
    assert _wait_for_calls("async def f(e):\n    await e.wait()\n") == 0


async def test_the_alert_worker_stops_when_cancelled_as_it_wakes() -> None:
    """A delivery finishing (the wake-up) as the node cancels the worker's loop."""
    ticks = 0

    async def tick() -> int:
        nonlocal ticks
        ticks += 1
        return 0

    worker = AlertWorker(
        db=cast(Any, None),
        clock=cast(Any, None),
        signer=cast(Any, None),
        marker=cast(Any, None),
        config=AlertsConfig(poll_interval=0.05),
    )
    worker.tick = tick  # type: ignore[method-assign]
    task = asyncio.create_task(worker.run())
    for _ in range(5):
        await asyncio.sleep(0.01)
        worker._wake.set()  # what a finished delivery does (AlertWorker._done)
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=1)
        assert done, "the cancelled loop ran on"
        assert task.cancelled()
        assert ticks >= 1
        task = asyncio.create_task(worker.run())
    task.cancel()
