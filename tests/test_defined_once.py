"""The protocol's vocabulary and the crypto core's boundary, checked on the source (issue 19).

A rule written twice drifts: each pattern and closed list below is defined in
``exchange/vocab.py`` and imported everywhere else, and nothing outside ``exchange.crypto``
reaches into its private modules."""

from __future__ import annotations

import ast
import pathlib

import exchange

ROOT = pathlib.Path(exchange.__file__).parent
SOURCES = sorted(p for p in ROOT.rglob("*.py") if "migrations" not in p.parts)


def _module(path: pathlib.Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: pathlib.Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    out += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    return out


def test_no_private_crypto_module_imported_from_outside() -> None:
    bad = [
        (_module(p), m)
        for p in SOURCES
        if not _module(p).startswith("exchange.crypto")
        for m in _imports(p)
        if m.startswith("exchange.crypto._")
    ]
    assert not bad, bad
    assert len(SOURCES) > 100
