"""STIX 2.1 bundles into draft bulletins: one draft per ``report`` or ``note``.

A report this project exported carries its bulletin in the extension and comes back
whole; any other report or note becomes an advisory (title from ``name`` or ``abstract``,
summary from ``description`` or ``content``, TLP from its markings, threat categories
from its labels, ICAO indicators from its locations). Each property or referenced object
that has no place in a bulletin is named in a warning.
"""

from __future__ import annotations

import json
from typing import Any, Final

import stix2
import stix2.exceptions

from exchange.bridges.draft import Draft, one_line
from exchange.bridges.stix import CONFIDENCE, EXTENSION_ID, TEXT_FIELD
from exchange.bridges.tlp import tlp_of_marking
from exchange.errors import InputError
from exchange.vocab import CATEGORIES, ICAO_LOCATION_RE, TLPS, TYPES

__all__ = ["MAX_BUNDLE_BYTES", "drafts_from_stix"]

#: A bundle larger than this is refused before it is parsed (a bulletin is far smaller).
MAX_BUNDLE_BYTES: Final = 16 * 1024 * 1024

#: Report/note properties a draft takes, or that say nothing a bulletin must keep.
_USED: Final = frozenset(
    {
        "type",
        "spec_version",
        "id",
        "created",
        "modified",
        "name",
        "abstract",
        "description",
        "content",
        "object_refs",
        "object_marking_refs",
        "lang",
        "labels",
        "report_types",
        "extensions",
    }
)
#: Extension fields that record where the original came from; a re-post is new.
_PROVENANCE: Final = ("bid", "iss", "sender", "iat", "seq", "log_index", "accepted_at")
_CARRIED: Final = (
    "priority",
    "exp",
    "supersedes",
    "groups",
    "to",
    "handling",
    "in_reply_to",
)


def _parse(text: str | bytes) -> list[dict[str, Any]]:
    if len(text) > MAX_BUNDLE_BYTES:
        raise InputError(f"the STIX bundle is larger than {MAX_BUNDLE_BYTES} bytes")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"not JSON: {one_line(exc)}") from exc
    if not isinstance(data, dict) or data.get("type") != "bundle":
        raise InputError("not a STIX bundle (an object with type 'bundle')")
    try:
        stix2.parse(data, allow_custom=True)
    except (stix2.exceptions.STIXError, ValueError, TypeError, RecursionError) as exc:
        raise InputError(f"not a valid STIX 2.1 bundle: {one_line(exc, 200)}") from exc
    objects = data.get("objects") or []
    return [o for o in objects if isinstance(o, dict)]


def _tlp(obj: dict[str, Any], by_id: dict[str, dict[str, Any]], d: Draft) -> str | None:
    found = []
    for ref in obj.get("object_marking_refs") or []:
        tlp = tlp_of_marking(by_id.get(ref, ref))
        if tlp is None:
            d.warn(f"marking {ref}", "not a TLP marking: not carried")
        else:
            found.append(tlp)
    if obj.get("granular_markings"):
        d.warn("granular_markings", "markings of single properties are not carried")
    if not found:
        return None
    strictest = max(found, key=TLPS.index)
    if len(set(found)) > 1:
        d.warn("object_marking_refs", f"several TLP markings: the strictest, {strictest}, kept")
    return strictest


def _from_extension(ext: dict[str, Any], d: Draft) -> None:
    f = d.fields
    if ext.get("bulletin_type") in TYPES:
        f["type"] = ext["bulletin_type"]
    if isinstance(ext.get("body"), dict):
        f["body"] = ext["body"]
    for key in _CARRIED:
        if ext.get(key) is not None:
            f[key] = ext[key]
    for key in _PROVENANCE:
        if key in ext:
            d.warn(f"extension.{key}", "the original's, not carried (a post is a new bulletin)")


def _foreign(obj: dict[str, Any], by_id: dict[str, dict[str, Any]], d: Draft) -> None:
    """A report or note not made by this project: an advisory."""
    f = d.fields
    f["type"] = "advisory"
    text = obj.get("description") or obj.get("content")
    body: dict[str, Any] = {}
    if isinstance(text, str) and text.strip():
        body["summary"] = text
    else:
        body["summary"] = str(obj.get("name") or obj.get("abstract") or "(no text)")
        d.warn("description", "none: the title was used as the summary")
    cats: list[str] = []
    for label in obj.get("labels") or []:
        if label in CATEGORIES and label not in cats:
            cats.append(label)
        else:
            d.warn(f"labels {one_line(label, 40)}", "not a threat category: not carried")
    if cats:
        body["categories"] = cats
    locs: list[str] = []
    for ref in obj.get("object_refs") or []:
        target = by_id.get(ref, {})
        name = str(target.get("name", ""))
        if target.get("type") == "location" and ICAO_LOCATION_RE.match(name) and name not in locs:
            locs.append(name)
    if locs:
        body["locations"] = locs
    if "confidence" in obj:
        d.warn("confidence", "an advisory has no confidence: not carried")
    if obj.get("created_by_ref"):
        d.warn("created_by_ref", "the sender is the party that posts the draft")
    if obj.get("report_types"):
        d.warn("report_types", "the draft is an advisory (review its type)")
    f["body"] = body


