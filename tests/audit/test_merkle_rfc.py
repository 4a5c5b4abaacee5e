"""RFC 9162 known answers, tamper cases and argument checks for exchange.audit.merkle.

The known answers are the reference tree of Certificate Transparency
(google/certificate-transparency, ``cpp/merkletree/merkle_tree_test.cc``): RFC 6962
and RFC 9162 share the tree, so an auditor's off-the-shelf verifier agrees with us.
That file counts leaves from 1; the indices here are converted to 0-based.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

import pytest

from exchange.audit.merkle import (
    EMPTY_ROOT,
    consistency_path,
    inclusion_path,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)
from exchange.errors import InputError

CT_INPUTS = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (0-based leaf index, tree size, path)
CT_PATHS = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
# (first, second, proof)
CT_PROOFS = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

CT_LEAVES = [leaf_hash(x) for x in CT_INPUTS]
JUNK = hashlib.sha256(b"junk").digest()


def _leaves(n: int, tag: str = "e") -> list[bytes]:
    return [leaf_hash(f"{tag}{i}".encode()) for i in range(n)]


# ---- known answers -------------------------------------------------------------


def test_primitives() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root([]) == EMPTY_ROOT
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert node_hash(a, b) != node_hash(b, a)
    # Domain separation: a leaf whose bytes are a node's preimage is not that node.
    assert leaf_hash(a + b) != node_hash(a, b)


def test_ct_roots() -> None:
    assert [root(CT_LEAVES[:n]).hex() for n in range(1, 9)] == CT_ROOTS


@pytest.mark.parametrize(("index", "size", "path"), CT_PATHS)
def test_ct_inclusion_paths(index: int, size: int, path: list[str]) -> None:
    got = inclusion_path(CT_LEAVES, index, size)
    assert [h.hex() for h in got] == path
    assert verify_inclusion(CT_LEAVES[index], index, size, got, bytes.fromhex(CT_ROOTS[size - 1]))


@pytest.mark.parametrize(("first", "second", "proof"), CT_PROOFS)
def test_ct_consistency_proofs(first: int, second: int, proof: list[str]) -> None:
    got = consistency_path(CT_LEAVES, first, second)
    assert [h.hex() for h in got] == proof
    r1, r2 = (bytes.fromhex(CT_ROOTS[s - 1]) for s in (first, second))
    assert verify_consistency(first, second, r1, r2, got)


# ---- tamper cases: every proof of every small tree, each broken several ways ---------


def _path_mutations(path: list[bytes]) -> list[list[bytes]]:
    """Truncated, extended and altered variants of a valid path."""
    variants: list[list[bytes]] = [
        [*path, JUNK],
        [JUNK, *path],
        [*path, path[-1]] if path else [JUNK],
    ]
    if path:
        variants += [path[:-1], path[1:]]
    for i in range(len(path)):
        variants.append([*path[:i], JUNK, *path[i + 1 :]])
    if len(path) > 1:
        variants.append([path[1], path[0], *path[2:]])
    return variants


@pytest.mark.parametrize("size", range(1, 33))
def test_inclusion_tampering_fails(size: int) -> None:
    leaves = _leaves(size)
    good_root = root(leaves)
    for index in range(size):
        path = inclusion_path(leaves, index)
        leaf = leaves[index]
        assert verify_inclusion(leaf, index, size, path, good_root)
        # a tampered leaf
        assert not verify_inclusion(leaf_hash(b"tampered"), index, size, path, good_root)
        # a wrong index
        for wrong in {index - 1, index + 1, index ^ 2, size, -1} - {index}:
            assert not verify_inclusion(leaf, wrong, size, path, good_root), wrong
        # a wrong tree size (size ± 1 may share the proof's shape: the signed tree head,
        # not the proof, binds the root to its size)
        for wrong in {size * 2, size // 2} - {size}:
            assert not verify_inclusion(leaf, index, wrong, path, good_root), wrong
        # a wrong root
        assert not verify_inclusion(leaf, index, size, path, EMPTY_ROOT)
        # a truncated, extended or altered path
        for bad in _path_mutations(path):
            assert not verify_inclusion(leaf, index, size, bad, good_root), bad


@pytest.mark.parametrize("size", range(2, 33))
def test_reordered_pair_fails(size: int) -> None:
    leaves = _leaves(size)
    good_root = root(leaves)
    for i in range(size - 1):
        swapped = [*leaves[:i], leaves[i + 1], leaves[i], *leaves[i + 2 :]]
        assert root(swapped) != good_root
        # the swapped log's own proofs do not verify against the signed root ...
        for j in (i, i + 1):
            assert not verify_inclusion(swapped[j], j, size, inclusion_path(swapped, j), good_root)
        # ... nor does a true proof with the two leaves exchanged
        assert not verify_inclusion(leaves[i + 1], i, size, inclusion_path(leaves, i), good_root)


@pytest.mark.parametrize("second", range(2, 25))
def test_consistency_tampering_fails(second: int) -> None:
    leaves = _leaves(second)
    r2 = root(leaves)
    for first in range(1, second):
        r1 = root(leaves[:first])
        path = consistency_path(leaves, first, second)
        assert verify_consistency(first, second, r1, r2, path)
        # a rewritten prefix: the log changed leaf j < first, then grew to `second`
        for j in range(first):
            rewritten = [*leaves[:j], leaf_hash(b"rewritten"), *leaves[j + 1 :]]
            r2x = root(rewritten)
            assert not verify_consistency(
                first, second, r1, r2x, consistency_path(rewritten, first, second)
            )
            assert not verify_consistency(first, second, r1, r2x, path)
        # a truncated, extended or altered path (and the empty one)
        for bad in [*_path_mutations(path), []]:
            assert not verify_consistency(first, second, r1, r2, bad), bad
        # wrong sizes, wrong or swapped roots
        for f in {first - 1, first + 1, first ^ 2, 0} - {first}:
            assert not verify_consistency(f, second, r1, r2, path), f
        for s in {second * 2, second // 2} - {second}:
            assert not verify_consistency(first, s, r1, r2, path), s
        assert not verify_consistency(first, second, r2, r1, path)
        assert not verify_consistency(first, second, JUNK, r2, path)
        assert not verify_consistency(first, second, r1, JUNK, path)


def test_equal_sizes() -> None:
    leaves = _leaves(5)
    r = root(leaves)
    assert consistency_path(leaves, 5) == []
    assert verify_consistency(5, 5, r, r, [])
    assert not verify_consistency(5, 5, r, root(leaves[:4]), [])
    assert not verify_consistency(5, 5, r, r, [r])


def test_truncated_log_is_not_consistent() -> None:
    """A log that dropped its tail and grew again must not pass as an extension."""
    leaves = _leaves(10)
    r1 = root(leaves[:7])
    forked = [*leaves[:5], *_leaves(5, "fork")]
    path = consistency_path(forked, 7)
    assert not verify_consistency(7, 10, r1, root(forked), path)


# ---- untrusted input to the verifiers: False, never an exception ---------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: verify_inclusion(b"short", 0, 1, [], b"short"),
        lambda: verify_inclusion(JUNK, 0, 0, [], JUNK),
        lambda: verify_inclusion(JUNK, 0, -1, [], JUNK),
        lambda: verify_inclusion(JUNK, -1, 2, [JUNK], JUNK),
        lambda: verify_inclusion(JUNK, 0, 2, [b"short"], JUNK),
        lambda: verify_inclusion(JUNK, 0, 2, ["not bytes"], JUNK),  # type: ignore[list-item]
        lambda: verify_inclusion(JUNK, "0", 1, [], JUNK),  # type: ignore[arg-type]
        lambda: verify_inclusion(JUNK, 0, 1 << 70, [JUNK] * 200, JUNK),
        lambda: verify_consistency(0, 1, JUNK, JUNK, []),
        lambda: verify_consistency(2, 1, JUNK, JUNK, [JUNK]),
        lambda: verify_consistency(-2, -1, JUNK, JUNK, [JUNK]),
        lambda: verify_consistency(1, 2, b"", JUNK, [JUNK]),
        lambda: verify_consistency(1, 2, JUNK, JUNK, [b"short"]),
        lambda: verify_consistency(1, 2, JUNK, JUNK, []),
        lambda: verify_consistency(1, 2, JUNK, JUNK, None),  # type: ignore[arg-type]
        lambda: verify_consistency(3, 1 << 70, JUNK, JUNK, [JUNK] * 200),
    ],
)
def test_verifiers_refuse_garbage(call: Callable[[], bool]) -> None:
    assert call() is False


# ---- impossible requests to the generators: InputError --------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda L: inclusion_path(L, 4),
        lambda L: inclusion_path(L, -1),
        lambda L: inclusion_path(L, 0, 0),
        lambda L: inclusion_path(L, 0, 5),
        lambda L: inclusion_path(L, 3, 3),
        lambda L: inclusion_path([], 0),
        lambda L: inclusion_path(L, True),
        lambda L: inclusion_path(L, 0, 2.0),  # type: ignore[arg-type]
        lambda L: inclusion_path([*L[:2], b"short"], 0),
        lambda L: consistency_path(L, 0),
        lambda L: consistency_path(L, 3, 2),
        lambda L: consistency_path(L, 5),
        lambda L: consistency_path(L, 1, 5),
        lambda L: consistency_path(L, -1, 2),
        lambda L: consistency_path([], 1),
        lambda L: consistency_path([*L, b"x" * 31], 1),
        lambda L: root([b"x" * 33]),
    ],
)
def test_generators_refuse_impossible_requests(call: Callable[[list[bytes]], object]) -> None:
    with pytest.raises(InputError):
        call(_leaves(4))


def test_proof_of_a_prefix_ignores_later_leaves() -> None:
    leaves = _leaves(20)
    assert inclusion_path(leaves, 3, 9) == inclusion_path(leaves[:9], 3)
    assert consistency_path(leaves, 4, 9) == consistency_path(leaves[:9], 4)


# ---- cost: proofs over 100,000 leaves, no quadratic work ---------------------------


def test_100k_leaves_is_fast() -> None:
    n = 100_000
    leaves = [leaf_hash(i.to_bytes(8, "big")) for i in range(n)]
    t0 = time.perf_counter()
    r = root(leaves)
    path = inclusion_path(leaves, 54_321)
    t1 = time.perf_counter()
    cpath = consistency_path(leaves, 77_777)
    t2 = time.perf_counter()
    assert verify_inclusion(leaves[54_321], 54_321, n, path, r)
    assert verify_consistency(77_777, n, root(leaves[:77_777]), r, cpath)
    assert len(path) == 17
    # Each is about 0.1 s here; 1 s leaves room for a loaded CI machine.
    assert t1 - t0 < 1.0
    assert t2 - t1 < 1.0
