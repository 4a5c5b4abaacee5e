"""A fast acceptance test for flat schemas such as ``metadata``, derived from the schema.

Admission validates the routing metadata of every post; the general JSON Schema walk
took a sixth of the event loop's time (issue 8). For an object whose members are
scalars or arrays of scalars, the keywords used (``type``, ``const``, ``enum``,
``pattern``, ``minimum``/``maximum``, ``maxItems``, ``uniqueItems``, ``items``,
``required``, ``additionalProperties: false``) compile to a few plain checks.

The result only ever says *certainly valid*: ``False`` sends the object to the full
validator, which finds and words the problems. A keyword this module does not know
makes the compiled check always answer ``False``; so it can be slower, never wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["compile_flat"]

Check = Callable[[object], bool]
Resolve = Callable[[str], Mapping[str, Any]]
Pattern = Callable[[str], re.Pattern[str]]

_KNOWN = frozenset(
    {"type", "const", "enum", "pattern", "minimum", "maximum", "maxItems", "uniqueItems"}
    | {"items", "description", "title", "$ref", "$schema", "$id"}
)


def _never(_value: object) -> bool:
    return False


def _is_type(name: str) -> Check:
    if name == "integer":
        return lambda v: type(v) is int
    if name == "string":
        return lambda v: type(v) is str
    if name == "null":
        return lambda v: v is None
    if name == "array":
        return lambda v: type(v) is list
    return _never


def _member(schema: Mapping[str, Any], resolve: Resolve, pattern: Pattern) -> Check:
    """The check for one member's (sub)schema."""
    if "$ref" in schema:
        if len(schema) != 1:
            return _never
        schema = resolve(schema["$ref"])
    if not set(schema) <= _KNOWN or "$ref" in schema:
        return _never
    checks: list[Check] = []
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if "string" in names and "pattern" not in schema:
            return _never  # free text: leave its checks (e.g. lone surrogates) to the rest
        preds = [_is_type(n) for n in names]
        checks.append(lambda v: any(p(v) for p in preds))
    if "const" in schema:
        const = schema["const"]
        checks.append(lambda v: type(v) is type(const) and v == const)
    if "enum" in schema:
        allowed = frozenset(x for x in schema["enum"] if isinstance(x, str))
        if len(allowed) != len(schema["enum"]):
            return _never
        checks.append(lambda v: type(v) is str and v in allowed)
    if "pattern" in schema:
        rx = pattern(schema["pattern"])
        checks.append(lambda v: type(v) is not str or rx.search(v) is not None)
    if "minimum" in schema:
        lo = schema["minimum"]
        checks.append(lambda v: type(v) is not int or v >= lo)
    if "maximum" in schema:
        hi = schema["maximum"]
        checks.append(lambda v: type(v) is not int or v <= hi)
    if "maxItems" in schema:
        most = schema["maxItems"]
        checks.append(lambda v: type(v) is not list or len(v) <= most)
    if schema.get("uniqueItems"):
        checks.append(
            lambda v: (
                type(v) is not list or (all(type(x) is str for x in v) and len(set(v)) == len(v))
            )
        )
    if "items" in schema:
        item = _member(schema["items"], resolve, pattern)
        checks.append(lambda v: type(v) is not list or all(item(x) for x in v))
    return lambda v: all(c(v) for c in checks)


def compile_flat(schema: Mapping[str, Any], resolve: Resolve, pattern: Pattern) -> Check:
    """A check that is True only for objects ``schema`` certainly accepts. ``resolve``
    looks up a ``$ref``; ``pattern`` compiles a ``pattern`` with ECMA-262 anchors."""
    top = {"type", "required", "additionalProperties", "properties"}
    top |= {"title", "description", "$schema", "$id"}
    if (
        not set(schema) <= top
        or schema.get("type") != "object"
        or schema.get("additionalProperties") is not False
    ):
        return _never
    props = {name: _member(sub, resolve, pattern) for name, sub in schema["properties"].items()}
    required = frozenset(schema.get("required", ()))
    names = frozenset(props)

    def check(obj: object) -> bool:
        if type(obj) is not dict or not required <= obj.keys() or not obj.keys() <= names:
            return False
        return all(props[k](v) for k, v in obj.items())

    return check
