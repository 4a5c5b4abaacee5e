"""Reachability (last live stream, last inbox pull) and directory health in a report."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import update
from support import Harness

from exchange.client.reports import fetch_report
from exchange.crypto.keys import EncryptionPrivateKey
from exchange.store import schema as s

DAY_MS = 86_400_000


async def test_last_stream_and_inbox_per_state_and_quiet_states(harness: Harness) -> None:
    m = await harness.cac(observer=False)
    await m["UZ"].client.inbox()
    # a live stream counts as seen now for as long as it is open
    got_heartbeat = asyncio.Event()

    async def listen() -> None:
        async for _ in m["KG"].client.stream(after=0):
            got_heartbeat.set()

    task = asyncio.create_task(listen())
    try:
        for _ in range(100):
            if "KG" in harness.server.exchange.hub.live_parties():
                break
            await asyncio.sleep(0.05)
        assert "KG" in harness.server.exchange.hub.live_parties()
        rep = await fetch_report(m["KZ"].client, group="cac-avsec")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    by = {r["party"]: r for r in rep["reachability"]}
    assert set(by) == {"AZ", "GE", "KG", "KZ", "TJ", "UZ"}
    assert by["UZ"]["last_inbox"] is not None and by["UZ"]["last_stream"] is None
    assert not by["UZ"]["quiet"]
    assert by["KG"]["last_stream"] is not None and not by["KG"]["quiet"]
    # KZ made requests (this report) but never pulled or streamed: quiet
    assert by["KZ"]["last_request"] is not None and by["KZ"]["quiet"]
    # AZ never made a request at all: quiet, and its client is listed as never used
    assert by["AZ"] == {
        "party": "AZ",
        "last_stream": None,
        "last_inbox": None,
        "last_request": None,
        "quiet": True,
        "days_since_seen": None,
    }
    unused = {c["client"] for c in rep["directory"]["unused_clients"]}
    assert {"AZ/ops", "GE/ops", "TJ/ops"} <= unused
    assert not unused & {"UZ/ops", "KZ/ops", "KG/ops"}


async def test_a_state_that_stopped_pulling_goes_quiet(harness: Harness) -> None:
    m = await harness.cac(observer=False)
    await m["TJ"].client.inbox()
    ex = harness.server.exchange
    await ex.seen.flush()
    old = ex.clock.ms() - 8 * DAY_MS  # 8 days ago: past QUIET_DAYS
    await ex.db.run_write(
        lambda c: c.execute(
            update(s.last_seen).where(s.last_seen.c.party == "TJ").values(inbox_at=old)
        )
    )
    rep = await fetch_report(harness.admin)
    tj = next(r for r in rep["reachability"] if r["party"] == "TJ")
    assert tj["quiet"] and tj["days_since_seen"] == 8.0
    # a later flush of an older mark never moves a time backwards
    ex.seen.tracker.note("TJ/ops", "TJ", "/v1/directory", old - DAY_MS)
    await ex.seen.flush()
    again = await fetch_report(harness.admin)
    tj2 = next(r for r in again["reachability"] if r["party"] == "TJ")
    assert tj2["last_request"] == tj["last_request"] is not None
    assert tj2["last_inbox"] == tj["last_inbox"]


async def test_directory_health_flags_old_and_never_rotated_keys(harness: Harness) -> None:
    m = await harness.cac(observer=False)
    ex = harness.server.exchange
    now = ex.clock.ms()
    await ex.db.run_write(
        lambda c: (
            c.execute(
                update(s.enc_keys)
                .where(s.enc_keys.c.party == "AZ")
                .values(created_at=now - 400 * DAY_MS)
            ),
            c.execute(
                update(s.enc_keys)
                .where(s.enc_keys.c.party == "GE")
                .values(created_at=now - 350 * DAY_MS)
            ),
            c.execute(
                update(s.clients)
                .where(s.clients.c.id == "KG/ops")
                .values(created_at=now - 366 * DAY_MS)
            ),
        )
    )
    # UZ rotates its encryption key: no longer "never rotated"
    new = EncryptionPrivateKey.generate("x25519")
    await harness.admin.admin(
        "POST", "/v1/admin/parties/UZ/encryption-keys", {"jwk": new.public.to_jwk()}
    )
    rep = await fetch_report(harness.admin)
    flags = {(k["use"], k["party"]): k["flags"] for k in rep["directory"]["keys"]}
    assert flags[("encryption", "AZ")] == ["past-lifetime", "never-rotated"]
    assert flags[("encryption", "GE")] == ["near-lifetime", "never-rotated"]
    assert flags[("encryption", "KZ")] == ["never-rotated"]
    assert ("encryption", "UZ") not in flags
    assert flags[("signing", "KG")] == ["past-lifetime"]
    assert ("signing", "KZ") not in flags
    assert m["KZ"].party == "KZ"
