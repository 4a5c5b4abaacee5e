"""``exchange serve --workers N``: several server processes on one port.

One Python process runs its event loop on one core; the signature checks of every post
are CPU work that threads cannot spread (issue 8). N worker processes each bind the same
port with ``SO_REUSEPORT`` (the kernel spreads connections among them) and open the same
database, as several nodes would: on SQLite each commit takes the file's write lock
(``BEGIN IMMEDIATE``, waiting on ``busy_timeout``) and stays durable before its answer;
streams learn of the other workers' commits by a short poll of the newest ``seq``
(``ServerConfig.poll_interval``), since no worker sees every commit. A worker that dies
is started again; SIGTERM or SIGINT stops them all gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import socket
from multiprocessing.process import BaseProcess

from exchange.config import ServerConfig
from exchange.errors import InputError
from exchange.logs import setup_logging
from exchange.node.server import banner, run_node, stop_on_signals

__all__ = ["WORKER_POLL", "supervise"]

log = logging.getLogger("exchange.workers")

#: how often a worker looks for bulletins the other workers accepted (seconds)
WORKER_POLL = 0.05
#: a worker that dies is started again after this long (a crash loop is slowed down)
RESTART_DELAY = 1.0


def _die_with_parent(parent: int) -> None:
    """Linux: SIGTERM this worker when the supervisor dies, even by SIGKILL, so that no
    orphan keeps serving the port (or the database) on its own."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the supervisor died before the line above
        os.kill(os.getpid(), signal.SIGTERM)


def _run_worker(config: ServerConfig, parent: int) -> None:
    _die_with_parent(parent)
    setup_logging(config.log_level, config.log_file)
    asyncio.run(run_node(config))


def _listening(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


async def supervise(config: ServerConfig) -> None:
    """Run ``config.workers`` worker processes until SIGINT/SIGTERM."""
    if config.port == 0:
        raise InputError("--workers needs a fixed --port (each worker binds the same one)")
    worker_config = config.with_(
        workers=1, reuse_port=True, poll_interval=config.poll_interval or WORKER_POLL
    )
    ctx = multiprocessing.get_context("spawn")

    def launch(i: int) -> BaseProcess:
        proc = ctx.Process(
            target=_run_worker, args=(worker_config, os.getpid()), name=f"worker-{i}"
        )
        proc.start()
        return proc

    stop = stop_on_signals()
    procs = [launch(i) for i in range(config.workers)]
    try:
        for _ in range(600):  # up to 60 s for the first worker to listen
            if stop.is_set() or await asyncio.to_thread(_listening, config.host, config.port):
                break
            await asyncio.sleep(0.1)
        print(banner(config, f"http://{config.host}:{config.port}"), flush=True)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(RESTART_DELAY):
                    await stop.wait()
            for i, proc in enumerate(procs):
                if not proc.is_alive() and not stop.is_set():
                    log.warning("worker %d exited with %s; starting it again", i, proc.exitcode)
                    procs[i] = launch(i)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()  # SIGTERM: each worker drains and closes its streams
        grace = config.drain_timeout + 10
        for proc in procs:
            await asyncio.to_thread(proc.join, grace)
            if proc.is_alive():
                proc.kill()
