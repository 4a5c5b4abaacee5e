"""Issue 20 end to end: a State signs with a key held in SoftHSM2 (post, ack, request
tokens) against a real server whose own key is hybrid with its Ed25519 half on a token,
next to an Ed25519-only client (interop) and a token-only Ed25519 client."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from integration._flows import advisory, threat
from softhsm import softhsm_token
from support import Harness, Member

from exchange.client import ExchangeClient
from exchange.config import ServerConfig
from exchange.crypto import jws
from exchange.crypto.keys import EncryptionPrivateKey, HybridSigner, signer_from_jwk
from exchange.keyfiles import Profile, read_json, read_profile, write_profile, write_secret_json
from exchange.keystore import load_signer
from exchange.keystore.pkcs11 import PIN_ENV, Pkcs11Ed25519Signer, create_token_key
from exchange.node import init, open_exchange, start

COMPOSITE = "ML-DSA-65-Ed25519"


def _alg(token: str) -> str:
    return str(jws.peek_header(token)["alg"])


@pytest.fixture
async def hsm_harness(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Harness]:
    """Like support.start_harness, but ``exchange init --pkcs11``: the server key's
    Ed25519 half is made on a SoftHSM2 token and the server opens it from the reference."""
    server_token = softhsm_token("avsec-server")
    monkeypatch.setenv(PIN_ENV, server_token.pin)
    cfg = ServerConfig(db_url=db_url, keys_dir=tmp_path / "keys", exchange_id="test-exchange")
    obj = f"server-{time.monotonic_ns()}"
    folder = await init(cfg, pkcs11_uri=server_token.uri(obj))
    ref = read_json(cfg.server_key_path)
    assert ref["pkcs11"].startswith("pkcs11:") and "ed25519_d" not in ref
    server = await start(await open_exchange(cfg))
    profile = read_profile(folder)
    admin = ExchangeClient(
        server_url=server.url,
        client_id=profile.client_id,
        exchange_id=profile.exchange_id,
        signer=signer_from_jwk(read_json(folder / "signing.jwk")),
        server_kid=profile.server_kid,
    )
    h = Harness(server, admin, cfg.keys_dir)
    h._clients = []
    try:
        yield h
    finally:
        await h.close()


async def _token_member(h: Harness, party: str, kind: str) -> Member:
    """A State whose client key is created on the token by the keygen code path, and
    whose SDK is opened from the profile folder (signing.jwk holds only a reference)."""
    token = softhsm_token("avsec-state")
    uri = token.uri(f"{party.lower()}-ops-{time.monotonic_ns()}")
    signer, ref = create_token_key(uri, kind)
    folder = h.keys_dir / party / "ops"
    write_secret_json(folder / "signing.jwk", ref)
    enc = EncryptionPrivateKey.generate("hybrid")
    write_secret_json(folder / "encryption.jwk", enc.to_private_jwk())
    cid = f"{party}/ops"
    write_profile(folder, Profile(cid, party, h.url, h.exchange_id, h.admin.server_kid))
    await h.admin.admin("POST", "/v1/admin/parties", {"id": party, "name": party, "kind": "state"})
    await h.admin.admin(
        "POST",
        "/v1/admin/clients",
        {"id": cid, "party": party, "roles": ["poster", "reader"], "jwk": signer.public.to_jwk()},
    )
    await h.admin.admin(
        "POST", f"/v1/admin/parties/{party}/encryption-keys", {"jwk": enc.public.to_jwk()}
    )
    client = ExchangeClient.from_profile(folder)
    h._clients.append(client)
    m = Member(party, client, client.signer, enc)  # type: ignore[arg-type]
    h.members[party] = m
    return m


async def test_state_signs_with_a_token_key_end_to_end(hsm_harness: Harness) -> None:
    h = hsm_harness
    kz = await _token_member(h, "KZ", "hybrid")  # hybrid, Ed25519 half on the token
    ge = await _token_member(h, "GE", "ed25519")  # Ed25519 alone, on the token
    uz = await h.enrol("UZ")  # Ed25519 in software: an existing client, still accepted
    await h.group("cac-avsec", {"KZ": "chair", "GE": "member", "UZ": "member"})

    assert isinstance(kz.client.signer, HybridSigner)
    assert isinstance(ge.client.signer, Pkcs11Ed25519Signer)
    server_key = await kz.client.server_key()
    assert server_key.is_hybrid

    # the directory lists each key with its kind
    d = await uz.client.directory(refresh=True)
    assert _alg(d.token) == COMPOSITE
    assert d.signing[kz.client.signer.kid].is_hybrid
    assert not d.signing[ge.client.signer.kid].is_hybrid
    assert not d.signing[uz.signer.kid].is_hybrid

    # KZ posts (request token, envelope and inner bulletin all signed through the token)
    receipt = await kz.client.post(threat("KZ"))
    assert _alg(receipt.token) == COMPOSITE  # the server's receipt is hybrid
    assert set(receipt.recipients) == {"GE", "UZ"}
    envelope = (await uz.client.get(receipt.bid))["envelope"]
    assert _alg(envelope) == COMPOSITE
    for m in (uz, ge):
        opened = await m.client.open(envelope)
        assert opened.bulletin["bid"] == receipt.bid
        await m.client.ack(receipt.bid, "read")

    # UZ (Ed25519) posts to KZ; KZ acks with its token-held key
    back = await uz.client.post(advisory("UZ", groups=[], to=["KZ"]))
    assert _alg((await kz.client.get(back.bid))["envelope"]) == "EdDSA"
    items, _ = await kz.client.inbox()
    assert back.bid in [i["bid"] for i in items]
    opened = await kz.client.open((await kz.client.get(back.bid))["envelope"])
    assert opened.bulletin["iss"] == "UZ"
    await kz.client.ack(back.bid, "actioned")

    ledger = await kz.client.status(receipt.bid)
    acked = {r["party"]: [a["status"] for a in r["acks"]] for r in ledger["recipients"]}
    assert acked == {"GE": ["read"], "UZ": ["read"]}
    ledger = await uz.client.status(back.bid)
    assert [a["status"] for a in ledger["recipients"][0]["acks"]] == ["actioned"]

    # the tree head is signed by the server's hybrid (token-backed) key
    _, sth = await kz.client.request("GET", "/v1/audit/sth")
    head = jws.verify_compact(
        sth["sth"], {server_key.kid: server_key}.get, jws.TYP_STH, max_header=8192
    )
    assert head.header["alg"] == COMPOSITE
    assert json.loads(head.payload)["tree_size"] >= 2


async def test_profile_reference_reopens_after_restart(hsm_harness: Harness) -> None:
    """The profile folder alone (reference + PIN from the environment) signs again."""
    h = hsm_harness
    kz = await _token_member(h, "KZ", "hybrid")
    again = load_signer(h.keys_dir / "KZ" / "ops" / "signing.jwk")
    assert again.kid == kz.client.signer.kid
    async with ExchangeClient.from_profile(h.keys_dir / "KZ" / "ops") as c:
        d = await c.directory(refresh=True)
        assert d.signing[again.kid].is_hybrid
