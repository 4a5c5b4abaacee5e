"""``exchange audit verify``: check the whole audit log against its signed tree head."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from exchange.cli._common import add_profile, client_for
from exchange.client.audit import LogMonitor
from exchange.client.logcheck import verify_log
from exchange.errors import InputError

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("audit", help="verify the exchange's tamper-evident audit log")
    verbs = p.add_subparsers(dest="audit_cmd", required=True, metavar="verify")
    v = verbs.add_parser(
        "verify",
        help="recompute the log from its entries and check the signed tree head",
        description="Recompute the Merkle tree from every entry, check the server's signed "
        "tree head, and (with --from-sth) that the log only grew since a saved head. "
        "Exit 0 when all holds, 1 with the first bad index otherwise.",
    )
    add_profile(v, admin=True)
    v.add_argument("--from-sth", metavar="FILE", help="a tree head saved earlier (JWS)")
    v.add_argument("--save-sth", metavar="FILE", help="save the verified head for next time")
    v.add_argument("--json", action="store_true", help="machine-readable result")
    v.set_defaults(func=cmd_verify)


def _read_sth(path: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    if text.startswith("{"):
        try:
            return str(json.loads(text)["sth"])
        except (ValueError, KeyError) as exc:
            raise InputError(f"{path} holds no 'sth'") from exc
    return text


async def cmd_verify(args: argparse.Namespace) -> int:
    async with client_for(args, admin=True) as client:
        mon = LogMonitor(client)
        saved = await mon.parse_sth(_read_sth(args.from_sth)) if args.from_sth else None
        report = await verify_log(mon, saved)
    if args.json:
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "tree_size": report.head.size,
                    "entries": report.entries,
                    "first_bad_index": report.first_bad,
                    "reason": report.reason,
                }
            )
        )
    elif report.ok:
        print(f"OK: {report.entries} entries; the recomputed root matches the signed tree head")
        if saved is not None:
            print(f"OK: the log only grew since the saved head of {saved.size} entries")
    else:
        print(f"FAIL: {report.reason}; first bad index {report.first_bad}")
    if report.ok and args.save_sth:
        await asyncio.to_thread(Path(args.save_sth).write_text, report.head.token + "\n", "utf-8")
    return 0 if report.ok else 1
