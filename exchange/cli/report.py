"""``exchange report``: the effectiveness report of a group, a State or (for the
operator) the whole exchange, as one HTML file with charts, a CSV or JSON."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from exchange.cli._common import add_profile, client_for, group_arg, party_arg
from exchange.client.reports import fetch_report
from exchange.errors import InputError
from exchange.reports import FORMATS, render

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "report",
        help="delivery and acknowledgement report (HTML with charts, CSV or JSON)",
        description="Which States answer and how fast: bulletins posted, times to "
        "delivery and to each ack (median, 90th percentile), the share acked within the "
        "deadline, what is still overdue, the trend, reachability and directory health. "
        "A group's report is for its chair and members; a State sees its own; the "
        "operator sees all (without --group/--party: the whole exchange for the operator, "
        "the profile's own State for others).",
    )
    add_profile(p)
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("--group", metavar="G", type=group_arg, help="a coordination group")
    scope.add_argument("--party", metavar="P", type=party_arg, help="a State or organisation")
    p.add_argument("--from", dest="start", metavar="DATE", help="first day (default: 90 days)")
    p.add_argument("--to", dest="end", metavar="DATE", help="last day, included (default: now)")
    p.add_argument("--bucket", choices=("week", "month"), help="trend per week or month")
    p.add_argument(
        "--format",
        choices=FORMATS,
        help="default: from the -o file's extension, else html",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    p.set_defaults(func=cmd_report)


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    if args.output:
        ext = Path(args.output).suffix.lower().lstrip(".")
        if ext in ("htm", "html"):
            return "html"
        if ext in FORMATS:
            return ext
    return "html"


def _write(out: Path, text: str) -> Path:
    """Whole or not at all: a temporary file beside ``out``, then renamed."""
    if out.is_dir():
        raise InputError(f"{out} is a folder: name a file")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8", newline="")
    tmp.replace(out)
    return out


async def cmd_report(args: argparse.Namespace) -> int:
    fmt = _format(args)
    async with client_for(args) as c:
        report = await fetch_report(
            c,
            group=args.group,
            party=args.party,
            start=args.start,
            end=args.end,
            bucket=args.bucket,
        )
    text = render(report, fmt)
    if not args.output or args.output == "-":
        sys.stdout.write(text)
        return 0
    out = _write(Path(args.output), text)
    scope = report["scope"]
    what = scope["id"] or "the whole exchange"
    print(f"wrote the {fmt} report of {what} ({report['from']} to {report['to']}) to {out}")
    return 0
