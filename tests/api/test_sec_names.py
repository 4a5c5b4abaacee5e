"""Issue 17: no bidirectional override, isolate, zero-width or other invisible character in
a directory name (party or group), however it is written: raw, as a JSON escape, or mixed
with ordinary letters. A name in another script is still fine."""

from __future__ import annotations

import json

import pytest
from support import Harness

from exchange.errors import InputError

HOSTILE = [
    "KZ\u202e",  # right-to-left override
    "\u202dUZ",  # left-to-right override
    "Tajik\u2066istan\u2069",  # isolates
    "Georgia\u200b",  # zero-width space
    "Kyrgyz\u200dstan",  # zero-width joiner
    "\ufeffAzerbaijan",  # byte-order mark
    "Uzbek\u00adistan",  # soft hyphen
    "Kazakh\U000e0041stan",  # tag character
    "Line\u2028break",  # line separator
    "Private\ue000use",  # private use
    "Unassigned\U0003fffe",  # a non-character
    "Mark\u061c",  # Arabic letter mark
]


@pytest.mark.parametrize("name", HOSTILE)
async def test_invisible_controls_are_refused_in_party_and_group_names(
    harness: Harness, name: str
) -> None:
    before = (await harness.admin.directory(refresh=True)).version
    with pytest.raises(InputError, match="invisible"):
        await harness.admin.admin(
            "POST", "/v1/admin/parties", {"id": "ZZ", "name": name, "kind": "state"}
        )
    with pytest.raises(InputError, match="invisible"):
        await harness.admin.admin("POST", "/v1/admin/groups", {"id": "grp", "name": name})
    # sent as a JSON escape rather than raw UTF-8: the same refusal
    escaped = json.dumps({"id": "ZY", "name": name, "kind": "state"}, ensure_ascii=True)
    status, problem = await harness.raw(
        "POST",
        "/v1/admin/parties",
        client_id=harness.admin.client_id,
        signer=harness.admin.signer,  # type: ignore[arg-type]
        body=escaped.encode(),
    )
    assert status == 400 and problem["type"] == "urn:avsec:error:invalid-request"
    assert (await harness.admin.directory(refresh=True)).version == before


async def test_names_in_other_scripts_are_accepted(harness: Harness) -> None:
    for pid, name in (("KZ", "Қазақстан"), ("GE", "საქართველო"), ("TJ", "Тоҷикистон")):
        body = {"id": pid, "name": name, "kind": "state"}
        await harness.admin.admin("POST", "/v1/admin/parties", body)
    doc = (await harness.admin.directory(refresh=True)).doc
    names = {p["id"]: p["name"] for p in doc["parties"]}
    assert names["GE"] == "საქართველო"
