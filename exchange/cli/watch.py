"""``exchange watch``: follow the live stream, decrypt and verify each bulletin."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from exchange.cli._common import add_profile, client_for, closing_stream, csv_list, fmt_iso
from exchange.cli._render import Opened, open_item, reason, require_key, summary_line
from exchange.client import ExchangeClient
from exchange.errors import ExchangeError, InputError
from exchange.vocab import PRIORITIES, TYPES

__all__ = ["add_parsers"]


def add_parsers(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "watch",
        help="follow bulletins live (WebSocket), decrypted and verified",
        description="Print one line per bulletin as it arrives, after decrypting it and "
        "checking both signatures; a bulletin that fails a check is shown as REJECTED. "
        "Escalations (a recipient is overdue on a bulletin this party sent) are shown "
        "too. Ctrl-C stops.",
    )
    add_profile(p)
    p.add_argument("--after", type=int, default=0, metavar="SEQ", help="resume after this seq")
    p.add_argument("--min-priority", choices=PRIORITIES)
    p.add_argument("--types", type=csv_list, help=f"comma-separated, of {', '.join(TYPES)}")
    p.add_argument("--ack", action="store_true", help="acknowledge each bulletin as received")
    p.add_argument("--count", type=int, metavar="N", help="exit after N bulletins")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=cmd_watch, interrupt_status=0)


def _emit(args: argparse.Namespace, text: str, obj: dict[str, Any]) -> None:
    print(json.dumps(obj, ensure_ascii=False) if args.json else text, flush=True)


async def _bulletin(args: argparse.Namespace, c: ExchangeClient, msg: dict[str, Any]) -> None:
    seq, bid = msg.get("seq"), str(msg.get("bid"))
    try:
        o: Opened = await open_item(c, str(msg.get("envelope")), bid)
    except ExchangeError as exc:
        why = reason(exc)
        text = f"#{seq} REJECTED {bid} from {msg.get('iss')}: {why}"
        _emit(args, text, {"kind": "rejected", "seq": seq, "bid": bid, "error": why})
        return
    acked = ""
    if args.ack:
        await c.ack(bid, "received")
        acked = "  [acked]"
    obj = {"kind": "bulletin", "seq": seq, "sender": o.sender, "bulletin": o.bulletin}
    if o.schema_problem:
        obj["schema_problem"] = o.schema_problem
    _emit(args, f"{summary_line(seq, o)}  bid {bid}{acked}", obj)


def _link(args: argparse.Namespace, msg: dict[str, Any], url: str) -> None:
    """The stream's state, on stderr (with --json, also as a line on stdout)."""
    now = time.time()
    if msg["kind"] == "disconnected":
        if now - getattr(args, "notice_at", 0.0) < 10:  # retries come fast at first
            return
        args.notice_at = now
        last = msg.get("last_contact")
        ago = f"last contact {_span(now - last)} ago" if last else "never connected"
        text = f"-- NOT LIVE: disconnected from {url} ({ago}); retrying"
    else:
        args.notice_at = 0.0
        text = (
            f"-- live again after {_span(msg['outage'])} offline; catching up after seq "
            f"{msg['cursor']}"
        )
    print(text, file=sys.stderr, flush=True)
    if args.json:
        _emit(args, text, msg)


def _span(seconds: float) -> str:
    s = int(seconds)
    return f"{s} s" if s < 120 else f"{s // 60} min" if s < 7200 else f"{s // 3600} h"


async def cmd_watch(args: argparse.Namespace) -> int:
    if args.types:
        bad = sorted(set(args.types) - set(TYPES))
        if bad:
            raise InputError(f"unknown type {', '.join(bad)}: types are {', '.join(TYPES)}")
    if args.count is not None and args.count < 1:
        raise InputError("--count must be at least 1")
    seen = 0
    async with client_for(args) as c:
        require_key(c)
        await c.directory()  # fails fast if the server is down or the client unknown
        print(
            f"watching as {c.client_id} after seq {args.after} on {c.server_url} (Ctrl-C stops)",
            file=sys.stderr,
            flush=True,
        )
        stream = c.stream(
            args.after, min_priority=args.min_priority, types=args.types, link_events=True
        )
        try:
            async with closing_stream(stream) as messages:
                async for msg in messages:
                    kind = msg.get("kind")
                    if kind == "bulletin":
                        await _bulletin(args, c, msg)
                        seen += 1
                        if args.count is not None and seen >= args.count:
                            break
                    elif kind in ("disconnected", "reconnected"):
                        _link(args, msg, c.server_url)
                    elif kind == "escalation":
                        text = (
                            f"! ESCALATION {msg.get('party')} has not acknowledged "
                            f"{msg.get('bid')} ({msg.get('priority')}), due "
                            f"{fmt_iso(msg.get('deadline'))}"
                        )
                        _emit(args, text, msg)
        except asyncio.CancelledError:
            print(f"stopped after {seen} bulletin(s)", file=sys.stderr, flush=True)
            raise
    return 0
