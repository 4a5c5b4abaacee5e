"""Opened bulletins as STIX 2.1 (docs/interop.md has the mapping, field by field).

Each bulletin is a ``report`` (its ``bid`` is the report's UUID) created by the issuing
party's ``identity``, marked with the TLP 2.0 marking-definition of its ``tlp``; what STIX
has no property for travels in one property extension on the report, defined by an
``extension-definition`` of this project. Every bundle is checked with ``stix2.parse``
before it leaves, so an export a STIX tool would refuse is never written.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Final

import stix2
import stix2.exceptions

from exchange.bridges.tlp import marking_definition
from exchange.client.opened import OpenedRecord
from exchange.config import ACK_DEADLINES
from exchange.errors import InputError
from exchange.vocab import AFTN_PRIORITY

__all__ = [
    "AUTHOR_ID",
    "CONFIDENCE",
    "EXTENSION_ID",
    "REPORT_TYPES",
    "TEXT_FIELD",
    "bulletin_objects",
    "export_bundle",
    "icao_locations",
    "party_identity_id",
    "revoked_version",
    "stix_time",
]

#: The namespace of this project's name-based STIX ids (identities, the extension).
_NS: Final = uuid.UUID("5b0f3d7e-2a61-4c1f-9d0e-7c4a8b3e9f12")
#: The identity that authors the extension-definition (STIX requires one).
AUTHOR_ID: Final = f"identity--{uuid.uuid5(_NS, 'avsec-exchange')}"
#: The bulletin property extension (version 1 of docs/interop.md#the-extension).
EXTENSION_ID: Final = f"extension-definition--{uuid.uuid5(_NS, 'bulletin-extension/1')}"
#: ``created``/``modified`` of the objects this project defines once and for all.
_DEFINED: Final = "2026-01-01T00:00:00.000Z"

#: Bulletin type -> report_types (report-type-ov where it has a term; open vocabulary).
REPORT_TYPES: Final = {
    "threat-assessment": "threat-report",
    "security-measure": "security-measure",
    "advisory": "advisory",
    "request": "request",
    "revocation": "revocation",
}
#: The body field that becomes the report's ``description``, per type.
TEXT_FIELD: Final = {
    "threat-assessment": "summary",
    "security-measure": "measure",
    "advisory": "summary",
    "request": "question",
    "revocation": "reason",
}
#: Analytic confidence -> STIX confidence (the None/Low/Med/High scale of STIX 2.1 App. A).
CONFIDENCE: Final = {"low": 15, "moderate": 50, "high": 85}


def stix_time(epoch: int) -> str:
    """Seconds since 1970 as a STIX timestamp (UTC, milliseconds)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def party_identity_id(party: str) -> str:
    """One identity id per party, the same in every export, so tools merge them."""
    return f"identity--{uuid.uuid5(_NS, 'party:' + party)}"


def _author() -> dict[str, Any]:
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": AUTHOR_ID,
        "created": _DEFINED,
        "modified": _DEFINED,
        "name": "AVSEC Exchange",
        "identity_class": "system",
        "description": "The open-source bulletin exchange for aviation-security authorities.",
    }


def _extension_definition() -> dict[str, Any]:
    return {
        "type": "extension-definition",
        "spec_version": "2.1",
        "id": EXTENSION_ID,
        "created_by_ref": AUTHOR_ID,
        "created": _DEFINED,
        "modified": _DEFINED,
        "name": "AVSEC Exchange bulletin",
        "description": "The fields of an AVSEC Exchange bulletin that STIX has no property "
        "for: priority, handling, ack deadline, bid, audit log index, routing and the body.",
        "schema": "AVSEC Exchange docs/interop.md, section 'The extension' (version 1)",
        "version": "1.0.0",
        "extension_types": ["property-extension"],
    }


def _identity(rec: OpenedRecord) -> dict[str, Any]:
    iss = str(rec.bulletin["iss"])
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": party_identity_id(iss),
        "created": _DEFINED,
        "modified": _DEFINED,
        "name": rec.iss_name or iss,
        "identity_class": "organization",
        "description": f"AVSEC Exchange party {iss}",
        "created_by_ref": AUTHOR_ID,
    }


#: Body fields (by path) that hold ICAO location indicators, in every type.
_LOCATION_PATHS: Final = (
    ("locations",),
    ("applies_to", "airports"),
    ("scope", "firs"),
    ("scope", "aerodromes"),
)
#: (start, end) body fields of a validity window, per type that has one.
_WINDOWS: Final = (("valid_from", "valid_until"), ("effective_from", "effective_until"))


def icao_locations(body: dict[str, Any]) -> list[str]:
    """Every ICAO indicator the body names (aerodromes and FIRs), each once, in order."""
    found: list[str] = []
    for path in _LOCATION_PATHS:
        node: Any = body
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        for loc in node if isinstance(node, list) else []:
            if loc not in found:
                found.append(loc)
    return found


