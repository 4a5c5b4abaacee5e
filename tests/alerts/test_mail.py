"""E-mail alerts through a real SMTP server started by the test (STARTTLS and AUTH
required): what a duty officer receives, and what it never contains."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alerts._kit import MakeHarness, Receiver, fast_alerts
from alerts._smtp import PASSWORD, USER, SmtpServer
from integration._flows import advisory, eventually, threat

from exchange.client import alerts as sdk
from exchange.config import AlertsConfig
from exchange.errors import InputError

SECRET = "Credible reporting of MANPADS"


@pytest.fixture
async def smtp(tmp_path: Path) -> AsyncIterator[SmtpServer]:
    s = await SmtpServer(tmp_path).start()
    try:
        yield s
    finally:
        await s.stop()


def mail_config(smtp: SmtpServer, **kw: Any) -> AlertsConfig:
    args: dict[str, Any] = {
        "smtp_host": "localhost",
        "smtp_port": smtp.port,
        "smtp_user": USER,
        "smtp_password": PASSWORD,
        "smtp_ca_file": smtp.ca_file,
        "mail_from": "alerts@exchange.example",
        "console_url": "https://console.example/{party}/bulletins/{bid}",
    }
    args.update(kw)
    return fast_alerts(**args)


async def test_flash_bulletin_mails_the_duty_officer(
    make_harness: MakeHarness, smtp: SmtpServer
) -> None:
    h = await make_harness(alerts=mail_config(smtp))
    m = await h.cac(observer=False)
    await sdk.add_mail(m["UZ"].client, "UZ", "duty@caa.uz", min_priority="immediate")
    await m["KZ"].client.post(advisory("KZ"))  # routine: filtered out
    flash = await m["KZ"].client.post(threat("KZ", priority="flash"))
    await eventually(lambda: smtp.messages, timeout=10)
    msg = smtp.messages[0]
    assert smtp.envelopes[0] == ("alerts@exchange.example", ["duty@caa.uz"])
    assert msg["Subject"] == "[AVSEC] FLASH threat-assessment from KZ waiting"
    text = msg.get_content()
    assert "Priority: FLASH" in text and "From: KZ" in text and "Type: threat-assessment" in text
    assert f"https://console.example/UZ/bulletins/{flash.bid}" in text
    raw = msg.as_string()
    assert SECRET not in raw and "MANPADS" not in raw and "UAAA" not in raw
    await eventually(lambda: True, timeout=0.5)
    assert len(smtp.messages) == 1  # the routine advisory sent none


async def test_bad_relay_credentials_retry_then_dead_letter(
    make_harness: MakeHarness, smtp: SmtpServer
) -> None:
    h = await make_harness(alerts=mail_config(smtp, smtp_password="wrong", max_attempts=2))
    m = await h.cac(observer=False)
    ep = await sdk.add_mail(m["UZ"].client, "UZ", "duty@caa.uz")
    await m["KZ"].client.post(threat("KZ"))

    async def dead() -> list[Any]:
        return await sdk.deliveries(m["UZ"].client, ep["id"], "dead")

    rows = await eventually(dead, timeout=10)
    assert rows[0]["attempts"] == 2 and "535" in rows[0]["last_error"]
    assert smtp.messages == []


async def test_an_untrusted_relay_certificate_is_refused(
    make_harness: MakeHarness, smtp: SmtpServer
) -> None:
    h = await make_harness(alerts=mail_config(smtp, smtp_ca_file=None, max_attempts=1))
    m = await h.cac(observer=False)
    ep = await sdk.add_mail(m["UZ"].client, "UZ", "duty@caa.uz")
    await m["KZ"].client.post(threat("KZ"))

    async def dead() -> list[Any]:
        return await sdk.deliveries(m["UZ"].client, ep["id"], "dead")

    rows = await eventually(dead, timeout=10)
    assert "certificate" in rows[0]["last_error"].lower()
    assert smtp.messages == []


async def test_a_hanging_relay_times_out(make_harness: MakeHarness) -> None:
    release = asyncio.Event()

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()  # never greets
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        cfg = fast_alerts(smtp_host="127.0.0.1", smtp_port=port, smtp_timeout=0.5, max_attempts=1)
        h = await make_harness(alerts=cfg)
        m = await h.cac(observer=False)
        ep = await sdk.add_mail(m["UZ"].client, "UZ", "duty@caa.uz")
        await m["KZ"].client.post(threat("KZ"))

        async def dead() -> list[Any]:
            return await sdk.deliveries(m["UZ"].client, ep["id"], "dead")

        rows = await eventually(dead, timeout=10)
        assert "timed out" in rows[0]["last_error"].lower()
    finally:
        release.set()
        server.close()
        await server.wait_closed()


async def test_no_credentials_in_clear(make_harness: MakeHarness, smtp: SmtpServer) -> None:
    cfg = mail_config(smtp, smtp_starttls=False, max_attempts=1)
    h = await make_harness(alerts=cfg)
    m = await h.cac(observer=False)
    ep = await sdk.add_mail(m["UZ"].client, "UZ", "duty@caa.uz")
    await m["KZ"].client.post(threat("KZ"))

    async def dead() -> list[Any]:
        return await sdk.deliveries(m["UZ"].client, ep["id"], "dead")

    rows = await eventually(dead, timeout=10)
    assert "without TLS" in rows[0]["last_error"] and smtp.messages == []


@pytest.mark.parametrize(
    "address",
    ["not-an-address", "a@b\r\nBcc: x@y", "Duty <duty@caa.uz>", "a..b@caa.uz", "a@b@c", ""],
)
async def test_bad_addresses_are_refused(make_harness: MakeHarness, address: str) -> None:
    h = await make_harness()
    m = await h.cac(observer=False)
    with pytest.raises(InputError):
        await sdk.add_mail(m["UZ"].client, "UZ", address)


async def test_escalation_reaches_the_senders_mail_and_webhook_once(
    make_harness: MakeHarness, smtp: SmtpServer, receiver: Receiver
) -> None:
    deadlines = {"flash": 3, "immediate": 3600, "priority": 3600, "routine": 3600}
    h = await make_harness(
        alerts=mail_config(smtp), ack_deadlines=deadlines, escalation_interval=0.2
    )
    m = await h.cac(observer=False)
    kz = m["KZ"].client
    await sdk.add_mail(kz, "KZ", "duty@caa.kz", events=["escalation"])
    await sdk.add_webhook(kz, "KZ", receiver.url, events=["escalation"])
    flash = await kz.post(threat("KZ", priority="flash", groups=[], to=["UZ", "GE"]))
    await m["GE"].client.ack(flash.bid)  # GE acknowledges in time; UZ does not

    await eventually(lambda: smtp.messages and receiver.pushes, timeout=15)
    await eventually(lambda: True, timeout=1.0)  # further rounds must not repeat it
    assert len(smtp.messages) == 1 and len(receiver.pushes) == 1
    msg = smtp.messages[0]
    assert msg["To"] == "duty@caa.kz"
    assert msg["Subject"] == "[AVSEC] Overdue: UZ has not acknowledged FLASH threat-assessment"
    assert "Overdue recipient: UZ" in msg.get_content()
    assert SECRET not in msg.as_string()
    import json

    payload = json.loads(receiver.pushes[0].body)
    assert payload["event"] == "escalation" and payload["overdue"]["party"] == "UZ"
    assert payload["bulletin"]["bid"] == flash.bid and "envelope" not in payload
