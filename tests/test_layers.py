"""The layers of docs/architecture.md hold: no import cycle among ``exchange`` modules and
no import that points upward (issue 19). Only module-level imports count (those under
``if TYPE_CHECKING:`` too, since mypy follows them); an import inside a function is a
deliberate late edge, such as the CLI's server commands starting a node.

The graph is read from the source with ``ast``, so the test also fails on a cycle
that happens to import fine in one order."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import exchange

ROOT = Path(exchange.__file__).parent

#: cycles allowed to remain (none: a new one fails the test)
KNOWN_CYCLES: set[frozenset[str]] = set()

#: the server side: what an SDK client (client, console, bridges, reports, CLI) never imports
SERVER = ("exchange.api", "exchange.service", "exchange.store", "exchange.node")

#: importer prefix -> prefixes it must not import (PROTOCOL layers, common.md)
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "exchange.store": ("exchange.service", "exchange.api", "exchange.node", "exchange.cli"),
    "exchange.service": (
        "exchange.api",
        "exchange.node",
        "exchange.cli",
        "exchange.client",
        "exchange.console",
    ),
    "exchange.api": ("exchange.node", "exchange.cli", "exchange.client", "exchange.console"),
    "exchange.client": SERVER,
    "exchange.console": SERVER,
    "exchange.bridges": SERVER,
    "exchange.reports": SERVER,
}

#: what crypto may import of the package besides itself: pure helpers only
CRYPTO_MAY_IMPORT = ("exchange.crypto", "exchange.errors", "exchange.vocab")

#: the CLI modules that run a node or its database (init, serve, demo, migrate); the rest
#: are SDK clients
CLI_NODE_COMMANDS = {"exchange.cli.server_cmds", "exchange.cli.demo", "exchange.cli.migrate"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = list(rel.parts)
        if "migrations" in parts:
            continue
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _toplevel(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports run when the module loads: the body, and inside if/try blocks there."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            yield from _toplevel(node.body)
            yield from _toplevel(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _toplevel(block)
            for handler in node.handlers:
                yield from _toplevel(handler.body)


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    is_pkg = MODULES[module].name == "__init__.py"
    base = module.split(".")
    base = base if is_pkg else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _anywhere(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import of a module, those inside functions too."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node


def imports_of(module: str, *, late: bool = False) -> set[str]:
    """The ``exchange`` modules ``module`` imports when it loads (with ``late``, also
    those it imports inside functions)."""
    tree = ast.parse(MODULES[module].read_text(), str(MODULES[module]))
    out: set[str] = set()
    for node in _anywhere(tree) if late else _toplevel(tree.body):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            target = _resolve(module, node)
            # ``from pkg import mod`` names a submodule; ``from mod import name`` does not
            names = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES]
            names = names or [target]
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name.startswith("exchange") and name != module:
                out.add(name)
    return out


def graph() -> dict[str, set[str]]:
    return {m: imports_of(m) for m in MODULES}


def _cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def upward(edges: dict[str, set[str]]) -> list[str]:
    bad = []
    for src, targets in sorted(edges.items()):
        for dst in sorted(targets):
            if _under(src, "exchange.crypto"):
                if not any(_under(dst, ok) for ok in CRYPTO_MAY_IMPORT):
                    bad.append(f"{src} -> {dst}")
                continue
            if _under(src, "exchange.cli") and src not in CLI_NODE_COMMANDS:
                if any(_under(dst, s) for s in SERVER):
                    bad.append(f"{src} -> {dst}")
                continue
            for layer, banned in FORBIDDEN.items():
                if _under(src, layer) and any(_under(dst, b) for b in banned):
                    bad.append(f"{src} -> {dst}")
    return bad


def test_no_import_cycles() -> None:
    cycles = [c for c in _cycles(graph()) if frozenset(c) not in KNOWN_CYCLES]
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(sorted(c)) for c in cycles)


def test_no_upward_imports() -> None:
    bad = upward(graph())
    assert not bad, "upward imports:\n" + "\n".join(bad)


#: packages whose imports inside functions count too: nothing there needs a late edge
LATE_EDGES_COUNT = ("exchange.console",)


def test_no_late_import_cycles() -> None:
    """In these packages a function-level import is no way out of a cycle either (the
    console's views once imported its app, which imported them in a function)."""
    inside = {m for m in MODULES if any(_under(m, p) for p in LATE_EDGES_COUNT)}
    edges = {m: imports_of(m, late=True) & inside for m in inside}
    cycles = _cycles(edges)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(sorted(c)) for c in cycles)


def test_the_checks_can_fail() -> None:
    """The detectors see a planted cycle and a planted upward edge."""
    planted = {
        "exchange.a": {"exchange.b"},
        "exchange.b": {"exchange.c"},
        "exchange.c": {"exchange.a"},
    }
    assert _cycles(planted) == [{"exchange.a", "exchange.b", "exchange.c"}]
    assert upward({"exchange.store.x": {"exchange.service.y"}}) == [
        "exchange.store.x -> exchange.service.y"
    ]
    assert upward({"exchange.crypto.x": {"exchange.store.y"}}) == [
        "exchange.crypto.x -> exchange.store.y"
    ]
    assert upward({"exchange.cli.keys": {"exchange.service"}}) == [
        "exchange.cli.keys -> exchange.service"
    ]
    assert upward({"exchange.cli.server_cmds": {"exchange.node"}}) == []
    # the graph is read correctly: a known real edge is seen
    assert "exchange.crypto.jws" in imports_of("exchange.crypto.tokens")
    # a late edge is seen only when asked for (the CLI's server commands start a node
    # from inside a function)
    late = imports_of("exchange.cli.server_key", late=True) - imports_of("exchange.cli.server_key")
    assert "exchange.node.setup" in late
