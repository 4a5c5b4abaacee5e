"""Issue 17: an SDK with no saved state checks the directory it is served against the
newest directory version the audit log records, so an old but genuinely signed
directory (one from before a key revocation, say) replayed to it is refused."""

from __future__ import annotations

from typing import Any

import pytest
from support import Harness

from exchange.client import ExchangeClient
from exchange.errors import LogInconsistent


def _serving(client: ExchangeClient, token: str) -> None:
    """``client`` is served ``token`` as the directory; every other answer is real."""
    real = client.request

    async def request(method: str, path: str, **kw: Any) -> tuple[int, Any]:
        if path == "/v1/directory":
            return 200, {"directory": token}
        return await real(method, path, **kw)

    client.request = request  # type: ignore[method-assign]


async def test_fresh_sdk_refuses_a_replayed_old_directory(harness: Harness) -> None:
    m = await harness.cac(observer=False)
    old = await m["KZ"].client.directory(refresh=True)
    # the operator revokes UZ's key: the old directory still lists it as active
    await harness.admin.admin("POST", f"/v1/admin/keys/{m['UZ'].signer.kid}/revoke")
    for _ in range(3):  # later entries too, so the newer version is not the last leaf
        await m["KZ"].client.post(_advisory())
    fresh = harness.client(m["GE"].client.client_id, m["GE"].signer)
    assert fresh.log is not None and fresh.log.head is None  # no saved state
    _serving(fresh, old.token)
    with pytest.raises(LogInconsistent, match=f"version {old.version};"):
        await fresh.directory()
    # the current directory is accepted by another fresh client
    current = harness.client(m["AZ"].client.client_id, m["AZ"].signer)
    d = await current.directory()
    assert d.version > old.version
    assert d.signing_key(m["UZ"].signer.kid) is None


def _advisory() -> dict[str, Any]:
    import time

    from exchange.bulletin.validate import new_bulletin

    return new_bulletin(
        iss="KZ",
        type="advisory",
        title="t",
        body={"summary": "s"},
        now=int(time.time()),
        groups=["cac-avsec"],
        tlp="green",
    )
