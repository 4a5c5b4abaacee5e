"""Issue 5 end to end: the SDK trusts the exchange only as far as its audit log proves.
Each test tampers with the database behind the server's back, as a curious operator or
an intruder with database access could."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import Connection, delete, select, update
from support import Harness

from exchange.audit import merkle
from exchange.audit.canonical import canonical_json
from exchange.bulletin.validate import new_bulletin
from exchange.cli.main import main as cli_main
from exchange.client.audit import LogMonitor
from exchange.client.logcheck import verify_log
from exchange.crypto.keys import EncryptionPrivateKey
from exchange.errors import LogInconsistent
from exchange.store import schema as s


def advisory(iss: str, n: int) -> dict:
    return new_bulletin(
        iss=iss,
        type="advisory",
        title=f"advisory {n}",
        body={"summary": f"item {n}"},
        now=int(time.time()),
        groups=["cac-avsec"],
        priority="routine",
        tlp="green",
    )


async def test_receipts_and_directory_are_proven(harness: Harness) -> None:
    m = await harness.cac(observer=False)
    kz = m["KZ"].client
    receipt = await kz.post(advisory("KZ", 1))  # post() checks the receipt's inclusion
    assert kz.log is not None and kz.log.head is not None
    assert kz.log.head.size > receipt.log_index
    entry = await kz.log.check_included(receipt.log_index)
    assert entry["kind"] == "bulletin" and entry["bid"] == receipt.bid
    d = await kz.directory(refresh=True)  # checked against its logged digest
    await kz.log.check_directory(d)


async def test_receipt_not_matching_its_entry_is_refused(harness: Harness) -> None:
    m = await harness.cac(observer=False)
    kz = m["KZ"].client
    receipt = await kz.post(advisory("KZ", 1))
    forged = type(receipt)(**{**receipt.__dict__, "recipients": ("AZ",)})
    assert kz.log is not None
    with pytest.raises(LogInconsistent, match="does not match the receipt"):
        await kz.log.check_receipt(forged)


async def test_swapped_encryption_key_is_refused_by_the_sdk(harness: Harness) -> None:
    """A State's key replaced in the database without the API: the server signs a
    directory with it, but the directory no longer matches the logged digest."""
    m = await harness.cac(observer=False)
    kz = m["KZ"].client
    await kz.directory(refresh=True)
    attacker = EncryptionPrivateKey.generate()
    jwk = attacker.public.to_jwk()
    await harness.server.exchange.db.run_write(
        lambda c: c.execute(
            update(s.enc_keys)
            .where(s.enc_keys.c.party == "UZ", s.enc_keys.c.status == "active")
            .values(kid=jwk["kid"], jwk=json.dumps(jwk))
        )
    )
    # A node that starts now (or any other node) builds the directory from the database.
    harness.server.exchange.directory._signed = None
    admissions = harness.server.exchange.admissions
    admissions.views = type(admissions.views)()
    with pytest.raises(LogInconsistent, match="logged digest"):
        await kz.directory(refresh=True)
    with pytest.raises(LogInconsistent):
        await kz.post(advisory("KZ", 2))
    n = await harness.server.exchange.db.run_read(
        lambda c: c.execute(select(s.bulletins.c.seq)).all()
    )
    assert n == [], "nothing may be sealed to the swapped key"


async def _truncate(harness: Harness, keep: int) -> None:
    """Drop the log's tail and rewrite the stored frontier, as an intruder would."""

    def truncate(conn: Connection) -> None:
        conn.execute(delete(s.audit_leaves).where(s.audit_leaves.c.idx >= keep))
        rows = conn.execute(select(s.audit_leaves.c.leaf_hash).order_by(s.audit_leaves.c.idx)).all()
        f = merkle.Frontier.from_leaf_hashes([bytes(r.leaf_hash) for r in rows])
        conn.execute(
            update(s.audit_state).values(
                size=keep, frontier=json.dumps(f.to_json()), root_hash=f.root()
            )
        )

    await harness.server.exchange.db.run_write(truncate)
    harness.server.exchange.audit_log.sth = None


async def test_truncated_log_is_rejected_by_the_next_tree_head(harness: Harness) -> None:
    await harness.enrol("KZ")
    mon = LogMonitor(harness.admin)
    before = await mon.update()
    await _truncate(harness, before.size - 2)
    with pytest.raises(LogInconsistent, match="shrank"):
        await mon.update()
    # The intruder then grows the log past its old size: still no consistency proof.
    for p in ("AZ", "GE", "KG"):
        await harness.enrol(p)
    with pytest.raises(LogInconsistent, match="not an extension"):
        await mon.update()


async def test_a_new_client_session_keeps_the_saved_head(harness: Harness, tmp_path) -> None:
    await harness.enrol("KZ")
    state = tmp_path / "sth.jws"
    first = LogMonitor(harness.admin, state)
    before = await first.update()
    assert state.read_text().strip() == before.token
    await _truncate(harness, before.size - 1)
    await harness.enrol("AZ")
    with pytest.raises(LogInconsistent):
        await LogMonitor(harness.admin, state).update()


async def test_edited_row_is_named_by_audit_verify(harness: Harness, capsys) -> None:
    await harness.cac(observer=False)
    mon = LogMonitor(harness.admin)
    clean = await verify_log(mon)
    assert clean.ok and clean.entries > 10
    victim = 7

    def rewrite(conn: Connection) -> None:
        leaf = conn.execute(
            select(s.audit_leaves.c.leaf).where(s.audit_leaves.c.idx == victim)
        ).scalar_one()
        entry = json.loads(leaf)
        entry["at"] = entry.get("at", 0) + 1  # a quiet rewrite of history
        conn.execute(
            update(s.audit_leaves)
            .where(s.audit_leaves.c.idx == victim)
            .values(leaf=canonical_json(entry))
        )

    await harness.server.exchange.db.run_write(rewrite)
    report = await verify_log(mon)
    assert not report.ok and report.first_bad == victim
    # The same through the command line, with the operator's profile.
    folder = harness.keys_dir / "OPERATOR" / "admin"
    profile = json.loads((folder / "profile.json").read_text())
    profile["server_url"] = harness.url
    (folder / "profile.json").write_text(json.dumps(profile))
    code = await _run_cli(["audit", "verify", "--profile", str(folder)])
    out = capsys.readouterr().out
    assert code == 1
    assert f"first bad index {victim}" in out


async def _run_cli(argv: list[str]) -> int:
    import asyncio

    return await asyncio.to_thread(_call_main, argv)


def _call_main(argv: list[str]) -> int:
    try:
        rc = cli_main(argv)
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else 1
    return int(rc or 0)


async def test_audit_verify_from_saved_head(harness: Harness, tmp_path, capsys) -> None:
    await harness.enrol("KZ")
    folder = harness.keys_dir / "OPERATOR" / "admin"
    profile = json.loads((folder / "profile.json").read_text())
    profile["server_url"] = harness.url
    (folder / "profile.json").write_text(json.dumps(profile))
    saved = tmp_path / "head.jws"
    assert (
        await _run_cli(["audit", "verify", "--profile", str(folder), "--save-sth", str(saved)]) == 0
    )
    await harness.enrol("AZ")
    assert (
        await _run_cli(["audit", "verify", "--profile", str(folder), "--from-sth", str(saved)]) == 0
    )
    assert "only grew" in capsys.readouterr().out
    await _truncate(harness, 3)
    assert (
        await _run_cli(["audit", "verify", "--profile", str(folder), "--from-sth", str(saved)]) == 1
    )
