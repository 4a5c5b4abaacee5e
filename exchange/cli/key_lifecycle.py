"""Key lifecycle commands (issue 18): ``exchange keys rotate --signing`` (a desk rotates
its own signing key), ``exchange admin client rotate-key`` (the operator registers a
desk's new key) and ``exchange admin key-expiry``."""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from exchange.cli import server_key
from exchange.cli._common import client_arg, client_for, kid_arg, profile_folder, to_epoch
from exchange.client.keys import rotate_signing_key
from exchange.crypto.keys import SigningKey, generate_signer, parse_signing_jwk
from exchange.errors import ExchangeError, InputError
from exchange.keyfiles import (
    PUBLIC_FILE,
    public_bundle,
    read_json,
    read_profile,
    write_json,
    write_secret_json,
)
from exchange.keystore import public_signing_jwk

__all__ = [
    "add_admin_leaves",
    "add_expires",
    "add_signing_options",
    "cmd_rotate_signing",
    "duration_arg",
    "expires_member",
]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: old signing keys of this desk (never read by the SDK; ``retired/`` holds party keys)
RETIRED_SIGNING = "retired-signing"


def duration_arg(value: str) -> int:
    """``0``, ``90s``, ``30m``, ``12h``, ``7d`` as seconds."""
    m = re.fullmatch(r"([0-9]{1,9})([smhd]?)", value.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"{value!r} is not a duration: 0, 90s, 30m, 12h or 7d")
    return int(m.group(1)) * _UNITS[m.group(2) or "s"]


def when_arg(value: str) -> int:
    """A date (2027-06-30), a time (2027-06-30T12:00Z) or a span from now (365d) as ms."""
    if re.fullmatch(r"[0-9]{1,9}[smhd]", value.strip()):
        return int((time.time() + duration_arg(value)) * 1000)
    epoch = to_epoch(value)
    if not isinstance(epoch, int):
        raise argparse.ArgumentTypeError(f"{value!r} is not a date, a time or a span (365d)")
    return epoch * 1000


def add_expires(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--expires", type=when_arg, metavar="WHEN", help="the key's expiry date: 2027-06-30, 365d"
    )


def expires_member(args: argparse.Namespace) -> dict[str, int]:
    return {"expires_at": args.expires} if args.expires is not None else {}


def fmt_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def add_signing_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("--signing: this desk's signing key (issue 18)")
    g.add_argument(
        "--signing",
        action="store_true",
        help="rotate this desk's signing key instead: a new key, registered with the server "
        "by proving possession of both; the old one is refused after the grace period",
    )
    kind = g.add_mutually_exclusive_group()
    kind.add_argument("--ed25519", action="store_true", help="the new key: Ed25519 alone")
    kind.add_argument("--hybrid", action="store_true", help="the new key: ML-DSA-65 + Ed25519")
    g.add_argument(
        "--pkcs11",
        metavar="URI",
        help="create the new key's Ed25519 half on this PKCS#11 token (a new object name)",
    )
    g.add_argument(
        "--grace", type=duration_arg, metavar="SPAN", help="ask for a shorter grace (e.g. 1h)"
    )
    g.add_argument("--expires", type=when_arg, metavar="WHEN", help="the new key's expiry date")
    g.add_argument(
        "--offline",
        action="store_true",
        help="the old key is lost or compromised: make the new key and public.json only; "
        "the operator registers it ('exchange admin client rotate-key')",
    )


def _new_signer(args: argparse.Namespace, old_public: dict[str, Any]) -> tuple[SigningKey, Any]:
    old_hybrid = parse_signing_jwk(old_public).is_hybrid
    kind: Literal["hybrid", "ed25519"] = (
        "ed25519" if args.ed25519 else "hybrid" if args.hybrid or old_hybrid else "ed25519"
    )
    if args.pkcs11:
        from exchange.keystore.pkcs11 import create_token_key

        return create_token_key(args.pkcs11, kind)
    made = generate_signer(kind)
    return made, made.to_private_jwk()


async def cmd_rotate_signing(args: argparse.Namespace) -> int:
    folder = profile_folder(args)
    profile = read_profile(folder)
    current = folder / "signing.jwk"
    old_doc = read_json(current)
    old_public = public_signing_jwk(old_doc)
    signer, doc = _new_signer(args, old_public)
    if args.offline:
        return _offline(folder, profile.client_id, old_doc, signer, doc)
    pending = folder / "signing.next.jwk"  # kept if the server's answer is lost
    write_secret_json(pending, doc, overwrite=True)
    try:
        async with client_for(args) as c:
            old_kid = c.signer.kid
            out = await rotate_signing_key(
                c, signer, signer.public.to_jwk(), grace=args.grace, expires_at=args.expires
            )
    except ExchangeError:
        pending.unlink()  # the server answered no: nothing changed
        raise
    write_secret_json(folder / RETIRED_SIGNING / f"{old_kid}.jwk", old_doc, overwrite=True)
    pending.replace(current)
    _write_public(folder, profile.client_id, signer)
    print(f"new signing key {out['kid']} ({signer.alg}) for {profile.client_id}, registered")
    print(f"  old key {old_kid} verifies until {fmt_ms(out['retire_at'])}, then is refused")
    print(f"  (kept in {folder / RETIRED_SIGNING}); directory v{out['version']}")
    return 0


