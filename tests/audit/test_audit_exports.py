"""Each audit module imports on its own and exports exactly what it declares."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

MODULES = ["exchange.audit", "exchange.audit.canonical", "exchange.audit.merkle"]


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    for attr in module.__all__:
        assert hasattr(module, attr), attr


def test_package_reexports_the_modules() -> None:
    package = importlib.import_module("exchange.audit")
    canonical = importlib.import_module("exchange.audit.canonical")
    merkle = importlib.import_module("exchange.audit.merkle")
    assert set(package.__all__) == set(canonical.__all__) | set(merkle.__all__)


@pytest.mark.parametrize("name", MODULES)
def test_imports_alone(name: str) -> None:
    subprocess.run([sys.executable, "-c", f"import {name}"], check=True)
