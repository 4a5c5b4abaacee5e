"""``exchange signing-policy`` (issue 20): require hybrid ML-DSA-65 + Ed25519 keys of one
party or of the whole exchange."""

from __future__ import annotations

import argparse
from typing import Any

from exchange.cli._common import add_profile, client_for, party_arg

__all__ = ["add_parsers"]


def add_parsers(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "signing-policy",
        help="require hybrid (ML-DSA-65 + Ed25519) signing keys of a party or of everyone",
        description="Set the directory's signing policy (operator only). Under it, the "
        "Ed25519-only keys of that party (or of every party) are refused by the server "
        "and by every reader's SDK.",
    )
    add_profile(p, admin=True)
    p.add_argument(
        "party", metavar="PARTY", nargs="?", type=party_arg, help="a party; omitted: everyone"
    )
    state = p.add_mutually_exclusive_group(required=True)
    state.add_argument("--require-hybrid", action="store_true", help="require hybrid keys")
    state.add_argument("--allow-ed25519", action="store_true", help="lift the requirement")
    p.set_defaults(func=cmd_signing_policy)


async def cmd_signing_policy(args: argparse.Namespace) -> int:
    path = "/v1/admin/signing-policy"
    if args.party:
        path = f"/v1/admin/parties/{args.party}/signing-policy"
    async with client_for(args, admin=True) as c:
        out = await c.admin("PUT", path, {"require_hybrid": bool(args.require_hybrid)})
    who = "every party" if out["party"] == "*" else out["party"]
    what = "must sign with hybrid keys" if out["require_hybrid"] else "may sign with Ed25519"
    print(f"{who} {what}; directory v{out['version']}")
    return 0