def _summary_fields(body: dict[str, Any]) -> dict[str, Any]:
    """Fields a STIX consumer can read without knowing each body schema."""
    out: dict[str, Any] = {}
    locs = icao_locations(body)
    if locs:
        out["icao_locations"] = locs
    for start, end in _WINDOWS:
        if isinstance(body.get(start), int):
            out["valid_from"] = stix_time(body[start])
            if isinstance(body.get(end), int):
                out["valid_until"] = stix_time(body[end])
    for key in ("threat_level", "categories"):
        if body.get(key):
            out[key] = body[key]
    risk = body.get("risk")
    if isinstance(risk, dict) and risk.get("residual_risk"):
        out["residual_risk"] = risk["residual_risk"]
    return out


def _extension(rec: OpenedRecord) -> dict[str, Any]:
    b = rec.bulletin
    ext: dict[str, Any] = {
        "extension_type": "property-extension",
        "bid": b["bid"],
        "iss": b["iss"],
        "sender": rec.sender,
        "bulletin_type": b["type"],
        "priority": b["priority"],
        "aftn_priority": AFTN_PRIORITY[b["priority"]],
        "tlp": b["tlp"],
        "iat": b["iat"],
        "groups": list(b["groups"]),
        "to": list(b["to"]),
        "ack_deadline_seconds": ACK_DEADLINES[b["priority"]],
        "seq": rec.seq,
        **_summary_fields(b["body"]),
        "body": b["body"],
    }
    optional = {
        "exp": b.get("exp"),
        "supersedes": b.get("supersedes"),
        "handling": b.get("handling"),
        "in_reply_to": b.get("in_reply_to"),
        "log_index": rec.log_index,
        "accepted_at": rec.accepted_at,
    }
    ext.update({k: v for k, v in optional.items() if v is not None})
    return ext


def _report(rec: OpenedRecord) -> dict[str, Any]:
    b = rec.bulletin
    body: dict[str, Any] = b["body"]
    kind = str(b["type"])
    report: dict[str, Any] = {
        "type": "report",
        "spec_version": "2.1",
        "id": f"report--{b['bid']}",
        "created_by_ref": party_identity_id(str(b["iss"])),
        "created": stix_time(b["iat"]),
        "modified": stix_time(b["iat"]),
        "name": b["title"],
        "description": str(body.get(TEXT_FIELD[kind], b["title"])),
        "report_types": [REPORT_TYPES[kind]],
        "published": stix_time(b["iat"]),
        "object_refs": [party_identity_id(str(b["iss"]))],
        "lang": b["lang"],
        "object_marking_refs": [marking_definition(b["tlp"])["id"]],
        "extensions": {EXTENSION_ID: _extension(rec)},
    }
    if body.get("categories"):
        report["labels"] = list(body["categories"])
    if body.get("confidence") in CONFIDENCE:
        report["confidence"] = CONFIDENCE[body["confidence"]]
    return report


def revoked_version(report: dict[str, Any], revocation: OpenedRecord) -> dict[str, Any]:
    """A new version of an exported report, marked ``revoked`` by a revocation bulletin
    of the same issuer (PROTOCOL §4: a revocation withdraws the bulletin it names)."""
    iat = int(revocation.bulletin["iat"])
    modified = max(stix_time(iat), report["modified"])
    if modified == report["modified"]:  # STIX: a new version has a later modified
        modified = modified[:-4] + "001Z" if modified.endswith(".000Z") else modified
    return {**report, "modified": modified, "revoked": True}


def bulletin_objects(rec: OpenedRecord) -> list[dict[str, Any]]:
    """The STIX objects of one bulletin: markings and definitions first, the report last."""
    return [
        marking_definition(str(rec.bulletin["tlp"])),
        _author(),
        _extension_definition(),
        _identity(rec),
        _report(rec),
    ]


def export_bundle(records: Iterable[OpenedRecord]) -> str:
    """One STIX 2.1 bundle (JSON text) of the bulletins, each object once, validated. A
    report whose issuer's revocation is in the same export is the revoked version."""
    objects: dict[str, dict[str, Any]] = {}
    issuer: dict[str, str] = {}
    for rec in records:
        issuer[f"report--{rec.bid}"] = str(rec.bulletin["iss"])
        for obj in bulletin_objects(rec):
            objects.setdefault(obj["id"], obj)
        b = rec.bulletin
        target = f"report--{b['body'].get('revokes')}"
        if b["type"] == "revocation" and issuer.get(target) == b["iss"]:
            objects[target] = revoked_version(objects[target], rec)
    bundle = {
        "type": "bundle",
        "id": f"bundle--{uuid.uuid4()}",
        "objects": list(objects.values()),
    }
    try:
        stix2.parse(bundle, allow_custom=False)
    except (stix2.exceptions.STIXError, ValueError) as exc:
        raise InputError(f"the STIX export does not validate: {exc}") from exc
    return json.dumps(bundle, indent=2, ensure_ascii=False)
