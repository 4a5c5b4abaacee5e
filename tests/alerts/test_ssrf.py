"""SSRF: by default no endpoint on a loopback, private, link-local or metadata address
is accepted, and the check is made again when a push is sent (an operator who withdraws
an allowance, or a name that resolves elsewhere later: DNS rebinding)."""

from __future__ import annotations

import asyncio
import socket
from functools import partial
from typing import Any

import pytest
from alerts._kit import MakeHarness, Receiver, fast_alerts
from integration._flows import eventually, threat

from exchange.client import alerts as sdk
from exchange.config import AlertsConfig
from exchange.errors import EndpointRefused, InputError
from exchange.node import open_exchange, start
from exchange.service.alerts.ssrf import AddressPolicy, GuardedResolver
from exchange.store import alerts as astore

REFUSED = [
    "http://127.0.0.1:8080/hook",
    "https://127.0.0.1/hook",
    "https://localhost/hook",
    "https://[::1]/hook",
    "https://169.254.169.254/latest/meta-data/",  # the cloud metadata service
    "https://[fd00:ec2::254]/",  # its IPv6 address
    "https://10.1.2.3/hook",
    "https://192.168.0.10/hook",
    "https://172.16.5.5/hook",
    "https://100.64.0.1/hook",  # shared address space
    "https://0.0.0.0/hook",
    "https://[::ffff:127.0.0.1]/hook",  # loopback in an IPv4-mapped address
    "https://224.0.0.1/hook",
]


async def test_refused_by_default(make_harness: MakeHarness, receiver: Receiver) -> None:
    h = await make_harness()  # no allowance: the default
    m = await h.cac(observer=False)
    for url in [*REFUSED, receiver.url]:
        with pytest.raises(EndpointRefused):
            await sdk.add_webhook(m["UZ"].client, "UZ", url)
    for url in ["ftp://example.org/x", "https://user:pw@example.org/", "/relative", "https://"]:
        with pytest.raises(InputError):
            await sdk.add_webhook(m["UZ"].client, "UZ", url)
    assert await sdk.list_endpoints(m["UZ"].client) == []
    # the refusal is problem+json with its own type
    status, body = await h.raw(
        "POST",
        "/v1/alerts/endpoints",
        client_id=m["UZ"].client.client_id,
        signer=m["UZ"].signer,
        body=b'{"party":"UZ","kind":"webhook","url":"https://169.254.169.254/"}',
    )
    assert status == 422 and body["type"] == "urn:avsec:error:endpoint-refused"


async def test_plain_http_needs_an_allowed_network(make_harness: MakeHarness) -> None:
    h = await make_harness(alerts=AlertsConfig(allow_networks=("10.0.0.0/8",)))
    m = await h.cac(observer=False)
    ok = await sdk.add_webhook(m["UZ"].client, "UZ", "http://10.1.2.3/hook")
    assert ok["target"] == "http://10.1.2.3/hook"
    with pytest.raises(EndpointRefused):  # still loopback: not in the allowance
        await sdk.add_webhook(m["UZ"].client, "UZ", "http://127.0.0.1/hook")


def test_policy_table() -> None:
    policy = AddressPolicy()
    for a in ["127.0.0.1", "::1", "169.254.169.254", "10.0.0.1", "fe80::1", "::ffff:10.0.0.1"]:
        assert not policy.permits(a), a
    for a in ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]:
        assert policy.permits(a), a
    assert not policy.permits("not-an-ip")
    allowing = AddressPolicy(("127.0.0.0/8",))
    assert allowing.permits("127.0.0.1") and not allowing.permits("169.254.169.254")


async def test_guarded_resolver_refuses_a_rebound_name(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    answers = {"hooks.example.test": "127.0.0.1"}

    async def fake(host: str, port: int, **_: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]

    monkeypatch.setattr(loop, "getaddrinfo", fake)
    resolver = GuardedResolver(AddressPolicy())
    try:
        with pytest.raises(OSError, match="not allowed"):
            await resolver.resolve("hooks.example.test", 443)
        answers["hooks.example.test"] = "93.184.216.34"
        got = await resolver.resolve("hooks.example.test", 443)
        assert got[0]["host"] == "93.184.216.34"
    finally:
        await resolver.close()


async def test_dns_rebinding_after_registration_is_refused_at_send(
    make_harness: MakeHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name resolves to a public address when registered, to loopback when a push
    is made: the push is never attempted against loopback."""
    h = await make_harness(alerts=fast_alerts(allow_networks=(), max_attempts=2))
    m = await h.cac(observer=False)
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo
    answers = {"hooks.example.test": "93.184.216.34"}
    lookups: list[str] = []

    async def fake(host: str, port: int, *a: Any, **kw: Any) -> list[Any]:
        if host in answers:
            lookups.append(answers[host])
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return await real(host, port, *a, **kw)

    monkeypatch.setattr(loop, "getaddrinfo", fake)
    ep = await sdk.add_webhook(m["UZ"].client, "UZ", "https://hooks.example.test/hook")
    answers["hooks.example.test"] = "127.0.0.1"  # rebound
    await m["KZ"].client.post(threat("KZ"))

    async def dead() -> list[Any]:
        return await sdk.deliveries(m["UZ"].client, ep["id"], "dead")

    rows = await eventually(dead, timeout=10)
    assert rows[0]["last_error"] == "the endpoint's address is not allowed"
    assert lookups[0] == "93.184.216.34" and "127.0.0.1" in lookups[1:]


async def test_withdrawn_allowance_is_enforced_at_send(
    make_harness: MakeHarness, receiver: Receiver, db_url: str
) -> None:
    """Registered while loopback was allowed; the operator restarts without the
    allowance: nothing more reaches the loopback receiver."""
    h = await make_harness(alerts=fast_alerts())
    m = await h.cac(observer=False)
    ep = await sdk.add_webhook(m["UZ"].client, "UZ", receiver.url)
    await m["KZ"].client.post(threat("KZ"))
    await eventually(lambda: receiver.pushes, timeout=10)
    cfg = h.server.exchange.config
    await h.close()

    ex = await open_exchange(cfg.with_(alerts=fast_alerts(allow_networks=(), max_attempts=1)))
    server = await start(ex)
    try:
        from exchange.client import ExchangeClient  # a client of the restarted server

        kz = m["KZ"]
        c = ExchangeClient(
            server_url=server.url,
            client_id=kz.client.client_id,
            exchange_id=cfg.exchange_id,
            signer=kz.signer,
            encryption_key=kz.enc,
        )
        try:
            await c.post(threat("KZ"))
        finally:
            await c.close()

        async def dead() -> list[Any]:
            return await ex.db.run_read(
                partial(astore.deliveries, endpoint_id=ep["id"], state="dead", limit=10)
            )

        rows = await eventually(dead, timeout=10)
        assert rows[0]["last_error"] == "the endpoint's address is not allowed"
        assert len(receiver.pushes) == 1
    finally:
        await server.stop()
