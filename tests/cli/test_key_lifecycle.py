"""Issue 18 end to end through the CLI: a desk rotates its signing key (Ed25519, hybrid,
PKCS#11); the old key verifies during the grace period and is refused after it; each
change is in the directory and the audit log; a forged proof of possession is refused."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from softhsm import softhsm_token

from exchange.client import ExchangeClient
from exchange.client.keys import key_proof, rotate_signing_key
from exchange.crypto.keys import generate_signer
from exchange.errors import ExchangeError

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
KZ = ("--profile", "keys/KZ/ops")
OLD = ("--profile", "keys/KZ/old")  # a copy of KZ/ops made before the rotation
UZ = ("--profile", "keys/UZ/ops")
GRACE = 10  # seconds, on the server started next (PostgreSQL under load is slow)


@pytest.fixture
def short_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXCHANGE_KEY_GRACE", str(GRACE))


def _post(cli, examples, *profile: str) -> str:
    out = cli("post", str(examples / "threat-assessment.json"), *profile).ok().out
    return re.search(rf"posted ({UUID})", out).group(1)  # type: ignore[union-attr]


def _directory(cli) -> dict[str, Any]:
    return json.loads(cli("directory", "--json", *UZ).ok().out)


def _log(profile: str) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        async with ExchangeClient.from_profile(profile) as c:
            _, data = await c.request("GET", "/v1/audit/entries", params={"start": 0, "end": 999})
        leaves = [base64.urlsafe_b64decode(e["leaf"] + "==") for e in data["entries"]]
        return [json.loads(leaf) for leaf in leaves]

    return asyncio.run(run())


def _rotate_and_check(cli, examples, *rotate: str) -> tuple[str, str]:
    """Post, rotate with ``rotate`` flags, and check the grace period; returns the kids."""
    before = _post(cli, examples, *KZ)
    shutil.copytree("keys/KZ/ops", "keys/KZ/old")
    old_kid = next(c["kid"] for c in _directory(cli)["clients"] if c["id"] == "KZ/ops")
    out = cli("keys", "rotate", "--signing", *KZ, *rotate).ok().out
    retired_by = time.monotonic() + GRACE  # the server's retire_at is no later
    assert f"old key {old_kid} verifies until" in out
    new_kid = re.search(r"new signing key (\S+)", out).group(1)  # type: ignore[union-attr]
    assert new_kid != old_kid
    entry = next(c for c in _directory(cli)["clients"] if c["id"] == "KZ/ops")
    assert entry["kid"] == new_kid
    assert [p["kid"] for p in entry["previous_keys"]] == [old_kid]
    public = json.loads(Path("keys/KZ/ops/public.json").read_text())
    assert public["signing"]["kid"] == new_kid and "encryption" in public
    assert Path(f"keys/KZ/ops/retired-signing/{old_kid}.jwk").stat().st_mode & 0o077 == 0
    logged = [e for e in _log("keys/UZ/ops") if e.get("op") == "rotate-signing-key"]
    assert [(e["client"], e["old_kid"], e["kid"]) for e in logged] == [("KZ/ops", old_kid, new_kid)]
    # the grace period: both keys work
    during = _post(cli, examples, *KZ)
    cli("inbox", *OLD).ok()
    cli("ack", before, *UZ).ok()
    cli("read", during, *UZ).ok()
    # a key in its grace period cannot rotate again
    r = cli("keys", "rotate", "--signing", *OLD)
    assert r.rc == 1 and "current signing key" in r.err, r.err
    time.sleep(max(0.0, retired_by - time.monotonic()) + 0.5)
    r = cli("inbox", *OLD)
    assert r.rc == 1 and "key retired" in r.err, r.err
    r = cli("post", str(examples / "threat-assessment.json"), *OLD)
    assert r.rc == 1 and "key retired" in r.err, r.err
    cli("inbox", *KZ).ok()
    # what the old key signed stays readable and verified
    read = cli("read", before, *UZ).ok().out
    assert "KZ/ops" in read
    return old_kid, new_kid


@pytest.mark.parametrize("kind", ["--ed25519", "--hybrid"])
def test_rotate_signing_key(short_grace, cli, running, enrol, examples, kind) -> None:
    enrol("KZ", "UZ", url=running.url)
    _rotate_and_check(cli, examples, kind)
    alg = json.loads(Path("keys/KZ/ops/signing.jwk").read_text())["alg"]
    assert alg == ("EdDSA" if kind == "--ed25519" else "ML-DSA-65-Ed25519")


def test_rotate_onto_a_pkcs11_token(
    short_grace, cli, running, enrol, examples, monkeypatch
) -> None:
    token = softhsm_token("avsec-state")
    monkeypatch.setenv("EXCHANGE_PKCS11_PIN", token.pin)
    enrol("KZ", "UZ", url=running.url)
    obj = f"kz-ops-rot-{time.time_ns()}"
    _rotate_and_check(cli, examples, "--pkcs11", token.uri(obj))
    ref = json.loads(Path("keys/KZ/ops/signing.jwk").read_text())
    assert "pkcs11" in ref and obj in ref["pkcs11"] and "d" not in ref
    _post(cli, examples, *KZ)  # signed on the token


def test_operator_rotates_a_lost_key(cli, running, enrol, examples) -> None:
    """The old key is lost: the desk makes a key offline, the operator registers it with
    no grace; the old key is refused at once, the new one works."""
    enrol("KZ", "UZ", url=running.url)
    shutil.copytree("keys/KZ/ops", "keys/KZ/old")
    out = cli("keys", "rotate", "--signing", "--offline", *KZ).ok().out
    assert "not yet registered" in out
    r = cli("inbox", *KZ)
    assert r.rc == 1 and "unknown key" in r.err
    r = cli("admin", "client", "rotate-key", "UZ/ops", "--key", "keys/KZ/ops")
    assert r.rc == 1 and "is for KZ/ops" in r.err  # the hand-off file names its client
    out = cli("admin", "client", "rotate-key", "KZ/ops", "--key", "keys/KZ/ops", "--grace", "0")
    assert "new signing key" in out.ok().out
    cli("inbox", *KZ).ok()
    r = cli("inbox", *OLD)
    assert r.rc == 1 and "key retired" in r.err
    # an old key can also be revoked outright (its grace ends now)
    old = json.loads(Path("keys/KZ/old/public.json").read_text())["signing"]["kid"]
    cli("admin", "revoke", "--", old).ok()  # a kid may begin with "-" (1 in 64)


def test_forged_proof_is_refused(cli, running, enrol) -> None:
    """The new key must sign the proof: a proof by another key, or naming another
    client, is refused, and nothing changes."""
    enrol("KZ", "UZ", url=running.url)

    async def run() -> None:
        async with ExchangeClient.from_profile("keys/KZ/ops") as c:
            old = c.signer
            new, other = generate_signer("hybrid"), generate_signer("hybrid")
            forged = key_proof(c.client_id, old.kid, other)  # signed by another key
            body = {"jwk": new.public.to_jwk(), "proof": forged}
            with pytest.raises(ExchangeError, match="unknown kid"):
                await c.admin("POST", "/v1/keys/signing", body)
            body["proof"] = key_proof("UZ/ops", old.kid, new)  # another client's
            with pytest.raises(ExchangeError, match="another client or key"):
                await c.admin("POST", "/v1/keys/signing", body)
            body["proof"] = key_proof(c.client_id, old.kid, new, now=int(time.time()) - 3600)
            with pytest.raises(ExchangeError, match="not fresh"):
                await c.admin("POST", "/v1/keys/signing", body)
            assert c.signer is old
            await rotate_signing_key(c, new, new.public.to_jwk())  # the real one passes
            assert c.signer is new
            await c.inbox()

    asyncio.run(run())