def _write_public(folder: Path, client_id: str, signer: SigningKey) -> dict[str, Any]:
    old = read_json(folder / PUBLIC_FILE) if (folder / PUBLIC_FILE).is_file() else {}
    bundle = public_bundle(client_id, signer.public.to_jwk(), old.get("encryption"))
    write_json(folder / PUBLIC_FILE, bundle)
    return bundle


def _offline(folder: Path, client_id: str, old_doc: Any, signer: SigningKey, doc: Any) -> int:
    old_kid = parse_signing_jwk(public_signing_jwk(old_doc)).kid
    write_secret_json(folder / RETIRED_SIGNING / f"{old_kid}.jwk", old_doc, overwrite=True)
    write_secret_json(folder / "signing.jwk", doc, overwrite=True)
    bundle = _write_public(folder, client_id, signer)
    print(f"new signing key {signer.kid} ({signer.alg}) for {client_id}, not yet registered")
    print(f"Send {folder / PUBLIC_FILE} to the operator (fingerprint {bundle['fingerprint']}):")
    print(f"  exchange admin client rotate-key {client_id} --public public.json --grace 0")
    return 0


def add_admin_leaves(
    client: argparse._SubParsersAction[Any],
    asub: argparse._SubParsersAction[Any],
    leaf: Callable[..., argparse.ArgumentParser],
    key_source: Callable[[argparse.ArgumentParser, str], None],
) -> None:
    p = leaf(
        client,
        "rotate-key",
        help="register a client's new signing key (its public.json); the old one is "
        "refused after the grace period",
    )
    p.add_argument("client_id", metavar="CLIENT_ID", type=client_arg)
    key_source(p, "signing.jwk")
    p.add_argument(
        "--grace",
        type=duration_arg,
        metavar="SPAN",
        help="how long the old key still verifies: 0 for a lost or compromised key "
        "(default: the server's key_grace)",
    )
    p.add_argument("--expires", type=when_arg, metavar="WHEN", help="the new key's expiry")
    p.set_defaults(func=admin_rotate_key)
    p = leaf(asub, "key-expiry", help="set or clear the expiry date of a key")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--client", type=client_arg, metavar="CLIENT_ID", help="its signing key")
    which.add_argument(
        "--kid",
        type=kid_arg,
        metavar="KID",
        help="an encryption key (--kid=KID if it begins with '-')",
    )
    at = p.add_mutually_exclusive_group(required=True)
    at.add_argument("--at", type=when_arg, metavar="WHEN", help="2027-06-30, or 365d")
    at.add_argument("--clear", action="store_true", help="no expiry date")
    p.set_defaults(func=admin_key_expiry)
    server_key.add_leaf(asub)


async def admin_rotate_key(args: argparse.Namespace) -> int:
    from exchange.cli.admin import _read_key
    from exchange.cli.admin import public_signing_jwk as checked_public

    raw, bundle = _read_key(args, "signing")
    if bundle is not None and bundle["client_id"] != args.client_id:
        raise InputError(f"that public.json is for {bundle['client_id']}, not {args.client_id}")
    from exchange.client.admin import Admin

    async with client_for(args, admin=True) as c:
        out = await Admin(c).rotate_client_key(
            args.client_id, checked_public(raw), grace=args.grace, expires_at=args.expires
        )
    print(f"client {out['id']}: new signing key {out['kid']}; directory v{out['version']}")
    print(f"  old key {out['old_kid']} refused from {fmt_ms(out['retire_at'])}")
    if bundle is not None:
        print(f"  fingerprint {bundle['fingerprint']}: check it with the State by phone")
    return 0


async def admin_key_expiry(args: argparse.Namespace) -> int:
    from exchange.client.admin import Admin

    at = None if args.clear else args.at
    async with client_for(args, admin=True) as c:
        out = await Admin(c).set_key_expiry(client_id=args.client, kid=args.kid, expires_at=at)
    what = f"client {args.client}" if args.client else f"key {args.kid}"
    when = "no expiry date" if at is None else f"expires {fmt_ms(at)}"
    print(f"{what}: {when}; directory v{out['version']}")
    return 0
