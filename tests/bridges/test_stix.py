"""STIX 2.1 export and import: every bulletin type validates with stix2, TLP 2.0 markings
are the OASIS objects, round trips keep every mapped field, lost fields are warned of."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import stix2

from exchange.bridges.stix import EXTENSION_ID, bulletin_objects, export_bundle
from exchange.bridges.stix_import import drafts_from_stix
from exchange.bridges.tlp import TLP2_EXTENSION, TLP2_IDS, marking_definition, tlp_of_marking
from exchange.bulletin.validate import new_bulletin, validate_bulletin
from exchange.client.opened import OpenedRecord
from exchange.errors import InputError
from exchange.vocab import TLPS, TYPES

VALID = sorted((Path(__file__).parents[1] / "vectors" / "bulletins" / "valid").glob("*.json"))
#: The fields the mapping carries from a bulletin through STIX into a draft.
MAPPED = (
    "type",
    "title",
    "priority",
    "tlp",
    "lang",
    "exp",
    "supersedes",
    "groups",
    "to",
    "body",
    "handling",
    "in_reply_to",
)
#: The OASIS TLP 2.0 objects (cti-stix-common-objects, tlp-2.0), written out once more.
OASIS_TLP2 = {
    "clear": ("94868c89-83c2-464b-929b-a1a8aa3c8487", "TLP:CLEAR"),
    "green": ("bab4a63c-aed9-4cf5-a766-dfca5abac2bb", "TLP:GREEN"),
    "amber": ("55d920b0-5e8b-4f79-9ee9-91f868d9b421", "TLP:AMBER"),
    "amber+strict": ("939a9414-2ddd-4d32-a0cd-375ea402b003", "TLP:AMBER+STRICT"),
    "red": ("e828b379-4e03-4974-9ac4-e53a884c97c1", "TLP:RED"),
}


def record(b: dict[str, Any], **kw: Any) -> OpenedRecord:
    return OpenedRecord(
        seq=kw.get("seq", 5),
        bid=b["bid"],
        bulletin=b,
        sender=f"{b['iss']}/ops",
        iss_name=kw.get("iss_name", "Civil Aviation Committee"),
        accepted_at="2026-12-03T10:00:00.123Z",
        log_index=kw.get("log_index", 42),
    )


def vector(path: Path) -> dict[str, Any]:
    b: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    validate_bulletin(b)
    return b


def objects(bundle: str) -> dict[str, dict[str, Any]]:
    return {o["id"]: o for o in json.loads(bundle)["objects"]}


def test_vectors_cover_every_type() -> None:
    assert {vector(p)["type"] for p in VALID} == set(TYPES)


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_export_validates_and_round_trips(path: Path) -> None:
    b = vector(path)
    text = export_bundle([record(b)])
    parsed = stix2.parse(text, allow_custom=False)  # the library's own validation
    assert parsed.type == "bundle"
    objs = objects(text)
    report = objs[f"report--{b['bid']}"]
    assert report["name"] == b["title"]
    assert report["object_marking_refs"] == [TLP2_IDS[b["tlp"]]]
    assert report["lang"] == b["lang"]
    ext = report["extensions"][EXTENSION_ID]
    assert ext["bid"] == b["bid"] and ext["priority"] == b["priority"]
    assert ext["log_index"] == 42 and ext["seq"] == 5 and ext["sender"] == f"{b['iss']}/ops"
    assert isinstance(ext["ack_deadline_seconds"], int)
    assert objs[report["created_by_ref"]]["type"] == "identity"
    assert EXTENSION_ID in objs and TLP2_IDS[b["tlp"]] in objs
    if b["body"].get("categories"):
        assert report["labels"] == b["body"]["categories"]
    [draft] = drafts_from_stix(text, now=b["iat"])
    for name in ("handling", "in_reply_to"):  # carried in the extension and back
        if b.get(name) is not None:
            assert ext[name] == b[name]
    for field in MAPPED:
        assert draft.fields.get(field) == b.get(field), field
    # each provenance field of the original is named, not dropped silently
    for name in ("bid", "iss", "iat", "seq", "log_index", "sender"):
        assert any(w.startswith(f"extension.{name}:") for w in draft.warnings), name


@pytest.mark.parametrize("tlp", TLPS)
def test_tlp_markings_are_the_oasis_objects(tlp: str) -> None:
    uid, name = OASIS_TLP2[tlp]
    m = marking_definition(tlp)
    assert m == {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": f"marking-definition--{uid}",
        "created": "2022-10-01T00:00:00.000Z",
        "name": name,
        "extensions": {
            "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {
                "extension_type": "property-extension",
                "tlp_2_0": tlp,
            }
        },
    }
    assert TLP2_EXTENSION in m["extensions"]
    assert tlp_of_marking(m["id"]) == tlp and tlp_of_marking(m) == tlp
    stix2.parse(m)


def test_tlp1_markings_are_read() -> None:
    assert tlp_of_marking(stix2.TLP_WHITE.id) == "clear"
    assert tlp_of_marking(json.loads(stix2.TLP_RED.serialize())) == "red"
    assert tlp_of_marking("marking-definition--00000000-0000-4000-8000-000000000000") is None


def _foreign_bundle(**report: Any) -> str:
    ident = stix2.Identity(name="CERT-KZ", identity_class="organization")
    loc = stix2.Location(name="UAAA", region="central-asia")
    ind = stix2.Indicator(
        pattern="[ipv4-addr:value = '198.51.100.7']",
        pattern_type="stix",
        valid_from="2026-01-01T00:00:00Z",
    )
    rep = stix2.Report(
        name=report.pop("name", "Drone sightings near Almaty"),
        published="2026-12-01T00:00:00Z",
        object_refs=[ident.id, loc.id, ind.id],
        created_by_ref=ident.id,
        object_marking_refs=[stix2.TLP_AMBER.id, TLP2_IDS["amber+strict"]],
        **report,
    )
    return stix2.Bundle(ident, loc, ind, rep, stix2.TLP_AMBER).serialize()


def test_foreign_report_becomes_an_advisory_with_a_warning_per_lost_field() -> None:
    text = _foreign_bundle(
        description="Several UAS seen on the approach.",
        labels=["uas", "drone-activity"],
        confidence=60,
        external_references=[{"source_name": "x", "url": "https://example.org/r"}],
    )
    [d] = drafts_from_stix(text, "feed.json")
    f = d.fields
    assert f["type"] == "advisory" and f["title"] == "Drone sightings near Almaty"
    assert f["tlp"] == "amber+strict"  # the strictest of the markings
    assert f["body"] == {
        "summary": "Several UAS seen on the approach.",
        "categories": ["uas"],
        "locations": ["UAAA"],
    }
    joined = "\n".join(d.warnings)
    for lost in ("drone-activity", "indicator--", "confidence", "external_references", "published"):
        assert lost in joined, lost
    assert "several TLP markings" in joined
    # the draft is what 'exchange post' takes, once a recipient is named
    new_bulletin(iss="KZ", now=1790000000, **{**f, "groups": ["cac-avsec"]})


def test_hostile_content_stays_data() -> None:
    hostile = '<script>alert(1)</script>"\n# warning: injected\r\x1b[2J'
    text = _foreign_bundle(name=hostile.replace("\n", " ").replace("\r", ""), description=hostile)
    [d] = drafts_from_stix(text)
    assert d.fields["body"]["summary"] == hostile  # carried as it is: data, never markup
    out = d.yaml()
    assert "\n# warning: injected" not in out  # no comment line can be forged
    import yaml

    assert yaml.safe_load(out)["body"]["summary"] == hostile
    b = new_bulletin(
        iss="KZ",
        type="advisory",
        title="<img src=x onerror=alert(1)>",
        body={"summary": hostile.replace("\x1b", "")},
        now=1790000000,
        groups=["g1"],
    )
    exported = objects(export_bundle([record(b)]))[f"report--{b['bid']}"]
    assert exported["name"] == "<img src=x onerror=alert(1)>"
    assert exported["description"] == hostile.replace("\x1b", "")
    assert any(w.startswith("body: does not fit") for w in d.warnings)  # the escape code


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{", "not JSON"),
        (b"[]", "not a STIX bundle"),
        (b'{"type": "bundle", "id": "bundle--1", "objects": []}', "not a valid STIX"),
        (b"[" * 100000 + b"]" * 100000, "not JSON"),
        (
            stix2.Bundle(stix2.Identity(name="x", identity_class="system")).serialize().encode(),
            "no report or note",
        ),
    ],
)
def test_bad_bundles_are_one_line_errors(data: bytes, message: str) -> None:
    with pytest.raises(InputError) as info:
        drafts_from_stix(data)
    assert message in info.value.detail
    assert "\n" not in info.value.detail


def test_every_object_of_a_bulletin_parses() -> None:
    b = vector(VALID[0])
    for obj in bulletin_objects(record(b)):
        stix2.parse(obj, allow_custom=False)


def test_docs_tlp_table_matches_the_code() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "interop.md").read_text("utf-8")
    for tlp, mid in TLP2_IDS.items():
        assert f"| {tlp} | `{mid}` | TLP:{tlp.upper()} |" in doc


def test_a_passed_expiry_is_removed_with_a_warning() -> None:
    b = next(vector(p) for p in VALID if vector(p)["exp"] is not None)
    [d] = drafts_from_stix(export_bundle([record(b)]), now=b["exp"])
    assert "exp" not in d.fields
    assert any(w.startswith("exp: the original expiry has passed") for w in d.warnings)


def test_objects_added_to_an_exported_report_are_named() -> None:
    b = vector(VALID[0])
    bundle = json.loads(export_bundle([record(b)]))
    ind = json.loads(
        stix2.Indicator(
            pattern="[domain-name:value = 'evil.example']",
            pattern_type="stix",
            valid_from="2026-01-01T00:00:00Z",
        ).serialize()
    )
    report = next(o for o in bundle["objects"] if o["type"] == "report")
    report["object_refs"].append(ind["id"])
    bundle["objects"].append(ind)
    [d] = drafts_from_stix(json.dumps(bundle), now=b["iat"])
    assert any(w.startswith(ind["id"]) and "indicator" in w for w in d.warnings)


def test_a_revocation_in_the_same_export_revokes_the_report() -> None:
    first = new_bulletin(
        iss="KZ", type="advisory", title="A", body={"summary": "a"}, now=1790000000, groups=["g1"]
    )
    revocation = new_bulletin(
        iss="KZ",
        type="revocation",
        title="Withdrawn",
        body={"revokes": first["bid"], "reason": "over"},
        now=1790000000,  # the same second: the new version is still later
        groups=["g1"],
    )
    foreign = new_bulletin(
        iss="UZ",
        type="revocation",
        title="Not UZ's",
        body={"revokes": revocation["bid"], "reason": "no"},
        now=1790000100,
        groups=["g1"],
    )
    text = export_bundle([record(first), record(revocation), record(foreign)])
    stix2.parse(text, allow_custom=False)
    objs = objects(text)
    report = objs[f"report--{first['bid']}"]
    assert report["revoked"] is True and report["modified"] > report["created"]
    assert "revoked" not in objs[f"report--{revocation['bid']}"]  # UZ cannot revoke KZ's
