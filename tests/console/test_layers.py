"""The console is an SDK client: it imports the SDK and the pure packages, never the
server's modules (service, store, api, server), so it cannot bypass the protocol."""

from __future__ import annotations

import ast
from pathlib import Path

import exchange

ROOT = Path(exchange.__file__).parent
ALLOWED = (
    "exchange.client",
    "exchange.bulletin",
    "exchange.crypto",
    "exchange.audit",
    "exchange.console",
    "exchange.errors",
    "exchange.reports",  # the report renderers: pure, on the SDK's report document
    "exchange.vocab",
)
FORBIDDEN = ("exchange.service", "exchange.store", "exchange.api", "exchange.node")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return {n for n in names if n == "exchange" or n.startswith("exchange.")}


def test_console_imports_only_the_sdk_and_pure_packages() -> None:
    files = sorted((ROOT / "console").rglob("*.py"))
    assert len(files) >= 8
    for path in files:
        for name in _imports(path):
            assert name.startswith(ALLOWED), f"{path.name} imports {name}"
            assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"


def test_report_renderers_are_pure() -> None:
    for path in sorted((ROOT / "reports").rglob("*.py")):
        for module in _imports(path):
            assert not module.startswith(FORBIDDEN), f"reports/{path.name} imports {module}"


def test_console_sdk_modules_stay_clients() -> None:
    for name in ("record.py", "preview.py"):
        for module in _imports(ROOT / "client" / name):
            assert not module.startswith(FORBIDDEN), f"client/{name} imports {module}"


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from exchange.store import db\nimport exchange.api.app\n")
    assert _imports(bad) == {"exchange.store", "exchange.api.app"}


def test_nothing_templated_bypasses_autoescape() -> None:
    """Bulletin content is hostile: no template or module may mark text as safe."""
    console = ROOT / "console"
    files = [*console.rglob("*.html"), *console.rglob("*.py")]
    assert len(files) > 15
    for path in files:
        text = path.read_text("utf-8")
        for banned in ("|safe", "| safe", "autoescape false", "Markup(", "autoescape=False"):
            assert banned not in text, f"{path.name}: {banned}"
    script = (console / "static" / "console.js").read_text("utf-8")
    for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "document.write"):
        assert banned not in script, banned
