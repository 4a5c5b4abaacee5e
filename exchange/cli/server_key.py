"""``exchange admin rotate-server-key`` (issue 18): run on the server's machine, like
``exchange init``. The current key signs a statement naming a new key; the directory and
the audit log announce it; the new key signs from each node's next start."""

from __future__ import annotations

import argparse
from typing import Any

from exchange.cli._common import add_server_options, server_config
from exchange.crypto.keys import parse_signing_jwk
from exchange.keyfiles import read_json, write_secret_json
from exchange.keystore import public_signing_jwk

__all__ = ["add_leaf"]


def add_leaf(asub: argparse._SubParsersAction[Any]) -> None:
    p = asub.add_parser(
        "rotate-server-key",
        help="give the server a new signing key (run on the server; then restart each node)",
        description="Make a new server signing key. The current key signs a statement "
        "naming it (GET /v1/server-key/rotation); the directory lists the old key and the "
        "audit log records the change. Clients that pinned the old kid follow the statement "
        "and pin the new one. The old key file moves to keys/server/retired/. Copy the new "
        "signing.jwk to every node and restart them.",
    )
    add_server_options(p)
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--ed25519", action="store_true", help="the new key: Ed25519 alone")
    kind.add_argument("--hybrid", action="store_true", help="the new key: ML-DSA-65 + Ed25519")
    p.add_argument("--pkcs11", metavar="URI", help="make the new key's Ed25519 half on a token")
    p.set_defaults(func=cmd_rotate_server_key)


async def cmd_rotate_server_key(args: argparse.Namespace) -> int:
    from exchange.node.setup import new_server_key, open_exchange

    cfg = server_config(args)
    path = cfg.server_key_path
    ex = await open_exchange(cfg)
    pending = path.with_name("signing.next.jwk")
    try:
        old_doc = read_json(path)
        old_hybrid = parse_signing_jwk(public_signing_jwk(old_doc)).is_hybrid
        hybrid = args.hybrid or (old_hybrid and not args.ed25519)
        new, doc = new_server_key("hybrid" if hybrid else "ed25519", args.pkcs11)
        write_secret_json(pending, doc, overwrite=True)
        out = await ex.server_keys.rotate(new)
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
    finally:
        await ex.db.close()
    write_secret_json(path.parent / "retired" / f"{out['old_kid']}.jwk", old_doc, overwrite=True)
    pending.replace(path)
    print(f"new server key {out['new_kid']} ({new.alg}); directory v{out['version']}")
    print(f"  the old key {out['old_kid']} signed the statement; it is kept in")
    print(f"  {path.parent / 'retired'} and listed in the directory")
    print("Copy signing.jwk to every node and restart them; clients that pinned the old")
    print("key follow the statement and pin the new one.")
    return 0
