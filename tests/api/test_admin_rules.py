"""Operator rules beyond the happy path: media types, final revocations, and the last
admin key."""

from __future__ import annotations

import json

import pytest
from support import Harness

from exchange.crypto.keys import signer_from_jwk
from exchange.errors import Conflict


async def _version(h: Harness) -> int:
    return (await h.admin.directory(refresh=True)).version


async def test_admin_bodies_must_be_json(harness: Harness) -> None:
    signer = signer_from_jwk(
        json.loads((harness.keys_dir / "OPERATOR" / "admin" / "signing.jwk").read_text())
    )
    body = json.dumps({"id": "KZ", "name": "Kazakhstan", "kind": "state"}).encode()
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "application/jose"):
        status, problem = await harness.raw(
            "POST",
            "/v1/admin/parties",
            client_id="OPERATOR/admin",
            signer=signer,
            body=body,
            content_type=ctype,
        )
        assert status == 415, ctype
        assert problem["type"] == "urn:avsec:error:unsupported-media-type"
    status, _ = await harness.raw(
        "POST", "/v1/admin/parties", client_id="OPERATOR/admin", signer=signer, body=body
    )
    assert status == 201


async def test_revocation_is_final_and_logged_once(harness: Harness) -> None:
    m = await harness.enrol("KZ")
    before = await _version(harness)
    await harness.admin.admin("POST", f"/v1/admin/keys/{m.signer.kid}/revoke")
    after = await _version(harness)
    assert after == before + 1
    with pytest.raises(Conflict, match="already revoked"):
        await harness.admin.admin("POST", f"/v1/admin/keys/{m.signer.kid}/revoke")
    assert m.enc is not None
    await harness.admin.admin("POST", f"/v1/admin/keys/{m.enc.kid}/revoke")
    with pytest.raises(Conflict, match="already revoked"):
        await harness.admin.admin("POST", f"/v1/admin/keys/{m.enc.kid}/revoke")
    assert await _version(harness) == after + 1


async def test_last_admin_key_cannot_be_revoked(harness: Harness) -> None:
    own = harness.admin.signer.kid
    with pytest.raises(Conflict, match="last active admin"):
        await harness.admin.admin("POST", f"/v1/admin/keys/{own}/revoke")
    second = await harness.add_client("OPERATOR", "backup", ("admin",))
    await harness.admin.admin("POST", f"/v1/admin/keys/{own}/revoke")  # now allowed
    with pytest.raises(Conflict, match="last active admin"):
        await second.admin("POST", f"/v1/admin/keys/{second.signer.kid}/revoke")
