"""Issue 17: ``/metrics`` answers only a configured bearer credential, or (without one)
a loopback peer; anyone else gets the 404 of a path that does not exist."""

from __future__ import annotations

from unittest import mock

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request
from api._kit import HarnessFactory

from exchange.api.routes_bulletins import _metrics_allowed


def _request(peer: str, auth: str | None = None) -> object:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (peer, 40000) if name == "peername" else default
    )
    headers = {"Authorization": auth} if auth is not None else {}
    return make_mocked_request("GET", "/metrics", headers=headers, transport=transport)


@pytest.mark.parametrize(
    ("peer", "allowed"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("10.0.0.5", False),
        ("192.168.1.2", False),
        ("203.0.113.7", False),
        ("::ffff:203.0.113.7", False),
        ("", False),
    ],
)
def test_without_a_token_only_loopback_peers(peer: str, allowed: bool) -> None:
    assert _metrics_allowed(_request(peer), None) is allowed  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("auth", "allowed"),
    [
        (None, False),
        ("Bearer wrong", False),
        ("Bearer s3cret-token", True),
        ("bearer s3cret-token", False),
        ("Bearer s3cret-token ", False),
        ("s3cret-token", False),
    ],
)
def test_with_a_token_only_that_credential_even_from_loopback(
    auth: str | None, allowed: bool
) -> None:
    req = _request("127.0.0.1", auth)
    assert _metrics_allowed(req, "s3cret-token") is allowed  # type: ignore[arg-type]


async def test_metrics_behind_a_token_end_to_end(make_harness: HarnessFactory) -> None:
    h, _wire, _admin = await make_harness(metrics_token="s3cret-token")
    async with aiohttp.ClientSession() as s:
        async with s.get(h.url + "/metrics") as r:
            assert r.status == 404 and r.content_type == "application/problem+json"
            assert b"# TYPE" not in await r.read()
        headers = {"Authorization": "Bearer s3cret-token"}
        async with s.get(h.url + "/metrics", headers=headers) as r:
            assert r.status == 200 and b"# TYPE" in await r.read()
