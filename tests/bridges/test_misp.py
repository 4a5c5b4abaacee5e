"""MISP export and import: TLP tag and distribution, category tags, every body value back
in place, and a warning per attribute, object or galaxy the draft cannot carry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bridges.test_stix import MAPPED, VALID, record, vector

from exchange.bridges.misp import draft_from_misp, misp_event
from exchange.bridges.tlp import MISP_DISTRIBUTION
from exchange.errors import InputError


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_round_trip(path: Path) -> None:
    b = vector(path)
    event = misp_event(record(b))
    ev = event["Event"]
    assert ev["uuid"] == b["bid"] and ev["info"] == b["title"]
    assert int(ev["distribution"]) == MISP_DISTRIBUTION[b["tlp"]]
    tags = {t["name"] for t in ev["Tag"]}
    assert f"tlp:{b['tlp']}" in tags
    for c in b["body"].get("categories", []):
        assert f'avsec-exchange:category="{c}"' in tags
    d = draft_from_misp(json.dumps(event), now=b["iat"])
    for field in MAPPED:
        if field not in ("groups", "to"):  # MISP has no place for the recipients
            assert d.fields.get(field) == b.get(field), field


def test_foreign_event_warns_per_lost_field() -> None:
    event = {
        "Event": {
            "info": "Phishing against <b>airport</b> staff",
            "threat_level_id": "2",
            "Tag": [{"name": "tlp:white"}, {"name": 'misp-galaxy:threat-actor="X"'}],
            "Attribute": [{"type": "ip-dst", "value": "198.51.100.9", "comment": ""}],
            "Object": [{"name": "email"}],
            "Galaxy": [{"name": "Threat Actor"}],
        }
    }
    d = draft_from_misp(json.dumps(event))
    assert d.fields["type"] == "advisory" and d.fields["tlp"] == "clear"
    assert d.fields["body"] == {"summary": "Phishing against <b>airport</b> staff"}
    joined = "\n".join(d.warnings)
    for lost in (
        "198.51.100.9",
        "Object email",
        "Galaxy Threat Actor",
        "threat-actor",
        "threat_level_id",
    ):
        assert lost in joined, lost


@pytest.mark.parametrize("data", [b"{", b"[]", b'{"Event": {"info": 3}}', b"[" * 50000])
def test_bad_events_are_one_line_errors(data: bytes) -> None:
    with pytest.raises(InputError) as info:
        draft_from_misp(data)
    assert "\n" not in info.value.detail
