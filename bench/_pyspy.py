"""py-spy recording a server while a measurement runs (``--profile DIR``), and the
summary bench/profile_summary.py makes of it."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


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
