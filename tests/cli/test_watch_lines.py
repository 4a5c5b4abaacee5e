"""``exchange watch`` output for what a live server rarely sends on cue: an escalation,
and a bulletin that fails verification (the SDK's stream and open are stubbed)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from exchange.client import ExchangeClient
from exchange.errors import BadSignature

BID = "0b9f4a1e-6c2d-4e8a-9a51-3d7f2c1b8e40"
MESSAGES = [
    {
        "kind": "escalation",
        "bid": BID,
        "party": "UZ",
        "priority": "flash",
        "deadline": "2026-05-01T10:15:00.000Z",
    },
    {"kind": "bulletin", "seq": 7, "bid": BID, "iss": "KZ", "envelope": "x.y.z"},
]


@pytest.fixture
def stubbed(cli, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("EXCHANGE_URL", "http://127.0.0.1:9")
    assert cli("keygen", "UZ/ops", "--server-kid", "A" * 43).rc == 0

    async def stream(self: ExchangeClient, after: int = 0, **kw: Any) -> AsyncIterator[Any]:
        for m in MESSAGES:
            yield m

    async def directory(self: ExchangeClient, **kw: Any) -> None:
        return None

    async def open_(self: ExchangeClient, envelope: str) -> None:
        raise BadSignature("outer signature does not verify")

    monkeypatch.setattr(ExchangeClient, "stream", stream)
    monkeypatch.setattr(ExchangeClient, "directory", directory)
    monkeypatch.setattr(ExchangeClient, "open", open_)
    return ["--profile", "keys/UZ/ops"]


def test_escalation_and_rejection_lines(cli, stubbed: list[str]) -> None:
    r = cli("watch", "--count", "1", *stubbed)
    assert r.rc == 0, r.err
    lines = r.out.splitlines()
    assert lines == [
        f"! ESCALATION UZ has not acknowledged {BID} (flash), due 2026-05-01 10:15:00.000Z",
        f"#7 REJECTED {BID} from KZ: outer signature does not verify",
    ]
    assert "watching as UZ/ops after seq 0" in r.err


def test_json_lines(cli, stubbed: list[str]) -> None:
    r = cli("watch", "--count", "1", "--json", *stubbed)
    assert r.rc == 0, r.err
    first, second = (json.loads(line) for line in r.out.splitlines())
    assert first == MESSAGES[0]
    assert second == {
        "kind": "rejected",
        "seq": 7,
        "bid": BID,
        "error": "outer signature does not verify",
    }


def test_watch_needs_an_encryption_key(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXCHANGE_URL", "http://127.0.0.1:9")
    assert cli("keygen", "ICAO-TA/feed", "--no-encryption", "--server-kid", "A" * 43).rc == 0
    for argv in (["watch"], ["inbox", "--open"], ["read", BID]):
        r = cli(*argv, "--profile", "keys/ICAO-TA/feed")
        assert r.rc == 1
        assert r.err == (
            "exchange: error: this profile (ICAO-TA/feed) has no encryption.jwk, so it "
            "cannot decrypt bulletins\n"
        )
