"""Directory changes are logged as directory entries whatever their subject holds: the
SDK proves the directory it uses against the entry of its version (N8.1, N8.3)."""

from __future__ import annotations

import json

from support import Harness

from exchange.crypto import b64u_decode


async def test_directory_verifies_after_add_party(harness: Harness) -> None:
    await harness.admin.admin(
        "POST", "/v1/admin/parties", {"id": "FD", "name": "A feed", "kind": "feed"}
    )
    d = await harness.admin.directory(refresh=True)  # checked against its log entry
    _, data = await harness.admin.request(
        "GET",
        "/v1/audit/entries",
        params={"start": d.doc["log_index"], "end": d.doc["log_index"] + 1},
    )
    leaf = json.loads(b64u_decode(data["entries"][0]["leaf"]))
    assert leaf["kind"] == "directory"
    assert leaf["op"] == "add-party"
    assert leaf["party"] == "FD" and leaf["party_kind"] == "feed"
