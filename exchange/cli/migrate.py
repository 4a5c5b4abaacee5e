"""``exchange migrate``: bring a database's schema to this version's, after a backup."""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

from exchange.cli._common import ADMIN_PROFILE, add_server_options, redact_url, server_config
from exchange.config import ServerConfig
from exchange.errors import InputError, StorageError
from exchange.keyfiles import read_profile
from exchange.store.db import Database
from exchange.store.migrate import (
    check_exchange_id,
    require_database,
    schema_state,
    sqlite_file,
    upgrade,
)

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "migrate",
        help="upgrade the database schema to this version (after a backup)",
        description="Apply the schema migrations this version brings (Alembic, to head). "
        "On SQLite the file is first copied to FILE.before-REVISION; on PostgreSQL take a "
        "pg_dump first. Servers of the old version keep running during the migration "
        "(each migration only adds); restart them on the new version one by one.",
    )
    add_server_options(p)
    p.add_argument(
        "--dry-run", action="store_true", help="list the pending migrations, change nothing"
    )
    p.add_argument("--no-backup", action="store_true", help="SQLite: do not copy the file first")
    p.set_defaults(func=cmd_migrate)


def _backup(src: Path, dest: Path) -> None:
    """A consistent copy of a live SQLite file (its online backup API, not a file copy)."""
    with sqlite3.connect(src) as source, sqlite3.connect(dest) as target:
        source.backup(target)
    source.close()
    target.close()


def _profile_exchange_id(cfg: ServerConfig) -> str | None:
    folder = cfg.keys_dir / ADMIN_PROFILE
    if not (folder / "profile.json").is_file():
        return None
    return read_profile(folder).exchange_id


async def cmd_migrate(args: argparse.Namespace) -> int:
    cfg = server_config(args)
    db = Database(cfg.db_url, connect_timeout=cfg.db_connect_timeout)
    try:
        require_database(db)
        state = await schema_state(db)
        where = redact_url(cfg.db_url)
        if state.current is None:
            raise InputError(f"database {where} is not initialised: run 'exchange init'")
        if state.unknown:
            raise StorageError(
                f"database schema {state.current} is newer than this version knows "
                f"(head {state.head}): run the newer version's 'exchange'"
            )
        known = _profile_exchange_id(cfg)
        if known is not None and known != cfg.exchange_id:
            raise InputError(
                f"the admin profile {cfg.keys_dir / ADMIN_PROFILE} names exchange '{known}', "
                f"the configuration '{cfg.exchange_id}': pass --exchange-id {known}"
            )
        file = sqlite_file(db)
        print(f"database {where}: schema {state.current}, this version's {state.head}")
        for rev in state.pending:
            print(f"  pending  {rev.revision}  {rev.title}")
        if args.dry_run:
            if not state.pending:
                print("up to date; nothing to migrate")
            elif file is not None:
                print(f"'exchange migrate' copies {file} to {file}.before-{state.head} first")
            else:
                print("back up first: pg_dump -Fc -f exchange-before.dump DBNAME")
            return 0
        if state.pending:
            if file is not None and not args.no_backup:
                dest = file.with_name(f"{file.name}.before-{state.head}")
                if dest.exists():
                    dest = dest.with_name(f"{dest.name}.{int(time.time())}")
                await asyncio.to_thread(_backup, file, dest)
                print(f"backed up to {dest} (restore: stop the server, copy it back)")
            await upgrade(db)
            print(f"migrated to {state.head} ({len(state.pending)} migrations applied)")
        else:
            print("up to date; nothing to migrate")
        recorded = await check_exchange_id(db, cfg.exchange_id, record=True)
        print(f"exchange id '{recorded}'; start the server with 'exchange serve'")
    finally:
        await db.close()
    return 0
