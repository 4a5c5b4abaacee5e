"""Loading the packaged JSON Schema files and turning their failures into plain messages.

The schemas are the documented contract (a State's own tools can use them as they are);
this module only adapts the Python validator to them:

- ``pattern`` follows ECMA-262, where ``$`` does not match before a trailing newline
  (Python's does, so ``"KZ\\n"`` would pass as a party id), and is skipped on a string
  already longer than its ``maxLength``;
- ``items`` is skipped on an array already longer than its ``maxItems``;
- ``uniqueItems`` is linear on arrays of strings (the library falls back to a quadratic
  scan on mixed arrays, a cheap denial of service);
- ``integer`` means a JSON integer: ``1.0`` is not a time in whole seconds;
- every message names the field path and says what is expected, never echoes a value
  (an unknown field name is shown, as escaped ASCII).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from importlib.resources import files
from typing import Any, Final

from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.protocols import Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from exchange.bulletin._fast import compile_flat

__all__ = [
    "MAX_MESSAGES",
    "SCHEMA_NAMES",
    "check",
    "compiled_pattern",
    "format_path",
    "is_certainly_valid",
    "load_schema",
    "show",
]

#: The packaged schema files, by name (``schemas/<name>.json``).
SCHEMA_NAMES: Final = (
    "common",
    "metadata",
    "bulletin",
    "threat-assessment",
    "security-measure",
    "advisory",
    "request",
    "revocation",
)

#: At most this many problems are reported for one object.
MAX_MESSAGES: Final = 10

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
_TYPE_NAMES: Final = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def load_schema(name: str) -> dict[str, Any]:
    """One packaged schema file, parsed (the only I/O of the package, done at import)."""
    text = files("exchange.bulletin").joinpath("schemas", f"{name}.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def show(value: object, limit: int = 40) -> str:
    """A short, ASCII-only rendering of untrusted input for a message."""
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError):
        text = type(value).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_path(path: Sequence[object], root: str) -> str:
    """``body.applies_to.airports[2]``; ``root`` names the object itself."""
    out = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and _IDENT.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{show(part)}]"
    return out or root


# --- keyword implementations ------------------------------------------------------------


@cache
def compiled_pattern(pattern: str) -> re.Pattern[str]:
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"  # ECMA-262 ``$``: the very end of the input only
    return re.compile(pattern)


def _expected(schema: Mapping[str, Any], fallback: str) -> str:
    description = schema.get("description")
    return f"must be {description}" if isinstance(description, str) else fallback


def _pattern(
    validator: Validator, patrn: str, instance: object, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if not isinstance(instance, str):
        return
    limit = schema.get("maxLength")
    if isinstance(limit, int) and len(instance) > limit:
        return  # maxLength reports it; no regex over megabytes
    if not compiled_pattern(patrn).search(instance):
        yield ValidationError(_expected(schema, "has the wrong form"))


_ITEMS: Final = Draft202012Validator.VALIDATORS["items"]


def _items(
    validator: Validator, items: object, instance: object, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    limit = schema.get("maxItems")
    if isinstance(instance, list) and isinstance(limit, int) and len(instance) > limit:
        return  # maxItems reports it; no schema walk over a million items
    yield from _ITEMS(validator, items, instance, schema)


def _unique_items(
    validator: Validator, unique: bool, instance: object, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if not unique or not isinstance(instance, list):
        return
    if not all(isinstance(item, str) for item in instance):
        return  # our unique arrays hold strings: ``items`` reports the rest
    first: dict[str, int] = {}
    for index, item in enumerate(instance):
        if item in first:
            yield ValidationError(f"must not repeat an item ([{index}] repeats [{first[item]}])")
            return
        first[item] = index


def _required(
    validator: Validator, required: list[str], instance: object, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if not isinstance(instance, dict):
        return
    for name in required:
        if name not in instance:
            yield ValidationError("is required", path=[name])


def _additional_properties(
    validator: Validator, allowed: object, instance: object, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if allowed is not False or not isinstance(instance, dict):
        return
    known = schema.get("properties", {})
    expected = ", ".join(known)
    for name in instance:
        if name not in known:
            yield ValidationError(f"unknown field (known fields: {expected})", path=[name])


def _is_integer(checker: object, instance: object) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


_SELF_DESCRIBED: Final = frozenset({"pattern", "uniqueItems", "required", "additionalProperties"})

# jsonschema's extend() is untyped; the class it makes follows the Validator protocol.
_Validator: Final[type[Validator]] = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    validators={
        "pattern": _pattern,
        "items": _items,
        "uniqueItems": _unique_items,
        "required": _required,
        "additionalProperties": _additional_properties,
    },
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)

# Without "$schema": jsonschema picks the validator class of a referenced schema by it,
# which would drop the adaptations above inside every "$ref".
_SCHEMAS: Final = {
    name: {k: v for k, v in load_schema(name).items() if k != "$schema"} for name in SCHEMA_NAMES
}
_REGISTRY: Final = Registry().with_resources(
    (schema["$id"], DRAFT202012.create_resource(schema)) for schema in _SCHEMAS.values()
)
_VALIDATORS: Final = {
    name: _Validator(schema, registry=_REGISTRY) for name, schema in _SCHEMAS.items()
}


def _resolve(ref: str) -> Mapping[str, Any]:
    """A ``urn:avsec:schema:v1:<name>#/$defs/<def>`` reference, for the fast checks."""
    resolved: Any = _REGISTRY.resolver().lookup(ref).contents
    return resolved  # type: ignore[no-any-return]


_FAST: Final = {
    name: compile_flat(schema, _resolve, compiled_pattern) for name, schema in _SCHEMAS.items()
}


def is_certainly_valid(name: str, instance: object) -> bool:
    """True only when schema ``name`` certainly accepts ``instance`` (see ``_fast``)."""
    return _FAST[name](instance)


# --- messages ---------------------------------------------------------------------------


def _message(error: ValidationError) -> str:
    keyword = error.validator
    value: Any = error.validator_value
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    if keyword in _SELF_DESCRIBED:
        return error.message
    if keyword == "type":
        names = [value] if isinstance(value, str) else list(value)
        return _expected(schema, "must be " + " or ".join(_TYPE_NAMES.get(n, n) for n in names))
    if keyword == "enum":
        return "must be one of " + ", ".join(str(v) for v in value)
    if keyword == "const":
        return f"must be {show(value)}"
    if keyword == "maxLength":
        return f"must be at most {value} characters"
    if keyword == "minLength":
        return f"must be at least {value} characters"
    if keyword == "minItems":
        return f"must have at least {value} item{'s' if value != 1 else ''}"
    if keyword == "maxItems":
        return f"must have at most {value} items"
    if keyword == "minimum":
        return _expected(schema, f"must be at least {value}")
    if keyword == "maximum":
        return _expected(schema, f"must be at most {value}")
    return _expected(schema, f"is not valid ({keyword})")


def check(name: str, instance: object, root: str, prefix: Sequence[str] = ()) -> list[str]:
    """Problems of ``instance`` against schema ``name``: ``path: message``, one per path."""
    by_path: dict[str, str] = {}
    for error in _VALIDATORS[name].iter_errors(instance):  # type: ignore[arg-type]
        path = format_path([*prefix, *error.absolute_path], root)
        by_path.setdefault(path, _message(error))
        if len(by_path) > MAX_MESSAGES:
            break
    return [f"{path}: {message}" for path, message in by_path.items()]
