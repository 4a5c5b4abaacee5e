"""``exchange demo``: a whole exchange on this machine, end to end, in a few seconds.

A temporary folder holds a fresh SQLite database and keys; a real server listens on a
free loopback port; the operator enrols the six Central Asia/Caucasus States and ICAO
through the admin API; every member opens a WebSocket stream; Kazakhstan posts a threat
assessment; each member decrypts it, checks it and acknowledges it; the sender reads its
delivery ledger and checks the audit log. Nothing leaves the loopback interface and
nothing is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exchange.audit import merkle
from exchange.bulletin.validate import new_bulletin
from exchange.cli._common import closing_stream, table
from exchange.cli._render import CHECKS, Opened, mark
from exchange.cli.bulletins import LEDGER_HEADERS, ledger_rows
from exchange.client import ExchangeClient
from exchange.config import ServerConfig
from exchange.crypto import b64u_decode, jws
from exchange.crypto.keys import EncryptionPrivateKey, generate_signer
from exchange.errors import BadSignature, StorageError
from exchange.keyfiles import read_profile
from exchange.keystore import load_signer
from exchange.node import RunningServer, init, open_exchange, start

__all__ = ["PARTIES", "enrol", "run_demo", "threat_assessment"]

#: The demo's parties: the six CAC States, and ICAO as an observing organisation.
PARTIES: dict[str, tuple[str, str]] = {
    "AZ": ("state", "Azerbaijan State Civil Aviation Agency"),
    "GE": ("state", "Georgian Civil Aviation Agency"),
    "KG": ("state", "Civil Aviation Agency of Kyrgyzstan"),
    "KZ": ("state", "Civil Aviation Committee of Kazakhstan"),
    "TJ": ("state", "Civil Aviation Agency of Tajikistan"),
    "UZ": ("state", "Civil Aviation Agency of Uzbekistan"),
    "ICAO": ("organization", "ICAO Secretariat, Aviation Security Section"),
}
GROUP = "cac-avsec"
GROUP_NAME = "Central Asia/Caucasus Aviation Security Coordinating Group"
SENDER = "KZ"
WAIT = 10.0  # seconds to wait for a step before giving up


def threat_assessment(now: int) -> dict[str, Any]:
    """KZ's bulletin: a (fictional, exercise) MANPADS threat to the Almaty approach."""
    valid_until = now + 72 * 3600
    body = {
        "summary": (
            "EXERCISE. Credible reporting indicates that a non-state group in the Almaty "
            "region has obtained at least one man-portable air-defence system (MANPADS) "
            "and has observed areas under the final approach and initial climb-out paths "
            "of runways 05R/23L at Almaty International Airport (UAAA). Aircraft below "
            "FL150 within 30 NM of UAAA are assessed to be within reach."
        ),
        "threat_level": "severe",
        "categories": ["manpads"],
        "locations": ["UAAA", "UCFM"],
        "valid_from": now,
        "valid_until": valid_until,
        "confidence": "moderate",
        "sources": ["National security service reporting (fictional, for this exercise)"],
        "recommendations": [
            "Aircraft operators: consider continuous-descent and steep approaches to UAAA "
            "and minimise time below FL150 within 30 NM.",
            "Airport operator: extend patrols of areas under the approach and departure "
            "paths to 10 NM and report sightings to the KZ AVSEC duty officer.",
            "Bishkek (UCFM) arrivals routed over the Almaty region: apply the same care.",
        ],
    }
    return new_bulletin(
        iss=SENDER,
        type="threat-assessment",
        title="EXERCISE: MANPADS threat to arrivals and departures at Almaty (UAAA)",
        body=body,
        now=now,
        groups=[GROUP],
        priority="immediate",
        tlp="amber",
        exp=valid_until,
    )


@dataclass
class _Member:
    party: str
    client: ExchangeClient


def _say(text: str = "") -> None:
    print(text, flush=True)


async def enrol(admin: ExchangeClient, server_url: str) -> dict[str, ExchangeClient]:
    """Enrol the demo's parties and group; one client (with keys in memory) per party."""
    return {p: m.client for p, m in (await _enrol(admin, server_url)).items()}


