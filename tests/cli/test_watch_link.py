"""``exchange watch`` says when it is not live: the server goes away, watch says so with
the time since its last contact, and when the server is back it says it is live again
and catches up on what was posted meanwhile."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

UZ = ("--profile", "keys/UZ/ops")
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


class Lines:
    """A process's stream read on a thread, so that a test can wait for a line."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def close(self, stream) -> None:
        self._thread.join(timeout=10)
        stream.close()

    def wait_for(self, pattern: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if re.search(pattern, line):
                    return line
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r} in {self.lines}")


def _post(cli, examples) -> str:
    out = cli("post", str(examples / "threat-assessment.json"), "--profile", "keys/KZ/ops")
    return re.search(rf"posted ({UUID})", out.ok().out).group(1)  # type: ignore[union-attr]


def test_watch_tells_when_it_is_not_live(
    cli, running, enrol, examples, start_serve, tmp_path: Path
) -> None:
    enrol("KZ", "UZ", url=running.url)
    port = int(running.url.rsplit(":", 1)[1])
    watch = subprocess.Popen(
        [sys.executable, "-m", "exchange.cli.main", "watch", "--count", "2", *UZ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    out, err = Lines(watch.stdout), Lines(watch.stderr)
    try:
        err.wait_for("^watching as UZ/ops")
        b1 = _post(cli, examples)
        out.wait_for(b1)
        running.stop()  # the server goes away
        line = err.wait_for(r"NOT LIVE: disconnected from http://127\.0\.0\.1")
        assert re.search(r"last contact \d+ s ago\); retrying", line), line
        again = start_serve(port, "--log-file", "serve2.log")
        try:
            b2 = _post(cli, examples)  # posted while watch may still be reconnecting
            err.wait_for(r"-- live again after \d+ s offline; catching up after seq \d+")
            out.wait_for(b2)
            assert watch.wait(timeout=30) == 0
        finally:
            again.stop()
    finally:
        if watch.poll() is None:
            watch.kill()
        watch.wait()
        out.close(watch.stdout)
        err.close(watch.stderr)
    assert not any("Traceback" in line for line in err.lines), err.lines
