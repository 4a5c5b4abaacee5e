"""Compose forms generated from each bulletin type's JSON Schema, and back again.

The schema files are the contract, so the form follows them: required fields, enums
(select or check boxes), ICAO indicators, times, nested objects (fieldsets). What the
officer types is turned back into a body and checked with the same validator the
recipients use; its messages are shown beside the fields they name."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from exchange.bulletin._schema import load_schema

__all__ = ["LABELS", "N_", "Field", "body_from_form", "fields_for", "parse_time", "to_local_input"]


def N_(message: str) -> str:
    """Mark a string for the catalogue; it is translated where it is shown."""
    return message


#: The label of each body field, by name (translated on the page).
LABELS: Final = {
    "summary": N_("Summary"),
    "threat_level": N_("Threat level"),
    "categories": N_("Threat categories"),
    "locations": N_("Locations (ICAO indicators)"),
    "valid_from": N_("Valid from (UTC)"),
    "valid_until": N_("Valid until (UTC)"),
    "confidence": N_("Confidence"),
    "details": N_("Details"),
    "sources": N_("Sources"),
    "recommendations": N_("Recommendations"),
    "scope": N_("Scope"),
    "firs": N_("FIR/UIR (ICAO indicators)"),
    "aerodromes": N_("Aerodromes (ICAO indicators)"),
    "flight_levels": N_("Flight-level band"),
    "lower": N_("Lower flight level"),
    "upper": N_("Upper flight level"),
    "risk": N_("Risk assessment (ICAO method)"),
    "scenario": N_("Threat scenario"),
    "target": N_("Target"),
    "method": N_("Means or method"),
    "perpetrator": N_("Perpetrator"),
    "likelihood": N_("Likelihood"),
    "consequence": N_("Consequence"),
    "current_measures": N_("Current mitigating measures"),
    "residual_vulnerability": N_("Residual vulnerability"),
    "residual_risk": N_("Residual risk"),
    "additional_mitigation": N_("Recommended additional mitigation"),
    "measure": N_("Measure"),
    "applies_to": N_("Applies to"),
    "airports": N_("Airports (ICAO indicators)"),
    "routes": N_("Routes"),
    "flights": N_("Flights"),
    "effective_from": N_("Effective from (UTC)"),
    "effective_until": N_("Effective until (UTC)"),
    "rationale": N_("Rationale"),
    "audience": N_("Audience"),
    "guidance": N_("Guidance"),
    "question": N_("Question"),
    "context": N_("Context"),
    "respond_by": N_("Respond by (UTC)"),
    "regarding": N_("Regarding (bulletin id)"),
    "revokes": N_("Revokes (bulletin id)"),
    "reason": N_("Reason"),
}

_SPLIT = re.compile(r"[\s,;]+")


@dataclass
class Field:
    """One input of a compose form; ``name`` is the dotted path under ``body``."""

    name: str
    key: str
    kind: str  # text, line, select, checks, list, codes, time, int, uuid, group
    required: bool
    options: tuple[str, ...] = ()
    hint: str = ""
    children: list[Field] = field(default_factory=list)

    @property
    def label(self) -> str:
        return LABELS.get(self.key, self.key.replace("_", " ").capitalize())


def _resolve(schema: Mapping[str, Any], common: Mapping[str, Any]) -> dict[str, Any]:
    """A property schema with its ``$ref`` into the common definitions merged in."""
    out = dict(schema)
    ref = out.pop("$ref", None)
    while isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        base = dict(common["$defs"][name])
        ref = base.pop("$ref", None)
        out = {**base, **out}
    return out


def _field(name: str, key: str, schema: Mapping[str, Any], required: bool) -> Field:
    common = load_schema("common")
    s = _resolve(schema, common)
    hint = str(s.get("description", ""))
    if "enum" in s:
        return Field(name, key, "select", required, tuple(s["enum"]), hint)
    kind = s.get("type")
    if kind == "object":
        needed = set(s.get("required", ()))
        children = [
            _field(f"{name}.{k}", k, sub, k in needed) for k, sub in s["properties"].items()
        ]
        return Field(name, key, "group", required, hint=hint, children=children)
    if kind == "array":
        items = _resolve(s["items"], common)
        if "enum" in items:
            return Field(name, key, "checks", required, tuple(items["enum"]), hint)
        codes = str(items.get("pattern", "")).lstrip("^(").startswith("[A-Z")
        return Field(name, key, "codes" if codes else "list", required, hint=hint)
    if kind == "integer" and s.get("maximum", 0) > 10**9:
        return Field(name, key, "time", required, hint=hint)
    if kind == "integer":
        return Field(name, key, "int", required, hint=hint)
    if "uuid" in str(schema.get("$ref", "")):
        return Field(name, key, "uuid", required, hint=hint)
    if "line" in str(schema.get("$ref", "")):
        return Field(name, key, "line", required, hint=hint)
    return Field(name, key, "text", required, hint=hint)


def fields_for(type_: str) -> list[Field]:
    """The body's fields, in the schema's order."""
    schema = load_schema(type_)
    needed = set(schema.get("required", ()))
    return [_field(k, k, sub, k in needed) for k, sub in schema["properties"].items()]


def to_local_input(epoch: int) -> str:
    """A time as a ``datetime-local`` value (UTC)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M")


def parse_time(text: str) -> int | str:
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return text  # left for the validator to name
    return int((dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp())


def _value(f: Field, form: Mapping[str, Any]) -> Any:
    """The field's value from the posted form, or None when left empty."""
    if f.kind == "group":
        sub = {c.key: v for c in f.children if (v := _value(c, form)) is not None}
        return sub or None
    if f.kind == "checks":
        chosen = [v for v in form.getall(f"body.{f.name}", []) if v in f.options]  # type: ignore[attr-defined]
        return chosen or None
    text = str(form.get(f"body.{f.name}", "")).strip()
    if not text:
        return None
    if f.kind == "codes":
        return [c.upper() for c in _SPLIT.split(text) if c]
    if f.kind == "list":
        return [line.strip() for line in text.splitlines() if line.strip()]
    if f.kind == "time":
        return parse_time(text)
    if f.kind == "int":
        return int(text) if text.lstrip("-").isdigit() else text
    if f.kind == "text":
        return text.replace("\r\n", "\n")
    return text


def body_from_form(type_: str, form: Mapping[str, Any]) -> dict[str, Any]:
    """The body the officer filled in, with empty optional fields left out."""
    return {f.key: v for f in fields_for(type_) if (v := _value(f, form)) is not None}