async def _enrol(admin: ExchangeClient, server_url: str) -> dict[str, _Member]:
    members: dict[str, _Member] = {}
    rows = []
    for party, (kind, name) in PARTIES.items():
        await admin.admin("POST", "/v1/admin/parties", {"id": party, "name": name, "kind": kind})
        signer = generate_signer()
        cid = f"{party}/ops"
        await admin.admin(
            "POST",
            "/v1/admin/clients",
            {
                "id": cid,
                "party": party,
                "roles": ["poster", "reader"],
                "jwk": signer.public.to_jwk(),
            },
        )
        enc = EncryptionPrivateKey.generate("hybrid")
        await admin.admin(
            "POST", f"/v1/admin/parties/{party}/encryption-keys", {"jwk": enc.public.to_jwk()}
        )
        client = ExchangeClient(
            server_url=server_url,
            client_id=cid,
            exchange_id=admin.exchange_id,
            signer=signer,
            server_kid=admin.server_kid,
            encryption_key=enc,
        )
        members[party] = _Member(party, client)
        rows.append((party, name, cid, f"{enc.kid[:10]}…"))
    _say(table(("PARTY", "NAME", "CLIENT", "ENCRYPTION KEY (ML-KEM-768+X25519)"), rows, "   "))
    await admin.admin("POST", "/v1/admin/groups", {"id": GROUP, "name": GROUP_NAME})
    for party in PARTIES:
        role = "chair" if party == SENDER else "observer" if party == "ICAO" else "member"
        await admin.admin("PUT", f"/v1/admin/groups/{GROUP}/members/{party}", {"role": role})
    others = " ".join(p for p in PARTIES if p not in (SENDER, "ICAO"))
    _say(f"   group {GROUP}: chair {SENDER}; members {others}; observer ICAO")
    return members


async def _listen(m: _Member, bid: str, posted: list[float]) -> None:
    """Follow the stream until ``bid`` arrives; open, check and acknowledge it."""
    c = m.client
    async with closing_stream(c.stream(0, reconnect=False)) as messages:
        async for msg in messages:
            if msg.get("kind") != "bulletin" or msg.get("bid") != bid:
                continue
            arrived = (time.perf_counter() - posted[0]) * 1000 if posted else 0.0
            o = Opened(await c.open(msg["envelope"]), await c.directory())
            await c.ack(bid, "received")
            await c.ack(bid, "read")
            b = o.bulletin
            passed = len(CHECKS) - (1 if o.schema_problem else 0)
            level = str(b["body"].get("threat_level", "-")).upper()
            after = f"+{arrived:.0f} ms"
            _say(
                f"   {m.party:<5}{after:>8}  {mark()} {passed}/{len(CHECKS)} checks  "
                f"from {o.sender}  threat level {level}  acked received, read"
            )
            _say(f'         "{b["title"]}"')
            if o.schema_problem:
                _say(f"         body schema: {o.schema_problem}")
            return
    raise StorageError(f"{m.party}'s stream closed before the bulletin arrived")


async def _wait_for_streams(server: RunningServer, count: int) -> None:
    hub = server.exchange.hub
    deadline = time.perf_counter() + WAIT
    while hub.connections < count:
        if time.perf_counter() > deadline:
            raise StorageError("the members' streams did not connect in time")
        await asyncio.sleep(0.01)


async def _audit(kz: ExchangeClient, log_index: int) -> str:
    """Check that the receipt's log entry is in a tree head the server signed."""
    key = await kz.server_key()
    _, data = await kz.request("GET", "/v1/audit/sth")
    sth = jws.verify_compact(data["sth"], lambda k: key if k == key.kid else None, jws.TYP_STH)
    head = json.loads(sth.payload)
    size, root = int(head["tree_size"]), b64u_decode(head["root_hash"])
    params = {"start": log_index, "end": log_index + 1}
    _, entries = await kz.request("GET", "/v1/audit/entries", params=params)
    leaf = b64u_decode(entries["entries"][0]["leaf"])
    _, proof = await kz.request("GET", "/v1/audit/proof", params={"index": log_index, "size": size})
    path = [b64u_decode(h) for h in proof["path"]]
    if not merkle.verify_inclusion(merkle.leaf_hash(leaf), log_index, size, path, root):
        raise BadSignature("the audit log's inclusion proof did not verify")
    return (
        f"   entry {log_index} (the bulletin's receipt) is in the server-signed tree of "
        f"{size} entries: signature {mark()}, inclusion proof {mark()}"
    )


async def _consoles(members: dict[str, _Member], admin: ExchangeClient) -> None:
    """Keep the exchange running with two States' consoles and the operator's."""
    from exchange.console import Console

    consoles = [Console(members[p].client) for p in (SENDER, "UZ")] + [Console(admin)]
    try:
        _say()
        _say("8. The consoles: open these URLs in a browser on this machine (Ctrl-C stops)")
        for console in consoles:
            url = await console.start(0)
            _say(f"   {console.client.client_id:<16}{url}")
        await asyncio.Event().wait()
    finally:
        for console in consoles:
            await console.stop()


