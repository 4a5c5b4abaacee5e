"""Issue 20: the "require hybrid" signing policy, per party and exchange-wide. Under it an
Ed25519-only key of that party is refused everywhere a signature is checked; each
check is tried from the side of a client that would get around it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from integration._flows import seal_to, threat
from support import Harness, start_harness

from exchange.client import ExchangeClient
from exchange.crypto import b64u_decode
from exchange.crypto.keys import HybridSigner
from exchange.errors import AuthError, Conflict, ExchangeError, Forbidden, InputError, NotFound


async def _hybrid_client(h: Harness, party: str, name: str) -> ExchangeClient:
    signer = HybridSigner.generate()
    cid = f"{party}/{name}"
    await h.admin.admin(
        "POST",
        "/v1/admin/clients",
        {"id": cid, "party": party, "roles": ["poster", "reader"], "jwk": signer.public.to_jwk()},
    )
    return h.client(cid, signer, h.members[party].enc)


async def _policy(h: Harness, party: str | None, required: object) -> dict:
    path = (
        "/v1/admin/signing-policy" if party is None else f"/v1/admin/parties/{party}/signing-policy"
    )
    return await h.admin.admin("PUT", path, {"require_hybrid": required})


async def test_party_policy_refuses_its_ed25519_keys(harness: Harness) -> None:
    h = harness
    m = await h.cac(observer=False)  # every State enrolled with an Ed25519 key
    kz_old = m["KZ"].client
    kz_new = await _hybrid_client(h, "KZ", "pq")
    before = await kz_old.post(threat("KZ"))  # signed with Ed25519 before the policy

    v0 = (await h.admin.directory(refresh=True)).version
    r = await _policy(h, "KZ", True)
    assert r == {"party": "KZ", "require_hybrid": True, "version": v0 + 1}
    again = await _policy(h, "KZ", True)  # idempotent: no new version
    assert again["version"] == v0 + 1

    d = await m["UZ"].client.directory(refresh=True)
    kz_entry = next(p for p in d.doc["parties"] if p["id"] == "KZ")
    assert kz_entry["require_hybrid"] is True
    assert "require_hybrid" not in next(p for p in d.doc["parties"] if p["id"] == "UZ")
    assert "require_hybrid" not in d.doc

    # request tokens (and so acks, signed with the same key) of the Ed25519 client: refused
    with pytest.raises(AuthError, match="hybrid"):
        await kz_old.inbox()
    with pytest.raises(AuthError):
        await kz_old.post(threat("KZ"))
    # an envelope signed by the Ed25519 client, posted by the party's hybrid client
    envelope = await seal_to(kz_new, threat("KZ"), ["UZ"], signer=m["KZ"].signer)
    with pytest.raises(Forbidden, match="hybrid"):
        await kz_new.post_envelope(envelope)
    # a new Ed25519 key for the party cannot be registered
    with pytest.raises(InputError, match="hybrid"):
        await h.add_client("KZ", "old2", ("reader",))
    # the hybrid client works; other parties keep Ed25519
    receipt = await kz_new.post(threat("KZ"))
    opened = await m["UZ"].client.open((await m["UZ"].client.get(receipt.bid))["envelope"])
    assert opened.bulletin["bid"] == receipt.bid
    await m["UZ"].client.ack(receipt.bid, "read")
    # the SDK refuses an Ed25519 signature of KZ too, even on a bulletin made before
    with pytest.raises(ExchangeError):
        await m["UZ"].client.open((await m["UZ"].client.get(before.bid))["envelope"])

    # lifting the policy restores the Ed25519 client
    await _policy(h, "KZ", False)
    assert isinstance(await kz_old.inbox(), tuple)
    d = await m["UZ"].client.directory(refresh=True)
    assert "require_hybrid" not in next(p for p in d.doc["parties"] if p["id"] == "KZ")
    opened = await m["UZ"].client.open((await m["UZ"].client.get(before.bid))["envelope"])
    assert opened.bulletin["bid"] == before.bid


async def test_exchange_wide_policy(harness: Harness) -> None:
    h = harness
    m = await h.cac(observer=False)
    uz_new = await _hybrid_client(h, "UZ", "pq")
    await _policy(h, None, True)
    d = await uz_new.directory(refresh=True)
    assert d.doc["require_hybrid"] is True
    for p in ("KZ", "UZ", "GE"):
        with pytest.raises(AuthError):
            await m[p].client.inbox()
    assert isinstance(await uz_new.inbox(), tuple)
    assert (await h.admin.directory(refresh=True)).version == d.version  # admin is hybrid
    await _policy(h, None, False)
    assert isinstance(await m["KZ"].client.inbox(), tuple)


async def test_policy_requests_are_checked(harness: Harness) -> None:
    h = harness
    m = await h.cac(observer=False)
    for bad in ("yes", 1, None):
        with pytest.raises(InputError):
            await _policy(h, "KZ", bad)
    with pytest.raises(InputError):
        await h.admin.admin("PUT", "/v1/admin/signing-policy", {"require_hybrid": True, "x": 1})
    with pytest.raises(NotFound):
        await _policy(h, "XX", True)
    with pytest.raises(Forbidden):  # only the operator sets it
        await m["KZ"].client.request(
            "PUT", "/v1/admin/parties/KZ/signing-policy", json_body={"require_hybrid": False}
        )
    d = await h.admin.directory(refresh=True)
    assert all("require_hybrid" not in p for p in d.doc["parties"])


async def test_operator_cannot_lock_out_its_own_ed25519_key(tmp_path: Path, db_url: str) -> None:
    h = await start_harness(tmp_path, db_url, signing="ed25519")
    try:
        await h.enrol("KZ")
        with pytest.raises(Conflict):
            await _policy(h, None, True)
        with pytest.raises(Conflict):
            await _policy(h, h.admin.client_id.split("/")[0], True)
        assert (await _policy(h, "KZ", True))["require_hybrid"] is True
    finally:
        await h.close()


async def test_policy_is_logged(harness: Harness) -> None:
    h = harness
    await h.enrol("KZ")
    await _policy(h, "KZ", True)
    _, sth = await h.admin.request("GET", "/v1/audit/sth")
    assert sth["sth"]
    _, entries = await h.admin.request("GET", "/v1/audit/entries?start=0&end=100")
    leaves = [json.loads(b64u_decode(e["leaf"])) for e in entries["entries"]]
    ops = [(x.get("op"), x.get("party"), x.get("require_hybrid")) for x in leaves]
    assert ("set-signing-policy", "KZ", True) in ops
