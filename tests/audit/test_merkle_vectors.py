"""The known-answer trees of tests/vectors/merkle.json, asserted against the code.

The file is data: if the tree or the leaf encoding ever changes, these fail until a
reviewer regenerates it (``python tests/vectors/merkle_gen.py``) on purpose.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from exchange.audit import (
    EMPTY_ROOT,
    Frontier,
    canonical_json,
    consistency_path,
    inclusion_path,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).parents[1] / "vectors"
DOC: dict[str, Any] = json.loads((VECTORS / "merkle.json").read_text(encoding="utf-8"))
TREES = {t["name"]: t for t in DOC["trees"]}


def _hashes(hexes: list[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in hexes]


def test_empty_root() -> None:
    assert bytes.fromhex(DOC["empty_root"]) == EMPTY_ROOT


def test_ct_reference_tree_is_the_published_one() -> None:
    roots = {r["size"]: r["root"] for r in TREES["ct-reference"]["roots"]}
    assert roots[8] == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


@pytest.mark.parametrize("name", sorted(TREES))
def test_tree(name: str) -> None:
    tree = TREES[name]
    entries = _hashes(tree["entries"])
    if "objects" in tree:
        assert [canonical_json(o) for o in tree["objects"]] == entries
    leaves = [leaf_hash(e) for e in entries]
    assert leaves == _hashes(tree["leaf_hashes"])

    roots = {r["size"]: bytes.fromhex(r["root"]) for r in tree["roots"]}
    for size, expected in roots.items():
        assert root(leaves[:size]) == expected
        assert Frontier.from_leaf_hashes(leaves[:size]).root() == expected

    for case in tree["inclusion"]:
        i, n, path = case["index"], case["size"], _hashes(case["path"])
        assert inclusion_path(leaves, i, n) == path
        assert verify_inclusion(leaves[i], i, n, path, root(leaves[:n]))

    for case in tree["consistency"]:
        m, n, path = case["first"], case["second"], _hashes(case["path"])
        assert consistency_path(leaves, m, n) == path
        assert verify_consistency(m, n, root(leaves[:m]), root(leaves[:n]), path)


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("merkle_gen", VECTORS / "merkle_gen.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_file_is_what_the_generator_writes() -> None:
    """Catches a hand edit of the file, or a generator change not yet regenerated."""
    rendered: str = _generator().render()
    assert rendered == (VECTORS / "merkle.json").read_text(encoding="utf-8")
