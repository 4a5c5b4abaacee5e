"""``exchange init``, ``serve``, ``keygen`` and ``demo``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Literal

import aiohttp

from exchange.cli._common import (
    add_server_options,
    keys_dir,
    redact_url,
    server_config,
)
from exchange.cli.keys import copy_warning
from exchange.config import LOG_LEVELS
from exchange.crypto.keys import (
    EncryptionPrivateKey,
    SigningKey,
    generate_signer,
    parse_signing_jwk,
)
from exchange.errors import InputError, StorageError
from exchange.keyfiles import (
    PUBLIC_FILE,
    Profile,
    profile_dir,
    public_bundle,
    read_profile,
    write_json,
    write_profile,
    write_secret_json,
)
from exchange.partykeys import install_keys, local_keys
from exchange.vocab import CLIENT_ID_RE

__all__ = ["add_parsers"]


def add_parsers(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "init",
        help="create the database schema, the server key and the operator's admin profile",
        description="Create the database schema, the server's signing key and the "
        "operator's first admin profile (keys/OPERATOR/admin). Run once per exchange.",
    )
    add_server_options(p)
    p.add_argument("--operator-party", default="OPERATOR", metavar="ID")
    p.add_argument("--operator-name", default="Exchange operator", metavar="NAME")
    p.add_argument("--admin-name", default="admin", metavar="NAME")
    p.add_argument("--url", help="the server URL to write into the admin profile")
    _signing_options(p, "the server key")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser(
        "serve",
        help="run the exchange server until Ctrl-C",
        description="Serve the exchange. Logs are JSON lines on stderr, or in --log-file. "
        "Settings come from --config FILE (TOML), EXCHANGE_* variables and flags; see "
        "'exchange config show'. Stops cleanly on SIGINT or SIGTERM.",
    )
    add_server_options(p)
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="server processes sharing the port, one per core (env EXCHANGE_WORKERS; 1)",
    )
    p.add_argument(
        "--log-file",
        metavar="FILE",
        help="append the JSON log to FILE; the terminal shows only the start banner "
        "(env EXCHANGE_LOG_FILE; default stderr)",
    )
    p.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        help="log level (env EXCHANGE_LOG_LEVEL; info)",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "keygen",
        help="create a client's keys and profile folder (keys/PARTY/name)",
        description="Create a client's signing key, its party's encryption key and "
        "profile.json in keys/PARTY/name/. Private keys are written with mode 0600 and "
        "never printed; public.json holds the public keys to send to the operator, and "
        "its fingerprint is printed for a phone check.",
    )
    p.add_argument("client_id", metavar="CLIENT_ID", help="PARTY/name, e.g. KZ/ops")
    p.add_argument("--keys", metavar="DIR", help="keys folder (env EXCHANGE_KEYS_DIR; ./keys)")
    p.add_argument(
        "--server-url", metavar="URL", help="the exchange (env EXCHANGE_URL; from host/port)"
    )
    p.add_argument("--exchange-id", metavar="ID", help="exchange id (env EXCHANGE_ID)")
    p.add_argument(
        "--server-kid",
        metavar="KID",
        help="pin this server key id (needed when the server cannot be reached)",
    )
    enc = p.add_mutually_exclusive_group()
    enc.add_argument(
        "--no-encryption", action="store_true", help="no encryption key (a feed that only posts)"
    )
    enc.add_argument(
        "--classical", action="store_true", help="an X25519 key instead of the hybrid PQ key"
    )
    enc.add_argument(
        "--join-party-key",
        action="store_true",
        help="another desk of the party has its key: use it (copied from a desk on this "
        "machine, or brought later with 'exchange keys import')",
    )
    enc.add_argument(
        "--new-party-key",
        action="store_true",
        help="make a new party key even though another desk has one (registering it "
        "retires the old one: share it with the other desks)",
    )
    _signing_options(p, "the client key")
    p.set_defaults(func=cmd_keygen)

    p = sub.add_parser(
        "demo",
        help="run a throwaway exchange on loopback and show a bulletin end to end",
        description="Start a temporary exchange on 127.0.0.1, enrol the six CAC States and "
        "ICAO, post a threat assessment and show every member receive, verify and "
        "acknowledge it. Nothing is kept.",
    )
    p.add_argument(
        "--console", action="store_true", help="then keep it running with two States' consoles"
    )
    p.set_defaults(func=cmd_demo, interrupt_status=0)


def _signing_options(p: argparse.ArgumentParser, what: str) -> None:
    """--ed25519 and --pkcs11 (issue 20): signing keys are hybrid ML-DSA-65 + Ed25519 by
    default; the Ed25519 half can live on a PKCS#11 token."""
    p.add_argument(
        "--ed25519",
        action="store_true",
        help=f"{what}: Ed25519 alone instead of the hybrid ML-DSA-65 + Ed25519 key",
    )
    p.add_argument(
        "--pkcs11",
        metavar="URI",
        help=f"{what}: create its Ed25519 half on this PKCS#11 token (RFC 7512 URI, e.g. "
        "'pkcs11:token=avsec;object=kz-ops?module-path=/usr/lib/softhsm/libsofthsm2.so'; "
        "PIN from pin-source or EXCHANGE_PKCS11_PIN); only a reference is stored",
    )


