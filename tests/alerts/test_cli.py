"""``exchange alerts …`` and ``exchange admin webhook redeliver`` against a real server:
register, list, see a dead letter, redeliver it, remove; errors are one line."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re

import pytest
from alerts._kit import MakeHarness, Receiver, fast_alerts
from integration._flows import eventually, threat

from exchange.cli.main import main
from exchange.keyfiles import read_profile, write_profile


async def test_cli_register_dead_letter_redeliver_remove(
    make_harness: MakeHarness, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    h = await make_harness(alerts=fast_alerts(max_attempts=2))
    m = await h.cac(observer=False)
    folder = h.keys_dir / "OPERATOR" / "admin"
    write_profile(folder, dataclasses.replace(read_profile(folder), server_url=h.url))

    async def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        rc = await asyncio.to_thread(main, [*argv, "--profile", str(folder)])
        out, err = capsys.readouterr()
        return rc, out, err

    rc, out, _ = await run("alerts", "add", "UZ", receiver.url, "--min-priority", "immediate")
    assert rc == 0 and out.startswith("added webhook ") and "for UZ (notification)" in out
    endpoint = re.search(r"webhook ([0-9a-f-]{36})", out)
    assert endpoint
    eid = endpoint.group(1)
    rc, out, _ = await run("alerts", "mail", "UZ", "duty@caa.uz", "--events", "escalation")
    assert rc == 0 and "mail" in out
    rc, out, _ = await run("alerts", "list", "UZ", "--json")
    assert rc == 0 and {e["kind"] for e in json.loads(out)} == {"webhook", "mail"}

    receiver.answers = [500, 500]
    receipt = await m["KZ"].client.post(threat("KZ"))

    async def dead() -> bool:
        rc, out, _ = await run("admin", "webhook", "deliveries", eid, "--state", "dead")
        return rc == 0 and receipt.bid in out

    await eventually(dead, timeout=10)
    rc, out, _ = await run("admin", "webhook", "redeliver", eid)
    assert rc == 0 and out.startswith("1 dead-lettered deliveries queued again")
    await eventually(lambda: len(receiver.pushes) == 3, timeout=10)
    rc, out, _ = await run("alerts", "deliveries", eid, "--state", "done", "--json")
    assert [d["bid"] for d in json.loads(out)] == [receipt.bid]

    rc, out, _ = await run("alerts", "remove", eid)
    assert rc == 0 and out.startswith(f"removed {eid}")
    rc, _, err = await run("alerts", "remove", eid)
    assert rc == 1 and err.startswith("exchange: error: ") and err.count("\n") == 1
    rc, _, err = await run("alerts", "add", "UZ", "http://169.254.169.254/")
    assert rc == 1 and "not allowed" in err and "Traceback" not in err
