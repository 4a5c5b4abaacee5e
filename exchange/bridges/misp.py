"""Opened bulletins as MISP events, and MISP events into draft bulletins (pymisp).

The mapping (docs/interop.md): the event's uuid is the ``bid``, ``info`` the title, the
TLP a ``tlp:`` tag with the distribution it implies, the type, priority, issuer and threat
categories ``avsec-exchange:`` machine tags, and every body field one attribute per value
whose comment names the field (``avsec:body.summary``, ``avsec:body.categories[]``), so a
MISP user reads the text and the import puts each value back where it was.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any, Final

from pymisp import MISPEvent, MISPOrganisation

from exchange.bridges.draft import Draft, one_line
from exchange.bridges.tlp import MISP_DISTRIBUTION
from exchange.client.opened import OpenedRecord
from exchange.errors import InputError
from exchange.vocab import PRIORITIES, THREAT_LEVELS, TLPS, TYPES

__all__ = ["MAX_EVENT_BYTES", "TAG_NS", "THREAT_LEVEL_ID", "draft_from_misp", "misp_event"]

#: The machine-tag namespace of this project's tags.
TAG_NS: Final = "avsec-exchange"
#: A MISP event larger than this is refused before it is parsed.
MAX_EVENT_BYTES: Final = 16 * 1024 * 1024
#: Threat level (or, without one, priority) -> MISP threat_level_id (1 high … 3 low).
THREAT_LEVEL_ID: Final = {
    "critical": 1,
    "severe": 1,
    "substantial": 2,
    "moderate": 3,
    "low": 3,
    "flash": 1,
    "immediate": 1,
    "priority": 2,
    "routine": 3,
}
_TIMES: Final = frozenset(
    {"valid_from", "valid_until", "effective_from", "effective_until", "respond_by"}
)
_PREFIX: Final = "avsec:body."


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _flatten(prefix: str, value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _flatten(f"{prefix}.{k}", v)]
    if isinstance(value, list):
        return [(prefix + "[]", v) for v in value]
    return [(prefix, value)]


def misp_event(rec: OpenedRecord) -> dict[str, Any]:
    """The MISP event JSON (``{"Event": …}``) of one opened bulletin."""
    b = rec.bulletin
    body: dict[str, Any] = b["body"]
    ev = MISPEvent()
    ev.uuid = b["bid"]
    ev.info = b["title"]
    ev.date = datetime.fromtimestamp(b["iat"], UTC).date()
    ev.distribution = MISP_DISTRIBUTION[b["tlp"]]
    ev.threat_level_id = THREAT_LEVEL_ID[body.get("threat_level") or b["priority"]]
    ev.analysis = 2  # completed: a bulletin is a finished product
    ev.published = False  # the receiving State decides to publish it in its MISP
    org = MISPOrganisation()
    org.name = rec.iss_name or b["iss"]
    ev.Orgc = org
    ev.add_tag(f"tlp:{b['tlp']}")
    ev.add_tag(f'{TAG_NS}:type="{b["type"]}"')
    ev.add_tag(f'{TAG_NS}:priority="{b["priority"]}"')
    ev.add_tag(f'{TAG_NS}:iss="{b["iss"]}"')
    for category in body.get("categories") or []:
        ev.add_tag(f'{TAG_NS}:category="{category}"')
    for path, value in _flatten(_PREFIX[:-1], body):
        name = path.removeprefix(_PREFIX).removesuffix("[]")
        if name in _TIMES:
            ev.add_attribute("datetime", _iso(value), category="Other", comment=path)
        elif isinstance(value, int) and not isinstance(value, bool):
            ev.add_attribute("counter", str(value), category="Other", comment=path)
        else:
            ev.add_attribute("text", str(value), category="Other", comment=path)
    for key, value in (
        ("sender", rec.sender),
        ("lang", b["lang"]),
        ("exp", b.get("exp")),
        ("supersedes", b.get("supersedes")),
        ("handling", b.get("handling")),
        ("in_reply_to", b.get("in_reply_to")),
        ("log_index", rec.log_index),
        ("seq", rec.seq),
    ):
        if value is not None:
            ev.add_attribute("text", str(value), category="Other", comment=f"avsec:{key}")
    data: dict[str, Any] = json.loads(ev.to_json())
    return {"Event": data}


def _event(text: str | bytes) -> dict[str, Any]:
    if len(text) > MAX_EVENT_BYTES:
        raise InputError(f"the MISP event is larger than {MAX_EVENT_BYTES} bytes")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"not JSON: {one_line(exc)}") from exc
    if isinstance(data, dict) and isinstance(data.get("response"), list) and data["response"]:
        data = data["response"][0]
    if isinstance(data, dict) and isinstance(data.get("Event"), dict):
        data = data["Event"]
    if not isinstance(data, dict) or not isinstance(data.get("info"), str):
        raise InputError("not a MISP event (an object with Event.info)")
    return data


def _tag(name: str, d: Draft, body: dict[str, Any]) -> None:
    f = d.fields
    if name.lower().startswith("tlp:"):
        value = {"white": "clear"}.get(name[4:].lower(), name[4:].lower())
        if value in TLPS:
            if "tlp" in f and f["tlp"] != value:
                value = max(value, f["tlp"], key=TLPS.index)
                d.warn("Tag tlp", f"several TLP tags: the strictest, {value}, kept")
            f["tlp"] = value
            return
    ns, _, rest = name.partition(":")
    key, _, quoted = rest.partition("=")
    value = quoted.strip('"')
    if ns == TAG_NS and key == "type" and value in TYPES:
        f["type"] = value
    elif ns == TAG_NS and key == "priority" and value in PRIORITIES:
        f["priority"] = value
    elif ns == TAG_NS and key == "category":
        body.setdefault("categories", []).append(value)
    elif ns == TAG_NS and key == "iss":
        d.warn(f"Tag {one_line(name, 60)}", "the original issuer: not carried")
    else:
        d.warn(f"Tag {one_line(name, 60)}", "no place in a bulletin: not carried")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _put(body: dict[str, Any], path: str, value: Any) -> bool:
    """Put a value at a body path; False when the path clashes with what is there."""
    keys = path.removesuffix("[]").split(".")
    node: Any = body
    for k in keys[:-1]:
        node = node.setdefault(k, {}) if isinstance(node, dict) else None
    if not isinstance(node, dict) or not all(keys):
        return False
    if path.endswith("[]"):
        items = node.setdefault(keys[-1], [])
        if not isinstance(items, list):
            return False
        items.append(value)
    else:
        node[keys[-1]] = value
    return True


def _value(name: str, attr: dict[str, Any]) -> Any:
    value = attr.get("value")
    if attr.get("type") == "counter" and isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    if name in _TIMES and isinstance(value, str):
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
        except ValueError:
            return value
    return value


def draft_from_misp(text: str | bytes, source: str = "MISP", *, now: int | None = None) -> Draft:
    """A draft bulletin of a MISP event; attributes, objects and galaxies it cannot carry
    are named in warnings."""
    ev = _event(text)
    d = Draft(source=f"{source} event {one_line(ev.get('uuid', '?'), 40)}")
    f = d.fields
    f["title"] = ev["info"]
    body: dict[str, Any] = {}
    for tag in _list(ev.get("Tag")):
        if isinstance(tag, dict) and isinstance(tag.get("name"), str):
            _tag(tag["name"], d, body)
    for attr in _list(ev.get("Attribute")):
        if not isinstance(attr, dict):
            continue
        comment = str(attr.get("comment") or "")
        if comment.startswith(_PREFIX):
            name = comment.removeprefix(_PREFIX).removesuffix("[]")
            if "categories" in body and name == "categories":
                continue  # the category tags already gave them
            if not _put(body, comment.removeprefix(_PREFIX), _value(name.split(".")[-1], attr)):
                d.warn(f"Attribute {one_line(comment, 60)}", "clashes with another: not carried")
        elif comment in (
            "avsec:exp",
            "avsec:supersedes",
            "avsec:lang",
            "avsec:handling",
            "avsec:in_reply_to",
        ):
            value = attr.get("value")
            if comment == "avsec:exp":
                value = int(str(value)) if str(value).isdigit() else None
            if isinstance(value, (str, int)):
                f[comment[6:]] = value
        elif comment in ("avsec:sender", "avsec:log_index", "avsec:seq"):
            d.warn(f"Attribute {comment}", "the original's, not carried (a post is new)")
        else:
            what = f"{one_line(attr.get('type'), 30)} {one_line(attr.get('value'), 60)}"
            d.warn(f"Attribute {what}", "no place in a bulletin: not carried")
    for obj in _list(ev.get("Object")):
        name = one_line(obj.get("name", "?") if isinstance(obj, dict) else "?", 40)
        d.warn(f"Object {name}", "MISP objects are not carried")
    for galaxy in _list(ev.get("Galaxy")):
        name = one_line(galaxy.get("name", "?") if isinstance(galaxy, dict) else "?", 40)
        d.warn(f"Galaxy {name}", "galaxy clusters are not carried")
    if "type" not in f:
        f["type"] = "advisory"
        body.setdefault("summary", ev["info"])
        if "threat_level_id" in ev:
            d.warn("threat_level_id", "an advisory has no threat level: not carried")
    elif f["type"] == "threat-assessment" and body.get("threat_level") not in THREAT_LEVELS:
        d.warn("threat_level_id", "the body needs a threat_level (review it)")
    f["body"] = body
    if isinstance(ev.get("date"), (str, date)):
        d.warn("date", "the bulletin's iat is the time it is posted")
    d.check(now)
    return d
