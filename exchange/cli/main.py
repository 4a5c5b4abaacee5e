"""``exchange``: the command line. Every error a user can cause is one line on stderr
(``exchange: error: …``) and exit status 1, or 2 for a usage error; never a traceback
unless ``EXCHANGE_DEBUG`` is set."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
from collections.abc import Sequence

from exchange import __version__
from exchange.cli import (
    admin,
    alerts,
    bulletins,
    config_cmd,
    keys,
    migrate,
    report,
    sent,
    server_cmds,
    signing_policy,
    subscriptions,
    watch,
)
from exchange.cli._common import Handler, Parser
from exchange.errors import ExchangeError

__all__ = ["build_parser", "main"]

_EPILOG = """\
Start with 'exchange demo': a tour of a few seconds, on this machine only. To run an exchange:
'exchange init', then 'exchange serve'; see README.md for the quick start.
Commands that talk to a server take --profile DIR (or EXCHANGE_PROFILE)."""


def build_parser() -> Parser:
    parser = Parser(
        prog="exchange",
        description="AVSEC Exchange: signed, end-to-end encrypted bulletins between "
        "aviation-security authorities.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"exchange {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    server_cmds.add_parsers(sub)
    migrate.add_parser(sub)
    config_cmd.add_parser(sub)
    keys.add_parser(sub)
    sent.add_parser(sub)
    admin.add_parsers(sub)
    bulletins.add_parsers(sub)
    watch.add_parsers(sub)
    subscriptions.add_parsers(sub)
    importlib.import_module("exchange.cli.console").add_parsers(sub)
    importlib.import_module("exchange.cli.interop").add_parsers(sub)  # export/import/taxii
    report.add_parser(sub)
    alerts.add_parsers(sub)  # also ``exchange admin webhook``
    signing_policy.add_parsers(sub)
    try:  # ``exchange audit verify`` lives in its own module, written separately
        audit = importlib.import_module("exchange.cli.audit")
    except ImportError:
        pass
    else:
        audit.add_parser(sub)
    return parser


def _fail(message: str, status: int = 1) -> int:
    line = " ".join(str(message).split())
    print(f"exchange: error: {line}", file=sys.stderr, flush=True)
    return status


def _os_message(exc: OSError) -> str:
    what = exc.strerror or str(exc) or type(exc).__name__
    return f"{what}: {exc.filename}" if exc.filename else what


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Handler = args.func
    debug = bool(os.environ.get("EXCHANGE_DEBUG"))
    try:
        return asyncio.run(func(args))
    except BrokenPipeError:
        # ``exchange inbox | head``: the reader has gone; stop quietly, and keep Python
        # from complaining again when it flushes stdout at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        status: int = getattr(args, "interrupt_status", 130)
        if status:
            print("exchange: interrupted", file=sys.stderr)
        return status
    except ExchangeError as exc:
        if debug:
            raise
        return _fail(exc.detail)
    except OSError as exc:
        if debug:
            raise
        return _fail(_os_message(exc))
    except Exception as exc:
        if debug:
            raise
        return _fail(
            f"internal error ({type(exc).__name__}: {exc}); "
            "set EXCHANGE_DEBUG=1 to see where, and please report it"
        )


if __name__ == "__main__":
    sys.exit(main())
