"""Each module imports on its own, in a fresh interpreter (no hidden import-order coupling)."""

from __future__ import annotations

import subprocess
import sys

import pytest

MODULES = [
    "exchange.bulletin",
    "exchange.bulletin.vocab",
    "exchange.bulletin.validate",
    "exchange.bulletin._schema",
    "exchange.routing",
    "exchange.routing._model",
    "exchange.routing._recipients",
]


@pytest.mark.parametrize("module", MODULES)
def test_imports_alone(module: str) -> None:
    subprocess.run([sys.executable, "-W", "error", "-c", f"import {module}"], check=True)


@pytest.mark.parametrize(
    "module",
    [
        "exchange.bulletin",
        "exchange.bulletin.vocab",
        "exchange.bulletin.validate",
        "exchange.routing",
    ],
)
def test_public_modules_declare_all(module: str) -> None:
    import importlib

    mod = importlib.import_module(module)
    for name in mod.__all__:
        assert hasattr(mod, name), name
