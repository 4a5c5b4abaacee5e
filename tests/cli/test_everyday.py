"""Everyday use through the CLI: the sender's view (``exchange sent``), inbox filters,
priorities in plain words, and ``| head`` exiting quietly."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
KZ = ("--profile", "keys/KZ/ops")
UZ = ("--profile", "keys/UZ/ops")


@pytest.fixture
def short_flash(monkeypatch: pytest.MonkeyPatch) -> None:
    """A flash bulletin is overdue after 1 s on the server started next."""
    monkeypatch.setenv("EXCHANGE_ACK_DEADLINES_FLASH", "1")


def _post(cli, examples, *extra: str) -> str:
    out = cli("post", str(examples / "threat-assessment.json"), *KZ, *extra).ok().out
    return re.search(rf"posted ({UUID})", out).group(1)  # type: ignore[union-attr]


def test_sent_and_inbox_filters(short_flash, cli, running, enrol, examples) -> None:
    enrol("KZ", "UZ", "GE", url=running.url)
    b1 = _post(cli, examples)
    b2 = _post(cli, examples, "--priority", "flash")
    b3 = _post(cli, examples, "--priority", "routine")
    cli("ack", b1, *UZ).ok()
    cli("ack", b1, "--status", "read", "--profile", "keys/GE/ops").ok()
    cli("ack", b3, *UZ).ok()
    time.sleep(1.5)  # b2's flash deadline (1 s) passes with no ack

    items = json.loads(cli("sent", "--json", *KZ).ok().out)["items"]
    assert [(i["bid"], i["recipients"], i["acknowledged"], i["overdue"]) for i in items] == [
        (b1, 2, 2, 0), (b2, 2, 0, 2), (b3, 2, 1, 0),
    ]  # fmt: skip
    out = cli("sent", *KZ).ok().out
    assert re.search(rf"{b1}\s+threat-assessment\s+priority \(FF\)\s+\S+ \S+\s+all\s+no", out)
    assert re.search(
        rf"{b2}\s+threat-assessment\s+flash \(SS\)\s+\S+ \S+\s+0 of 2\s+2 OVERDUE", out
    )
    assert re.search(rf"{b3}.*routine \(GG\).*1 of 2\s+no", out)
    overdue = json.loads(cli("sent", "--overdue", "--json", *KZ).ok().out)["items"]
    assert [i["bid"] for i in overdue] == [b2]
    assert "nothing sent after seq 0" in cli("sent", *UZ).ok().out  # only one's own party
    r = cli("sent", "--profile", "keys/OPERATOR/admin")
    assert r.rc == 1 and "'poster' role" in r.err

    def bids(*filters: str) -> list[str]:
        out = cli("inbox", "--json", *UZ, *filters).ok().out
        return [i["bid"] for i in json.loads(out)["items"]]

    assert bids() == [b1, b2, b3]
    assert bids("--priority", "flash") == [b2]
    assert bids("--priority", "priority") == [b1, b2]  # this priority or more urgent
    assert bids("--sender", "KZ") == [b1, b2, b3]
    assert bids("--sender", "GE") == []
    assert bids("--type", "advisory,request") == []
    assert bids("--type", "threat-assessment", "--limit", "2") == [b1, b2]
    assert bids("--since", "1h") == [b1, b2, b3]
    assert bids("--since", "2099-01-01") == []
    page = json.loads(cli("inbox", "--json", "--priority", "flash", "--limit", "1", *UZ).out)
    assert [i["bid"] for i in page["items"]] == [b2]
    assert bids("--priority", "flash", "--after", str(page["next"])) == []
    # acknowledged by any desk of the party: the server keeps only what none has acked
    assert bids("--unacknowledged") == [b2]
    assert bids("--unacknowledged", "--sender", "KZ") == [b2]  # with the CLI's filters too
    assert bids("--unacknowledged", "--priority", "routine") == [b2]
    ge = json.loads(cli("inbox", "--json", "--unacknowledged", "--profile", "keys/GE/ops").out)
    assert [i["bid"] for i in ge["items"]] == [b2, b3]  # GE acked b1 only
    table = cli("inbox", *UZ).ok().out
    assert "flash (SS)" in table and "routine (GG)" in table
    r = cli("inbox", "--since", "yesterday", *UZ)
    assert r.rc == 2 and "not a date, a time or a span" in r.err


def test_pipe_closed_early_exits_quietly(tmp_path: Path) -> None:
    """``exchange config show | head -0``: the reader is gone before anything is printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "exchange.cli.main", "config", "show"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # as head does once it has its lines
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=30) == 0
    assert err == ""