async def cmd_init(args: argparse.Namespace) -> int:
    from exchange.node import init

    cfg = server_config(args)
    folder = await init(
        cfg,
        operator_party=args.operator_party,
        operator_name=args.operator_name,
        admin_name=args.admin_name,
        server_url=args.url,
        signing="ed25519" if args.ed25519 else "hybrid",
        pkcs11_uri=args.pkcs11,
    )
    profile = read_profile(folder)
    print(f"Initialised exchange '{cfg.exchange_id}'")
    print(f"  database       {redact_url(cfg.db_url)}")
    print(f"  server key     {cfg.server_key_path} (kid {profile.server_kid})")
    print(f"  admin profile  {folder} (client {profile.client_id}, {profile.server_url})")
    print()
    print("Next steps:")
    print("  exchange serve --log-file serve.log")
    print(f"  exchange keygen KZ/ops --server-url {profile.server_url}")
    print("  exchange admin party add KZ 'Civil Aviation Committee of Kazakhstan'")
    print("  exchange admin client add KZ/ops --roles poster,reader --public public.json")
    print("  exchange admin enc-key add KZ --public public.json   (the file KZ sent)")
    if folder != keys_dir() / "OPERATOR" / "admin":
        print(f"(admin commands: pass --profile {folder} or set EXCHANGE_PROFILE)")
    return 0


async def cmd_serve(args: argparse.Namespace) -> int:
    from exchange.node import open_exchange, serve

    cfg = server_config(args)
    if cfg.log_file is not None:  # a log file that cannot be written is said now, plainly
        with cfg.log_file.open("a", encoding="utf-8"):
            pass
    # Check the database and the server key before serve() turns on the JSON logs, so
    # that "not initialised" or "schema out of date" is one plain line.
    ex = await open_exchange(cfg)
    await ex.db.close()
    await serve(cfg)
    return 0


async def _fetch_server_kid(url: str) -> str:
    timeout = aiohttp.ClientTimeout(total=10)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as s,
            s.get(url.rstrip("/") + "/v1/server-key") as r,
        ):
            if r.status != 200:
                raise StorageError(f"{url}/v1/server-key answered HTTP {r.status}")
            jwk = await r.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
        reason = str(exc) or type(exc).__name__
        raise StorageError(
            f"cannot fetch the server key from {url} ({reason}); start the server, "
            "or pass --server-kid KID (the kid 'exchange init' printed)"
        ) from exc
    return parse_signing_jwk(jwk).kid


