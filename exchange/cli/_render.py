"""Plain-text views of bulletins, for ``read``, ``watch``, ``inbox`` and the demo."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Mapping
from typing import Any

from exchange.bulletin.validate import validate_bulletin
from exchange.cli._common import fmt_epoch
from exchange.client import Directory, ExchangeClient
from exchange.crypto.envelope import OpenedBulletin
from exchange.errors import ExchangeError, InputError
from exchange.vocab import AFTN_PRIORITY

__all__ = [
    "CHECKS",
    "Opened",
    "body_lines",
    "full_lines",
    "mark",
    "open_item",
    "reason",
    "require_key",
    "summary_line",
]

#: What a successful open has checked, in order (PROTOCOL §3), plus the body schema.
CHECKS = (
    "outer signature",
    "CEK commitment",
    "AES-256-GCM decryption",
    "inner signature",
    "header = signed metadata",
    "we are a recipient",
    "body schema",
)

_TIME_FIELDS = frozenset(
    {"valid_from", "valid_until", "effective_from", "effective_until", "respond_by"}
)


def mark() -> str:
    """A check mark where the terminal can show one."""
    enc = (getattr(sys.stdout, "encoding", None) or "").lower()
    return "✓" if enc.startswith("utf") else "ok"


class Opened:
    """An opened bulletin with who signed it and whether its body fits its schema."""

    def __init__(self, opened: OpenedBulletin, directory: Directory) -> None:
        self.opened = opened
        self.bulletin = opened.bulletin
        client = directory.client_of.get(opened.sender_kid)
        self.sender = str(client["id"]) if client else f"kid {opened.sender_kid}"
        self.schema_problem: str | None = None
        try:
            validate_bulletin(dict(self.bulletin))
        except ExchangeError as exc:
            self.schema_problem = exc.detail


def reason(exc: ExchangeError) -> str:
    """Why :func:`open_item` rejected a bulletin, without the bulletin's id."""
    return str(exc.extra.get("reason", exc.detail))


def require_key(client: ExchangeClient) -> None:
    if client.encryption_key is None:
        raise InputError(
            f"this profile ({client.client_id}) has no encryption.jwk, so it cannot "
            "decrypt bulletins"
        )


async def open_item(client: ExchangeClient, envelope: str, bid: str) -> Opened:
    """Verify and decrypt; a failure names the bulletin and says which check failed."""
    require_key(client)
    try:
        opened = await client.open(envelope)
    except ExchangeError as exc:
        raise InputError(f"bulletin {bid} rejected: {exc.detail}", reason=exc.detail) from exc
    return Opened(opened, await client.directory())


def _level(b: Mapping[str, Any]) -> str:
    body = b.get("body")
    if isinstance(body, Mapping) and isinstance(body.get("threat_level"), str):
        return f"  threat level {body['threat_level'].upper()}"
    return ""


def summary_line(seq: Any, o: Opened) -> str:
    """One line: seq, priority, TLP, sender, type, title, threat level."""
    b = o.bulletin
    prio = str(b.get("priority", "?"))
    flag = "" if o.schema_problem is None else "  (body does not fit its schema)"
    return (
        f"#{seq} {prio.upper()}/{AFTN_PRIORITY.get(prio, '??')} tlp:{b.get('tlp')} "
        f'{o.sender} {b.get("type")} "{b.get("title")}"{_level(b)}{flag}'
    )


def _value(key: str, value: Any) -> str:
    if key in _TIME_FIELDS:
        return fmt_epoch(value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def body_lines(body: Mapping[str, Any], width: int = 88) -> list[str]:
    """Every field of a body: short ones as ``Label  value``, text and lists below."""
    out: list[str] = []
    for key, value in body.items():
        label = key.replace("_", " ").capitalize()
        is_text_list = isinstance(value, list) and any(
            isinstance(v, str) and len(v) > 40 for v in value
        )
        if isinstance(value, str) and len(value) > 60 and key not in _TIME_FIELDS:
            out.append(f"{label}:")
            out += textwrap.wrap(value, width, initial_indent="  ", subsequent_indent="  ")
        elif is_text_list:
            out.append(f"{label}:")
            for v in value:
                out += textwrap.wrap(str(v), width, initial_indent="  - ", subsequent_indent="    ")
        elif isinstance(value, Mapping):
            out.append(f"{label}:")
            out += ["  " + line for line in body_lines(value, width - 2)]
        else:
            out.append(f"{label + ':':<16}{_value(key, value)}")
    return out


def full_lines(o: Opened, party: str, seq: Any = None) -> list[str]:
    """A bulletin as ``exchange read`` shows it."""
    b = o.bulletin
    prio = str(b["priority"])
    groups = ", ".join(b["groups"]) or "-"
    to = ", ".join(b["to"]) or "-"
    lines = [
        f"Bulletin   {b['bid']}" + (f"  (seq {seq})" if seq is not None else ""),
        f"From       {b['iss']}, signed by {o.sender}",
        f"To         groups {groups}; parties {to}",
        f"Type       {b['type']}    priority {prio} ({AFTN_PRIORITY.get(prio, '??')})    "
        f"TLP:{str(b['tlp']).upper()}",
        f"Issued     {fmt_epoch(b['iat'])}    expires {fmt_epoch(b['exp'])}",
    ]
    if b.get("supersedes"):
        lines.append(f"Supersedes {b['supersedes']}")
    lines += [f"Title      {b['title']}", ""]
    body = b.get("body")
    if isinstance(body, Mapping):
        lines += body_lines(body)
    lines.append("")
    ok = mark()
    checks = [c.replace("we are", f"{party} is") for c in CHECKS]
    if o.schema_problem:
        checks.pop()
    lines.append("Verified   " + "  ".join(f"{ok} {c}" for c in checks[:4]))
    lines.append("           " + "  ".join(f"{ok} {c}" for c in checks[4:]))
    lines.append("           (the sender's key is from the server-signed directory)")
    if o.schema_problem:
        lines.append(f"Warning    the body does not fit its schema: {o.schema_problem}")
    return lines
