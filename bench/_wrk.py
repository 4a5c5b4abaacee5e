"""wrk (with bench/post.lua) posting pre-signed requests, each once: the closed-loop
load of bench/ingest.py."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from _machine import BENCH


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
