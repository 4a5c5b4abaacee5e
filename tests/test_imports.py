"""Every module imports on its own (no import cycle that only works in one order), and
public modules declare ``__all__``. Each module is imported with every ``exchange``
module forgotten first; third-party libraries stay loaded, so this runs in seconds."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import exchange

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(exchange.__path__, "exchange.")
    if ".migrations" not in m.name
)

_SCRIPT = """
import importlib, sys, traceback
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "exchange" or m.startswith("exchange.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        failed.append(name + ": " + traceback.format_exc(limit=3))
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_every_module_imports_alone() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, *MODULES], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert len(MODULES) > 40


@pytest.mark.parametrize("name", [m for m in MODULES if not m.rsplit(".", 1)[-1].startswith("_")])
def test_public_modules_declare_all(name: str) -> None:
    module = importlib.import_module(name)
    assert isinstance(getattr(module, "__all__", None), (list, tuple)), f"{name} has no __all__"
    for public in module.__all__:
        assert hasattr(module, public), f"{name}.__all__ names missing {public}"


def _imported(source: str) -> list[str]:
    """The modules a source text imports (also those imported inside functions)."""
    import ast

    tree = ast.parse(source)
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    return imported


def _imports(name: str) -> list[str]:
    origin = importlib.util.find_spec(name).origin  # type: ignore[union-attr]
    assert origin is not None
    with open(origin, encoding="utf-8") as f:
        return _imported(f.read())


# The bridges are SDK clients (STYLE §18): they import the SDK and pure packages only.
_SERVER_SIDE = ("exchange.service", "exchange.store", "exchange.api", "exchange.node")
_BRIDGES = [m for m in MODULES if m.startswith(("exchange.bridges", "exchange.cli.interop"))]


@pytest.mark.parametrize("name", _BRIDGES)
def test_bridges_import_no_server_side_module(name: str) -> None:
    assert not [m for m in _imports(name) if m.startswith(_SERVER_SIDE)], name
    assert len(_BRIDGES) >= 7


# The API layer parses, calls the service and formats; it never reaches the store
# (issue 19: API -> service -> store, no layer skipped).
_API = [m for m in MODULES if m.startswith("exchange.api.")]
_API += [  # also if exchange/api were a namespace package again, which walk_packages skips
    f"exchange.api.{p.stem}"
    for p in (Path(exchange.__file__).parent / "api").glob("*.py")
    if p.stem != "__init__" and f"exchange.api.{p.stem}" not in _API
]


def _store_imports(source: str) -> list[str]:
    imported = _imported(source)
    return [m for m in imported if m == "exchange.store" or m.startswith("exchange.store.")]


@pytest.mark.parametrize("name", _API)
def test_the_api_layer_imports_no_store_module(name: str) -> None:
    origin = importlib.util.find_spec(name).origin  # type: ignore[union-attr]
    assert origin is not None
    with open(origin, encoding="utf-8") as f:
        store = _store_imports(f.read())
    assert not store, f"{name} imports {store}: go through a service function"
    assert len(_API) >= 10


@pytest.mark.parametrize(
    "source",
    [
        "from exchange.store import bulletins",
        "import exchange.store.db as d",
        "def f():\n    from exchange.store.bulletins import inbox_rows_txn",
        "import exchange.store",
    ],
)
def test_the_api_layer_check_catches_a_store_import(source: str) -> None:
    assert _store_imports(source)
    assert not _store_imports("from exchange.service import stream\nimport exchange.storeroom")
