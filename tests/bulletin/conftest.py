"""Shared loaders for the bulletin test vectors in tests/vectors/bulletins/."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from exchange.bulletin import METADATA_FIELDS

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "bulletins"
VALID_NAMES = sorted(p.stem for p in (VECTORS / "valid").glob("*.json"))


def load_valid(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / "valid" / f"{name}.json").read_text("utf-8"))
    return data


def load_invalid_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((VECTORS / "invalid.json").read_text("utf-8"))["cases"]
    return cases


def _walk(doc: Any, pointer: str) -> tuple[Any, str]:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    for part in parts[:-1]:
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc, parts[-1]


def apply_case(case: dict[str, Any]) -> dict[str, Any]:
    """The case's base bulletin with its ``set`` and ``remove`` JSON Pointers applied."""
    doc = copy.deepcopy(load_valid(case["base"]))
    for pointer in case.get("remove", []):
        parent, key = _walk(doc, pointer)
        del parent[key]
    for pointer, value in case.get("set", {}).items():
        parent, key = _walk(doc, pointer)
        if isinstance(parent, list):
            parent[int(key)] = value
        else:
            parent[key] = value
    return doc


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``valid_name`` runs over every valid vector, ``invalid_case`` over the bad table."""
    if "valid_name" in metafunc.fixturenames:
        metafunc.parametrize("valid_name", VALID_NAMES)
    if "invalid_case" in metafunc.fixturenames:
        cases = load_invalid_cases()
        metafunc.parametrize("invalid_case", cases, ids=[c["name"] for c in cases])
    if "routing_case" in metafunc.fixturenames:
        cases = [c for c in load_invalid_cases() if _top_field(c["error"]) in METADATA_FIELDS]
        metafunc.parametrize("routing_case", cases, ids=[c["name"] for c in cases])


def _top_field(path: str) -> str:
    return path.split(".")[0].split("[")[0]


@pytest.fixture
def valid() -> Callable[[str], dict[str, Any]]:
    """A loader: ``valid("advisory")`` is a fresh copy of that vector."""
    return load_valid


@pytest.fixture
def build_case() -> Callable[[dict[str, Any]], dict[str, Any]]:
    return apply_case
