"""Every module imports on its own (no import cycle that only works in one order), and
public modules declare ``__all__``. Each module is imported with every ``exchange``
module forgotten first; third-party libraries stay loaded, so this runs in seconds."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import subprocess
import sys

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


# The bridges are SDK clients (STYLE §18): they import the SDK and pure packages only.
_SERVER_SIDE = ("exchange.service", "exchange.store", "exchange.api", "exchange.node")
_BRIDGES = [m for m in MODULES if m.startswith(("exchange.bridges", "exchange.cli.interop"))]


@pytest.mark.parametrize("name", _BRIDGES)
def test_bridges_import_no_server_side_module(name: str) -> None:
    import ast

    source = importlib.util.find_spec(name).origin  # type: ignore[union-attr]
    assert source is not None
    with open(source, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m.startswith(_SERVER_SIDE)], name
    assert len(_BRIDGES) >= 7
