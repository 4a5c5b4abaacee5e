"""``exchange sent``: what this party posted, and who has acknowledged it."""

from __future__ import annotations

import argparse
from typing import Any

from exchange.cli._common import add_profile, client_for, fmt_iso, plain_priority, print_json, table
from exchange.client.sent import sent

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "sent",
        help="the bulletins this party posted: acknowledged n of m, overdue",
        description="List the bulletins this profile's party posted, oldest first, each "
        "with how many recipient States acknowledged it and how many are overdue. "
        "'exchange status BID' shows one bulletin's ledger in full.",
    )
    add_profile(p)
    p.add_argument("--after", type=int, default=0, metavar="SEQ", help="cursor (default 0)")
    p.add_argument("--limit", type=int, default=100, metavar="N")
    p.add_argument("--overdue", action="store_true", help="only bulletins someone is late on")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sent)


def _acked(item: dict[str, Any]) -> str:
    n, m = item["acknowledged"], item["recipients"]
    return "all" if m and n == m else f"{n} of {m}"


async def cmd_sent(args: argparse.Namespace) -> int:
    async with client_for(args) as c:
        items, nxt = await sent(c, args.after, args.limit)
    if args.overdue:
        items = [i for i in items if i["overdue"]]
    if args.json:
        print_json({"items": items, "next": nxt})
        return 0
    if not items:
        print(f"nothing sent after seq {args.after}" + (" is overdue" if args.overdue else ""))
        return 0
    rows = [
        (
            i["seq"],
            i["bid"],
            i["type"],
            plain_priority(i["priority"]),
            fmt_iso(i["accepted_at"]),
            _acked(i),
            f"{i['overdue']} OVERDUE" if i["overdue"] else "no",
        )
        for i in items
    ]
    headers = ("SEQ", "BID", "TYPE", "PRIORITY", "ACCEPTED", "ACKNOWLEDGED", "OVERDUE")
    print(table(headers, rows))
    print(f"({len(items)} shown; continue with --after {nxt}; details: exchange status BID)")
    return 0