async def _scenario(tmp: Path, console: bool = False) -> None:
    cfg = ServerConfig(
        db_url=f"sqlite+aiosqlite:///{tmp / 'exchange.db'}",
        keys_dir=tmp / "keys",
        exchange_id="avsec-demo",
        port=0,
    )
    folder = await init(cfg, operator_name="Demo exchange operator")
    server = await start(await open_exchange(cfg), "127.0.0.1", 0)
    profile = read_profile(folder)
    admin = ExchangeClient(
        server_url=server.url,
        client_id=profile.client_id,
        exchange_id=profile.exchange_id,
        signer=load_signer(folder / "signing.jwk"),
        server_kid=profile.server_kid,
    )
    members: dict[str, _Member] = {}
    tasks: list[asyncio.Task[None]] = []
    try:
        _say(f"1. A fresh exchange on {server.url} (SQLite in a temporary folder)")
        _say(f"   server signing key {profile.server_kid}; operator client {profile.client_id}")
        _say()
        _say("2. The operator enrols seven parties through the admin API")
        members = await _enrol(admin, server.url)
        _say()
        now = int(time.time())
        bulletin = threat_assessment(now)
        bid = str(bulletin["bid"])
        posted: list[float] = []
        receivers = [m for p, m in members.items() if p != SENDER]
        listeners = [asyncio.create_task(_listen(m, bid, posted)) for m in receivers]
        kz = members[SENDER].client
        tasks = [*listeners]
        tasks.append(asyncio.create_task(_idle(kz)))
        await _wait_for_streams(server, len(members))
        _say(f"3. All {len(members)} members are connected by WebSocket (GET /v1/stream)")
        _say()
        b = bulletin
        _say(f"4. {SENDER} posts a threat assessment, priority {b['priority']}, TLP:AMBER")
        _say(f'   "{b["title"]}"')
        body = b["body"]
        _say(
            f"   threat level {body['threat_level']}, {', '.join(body['categories'])}, "
            f"at {' '.join(body['locations'])}, valid 72 h"
        )
        posted.append(time.perf_counter())
        receipt = await kz.post(bulletin)
        _say(
            f"   sealed to {len(receipt.recipients)} recipient keys, signed twice; the server "
            "sees routing metadata, never the title or body"
        )
        _say(
            f"   receipt {mark()} signature verified: seq {receipt.seq}, log index "
            f"{receipt.log_index}, recipients {' '.join(receipt.recipients)}"
        )
        _say()
        _say("5. Each member receives it live, decrypts and checks it, and acknowledges it")
        _say(f"   checks: {', '.join(CHECKS[:4])},")
        _say(f"           {', '.join(CHECKS[4:])}")
        _say("   (+ms: from the start of KZ's post to arrival on the member's stream)")
        async with asyncio.timeout(WAIT):
            await asyncio.gather(*listeners)
        _say()
        ledger = await kz.status(bid)
        _say(f"6. {SENDER}'s delivery ledger (GET /v1/bulletins/{{bid}}/status)")
        _say(table(LEDGER_HEADERS, ledger_rows(ledger, short=True), "   "))
        acked = sum(1 for r in ledger["recipients"] if r["acks"])
        _say(f"   {acked} of {len(ledger['recipients'])} recipients acknowledged")
        _say()
        _say("7. The audit log")
        _say(await _audit(kz, receipt.log_index))
        if console:
            for t in tasks:
                t.cancel()
            await _consoles(members, admin)
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for m in members.values():
            await m.client.close()
        await admin.close()
        await server.stop()


async def _idle(client: ExchangeClient) -> None:
    """The sender's own stream: it would carry escalations if a recipient were late."""
    async with closing_stream(client.stream(0, reconnect=False)) as messages:
        async for _ in messages:
            pass


async def run_demo(console: bool = False) -> int:
    started = time.perf_counter()
    _say("AVSEC Exchange demo: a throwaway exchange on this machine, loopback only")
    _say()
    with tempfile.TemporaryDirectory(prefix="avsec-demo-") as tmp:
        await _scenario(Path(tmp), console)
    _say()
    _say(
        f"Done in {time.perf_counter() - started:.1f} s. The temporary database and keys "
        "have been deleted."
    )
    _say("Next: 'exchange init' and 'exchange serve' to run your own (README.md, Quick start);")
    _say("      'exchange console --profile keys/KZ/ops' opens a State's web console on")
    _say("      127.0.0.1 (or 'exchange demo --console' keeps this demo running with two);")
    _say("      'exchange --help' for every command.")
    return 0
