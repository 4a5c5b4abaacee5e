"""``exchange console``: the State console, a web page on this machine (loopback only)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from exchange.cli._common import add_profile, profile_folder
from exchange.client import ExchangeClient
from exchange.console import Console
from exchange.console.runner import RECORD_FILE
from exchange.errors import InputError

__all__ = ["add_parsers"]


def add_parsers(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "console",
        help="the web console for officers, on 127.0.0.1 (prints the URL to open)",
        description="Serve the console for this profile on 127.0.0.1 only. Open the printed "
        "URL: its one-time token is exchanged for a session cookie. Bulletins are decrypted "
        "and verified here; private keys never reach the browser. With the operator's admin "
        "profile it shows the operator's pages. Ctrl-C stops.",
    )
    add_profile(p)
    p.add_argument("--port", type=int, default=8765, help="loopback port (default 8765; 0: any)")
    p.set_defaults(func=cmd_console, interrupt_status=0)


async def cmd_console(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise InputError("--port must be between 0 and 65535")
    folder = profile_folder(args)
    client = ExchangeClient.from_profile(folder)
    console = Console(client, record_path=folder / RECORD_FILE)
    try:
        try:
            url = await console.start(args.port)
        except OSError as exc:
            raise InputError(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror}") from exc
        print(f"AVSEC Exchange console for {client.client_id} (Ctrl-C stops). Open:", flush=True)
        print(f"  {url}", flush=True)
        await asyncio.Event().wait()
    finally:
        await console.stop()
        await client.close()
    return 0
