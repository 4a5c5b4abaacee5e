"""Shared pieces of the command line: the parser class, profile and server options,
reading input files, and plain-text output (tables, times)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NoReturn, cast

from exchange.client import ExchangeClient
from exchange.client.expiry import client_warnings
from exchange.config import ServerConfig
from exchange.configfile import Loaded, load, parse_assignment
from exchange.errors import InputError
from exchange.vocab import AFTN_PRIORITY, BID_RE, CLIENT_ID_RE, GROUP_ID_RE, KID_RE, PARTY_ID_RE

__all__ = [
    "ADMIN_PROFILE",
    "Handler",
    "Parser",
    "add_profile",
    "add_server_options",
    "bid_arg",
    "client_arg",
    "client_for",
    "closing_stream",
    "csv_list",
    "fmt_epoch",
    "fmt_iso",
    "group_arg",
    "keys_dir",
    "kid_arg",
    "load_server_config",
    "party_arg",
    "plain_priority",
    "print_json",
    "profile_folder",
    "read_data_file",
    "redact_url",
    "server_config",
    "since_arg",
    "table",
    "to_epoch",
]


Handler = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]

#: The operator's first admin profile under the keys folder, as ``exchange init`` makes it.
ADMIN_PROFILE = Path("OPERATOR") / "admin"


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"exchange: error: {message} (see '{self.prog} --help')\n")


def keys_dir(value: str | None = None) -> Path:
    return Path(value or os.environ.get("EXCHANGE_KEYS_DIR") or "keys")


def add_profile(p: argparse.ArgumentParser, *, admin: bool = False) -> None:
    default = f"; default {keys_dir() / ADMIN_PROFILE}" if admin else ""
    p.add_argument(
        "--profile",
        metavar="DIR",
        default=os.environ.get("EXCHANGE_PROFILE"),
        help=f"the client's profile folder (env EXCHANGE_PROFILE{default})",
    )


def profile_folder(args: argparse.Namespace, *, admin: bool = False) -> Path:
    """The profile folder named by ``--profile``/``EXCHANGE_PROFILE`` (or the admin one)."""
    given: str | None = getattr(args, "profile", None)
    if given:
        folder = Path(given)
    elif admin:
        folder = keys_dir() / ADMIN_PROFILE
    else:
        raise InputError("no profile: pass --profile DIR or set EXCHANGE_PROFILE")
    if not (folder / "profile.json").is_file():
        hint = "exchange init" if admin and not given else "exchange keygen"
        raise InputError(f"no profile at {folder} (no profile.json): create one with '{hint}'")
    return folder


@asynccontextmanager
async def client_for(
    args: argparse.Namespace, *, admin: bool = False
) -> AsyncIterator[ExchangeClient]:
    client = ExchangeClient.from_profile(profile_folder(args, admin=admin))
    try:
        yield client
    finally:
        await client.close()
        _warn_expiry(client)


def _warn_expiry(client: ExchangeClient) -> None:
    """Issue 18: one line on stderr when this desk's keys are near or past expiry."""
    found = client_warnings(client)
    if found:
        print("exchange: warning: " + "; ".join(found), file=sys.stderr, flush=True)


def closing_stream(
    stream: AsyncIterator[dict[str, Any]],
) -> contextlib.aclosing[AsyncGenerator[dict[str, Any], None]]:
    """``ExchangeClient.stream`` is an async generator typed as an iterator: close it
    (and its WebSocket) on the way out, also when cancelled."""
    return contextlib.aclosing(cast(AsyncGenerator[dict[str, Any], None], stream))


def add_server_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("server options (flags beat EXCHANGE_* variables beat --config)")
    g.add_argument(
        "--config",
        metavar="FILE",
        default=os.environ.get("EXCHANGE_CONFIG"),
        help="a TOML configuration file (env EXCHANGE_CONFIG); 'exchange config show' "
        "lists every setting",
    )
    g.add_argument("--db", metavar="URL", help="database URL (env EXCHANGE_DB_URL)")
    g.add_argument("--keys", metavar="DIR", help="keys folder (env EXCHANGE_KEYS_DIR; ./keys)")
    g.add_argument("--exchange-id", metavar="ID", help="exchange id (env EXCHANGE_ID)")
    g.add_argument("--host", help="listen address (env EXCHANGE_HOST; 127.0.0.1)")
    g.add_argument("--port", help="listen port (env EXCHANGE_PORT; 8080)")
    g.add_argument(
        "--set",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="any other setting, e.g. --set limits.rate_burst=300 (repeatable)",
    )


