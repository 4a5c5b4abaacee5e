"""Our Merkle tree against pymerkle, an independent implementation used as an oracle.

How pymerkle 7 is configured, and why its output is comparable to RFC 9162:

- ``InmemoryTree(algorithm="sha256", disable_security=False)``.  pymerkle's
  "security" mode is RFC 9162's domain separation: leaves hash as
  ``SHA-256(0x00 || data)`` and nodes as ``SHA-256(0x01 || left || right)``.  It is
  on by default; ``disable_security=True`` would drop both prefixes and give roots
  that are *not* RFC 9162, so we pin it explicitly and assert the prefixes below.
- ``InmemoryTree`` stores entries as given (bytes, no re-encoding), so
  ``append_entry(e)`` hashes exactly ``0x00 || e``.
- pymerkle counts leaves from 1; we count from 0 (RFC 9162's ``leaf_index``).
- ``get_state`` is deprecated in pymerkle 7 (a DeprecationWarning, an error under our
  pytest settings); ``get_root(size)`` is the same value.
- Its inclusion proof ``path`` is ``[leaf hash] + siblings bottom-up``: the RFC 9162
  path is ``path[1:]``.
- Its consistency proof is another format: ``path`` is ``[base] + siblings`` bottom-up,
  ``rule`` says on which side each sibling joins, and ``subset`` marks the hashes that
  fold to the first root.  Where RFC 9162 stops (``first`` equals the size of a left
  subtree, and descends into it), pymerkle descends into the right subtree instead,
  down its left edge to the leaf at ``first``.  Folding that leaf with its left-edge
  siblings (pymerkle's own hasher and rule bits) gives the RFC's hash of that right
  subtree; the left subtree is pymerkle's sibling marked 1, which the RFC omits when
  the first tree is the leftmost subtree (the verifier already holds it).  With that
  rewriting, :func:`_rfc_consistency_from_pymerkle`, every proof compares exactly.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymerkle import InmemoryTree  # type: ignore[import-untyped]

from exchange.audit.merkle import (
    consistency_path,
    inclusion_path,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

MAX = 64


def _oracle(entries: list[bytes]) -> InmemoryTree:
    tree = InmemoryTree(algorithm="sha256", disable_security=False)
    for entry in entries:
        tree.append_entry(entry)
    return tree


def _entries(n: int, tag: bytes = b"entry") -> list[bytes]:
    return [tag + b"-" + str(i).encode() for i in range(n)]


@pytest.fixture(scope="module")
def entries() -> list[bytes]:
    return _entries(MAX)


@pytest.fixture(scope="module")
def leaves(entries: list[bytes]) -> list[bytes]:
    return [leaf_hash(e) for e in entries]


@pytest.fixture(scope="module")
def oracle(entries: list[bytes]) -> InmemoryTree:
    return _oracle(entries)


def _rfc_consistency_from_pymerkle(proof: Any) -> list[bytes]:
    """RFC 9162 PROOF(m, D[n]) rewritten from pymerkle's consistency proof."""
    rule: list[int] = proof.rule
    subset: list[int] = proof.subset
    path: list[bytes] = proof.path
    if proof.prior_size == proof.size:
        return []  # pymerkle gives [root]; the RFC proof of equal sizes is empty
    # Bottom-up: the leaf at `first`, the left-edge siblings inside the right subtree
    # (mask 0), then the left subtree (the first mask 1), then the levels above.
    j = subset.index(1)
    right = path[0]
    for bit, sibling in zip(rule[: j - 1], path[1:j], strict=True):
        right = (
            proof.hasher.hash_pair(right, sibling)
            if bit == 0
            else proof.hasher.hash_pair(sibling, right)
        )
    first_is_leftmost = not any(subset[j + 1 :])  # RFC's b is still true
    left = [] if first_is_leftmost else [path[j]]
    return [*left, right, *path[j + 1 :]]


def test_oracle_hashes_as_rfc9162(oracle: InmemoryTree, entries: list[bytes]) -> None:
    assert oracle.leaf_prefix == b"\x00"
    assert oracle.node_prefix == b"\x01"
    assert oracle.hash_empty() == hashlib.sha256(b"").digest()
    assert oracle.get_leaf(1) == hashlib.sha256(b"\x00" + entries[0]).digest()
    left, right = oracle.get_leaf(1), oracle.get_leaf(2)
    assert oracle.get_root(2) == hashlib.sha256(b"\x01" + left + right).digest()


def test_leaf_hashes_match(oracle: InmemoryTree, leaves: list[bytes]) -> None:
    assert [oracle.get_leaf(i + 1) for i in range(MAX)] == leaves


@pytest.mark.parametrize("size", range(1, MAX + 1))
def test_roots_and_inclusion_paths(oracle: InmemoryTree, leaves: list[bytes], size: int) -> None:
    expected_root = oracle.get_root(size)
    assert root(leaves[:size]) == expected_root
    for index in range(size):
        proof = oracle.prove_inclusion(index + 1, size)
        assert proof.path[0] == leaves[index]
        path = inclusion_path(leaves, index, size)
        assert path == proof.path[1:]
        assert inclusion_path(leaves[:size], index) == path
        assert verify_inclusion(leaves[index], index, size, path, expected_root)
        proof.verify(leaves[index], expected_root, index=index + 1, size=size)


def test_consistency_every_pair(oracle: InmemoryTree, leaves: list[bytes]) -> None:
    roots = [root(leaves[:n]) for n in range(MAX + 1)]
    for n in range(1, MAX + 1):
        for m in range(1, n + 1):
            path = consistency_path(leaves, m, n)
            assert verify_consistency(m, n, roots[m], roots[n], path), (m, n)
            assert consistency_path(leaves[:n], m) == path
            if m == n:
                assert path == []
            proof = oracle.prove_consistency(m, n)
            proof.verify(roots[m], roots[n], prior_size=m, later_size=n)
            assert path == _rfc_consistency_from_pymerkle(proof), (m, n)


@settings(max_examples=25, deadline=None)
@given(
    size=st.integers(min_value=MAX + 1, max_value=3000),
    data=st.data(),
    salt=st.binary(max_size=8),
)
def test_random_larger_trees(size: int, data: st.DataObject, salt: bytes) -> None:
    entries = _entries(size, salt)
    leaves = [leaf_hash(e) for e in entries]
    tree = _oracle(entries)
    expected_root = tree.get_root()
    assert root(leaves) == expected_root

    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    path = inclusion_path(leaves, index)
    assert path == tree.prove_inclusion(index + 1).path[1:]
    assert verify_inclusion(leaves[index], index, size, path, expected_root)

    first = data.draw(st.integers(min_value=1, max_value=size), label="first")
    first_root = root(leaves[:first])
    assert first_root == tree.get_root(first)
    cpath = consistency_path(leaves, first)
    assert verify_consistency(first, size, first_root, expected_root, cpath)
    proof = tree.prove_consistency(first, size)
    proof.verify(first_root, expected_root, prior_size=first, later_size=size)
    assert cpath == _rfc_consistency_from_pymerkle(proof)
