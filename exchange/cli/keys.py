"""``exchange keys share`` and ``keys import``: one party key on every desk of a State."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from exchange.cli import key_lifecycle
from exchange.cli._common import add_profile, profile_folder
from exchange.errors import InputError
from exchange.keyfiles import (
    PUBLIC_FILE,
    public_bundle,
    read_json,
    read_profile,
    write_json,
    write_secret_json,
)
from exchange.keystore import public_signing_jwk
from exchange.partykeys import install_keys, local_keys, open_transfer, rotate, seal_transfer

__all__ = ["add_parser", "copy_warning"]


def copy_warning(party: str) -> str:
    return (
        f"warning: the private key of {party} is now on one more desk. Whoever can read "
        "that folder can read every bulletin sent to the State: keep it on a machine the "
        "State controls, mode 0600."
    )


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "keys",
        help="give a State's party encryption key to another of its desks",
        description="A State's encryption key belongs to the State: each desk (KZ/ops, "
        "KZ/duty) needs the same one. 'share' copies it (with the retired keys that keep old "
        "bulletins readable) to a desk on this machine, or seals it under a passphrase for "
        "another machine; 'import' installs such a file. Tell the passphrase by phone.",
    )
    ksub = p.add_subparsers(dest="keys_command", metavar="COMMAND", required=True)
    s = ksub.add_parser("share", help="copy or seal this desk's party keys for another desk")
    add_profile(s)
    dest = s.add_mutually_exclusive_group(required=True)
    dest.add_argument("--to-profile", metavar="DIR", help="a desk's profile on this machine")
    dest.add_argument("--out", metavar="FILE", help="a passphrase-sealed file to carry over")
    s.add_argument("--passphrase-file", metavar="FILE", help="read the passphrase from FILE")
    s.set_defaults(func=cmd_share)
    i = ksub.add_parser("import", help="install party keys from a file made by 'keys share'")
    i.add_argument("file", metavar="FILE")
    add_profile(i)
    i.add_argument("--passphrase-file", metavar="FILE", help="read the passphrase from FILE")
    i.set_defaults(func=cmd_import)
    r = ksub.add_parser(
        "rotate",
        help="make a new party encryption key (the old one is kept to read old bulletins), "
        "or with --signing a new signing key for this desk",
        description="Make a new encryption key for this desk's party. The old key moves to "
        "retired/ in the profile, so every bulletin sealed to it stays readable. public.json "
        "is rewritten for the operator ('exchange admin enc-key add PARTY --public ...'), who "
        "makes it active; then give it to the party's other desks with 'keys share'.",
    )
    add_profile(r)
    key_lifecycle.add_signing_options(r)  # issue 18: --signing rotates the signing key
    r.set_defaults(func=cmd_rotate)


def _passphrase(args: argparse.Namespace, *, twice: bool) -> str:
    if args.passphrase_file:
        return Path(args.passphrase_file).read_text(encoding="utf-8").rstrip("\n")
    if os.environ.get("EXCHANGE_PASSPHRASE"):
        return os.environ["EXCHANGE_PASSPHRASE"]
    if not sys.stdin.isatty():
        raise InputError("no passphrase: pass --passphrase-file FILE (or use a terminal)")
    first = getpass.getpass("Passphrase for the party key file: ")
    if twice and getpass.getpass("Again: ") != first:
        raise InputError("the two passphrases differ")
    return first


async def cmd_share(args: argparse.Namespace) -> int:
    src = profile_folder(args)
    party = read_profile(src).party
    keys = local_keys(src)
    if not keys:
        raise InputError(f"{src} holds no encryption key of {party} to share")
    if args.to_profile:
        dest = Path(args.to_profile)
        if not (dest / "profile.json").is_file():
            raise InputError(f"no profile at {dest}: create the desk with 'exchange keygen'")
        if read_profile(dest).party != party:
            raise InputError(f"{dest} is a desk of {read_profile(dest).party}, not {party}")
        kids = install_keys(dest, keys)
        print(f"copied {len(kids)} key(s) of {party} to {dest} (active {kids[0]})")
        print(copy_warning(party))
        return 0
    sealed = seal_transfer(party, keys, _passphrase(args, twice=True))
    write_secret_json(Path(args.out), sealed)
    print(f"sealed {len(keys)} key(s) of {party} in {args.out} (mode 0600) under the passphrase")
    print("Carry the file to the new desk and tell its officer the passphrase by phone; then")
    print(f"  exchange keys import {Path(args.out).name} --profile keys/{party}/NAME")
    print("and delete the file.")
    return 0


async def cmd_import(args: argparse.Namespace) -> int:
    dest = profile_folder(args)
    party = read_profile(dest).party
    keys = open_transfer(read_json(Path(args.file)), _passphrase(args, twice=False), party)
    kids = install_keys(dest, keys)
    print(f"installed {len(kids)} key(s) of {party} in {dest} (active {kids[0]})")
    print(copy_warning(party))
    return 0


async def cmd_rotate(args: argparse.Namespace) -> int:
    if args.signing:
        return await key_lifecycle.cmd_rotate_signing(args)
    if (
        args.ed25519
        or args.hybrid
        or args.pkcs11
        or args.grace is not None
        or args.expires
        or args.offline
    ):
        raise InputError(
            "--ed25519, --hybrid, --pkcs11, --grace, --expires and --offline go with --signing"
        )
    folder = profile_folder(args)
    profile = read_profile(folder)
    new, old = rotate(folder)
    public = public_signing_jwk(read_json(folder / "signing.jwk"))  # any kind of key
    bundle = public_bundle(profile.client_id, public, new.public.to_jwk())
    write_json(folder / PUBLIC_FILE, bundle)
    print(f"new party key {new.kid} ({new.alg}) for {profile.party}; {old} kept in retired/")
    print(f"Send {folder / PUBLIC_FILE} to the operator (fingerprint {bundle['fingerprint']}):")
    print(f"  exchange admin enc-key add {profile.party} --public public.json")
    print(f"then give the new key to the other desks of {profile.party}:")
    print(f"  exchange keys share --profile {folder} --to-profile keys/{profile.party}/DESK")
    return 0