#: server option flags: (argparse dest, the flag, the setting it sets)
_SERVER_FLAGS = (
    ("db", "--db", "db_url"),
    ("keys", "--keys", "keys_dir"),
    ("exchange_id", "--exchange-id", "exchange_id"),
    ("host", "--host", "host"),
    ("port", "--port", "port"),
    ("workers", "--workers", "workers"),
    ("log_file", "--log-file", "log_file"),
    ("log_level", "--log-level", "log_level"),
)


def load_server_config(args: argparse.Namespace) -> Loaded:
    """The server's configuration, each value with where it came from."""
    flags: dict[str, tuple[str, Any]] = {}
    for assignment in getattr(args, "set", None) or []:
        name, value = parse_assignment(assignment)
        flags[name] = ("--set", value)
    for dest, flag, setting in _SERVER_FLAGS:
        given = getattr(args, dest, None)
        if given is not None:
            flags[setting] = (flag, str(given))
    file = getattr(args, "config", None)
    path = Path(file) if file else None
    if path is not None and not path.is_file():
        raise InputError(f"no configuration file at {path}")
    return load(path, os.environ, flags)


def server_config(args: argparse.Namespace) -> ServerConfig:
    return load_server_config(args).config


def redact_url(url: str) -> str:
    """A database URL without its password, for printing."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable URL>"


def _id_type(pattern: re.Pattern[str], what: str, example: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not pattern.match(value):
            raise argparse.ArgumentTypeError(f"{value!r} is not a {what} (e.g. {example})")
        return value

    return check


#: argparse types that check an id before it is put into a request path.
party_arg = _id_type(PARTY_ID_RE, "party id", "KZ, ICAO-TA")
group_arg = _id_type(GROUP_ID_RE, "group id", "cac-avsec")
client_arg = _id_type(CLIENT_ID_RE, "client id", "KZ/ops")
bid_arg = _id_type(BID_RE, "bulletin id", "0b9f4a1e-6c2d-4e8a-9a51-3d7f2c1b8e40")
kid_arg = _id_type(KID_RE, "key id", "the kid the directory lists")


def csv_list(value: str) -> list[str]:
    """An argparse type: ``a,b`` as ``["a", "b"]``."""
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def read_data_file(path: Path) -> Any:
    """A JSON or YAML file (by extension; ``-`` is stdin as JSON or YAML)."""
    import yaml

    text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise InputError(f"{path} is not valid JSON: {exc}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "syntax error"
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise InputError(f"{path} is not valid YAML: {first}{where}") from exc


def to_epoch(value: Any) -> Any:
    """A YAML date/datetime or an ISO 8601 string as whole seconds; anything else as is."""
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(dt.timestamp())
    if isinstance(value, date):
        return int(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp())
    if isinstance(value, str):
        try:
            return to_epoch(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return value
    return value


def fmt_epoch(value: Any) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        return "-"
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%MZ")


def fmt_iso(value: Any, *, short: bool = False) -> str:
    """A server time (RFC 3339, ms) for a table; ``short`` keeps only the time of day."""
    if not isinstance(value, str) or not value:
        return "-"
    text = value.replace("T", " ")
    return text.split(" ", 1)[-1] if short else text


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], indent: str = "") -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [
        indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in cells
    ]
    return "\n".join(lines)


def print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False))


def plain_priority(priority: str) -> str:
    """``immediate (DD)``: the word officers use, the AFTN code as a hint."""
    code = AFTN_PRIORITY.get(priority)
    return f"{priority} ({code})" if code else priority


_SPAN = re.compile(r"^(\d+)([mhd])\Z")
_SPAN_SECONDS = {"m": 60, "h": 3600, "d": 86400}


def since_arg(value: str) -> int:
    """An argparse type: ``6h``/``2d``/``30m`` ago, or an ISO 8601 date or time, as epoch
    seconds."""
    span = _SPAN.match(value.strip())
    if span:
        return int(time.time()) - int(span.group(1)) * _SPAN_SECONDS[span.group(2)]
    when = to_epoch(value)
    if not isinstance(when, int):
        raise argparse.ArgumentTypeError(f"{value!r} is not a date, a time or a span like 6h")
    return when
