"""``exchange demo``: one command, a whole exchange on loopback, cleaned up after."""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import pytest

STATES = ("AZ", "GE", "KG", "TJ", "UZ")


def test_demo_runs_end_to_end(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    started = time.monotonic()
    r = cli("demo").ok()
    elapsed = time.monotonic() - started
    assert elapsed < 15, elapsed
    out = r.out
    assert r.err == ""
    assert re.search(r"A fresh exchange on http://127\.0\.0\.1:\d+ ", out)
    assert "group cac-avsec: chair KZ; members AZ GE KG TJ UZ; observer ICAO" in out
    assert "All 7 members are connected by WebSocket" in out
    assert "recipients AZ GE ICAO KG TJ UZ" in out
    # every recipient received, opened, checked and acked it; the sender did not
    received = re.findall(
        r"^   (\w+)\s+\+\d+ ms  \S+ 7/7 checks  from KZ/ops  threat level SEVERE", out, re.M
    )
    assert sorted(received) == sorted((*STATES, "ICAO"))
    # the ledger: a row per recipient with delivery, received and read times
    assert re.search(r"PARTY\s+DELIVERED\s+RECEIVED\s+READ\s+ACTIONED\s+OVERDUE", out)
    for party in (*STATES, "ICAO"):
        assert re.search(rf"^   {party}\s+(\S+Z\s+){{3}}-\s+no$", out, re.M), party
    assert "6 of 6 recipients acknowledged" in out
    assert re.search(r"server-signed tree of \d+ entries: signature \S+, inclusion proof", out)
    assert re.search(r"Done in \d+\.\d s", out)
    assert list(scratch.iterdir()) == []  # the temporary folder is gone


def test_demo_as_a_process(proc) -> None:
    r = proc("demo", timeout=60)
    assert r.rc == 0, r.err
    assert "6 of 6 recipients acknowledged" in r.out
    assert "Traceback" not in r.err
