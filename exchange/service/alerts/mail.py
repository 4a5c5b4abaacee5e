"""E-mail alerts for people: a bulletin of some priority and type from some State is
waiting (or a recipient is overdue), with a link to the console. Never the bulletin's
content: the server does not have it, and a mail is not where it would belong.

Sent with ``aiosmtplib`` (ADR 0012): asyncio-native, so a slow relay holds no thread
and a send is cancelled cleanly at shutdown; STARTTLS is required, not opportunistic,
unless the operator turns it off, and authentication only happens over TLS."""

from __future__ import annotations

import datetime
import re
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import aiosmtplib

from exchange.config import AlertsConfig
from exchange.errors import InputError

__all__ = ["check_address", "compose", "send"]

#: a plain address: no display name, no comments, no header-breaking characters
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251})")


def check_address(address: Any) -> str:
    if not isinstance(address, str) or not _ADDRESS.fullmatch(address) or ".." in address:
        raise InputError("address: must be a plain e-mail address (local@domain)")
    return address


def _link(cfg: AlertsConfig, party: str, bid: str) -> str | None:
    if not cfg.console_url:
        return None
    return cfg.console_url.replace("{party}", party).replace("{bid}", bid)


def compose(
    cfg: AlertsConfig,
    *,
    to: str,
    party: str,
    event: str,
    info: dict[str, Any],
    nonce: str,
    now: float,
) -> EmailMessage:
    """The mail of one queued alert. Every value in it is from the stored routing
    metadata, each checked against the vocabulary at admission (no content)."""
    prio = str(info["priority"]).upper()
    kind, sender, bid = info["type"], info["sender"], info["bid"]
    msg = EmailMessage()
    msg["From"] = cfg.mail_from
    msg["To"] = to
    msg["Message-ID"] = make_msgid(idstring=nonce.replace("-", ""), domain="avsec.invalid")
    msg["X-Avsec-Delivery"] = nonce
    lines: list[str]
    if event == "escalation":
        overdue = info["overdue"]
        msg["Subject"] = f"[AVSEC] Overdue: {overdue} has not acknowledged {prio} {kind}"
        lines = [
            f"Your {prio} {kind} bulletin {bid} has not been acknowledged by {overdue} "
            "within its deadline.",
            "",
            f"Overdue recipient: {overdue}",
        ]
    else:
        msg["Subject"] = f"[AVSEC] {prio} {kind} from {sender} waiting"
        lines = [
            f"A {prio} {kind} bulletin from {sender} is waiting for {party}.",
            "",
        ]
    lines += [
        f"Priority: {prio}",
        f"Type: {kind}",
        f"From: {sender}",
        f"TLP: {str(info['tlp']).upper()}",
        f"Bulletin id: {bid}",
    ]
    link = _link(cfg, party if event != "escalation" else sender, bid)
    if link:
        lines += ["", f"Open it in your console: {link}"]
    lines += [
        "",
        "The bulletin itself is end-to-end encrypted; this mail carries none of its content.",
    ]
    msg.set_content("\n".join(lines) + "\n")
    msg["Date"] = format_datetime(datetime.datetime.fromtimestamp(now, tz=datetime.UTC))
    return msg


def _tls_context(cfg: AlertsConfig) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(cfg.smtp_ca_file) if cfg.smtp_ca_file else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


async def send(cfg: AlertsConfig, msg: EmailMessage) -> None:
    """Send through the operator's relay; raises on any failure (the caller retries)."""
    if not cfg.smtp_host:
        raise OSError("no SMTP relay is configured (alerts.smtp_host)")
    tls = cfg.smtp_tls or cfg.smtp_starttls
    if cfg.smtp_user and not tls:
        raise OSError("refusing to send SMTP credentials without TLS (smtp_starttls is off)")
    await aiosmtplib.send(
        msg,
        hostname=cfg.smtp_host,
        port=cfg.smtp_port,
        username=cfg.smtp_user,
        password=cfg.smtp_password,
        use_tls=cfg.smtp_tls,
        start_tls=cfg.smtp_starttls if not cfg.smtp_tls else False,
        tls_context=_tls_context(cfg) if tls else None,
        timeout=cfg.smtp_timeout,
    )
