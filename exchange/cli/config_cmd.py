"""``exchange config show``: the server's effective settings and where each came from."""

from __future__ import annotations

import argparse
from typing import Any

from exchange.cli._common import add_server_options, load_server_config, print_json, table
from exchange.configfile import env_name, settings

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "config",
        help="show the server's effective configuration",
        description="Show every server setting: its effective value and where it came "
        "from (default, the --config file, an EXCHANGE_* variable, or a flag). Secrets "
        "and database passwords are never printed.",
    )
    csub = p.add_subparsers(dest="config_command", metavar="COMMAND", required=True)
    show = csub.add_parser("show", help="every setting, its value and its source")
    add_server_options(show)
    show.add_argument("--json", action="store_true", help="as JSON")
    show.set_defaults(func=cmd_show)


async def cmd_show(args: argparse.Namespace) -> int:
    rows = settings(load_server_config(args))
    if args.json:
        print_json([{"name": n, "value": v, "source": s, "env": env_name(n)} for n, v, s in rows])
        return 0
    print(table(["SETTING", "VALUE", "SOURCE"], rows))
    return 0