def _refs(obj: dict[str, Any], by_id: dict[str, dict[str, Any]], d: Draft, ours: bool) -> None:
    """Name every referenced object the draft does not carry."""
    for ref in obj.get("object_refs") or []:
        target = by_id.get(ref, {})
        kind = target.get("type")
        if kind == "identity":
            continue
        icao = kind == "location" and ICAO_LOCATION_RE.match(str(target.get("name", "")))
        if icao and not ours:
            continue
        d.warn(
            ref, f"a referenced {one_line(kind or 'object outside the bundle', 40)}: not carried"
        )


def _draft(
    obj: dict[str, Any], by_id: dict[str, dict[str, Any]], source: str, now: int | None
) -> Draft:
    d = Draft(source=f"{source} {obj.get('id')}")
    f = d.fields
    f["title"] = obj.get("name") or obj.get("abstract") or ""
    tlp = _tlp(obj, by_id, d)
    if tlp is not None:
        f["tlp"] = tlp
    lang = obj.get("lang")
    if isinstance(lang, str) and lang:
        f["lang"] = lang
    raw = obj.get("extensions")
    exts: dict[str, Any] = raw if isinstance(raw, dict) else {}
    ours = exts.get(EXTENSION_ID)
    if isinstance(ours, dict):
        _from_extension(ours, d)
        kind = str(f.get("type"))
        body = f.get("body")
        text_field = TEXT_FIELD.get(kind)
        description = obj.get("description")
        if (
            isinstance(body, dict)
            and text_field
            and isinstance(description, str)
            and body.get(text_field) != description
        ):
            body[text_field] = description
            d.warn("description", f"differs from the extension's body: it is the {text_field}")
        if isinstance(body, dict) and "labels" in obj:
            body_cats = body.get("categories") or []
            if list(obj["labels"]) != list(body_cats):
                d.warn("labels", "differ from the body's categories: the body's were kept")
        if isinstance(body, dict) and "confidence" in obj:
            level = {v: k for k, v in CONFIDENCE.items()}.get(obj["confidence"])
            if level is not None and body.get("confidence") != level:
                d.warn("confidence", "differs from the body's: the body's was kept")
    else:
        _foreign(obj, by_id, d)
    _refs(obj, by_id, d, isinstance(ours, dict))
    if "published" in obj:
        d.warn("published", "the original's publication time: a post gets its own iat")
    skip = _USED | {"confidence", "created_by_ref", "granular_markings", "published"}
    for key in sorted(set(obj) - skip):
        d.warn(key, "no place in a bulletin: not carried")
    for key in sorted(set(exts) - {EXTENSION_ID}):
        d.warn(f"extensions {one_line(key, 60)}", "an unknown extension: not carried")
    d.check(now)
    return d


def drafts_from_stix(
    text: str | bytes, source: str = "STIX", *, now: int | None = None
) -> list[Draft]:
    """A draft per report or note of the bundle; other objects are named in warnings.
    ``now`` (default: the clock) decides whether a carried expiry has passed."""
    objects = _parse(text)
    by_id = {str(o.get("id")): o for o in objects}
    heads = [o for o in objects if o.get("type") in ("report", "note")]
    if not heads:
        kinds = sorted({one_line(o.get("type"), 40) for o in objects})
        raise InputError(f"the bundle holds no report or note (only {', '.join(kinds) or '-'})")
    drafts = [_draft(o, by_id, source, now) for o in heads]
    used = {r for o in heads for r in (o.get("object_refs") or [])}
    used |= {r for o in heads for r in (o.get("object_marking_refs") or [])}
    used |= {str(o.get("id")) for o in heads}
    for o in objects:
        oid = str(o.get("id"))
        if oid in used or o.get("type") in ("marking-definition", "extension-definition"):
            continue
        if o.get("type") == "identity":
            continue
        drafts[0].warn(oid, f"a {one_line(o.get('type'), 40)} no report refers to: not carried")
    return drafts
