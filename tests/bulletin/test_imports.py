"""Each module imports on its own, in a fresh interpreter (no hidden import-order coupling)."""

from __future__ import annotations

import subprocess
import sys

import pytest

MODULES = [
    "exchange.bulletin",
    "exchange.vocab",
    "exchange.bulletin.validate",
    "exchange.bulletin._schema",
    "exchange.routing",
    "exchange.routing._model",
    "exchange.routing._recipients",
]


ALONE = """
import importlib, sys
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "exchange" or m.startswith("exchange.")]:
        del sys.modules[loaded]
    importlib.import_module(name)
"""


def test_imports_alone() -> None:
    """One fresh interpreter; every exchange module is unloaded before the next import."""
    subprocess.run([sys.executable, "-W", "error", "-c", ALONE, *MODULES], check=True)


@pytest.mark.parametrize(
    "module",
    [
        "exchange.bulletin",
        "exchange.vocab",
        "exchange.bulletin.validate",
        "exchange.routing",
    ],
)
def test_public_modules_declare_all(module: str) -> None:
    import importlib

    mod = importlib.import_module(module)
    for name in mod.__all__:
        assert hasattr(mod, name), name