async def cmd_keygen(args: argparse.Namespace) -> int:
    client_id: str = args.client_id
    if not CLIENT_ID_RE.match(client_id):
        raise InputError(
            f"client id {client_id!r} must be PARTY/name, e.g. KZ/ops (party in capitals, "
            "name in lower case)"
        )
    party = client_id.split("/", 1)[0]
    env = os.environ
    local = f"http://{env.get('EXCHANGE_HOST', '127.0.0.1')}:{env.get('EXCHANGE_PORT', '8080')}"
    url = (args.server_url or env.get("EXCHANGE_URL") or local).rstrip("/")
    exchange_id = args.exchange_id or env.get("EXCHANGE_ID") or "avsec-exchange"
    folder = profile_dir(keys_dir(args.keys), client_id)
    for name in ("signing.jwk", "encryption.jwk", "profile.json"):
        if (folder / name).exists():
            raise InputError(f"{folder / name} already exists; refusing to overwrite a key")

    server_kid = args.server_kid
    try:
        fetched = await _fetch_server_kid(url)
    except StorageError:
        if not server_kid:
            raise
    else:
        if server_kid and server_kid != fetched:
            raise InputError(f"the server at {url} has key {fetched}, not --server-kid")
        server_kid = fetched

    mode, desk = _party_key_mode(args, folder, party)
    kind: Literal["hybrid", "ed25519"] = "ed25519" if args.ed25519 else "hybrid"
    signer: SigningKey
    if args.pkcs11:
        from exchange.keystore.pkcs11 import create_token_key

        signer, signing_doc = create_token_key(args.pkcs11, kind)
    else:
        made = generate_signer(kind)
        signer, signing_doc = made, made.to_private_jwk()
    enc = None
    if mode == "new":
        enc = EncryptionPrivateKey.generate("x25519" if args.classical else "hybrid")
    write_secret_json(folder / "signing.jwk", signing_doc)
    if enc is not None:
        write_secret_json(folder / "encryption.jwk", enc.to_private_jwk())
    joined = []
    if mode == "join" and desk is not None:
        joined = install_keys(folder, local_keys(desk))
        enc = EncryptionPrivateKey.from_jwk(local_keys(folder)[0])
    write_profile(folder, Profile(client_id, party, url, exchange_id, server_kid))
    public_enc = enc.public.to_jwk() if enc is not None and mode == "new" else None
    bundle = public_bundle(client_id, signer.public.to_jwk(), public_enc)
    write_json(folder / PUBLIC_FILE, bundle)

    print(f"Created profile {folder} for client {client_id}")
    print(f"  server     {url} (exchange {exchange_id}, pinned server key {server_kid})")
    where = "token reference" if args.pkcs11 else "private"
    print(f"  signing    {folder / 'signing.jwk'} ({where}, mode 0600), {signer.alg}")
    print(f"             kid {signer.kid}")
    if enc is not None:
        print(
            f"  encryption {folder / 'encryption.jwk'} (private, mode 0600), {enc.alg}, "
            f"kid {enc.kid}"
        )
    print()
    print(f"Send {folder / PUBLIC_FILE} (public keys only) to the exchange operator, and read")
    print(f"them this fingerprint by phone:  {bundle['fingerprint']}")
    print("The operator registers it with:")
    print(f"  exchange admin client add {client_id} --roles poster,reader --public public.json")
    if public_enc is not None:
        print(f"  exchange admin enc-key add {party} --public public.json")
    if joined:
        print(f"This desk shares the party key of {desk} ({len(joined)} key(s) copied).")
        print(copy_warning(party))
    elif mode == "join":
        print("This desk has no party key yet: on a desk that has it, run")
        print(f"  exchange keys share --profile keys/{party}/DESK --out {party}-keys.json")
        print(f"then here: exchange keys import {party}-keys.json --profile {folder}")
    elif mode == "new" and desk is not None:
        print(
            f"warning: once registered, this new key is the only one senders use for {party}: "
            f"give it to {desk} and the other desks with 'exchange keys share'"
        )
    return 0


def _party_key_mode(args: argparse.Namespace, folder: Path, party: str) -> tuple[str, Path | None]:
    """("new" | "join" | "none", a desk of the party on this machine that has its key)."""
    root = folder.parent
    desks = sorted(
        d for d in (root.iterdir() if root.is_dir() else []) if (d / "encryption.jwk").is_file()
    )
    desk = desks[0] if desks else None
    if args.no_encryption:
        return "none", desk
    if args.join_party_key:
        return "join", desk
    if args.new_party_key or desk is None:
        return "new", desk
    question = (
        f"{party} already has a party encryption key on this machine ({desk}). A second "
        "desk must use the same key, or one of them cannot read what is sent to the State."
    )
    if not sys.stdin.isatty():
        raise InputError(
            f"{question} Pass --join-party-key to use it, or --new-party-key to make a new one"
        )
    print(question)
    answer = input("Join the existing party key [j] or make a new one [n]? [j] ").strip().lower()
    return ("new" if answer.startswith("n") else "join"), desk


async def cmd_demo(args: argparse.Namespace) -> int:
    from exchange.cli.demo import run_demo

    return await run_demo(console=getattr(args, "console", False))
