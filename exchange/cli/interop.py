"""``exchange export stix|misp``, ``exchange import stix|misp`` and ``exchange taxii``:
the bridges to the tools States already run (docs/interop.md)."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from exchange.bridges.draft import Draft, one_line
from exchange.bridges.misp import draft_from_misp, misp_event
from exchange.bridges.stix import export_bundle
from exchange.bridges.stix_import import drafts_from_stix
from exchange.bridges.taxii import TaxiiCollections, make_app
from exchange.cli._common import add_profile, bid_arg, client_for, profile_folder
from exchange.cli._render import require_key
from exchange.client import ExchangeClient
from exchange.client.opened import OpenedRecord, OpenedStore, Rejected, open_one, open_since
from exchange.errors import ExchangeError, InputError

__all__ = ["add_parsers"]

#: Files in the profile folder: the TAXII server's opened bulletins and its credential.
STORE_FILE = "opened.jsonl"
TOKEN_FILE = "taxii.token"  # noqa: S105 - a file name, not a secret


def add_parsers(sub: argparse._SubParsersAction[Any]) -> None:
    exp = sub.add_parser("export", help="opened bulletins as STIX 2.1 or MISP event JSON")
    kinds = exp.add_subparsers(dest="format", metavar="FORMAT", required=True)
    p = kinds.add_parser("stix", help="a STIX 2.1 bundle (report, identity, TLP 2.0 markings)")
    add_profile(p)
    p.add_argument("bids", metavar="BID", nargs="*", type=bid_arg)
    p.add_argument("--since", type=int, metavar="SEQ", help="every bulletin after inbox SEQ")
    p.add_argument("-o", "--output", metavar="FILE", help="write here (default stdout)")
    p.set_defaults(func=cmd_export_stix)
    p = kinds.add_parser("misp", help="MISP event JSON, one event per bulletin")
    add_profile(p)
    p.add_argument("bids", metavar="BID", nargs="+", type=bid_arg)
    p.add_argument("-o", "--output", metavar="FILE", help="write here (default stdout)")
    p.set_defaults(func=cmd_export_misp)

    imp = sub.add_parser("import", help="a STIX bundle or MISP event as a draft bulletin")
    kinds = imp.add_subparsers(dest="format", metavar="FORMAT", required=True)
    for name, helptext in (("stix", "a STIX 2.1 bundle"), ("misp", "a MISP event (JSON)")):
        p = kinds.add_parser(
            name,
            help=f"{helptext} as a draft for 'exchange post'",
            description=f"Turn {helptext} into a draft bulletin (YAML) to review and post "
            "with 'exchange post DRAFT --group GROUP'. Every field that cannot be carried "
            "is named in a warning line (and in the draft's comments). Nothing is posted.",
        )
        p.add_argument("file", metavar="FILE", help="the file to read (- for stdin)")
        p.add_argument(
            "-o", "--output", metavar="PATH", help="the draft file (a folder for several)"
        )
        p.set_defaults(func=cmd_import, kind=name)

    p = sub.add_parser(
        "taxii",
        help="serve this party's opened bulletins over TAXII 2.1 (read only)",
        description="A TAXII 2.1 read server for this State's own MISP or OpenCTI. It opens "
        "and verifies new bulletins every --poll seconds, keeps them in the profile folder "
        f"({STORE_FILE}, mode 0600) and serves them as STIX 2.1, one collection per group "
        "and one for all. The credential (HTTP Basic with any user name, or a bearer "
        f"token) is kept in {TOKEN_FILE} and printed with the discovery URL at start.",
    )
    add_profile(p)
    p.add_argument("--host", default="127.0.0.1", help="listen address (default loopback)")
    p.add_argument("--port", type=int, default=9443, metavar="N", help="default 9443")
    p.add_argument("--poll", type=float, default=60.0, metavar="S", help="seconds between syncs")
    p.add_argument("--new-token", action="store_true", help="replace the stored credential")
    p.set_defaults(func=cmd_taxii, interrupt_status=0)


def _write(text: str, output: str | None) -> None:
    """To stdout, or to a file created with mode 0600: an export holds plaintext."""
    if output and output != "-":
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        print(f"wrote {output}", file=sys.stderr)
    else:
        print(text)


async def _records(c: ExchangeClient, bids: list[str], since: int | None) -> list[OpenedRecord]:
    require_key(c)
    records = [await open_one(c, bid) for bid in bids]
    if since is not None:
        async for r in open_since(c, since):
            if isinstance(r, Rejected):
                print(
                    f"exchange: warning: seq {r.seq} {r.bid} rejected: {r.reason}", file=sys.stderr
                )
            else:
                records.append(r)
    return records


async def cmd_export_stix(args: argparse.Namespace) -> int:
    if not args.bids and args.since is None:
        raise InputError("name bulletins (BID…) or give --since SEQ")
    async with client_for(args) as c:
        records = await _records(c, args.bids, args.since)
    if not records:
        raise InputError(f"no bulletin after seq {args.since} to export")
    _write(export_bundle(records), args.output)
    return 0


async def cmd_export_misp(args: argparse.Namespace) -> int:
    async with client_for(args) as c:
        records = await _records(c, args.bids, None)
    events = [misp_event(r) for r in records]
    data: Any = events[0] if len(events) == 1 else {"response": events}
    _write(json.dumps(data, indent=2, ensure_ascii=False), args.output)
    return 0


def _read(file: str) -> bytes:
    if file == "-":
        return sys.stdin.buffer.read()
    return Path(file).read_bytes()


async def cmd_import(args: argparse.Namespace) -> int:
    raw = await asyncio.to_thread(_read, args.file)
    name = Path(args.file).name
    drafts: list[Draft] = (
        drafts_from_stix(raw, name) if args.kind == "stix" else [draft_from_misp(raw, name)]
    )
    for d in drafts:
        for w in d.warnings:
            print(f"exchange: warning: {one_line(w, 400)}", file=sys.stderr)
    if len(drafts) == 1:
        _write(drafts[0].yaml().rstrip("\n"), args.output)
        return 0
    if not args.output:
        raise InputError(f"{len(drafts)} reports in the bundle: give -o FOLDER for the drafts")
    folder = Path(args.output)
    await asyncio.to_thread(_write_drafts, folder, drafts)
    print(f"wrote {len(drafts)} drafts to {folder}", file=sys.stderr)
    return 0


def _write_drafts(folder: Path, drafts: list[Draft]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n, d in enumerate(drafts, 1):
        d.write(folder / f"draft-{n:03d}.yaml")


def _token(folder: Path, renew: bool) -> str:
    path = folder / TOKEN_FILE
    if path.exists() and not renew:
        token = path.read_text(encoding="utf-8").strip()
        if len(token) >= 32:
            return token
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token + "\n")
    return token


async def _sync(c: ExchangeClient, store: OpenedStore) -> None:
    try:
        new, bad = await store.sync(c)
    except (ExchangeError, OSError) as exc:
        why = exc.detail if isinstance(exc, ExchangeError) else str(exc)
        print(f"exchange: warning: sync failed, serving what is stored: {why}", flush=True)
        return
    for r in bad:
        print(f"exchange: warning: seq {r.seq} {r.bid} rejected: {r.reason}", flush=True)
    if new:
        print(f"{len(new)} new bulletins (up to seq {store.cursor})", flush=True)


async def cmd_taxii(args: argparse.Namespace) -> int:
    folder = profile_folder(args)
    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == "localhost"
    store = await asyncio.to_thread(OpenedStore.load, folder / STORE_FILE)
    token = await asyncio.to_thread(_token, folder, args.new_token)
    async with client_for(args) as c:
        require_key(c)
        await _sync(c, store)
        groups: dict[str, str] = {}
        try:
            doc = (await c.directory()).doc
        except ExchangeError:
            doc = {}  # the server is away: the collections come from the stored bulletins
        for g in doc.get("groups", []):
            if any(m.get("party") == c.party for m in g.get("members", [])):
                groups[str(g["id"])] = str(g.get("name") or g["id"])
        runner = web.AppRunner(make_app(TaxiiCollections(store, groups), token))
        await runner.setup()
        try:
            site = web.TCPSite(runner, args.host, args.port)
            await site.start()
            port = runner.addresses[0][1]
            host = f"[{args.host}]" if ":" in args.host else args.host
            print(f"TAXII 2.1 server of {c.party}: {len(store.records)} bulletins", flush=True)
            print(f"  discovery  http://{host}:{port}/taxii2/", flush=True)
            print(f"  API root   http://{host}:{port}/api/", flush=True)
            print(f"  token      {token}", flush=True)
            print("  (HTTP Basic with any user name and the token as password, or", flush=True)
            print("   'Authorization: Bearer TOKEN'; stop with Ctrl-C)", flush=True)
            if not loopback:
                print("  warning: not on loopback: put TLS in front of it", flush=True)
            while True:
                await asyncio.sleep(args.poll)
                await _sync(c, store)
        finally:
            await runner.cleanup()
