"""``exchange subscribe``, ``unsubscribe`` and ``subscriptions`` (a group's feeds)."""

from __future__ import annotations

import argparse
from typing import Any

from exchange.cli._common import (
    add_profile,
    client_for,
    csv_list,
    group_arg,
    party_arg,
    print_json,
    table,
)
from exchange.errors import InputError
from exchange.vocab import PRIORITIES, TYPES

__all__ = ["add_parsers"]

_WHO = "the group's chair or the operator (default profile: the operator's admin profile)"


def add_parsers(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "subscribe",
        help="subscribe a group to a source party (e.g. a threat-assessment feed)",
        description=f"Subscribe GROUP to SOURCE: bulletins SOURCE sends to @subscribers "
        f"reach GROUP's members when they match the filter. Run by {_WHO}.",
    )
    add_profile(p, admin=True)
    p.add_argument("group", metavar="GROUP", type=group_arg)
    p.add_argument("source", metavar="SOURCE", type=party_arg)
    p.add_argument("--types", type=csv_list, help=f"comma-separated, of {', '.join(TYPES)}")
    p.add_argument("--min-priority", choices=PRIORITIES)
    p.set_defaults(func=cmd_subscribe)

    p = sub.add_parser("unsubscribe", help="remove a group's subscription to a source")
    add_profile(p, admin=True)
    p.add_argument("group", metavar="GROUP", type=group_arg)
    p.add_argument("source", metavar="SOURCE", type=party_arg)
    p.set_defaults(func=cmd_unsubscribe)

    p = sub.add_parser("subscriptions", help="list a group's subscriptions")
    add_profile(p, admin=True)
    p.add_argument("group", metavar="GROUP", type=group_arg)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)


def _filter_text(types: list[str] | None, min_priority: str | None) -> str:
    what = ", ".join(types) if types else "every type"
    return what + (f", priority {min_priority} or higher" if min_priority else ", any priority")


async def cmd_subscribe(args: argparse.Namespace) -> int:
    if args.types:
        bad = sorted(set(args.types) - set(TYPES))
        if bad:
            raise InputError(f"unknown type {', '.join(bad)}: types are {', '.join(TYPES)}")
    body = {"types": args.types, "min_priority": args.min_priority}
    path = f"/v1/groups/{args.group}/subscriptions/{args.source}"
    async with client_for(args, admin=True) as c:
        status, out = await c.request("PUT", path, json_body=body)
    verb = "subscribed" if status == 201 else "updated the subscription of"
    print(
        f"{verb} {out['group']} to {out['source']}: "
        f"{_filter_text(out['types'], out['min_priority'])}; directory v{out['version']}"
    )
    return 0


async def cmd_unsubscribe(args: argparse.Namespace) -> int:
    path = f"/v1/groups/{args.group}/subscriptions/{args.source}"
    async with client_for(args, admin=True) as c:
        out = await c.admin("DELETE", path)
    print(f"unsubscribed {out['group']} from {out['source']}; directory v{out['version']}")
    return 0


async def cmd_list(args: argparse.Namespace) -> int:
    async with client_for(args, admin=True) as c:
        out = await c.admin("GET", f"/v1/groups/{args.group}/subscriptions")
    if args.json:
        print_json(out)
        return 0
    subs = out["subscriptions"]
    if not subs:
        print(f"{args.group} has no subscriptions")
        return 0
    rows = [
        (s["source"], ",".join(s["types"]) if s["types"] else "any", s["min_priority"] or "any")
        for s in subs
    ]
    print(table(("SOURCE", "TYPES", "MIN PRIORITY"), rows))
    return 0
