"""``exchange admin party|client|group|member|subscription list|show|suspend|resume|remove``.

Listings come from the verified directory (exchange/client/admin.py). Suspension is
undone by ``resume``; removal is final and asks for ``--yes``. What each means for
bulletins not yet read is said in the command's help and in docs/deploy.md."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from exchange.cli._common import (
    add_profile,
    client_arg,
    client_for,
    group_arg,
    party_arg,
    print_json,
    table,
)
from exchange.client.admin import Admin
from exchange.errors import InputError
from exchange.vocab import GROUP_ROLES

__all__ = ["add_leaves"]

_SUSPEND_PARTY = (
    "Suspend a party: its clients are refused until 'resume'. Bulletins addressed to it "
    "are still accepted and kept, and its ack deadlines still run: the senders see it "
    "overdue. After 'resume' it reads everything it missed."
)
_REMOVE_PARTY = (
    "Remove a party for good: every client and encryption key of it is revoked, it leaves "
    "every group, subscriptions to it are deleted, and the bulletins it has not "
    "acknowledged stop counting as overdue. Its entry stays (as removed), so the log and "
    "its past bulletins keep their meaning; the id cannot be used again."
)
_SUSPEND_CLIENT = (
    "Suspend one client (a desk): its requests are refused until 'resume'; the party's "
    "other clients are unaffected, and so is what is addressed to the party."
)
_REMOVE_CLIENT = (
    "Remove a client for good: its signing key is revoked. Bulletins it sent stay in the log."
)
_REMOVE_GROUP = (
    "Remove a group with its memberships and subscriptions. Bulletins already sent to it "
    "keep their recipients, who can still read and acknowledge them."
)

Handler = Callable[[argparse.Namespace], Awaitable[int]]


def _leaf(
    sub: argparse._SubParsersAction[Any], name: str, func: Handler, help: str, **kw: Any
) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(name, help=help.split(":")[0], description=help)
    add_profile(p, admin=True)
    p.set_defaults(func=func, **kw)
    return p


def add_leaves(kinds: dict[str, argparse._SubParsersAction[Any]]) -> None:
    """Add the commands to ``exchange admin party|client|group|member|subscription``."""
    party, client, group, member = (kinds[k] for k in ("party", "client", "group", "member"))
    p = _leaf(party, "list", party_list, "list parties and their status")
    p.add_argument("--json", action="store_true")
    p = _leaf(party, "show", party_show, "a party: its clients, keys and groups")
    p.add_argument("party", metavar="PARTY", type=party_arg)
    p.add_argument("--json", action="store_true")
    for name, status, text in (
        ("suspend", "suspended", _SUSPEND_PARTY),
        ("resume", "active", "Resume a suspended party: its clients are accepted again."),
    ):
        p = _leaf(party, name, party_status, text, status=status)
        p.add_argument("party", metavar="PARTY", type=party_arg)
    p = _leaf(party, "remove", party_remove, _REMOVE_PARTY)
    p.add_argument("party", metavar="PARTY", type=party_arg)
    p.add_argument("--yes", action="store_true", help="removal is final: confirm it")

    p = _leaf(client, "list", client_list, "list clients, their roles and status")
    p.add_argument("--party", type=party_arg, help="only this party's clients")
    p.add_argument("--json", action="store_true")
    p = _leaf(client, "show", client_show, "a client: its roles, status and signing key")
    p.add_argument("client_id", metavar="CLIENT_ID", type=client_arg)
    p.add_argument("--json", action="store_true")
    for name, status, text in (
        ("suspend", "suspended", _SUSPEND_CLIENT),
        ("resume", "active", "Resume a suspended client: its requests are accepted again."),
    ):
        p = _leaf(client, name, client_status, text, status=status)
        p.add_argument("client_id", metavar="CLIENT_ID", type=client_arg)
    p = _leaf(client, "remove", client_remove, _REMOVE_CLIENT)
    p.add_argument("client_id", metavar="CLIENT_ID", type=client_arg)
    p.add_argument("--yes", action="store_true", help="removal is final: confirm it")

    p = _leaf(group, "list", group_list, "list groups and their members")
    p.add_argument("--json", action="store_true")
    p = _leaf(group, "show", group_show, "a group: members by role and subscriptions")
    p.add_argument("group", metavar="GROUP", type=group_arg)
    p.add_argument("--json", action="store_true")
    p = _leaf(group, "remove", group_remove, _REMOVE_GROUP)
    p.add_argument("group", metavar="GROUP", type=group_arg)
    p.add_argument("--yes", action="store_true", help="confirm the removal")

    p = _leaf(member, "list", member_list, "a group's members and their roles")
    p.add_argument("group", metavar="GROUP", type=group_arg)
    p.add_argument("--json", action="store_true")


async def _admin(args: argparse.Namespace, fn: Callable[[Admin], Awaitable[Any]]) -> Any:
    async with client_for(args, admin=True) as c:
        return await fn(Admin(c))


def _confirm(args: argparse.Namespace, what: str) -> None:
    if not args.yes:
        raise InputError(f"removing {what} is final; run again with --yes to confirm")


async def party_list(args: argparse.Namespace) -> int:
    parties = await _admin(args, lambda a: a.parties())
    if args.json:
        print_json(parties)
        return 0
    print(table(("PARTY", "KIND", "STATUS", "NAME"), [
        (p["id"], p["kind"], p["status"], p["name"]) for p in parties
    ]))  # fmt: skip
    return 0


async def party_show(args: argparse.Namespace) -> int:
    p = await _admin(args, lambda a: a.party(args.party))
    if args.json:
        print_json(p)
        return 0
    print(f"{p['id']} ({p['kind']}, {p['status']}): {p['name']}")
    rows = [(c["id"], ",".join(c["roles"]), c["status"], c["kid"]) for c in p["clients"]]
    print(
        table(("CLIENT", "ROLES", "STATUS", "SIGNING KID"), rows, "  ") if rows else "  no clients"
    )
    keys = [(k["alg"], k["status"], k["kid"]) for k in p["encryption_keys"]]
    print(table(("ENCRYPTION", "STATUS", "KID"), keys, "  ") if keys else "  no encryption key")
    groups = ", ".join(f"{g['group']} ({g['role']})" for g in p["groups"]) or "none"
    print(f"  groups: {groups}")
    if p["subscribed_by"]:
        print(f"  subscribed to by: {', '.join(p['subscribed_by'])}")
    return 0


async def party_status(args: argparse.Namespace) -> int:
    if args.status == "suspended":
        out = await _admin(args, lambda a: a.suspend_party(args.party))
        print(
            f"suspended {out['party']}: its clients are refused until 'exchange admin party "
            f"resume {out['party']}'; bulletins to it are kept; directory v{out['version']}"
        )
    else:
        out = await _admin(args, lambda a: a.resume_party(args.party))
        print(f"resumed {out['party']}; directory v{out['version']}")
    return 0


async def party_remove(args: argparse.Namespace) -> int:
    _confirm(args, f"party {args.party}")
    out = await _admin(args, lambda a: a.remove_party(args.party))
    print(f"removed party {out['party']}; directory v{out['version']}")
    print(f"  clients revoked      {' '.join(out['clients_revoked']) or 'none'}")
    print(f"  encryption keys      {len(out['keys_revoked'])} revoked")
    print(f"  groups left          {' '.join(out['groups_left']) or 'none'}")
    print(f"  subscriptions        {out['subscriptions_removed']} removed")
    print(f"  unacknowledged       {out['pending_deliveries']} bulletins (kept, no longer overdue)")
    return 0


def _client_rows(clients: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    return [(c["id"], ",".join(c["roles"]), c["status"], c["kid"]) for c in clients]


async def client_list(args: argparse.Namespace) -> int:
    clients = await _admin(args, lambda a: a.clients(args.party))
    if args.json:
        print_json(clients)
        return 0
    print(table(("CLIENT", "ROLES", "STATUS", "SIGNING KID"), _client_rows(clients)))
    return 0


async def client_show(args: argparse.Namespace) -> int:
    c = await _admin(args, lambda a: a.client_entry(args.client_id))
    if args.json:
        print_json(c)
        return 0
    print(f"{c['id']} of {c['party']}: {c['status']}, roles {','.join(c['roles'])}")
    print(f"  signing key {c['kid']} ({c['jwk'].get('crv', '?')})")
    return 0


async def client_status(args: argparse.Namespace) -> int:
    cid = args.client_id
    if args.status == "suspended":
        out = await _admin(args, lambda a: a.suspend_client(cid))
        print(f"suspended {out['id']} until 'exchange admin client resume {out['id']}'; "
              f"directory v{out['version']}")  # fmt: skip
    else:
        out = await _admin(args, lambda a: a.resume_client(cid))
        print(f"resumed {out['id']}; directory v{out['version']}")
    return 0


async def client_remove(args: argparse.Namespace) -> int:
    _confirm(args, f"client {args.client_id}")
    out = await _admin(args, lambda a: a.remove_client(args.client_id))
    print(f"removed client {out['id']} (key {out['kid']} revoked); directory v{out['version']}")
    return 0


async def group_list(args: argparse.Namespace) -> int:
    groups = await _admin(args, lambda a: a.groups())
    if args.json:
        print_json(groups)
        return 0
    rows = [(g["id"], len(g["members"]), len(g["subscriptions"]), g["name"]) for g in groups]
    print(table(("GROUP", "MEMBERS", "SUBSCRIPTIONS", "NAME"), rows) if rows else "(no groups)")
    return 0


def _members(group: dict[str, Any]) -> list[tuple[str, str]]:
    order = {role: i for i, role in enumerate(GROUP_ROLES)}
    ms = sorted(group["members"], key=lambda m: (order.get(m["role"], 9), m["party"]))
    return [(m["party"], m["role"]) for m in ms]


async def group_show(args: argparse.Namespace) -> int:
    g = await _admin(args, lambda a: a.group(args.group))
    if args.json:
        print_json(g)
        return 0
    print(f"{g['id']}: {g['name']}")
    rows = _members(g)
    print(table(("MEMBER", "ROLE"), rows, "  ") if rows else "  no members")
    for s in g["subscriptions"]:
        types = ",".join(s["types"]) if s["types"] else "any type"
        prio = f", priority {s['min_priority']} or higher" if s["min_priority"] else ""
        print(f"  subscribed to {s['source']} ({types}{prio})")
    return 0


async def group_remove(args: argparse.Namespace) -> int:
    _confirm(args, f"group {args.group}")
    out = await _admin(args, lambda a: a.remove_group(args.group))
    print(
        f"removed group {out['group']} ({out['members_removed']} members, "
        f"{out['subscriptions_removed']} subscriptions); directory v{out['version']}"
    )
    return 0


async def member_list(args: argparse.Namespace) -> int:
    g = await _admin(args, lambda a: a.group(args.group))
    rows = _members(g)
    if args.json:
        print_json([{"party": p, "role": r} for p, r in rows])
        return 0
    print(table(("MEMBER", "ROLE"), rows) if rows else f"{args.group} has no members")
    return 0
