"""``exchange alerts …`` and ``exchange admin webhook …``: a party's webhook endpoints
and e-mail addresses, their deliveries, and redelivery of dead letters (docs/alerts.md).
Run by a reader of the party itself or by the operator."""

from __future__ import annotations

import argparse
from typing import Any

from exchange.cli._common import add_profile, client_for, csv_list, party_arg, print_json, table
from exchange.client import alerts as sdk
from exchange.vocab import PRIORITIES, TYPES

__all__ = ["add_parsers"]

_EVENTS = "comma-separated, of bulletin, escalation (default both)"


def add_parsers(sub: argparse._SubParsersAction[Any]) -> None:
    """``exchange alerts`` and, under the existing ``exchange admin``, ``webhook``."""
    p = sub.add_parser(
        "alerts",
        help="webhooks and e-mail alerts of a party",
        description="Register a party's webhook endpoints and e-mail addresses, see their "
        "deliveries, redeliver dead letters. Run by a reader of the party or the operator.",
    )
    _commands(p.add_subparsers(dest="alerts_command", metavar="COMMAND", required=True))
    admin = sub.choices.get("admin")
    if admin is not None:  # ``exchange admin webhook redeliver`` (issue 16)
        for action in admin._actions:
            if isinstance(action, argparse._SubParsersAction):
                w = action.add_parser("webhook", help="alert endpoints: add, list, redeliver")
                _commands(w.add_subparsers(dest="what", metavar="COMMAND", required=True))


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--events", type=csv_list, help=_EVENTS)
    p.add_argument("--types", type=csv_list, help=f"comma-separated, of {', '.join(TYPES)}")
    p.add_argument("--min-priority", choices=PRIORITIES)


def _commands(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("add", help="register a webhook URL (signed pushes)")
    add_profile(p, admin=True)
    p.add_argument("party", metavar="PARTY", type=party_arg)
    p.add_argument("url", metavar="URL", help="https://… (http only to an allowed network)")
    p.add_argument(
        "--mode",
        choices=("notification", "envelope"),
        default="notification",
        help="notification: metadata only (default); envelope: the sealed envelope too",
    )
    _filters(p)
    p.set_defaults(func=cmd_add_webhook)

    p = sub.add_parser("mail", help="register an e-mail address (no content is mailed)")
    add_profile(p, admin=True)
    p.add_argument("party", metavar="PARTY", type=party_arg)
    p.add_argument("address", metavar="ADDRESS")
    _filters(p)
    p.set_defaults(func=cmd_add_mail)

    p = sub.add_parser("list", help="a party's endpoints (the operator: every party's)")
    add_profile(p, admin=True)
    p.add_argument("party", metavar="PARTY", type=party_arg, nargs="?")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("remove", help="remove an endpoint; what it had queued is cancelled")
    add_profile(p, admin=True)
    p.add_argument("id", metavar="ID")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("deliveries", help="an endpoint's recent deliveries")
    add_profile(p, admin=True)
    p.add_argument("id", metavar="ID")
    p.add_argument("--state", choices=("pending", "done", "dead", "cancelled"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_deliveries)

    p = sub.add_parser("redeliver", help="queue an endpoint's dead letters again")
    add_profile(p, admin=True)
    p.add_argument("id", metavar="ID")
    p.add_argument(
        "--delivery",
        type=int,
        action="append",
        metavar="N",
        help="only this delivery (repeatable); default every dead letter",
    )
    p.set_defaults(func=cmd_redeliver)


def _show(ep: dict[str, Any]) -> str:
    what = ",".join(ep["events"])
    if ep["types"]:
        what += f"; {','.join(ep['types'])}"
    if ep["min_priority"]:
        what += f"; {ep['min_priority']} or higher"
    mode = f" ({ep['mode']})" if ep["mode"] else ""
    return f"{ep['kind']} {ep['id']} for {ep['party']}{mode}: {ep['target']} [{what}]"


async def cmd_add_webhook(args: argparse.Namespace) -> int:
    async with client_for(args, admin=True) as c:
        ep = await sdk.add_webhook(
            c,
            args.party,
            args.url,
            mode=args.mode,
            events=args.events,
            types=args.types,
            min_priority=args.min_priority,
        )
    print(f"added {_show(ep)}")
    return 0


async def cmd_add_mail(args: argparse.Namespace) -> int:
    async with client_for(args, admin=True) as c:
        ep = await sdk.add_mail(
            c,
            args.party,
            args.address,
            events=args.events,
            types=args.types,
            min_priority=args.min_priority,
        )
    print(f"added {_show(ep)}")
    return 0


async def cmd_list(args: argparse.Namespace) -> int:
    async with client_for(args, admin=True) as c:
        eps = await sdk.list_endpoints(c, args.party)
    if args.json:
        print_json(eps)
    elif not eps:
        print("(no alert endpoints)")
    else:
        for ep in eps:
            print(_show(ep))
    return 0


async def cmd_remove(args: argparse.Namespace) -> int:
    async with client_for(args, admin=True) as c:
        cancelled = await sdk.remove_endpoint(c, args.id)
    print(f"removed {args.id}; {cancelled} queued deliveries cancelled")
    return 0


async def cmd_deliveries(args: argparse.Namespace) -> int:
    async with client_for(args, admin=True) as c:
        rows = await sdk.deliveries(c, args.id, args.state)
    if args.json:
        print_json(rows)
        return 0
    out = [
        (
            r["id"],
            r["event"],
            r["bid"],
            r["subject"] or "",
            r["state"],
            r["attempts"],
            r["last_error"] or "",
        )
        for r in rows
    ]
    print(table(("ID", "EVENT", "BID", "OVERDUE", "STATE", "TRIES", "LAST ERROR"), out))
    return 0


async def cmd_redeliver(args: argparse.Namespace) -> int:
    async with client_for(args, admin=True) as c:
        n = await sdk.redeliver(c, args.id, args.delivery)
    print(f"{n} dead-lettered deliveries queued again for {args.id}")
    return 0
