"""``exchange post``, ``inbox``, ``read``, ``ack`` and ``status``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from exchange.bulletin.validate import OPTIONAL_FIELDS, new_bulletin
from exchange.cli._common import (
    add_profile,
    bid_arg,
    client_for,
    csv_list,
    fmt_iso,
    party_arg,
    plain_priority,
    print_json,
    read_data_file,
    since_arg,
    table,
    to_epoch,
)
from exchange.cli._render import full_lines, open_item, reason, require_key
from exchange.client import ExchangeClient
from exchange.errors import ExchangeError, InputError, InvalidBulletin
from exchange.vocab import (
    ACK_STATUSES,
    PRIORITIES,
    SUBSCRIBERS,
    TLPS,
    TYPES,
    meets_min_priority,
)

__all__ = ["LEDGER_HEADERS", "add_parsers", "bulletin_from", "ledger_rows"]

LEDGER_HEADERS = ("PARTY", "DELIVERED", "RECEIVED", "READ", "ACTIONED", "OVERDUE")
#: Fields a bulletin file may give; v, iss and iat are filled in when it is posted.
_FILE_FIELDS = frozenset(
    {"bid", "groups", "to", "type", "priority", "tlp", "exp", "supersedes", "title", "lang"}
) | frozenset(OPTIONAL_FIELDS)
_TIME_FIELDS = ("valid_from", "valid_until", "effective_from", "effective_until", "respond_by")


def add_parsers(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "post",
        help="seal and post a bulletin",
        description="Post a bulletin from a JSON or YAML file, or from options. v, bid, "
        "iss and iat are filled in; the bulletin is validated, sealed to the current "
        "recipients' keys, signed and posted, and the server's receipt is verified. "
        "Options given with a file override its fields. Times in the body may be ISO 8601.",
    )
    add_profile(p)
    p.add_argument("file", metavar="FILE", nargs="?", help="a bulletin as .json or .yaml")
    p.add_argument("--type", choices=TYPES)
    p.add_argument("--title")
    p.add_argument("--group", action="append", metavar="GROUP", help="repeatable")
    p.add_argument("--to", action="append", metavar="PARTY", help="repeatable, or a,b")
    p.add_argument("--priority", choices=PRIORITIES)
    p.add_argument("--tlp", choices=TLPS)
    p.add_argument("--lang", metavar="TAG")
    p.add_argument("--body-file", metavar="FILE", help="the body as .json or .yaml")
    p.add_argument("--expires-in", type=float, metavar="HOURS", help="set exp to now + HOURS")
    p.add_argument("--supersedes", metavar="BID")
    p.add_argument("--handling", metavar="TEXT", help='e.g. "RESTRICTED: no onward distribution"')
    p.add_argument("--in-reply-to", metavar="BID", help="the bulletin this one answers")
    p.add_argument(
        "--to-subscribers", action="store_true", help=f"also send to {SUBSCRIBERS} (feeds)"
    )
    p.add_argument("--dry-run", action="store_true", help="validate and print, do not post")
    p.set_defaults(func=cmd_post)

    p = sub.add_parser("inbox", help="list this party's bulletins")
    add_profile(p)
    p.add_argument("--after", type=int, default=0, metavar="SEQ", help="cursor (default 0)")
    p.add_argument("--limit", type=int, default=100, metavar="N")
    p.add_argument("--open", action="store_true", help="decrypt and verify to show titles")
    p.add_argument("--json", action="store_true")
    f = p.add_argument_group("filters (applied to each page; --limit counts what matches)")
    f.add_argument("--type", dest="types", type=csv_list, metavar="TYPE[,TYPE]", help="by type")
    f.add_argument("--priority", choices=PRIORITIES, help="this priority or more urgent")
    f.add_argument("--sender", type=party_arg, metavar="PARTY", help="sent by this party")
    f.add_argument(
        "--since", type=since_arg, metavar="WHEN", help="issued since: 2026-12-01, or 6h, 2d"
    )
    f.add_argument(
        "--unacknowledged",
        action="store_true",
        help="only bulletins no desk of this party has acknowledged yet",
    )
    p.set_defaults(func=cmd_inbox)

    p = sub.add_parser("read", help="fetch, decrypt, verify and show one bulletin")
    add_profile(p)
    p.add_argument("bid", metavar="BID", type=bid_arg)
    p.add_argument("--json", action="store_true", help="print the verified bulletin as JSON")
    p.set_defaults(func=cmd_read)

    p = sub.add_parser("ack", help="acknowledge a bulletin (signed by this client)")
    add_profile(p)
    p.add_argument("bid", metavar="BID", type=bid_arg)
    p.add_argument("--status", choices=ACK_STATUSES, default="received")
    p.set_defaults(func=cmd_ack)

    p = sub.add_parser("status", help="the delivery ledger of a bulletin this party sent")
    add_profile(p)
    p.add_argument("bid", metavar="BID", type=bid_arg)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)


def _split(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def _times(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: (to_epoch(v) if k in _TIME_FIELDS else _times(v)) for k, v in body.items()}
    if isinstance(body, list):
        return [_times(v) for v in body]
    return to_epoch(body) if not isinstance(body, str) else body


def bulletin_from(args: argparse.Namespace, party: str, now: int) -> dict[str, Any]:
    """The bulletin to post, from the file and the options, validated."""
    fields: dict[str, Any] = {}
    if args.file:
        data = read_data_file(Path(args.file))
        if not isinstance(data, dict):
            raise InvalidBulletin(f"{args.file}: must hold an object (a bulletin)")
        if data.get("v", 1) != 1:
            raise InvalidBulletin(f"{args.file}: v must be 1")
        if data.get("iss", party) != party:
            raise InvalidBulletin(f"{args.file}: iss is {data['iss']}, but this profile is {party}")
        unknown = sorted(set(data) - _FILE_FIELDS - {"v", "iss", "iat", "body"})
        if unknown:
            raise InvalidBulletin(f"{args.file}: unknown field {', '.join(unknown)}")
        fields = {k: v for k, v in data.items() if k in _FILE_FIELDS or k == "body"}
    if args.body_file:
        fields["body"] = read_data_file(Path(args.body_file))
    flags = {
        "type": args.type,
        "title": args.title,
        "groups": _split(args.group),
        "to": _split(args.to),
        "priority": args.priority,
        "tlp": args.tlp,
        "lang": args.lang,
        "supersedes": args.supersedes,
        "handling": args.handling,
        "in_reply_to": args.in_reply_to,
    }
    fields.update({k: v for k, v in flags.items() if v is not None})
    if args.expires_in is not None:
        fields["exp"] = now + int(args.expires_in * 3600)
    if args.to_subscribers:
        groups = list(fields.get("groups") or [])
        fields["groups"] = groups if SUBSCRIBERS in groups else [*groups, SUBSCRIBERS]
    missing = [k for k in ("type", "title", "body") if k not in fields]
    if missing:
        hint = "give a FILE, or --type, --title and --body-file"
        raise InvalidBulletin(f"missing {', '.join(missing)}: {hint}")
    if "exp" in fields:
        fields["exp"] = to_epoch(fields["exp"])
    fields["body"] = _times(fields["body"])
    if not isinstance(fields["body"], dict):
        raise InvalidBulletin("body: must be an object")
    for key in ("groups", "to"):
        value = fields.get(key)
        if value is None:
            fields[key] = []
        elif isinstance(value, str):
            fields[key] = [value]
        elif not isinstance(value, list):
            raise InvalidBulletin(f"{key}: must be a list of ids")
    try:
        return new_bulletin(iss=party, now=now, **fields)
    except TypeError as exc:  # a field of the wrong kind reached the builder
        raise InvalidBulletin(str(exc)) from exc


async def cmd_post(args: argparse.Namespace) -> int:
    async with client_for(args) as c:
        bulletin = bulletin_from(args, c.party, int(time.time()))
        if args.dry_run:
            print_json(bulletin)
            return 0
        receipt = await c.post(bulletin)
    print(f"posted {receipt.bid}")
    print(f"  seq         {receipt.seq}")
    print(f"  recipients  {' '.join(receipt.recipients)}")
    print(f"  accepted    {fmt_iso(receipt.accepted_at)}")
    print(f"  log index   {receipt.log_index} (receipt signature verified)")
    if not receipt.created:
        print("  (already posted: this is the original receipt)")
    return 0


def _matches(item: dict[str, Any], args: argparse.Namespace) -> bool:
    return (
        (not args.types or item["type"] in args.types)
        and meets_min_priority(item["priority"], args.priority)
        and (args.sender is None or item["iss"] == args.sender)
        and (args.since is None or item["iat"] >= args.since)
    )


async def _filtered_inbox(
    c: ExchangeClient, args: argparse.Namespace
) -> tuple[list[dict[str, Any]], int]:
    """Pages of the inbox until ``--limit`` items match or it ends; the cursor returned
    is the last seq looked at, so '--after' continues after what was filtered out too."""
    unacked = bool(args.unacknowledged)  # filtered by the server
    if not (args.types or args.priority or args.sender or args.since is not None):
        return await c.inbox(args.after, args.limit, unacked=unacked)
    found: list[dict[str, Any]] = []
    cursor = args.after
    while len(found) < args.limit:
        page, _next = await c.inbox(cursor, 100, unacked=unacked)
        if not page:
            break
        for item in page:
            cursor = item["seq"]
            if _matches(item, args):
                found.append(item)
                if len(found) == args.limit:
                    break
    return found, cursor


async def cmd_inbox(args: argparse.Namespace) -> int:
    async with client_for(args) as c:
        if args.open:
            require_key(c)
        items, nxt = await _filtered_inbox(c, args)
        titles: dict[str, str] = {}
        opened: dict[str, Any] = {}
        if args.open:
            for item in items:
                try:
                    o = await open_item(c, item["envelope"], item["bid"])
                except ExchangeError as exc:
                    titles[item["bid"]] = f"(rejected: {reason(exc)})"
                    opened[item["bid"]] = {"error": reason(exc)}
                else:
                    titles[item["bid"]] = o.bulletin["title"]
                    opened[item["bid"]] = {"bulletin": o.bulletin, "sender": o.sender}
    if args.json:
        print_json({"items": [{**i, **opened.get(i["bid"], {})} for i in items], "next": nxt})
        return 0
    if not items:
        print(f"no bulletins after seq {args.after}")
        return 0
    headers = ["SEQ", "BID", "ISS", "TYPE", "PRIORITY", "TLP"] + (["TITLE"] if args.open else [])
    rows = [
        [i["seq"], i["bid"], i["iss"], i["type"], plain_priority(i["priority"]), i["tlp"]]
        + ([titles[i["bid"]]] if args.open else [])
        for i in items
    ]
    print(table(headers, rows))
    print(f"({len(items)} shown; continue with --after {nxt})")
    return 0


async def cmd_read(args: argparse.Namespace) -> int:
    async with client_for(args) as c:
        require_key(c)
        item = await c.get(args.bid)
        o = await open_item(c, item["envelope"], args.bid)
    if args.json:
        print_json(o.bulletin)
    else:
        print("\n".join(full_lines(o, c.party, item.get("seq"))))
    return 0


async def cmd_ack(args: argparse.Namespace) -> int:
    async with client_for(args) as c:
        out = await c.ack(args.bid, args.status)
    print(
        f"acknowledged {out.get('bid', args.bid)} as {out.get('status', args.status)} "
        f"for {out.get('party', c.party)} at {fmt_iso(out.get('at'))} "
        f"(log index {out.get('log_index', '?')})"
    )
    return 0


def ledger_rows(ledger: dict[str, Any], *, short: bool = False) -> list[list[str]]:
    """One row per recipient party: delivered_at, the time of each ack, overdue."""
    rows = []
    for r in ledger["recipients"]:
        acks = {a["status"]: a["at"] for a in r["acks"]}
        rows.append(
            [
                r["party"],
                fmt_iso(r["delivered_at"], short=short),
                *(fmt_iso(acks.get(s), short=short) for s in ACK_STATUSES),
                "OVERDUE" if r["overdue"] else "no",
            ]
        )
    return rows


async def cmd_status(args: argparse.Namespace) -> int:
    async with client_for(args) as c:
        ledger = await c.status(args.bid)
    if args.json:
        print_json(ledger)
        return 0
    print(
        f"Bulletin {ledger['bid']} from {ledger['iss']}, priority {ledger['priority']}, "
        f"accepted {fmt_iso(ledger['accepted_at'])}"
    )
    recips = ledger["recipients"]
    if not recips:
        raise InputError("the ledger lists no recipients")
    print(table(LEDGER_HEADERS, ledger_rows(ledger)))
    done = sum(1 for r in recips if r["acks"])
    print(f"{done} of {len(recips)} recipients acknowledged")
    return 0
