"""Running an exchange over time: ``serve`` refuses what it cannot serve (no database, an
old schema, another exchange's database) in one plain line; ``exchange migrate`` takes an
old database to this version, after a backup; ``--log-file`` keeps the terminal quiet.
On SQLite and, with EXCHANGE_TEST_PG_URL, PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
from pathlib import Path

import pytest

from exchange.store.db import Database
from exchange.store.migrate import migrate_to, schema_state

#: the last revision before this version's (a database made by the previous release)
OLD = "0002"


def _to_old_schema(url: str) -> None:
    """Take an initialised database back to the previous release's schema, as an
    exchange that ran the old version has it (its data kept)."""

    async def go() -> None:
        d = Database(url)
        try:
            await migrate_to(d, OLD, down=True)
        finally:
            await d.close()

    asyncio.run(go())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _revision(url: str) -> str | None:
    async def go() -> str | None:
        d = Database(url)
        try:
            return (await schema_state(d)).current
        finally:
            await d.close()

    return asyncio.run(go())


def test_serve_without_a_database_leaves_nothing(cli, tmp_path: Path) -> None:
    r = cli("serve")
    assert r.rc == 1
    assert "no database at exchange.db: run 'exchange init' first" in r.err
    assert "Traceback" not in r.err
    r = cli("migrate")
    assert r.rc == 1 and "run 'exchange init' first" in r.err
    assert list(tmp_path.iterdir()) == []  # no stray database, no -wal, no log


def test_serve_refuses_another_exchanges_database(cli, db: str) -> None:
    cli("init", "--exchange-id", "cac-exchange").ok()
    r = cli("serve")  # EXCHANGE_ID forgotten: the default id is not this database's
    assert r.rc == 1
    assert "this database belongs to exchange 'cac-exchange', not 'avsec-exchange'" in r.err
    r = cli("serve", "--exchange-id", "other", "--port", "0")
    assert r.rc == 1 and "'cac-exchange', not 'other'" in r.err


def test_migrate_an_old_database_then_serve(
    cli, db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start_serve
) -> None:
    port = _free_port()
    monkeypatch.setenv("EXCHANGE_PORT", str(port))
    cli("init").ok()
    _to_old_schema(db)
    assert _revision(db) == OLD

    r = cli("serve")
    assert r.rc == 1
    assert f"database schema {OLD} is behind" in r.err
    assert "run 'exchange migrate'" in r.err

    dry = cli("migrate", "--dry-run").ok()
    assert "pending  0004_ops  exchange_meta: the exchange id a database belongs to" in dry.out
    assert _revision(db) == OLD  # a dry run changes nothing
    if db.startswith("sqlite"):
        assert "copies exchange.db to exchange.db.before-" in dry.out
        assert not list(tmp_path.glob("exchange.db.before-*"))
    else:
        assert "pg_dump" in dry.out

    done = cli("migrate").ok()
    assert "migrated to" in done.out
    assert "exchange id 'avsec-exchange'" in done.out
    assert _revision(db) != OLD
    if db.startswith("sqlite"):
        (backup,) = tmp_path.glob("exchange.db.before-*")
        with sqlite3.connect(backup) as conn:  # the backup is the old database, whole
            assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (OLD,)
            assert conn.execute("SELECT id FROM parties").fetchall() == [("OPERATOR",)]
        conn.close()
    again = cli("migrate").ok()
    assert "up to date; nothing to migrate" in again.out

    # the migrated exchange serves, its data intact, with the log in a file
    serving = start_serve(port, "--log-file", "serve.log")
    try:
        cli("admin", "party", "add", "KZ", "Kazakhstan").ok()
        d = cli("directory", "--json", "--profile", "keys/OPERATOR/admin").ok()
        assert {p["id"] for p in json.loads(d.out)["parties"]} == {"OPERATOR", "KZ"}
    finally:
        out, err = serving.stop()
    # the terminal shows one banner line; the JSON log went to the file
    assert out.strip().splitlines() == [
        f"AVSEC Exchange 'avsec-exchange' listening on http://127.0.0.1:{port} (log serve.log)"
    ]
    assert err == ""
    lines = [json.loads(line) for line in (tmp_path / "serve.log").read_text().splitlines()]
    assert any(line["msg"].startswith("serving avsec-exchange") for line in lines)


def test_migrate_refuses_a_newer_schema(cli, db: str) -> None:
    cli("init").ok()

    async def bump() -> None:
        d = Database(db)
        try:
            from sqlalchemy import text

            await d.run_write(
                lambda c: c.execute(text("UPDATE alembic_version SET version_num = '9999_new'"))
            )
        finally:
            await d.close()

    asyncio.run(bump())
    for argv in (("migrate",), ("serve",)):
        r = cli(*argv)
        assert r.rc == 1 and "9999_new is newer than this" in r.err, r.err
