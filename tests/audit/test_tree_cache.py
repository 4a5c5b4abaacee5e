"""The server's in-memory tree answers exactly what the reference algorithms answer
(which tests/audit/test_merkle*.py check against pymerkle and RFC 9162)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.audit import merkle
from exchange.audit.tree import MerkleCache
from exchange.errors import InputError


def leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(n)]


def cache_of(hashes: list[bytes]) -> MerkleCache:
    c = MerkleCache()
    for h in hashes:
        c.append(h)
    return c


def test_every_small_tree_matches_the_reference() -> None:
    hashes = leaves(70)
    c = cache_of(hashes)
    for n in range(1, 71):
        assert c.root(n) == merkle.root(hashes[:n])
        for i in range(n):
            assert c.inclusion_path(i, n) == merkle.inclusion_path(hashes, i, n)
        for m in range(1, n + 1):
            assert c.consistency_path(m, n) == merkle.consistency_path(hashes, m, n)


@settings(max_examples=40, deadline=None)
@given(st.integers(71, 3000), st.data())
def test_large_trees_match_the_reference(n: int, data: st.DataObject) -> None:
    hashes = leaves(n)
    c = cache_of(hashes)
    size = data.draw(st.integers(1, n))
    index = data.draw(st.integers(0, size - 1))
    first = data.draw(st.integers(1, size))
    assert c.root(size) == merkle.root(hashes[:size])
    assert c.inclusion_path(index, size) == merkle.inclusion_path(hashes, index, size)
    assert c.consistency_path(first, size) == merkle.consistency_path(hashes, first, size)
    path = c.inclusion_path(index, size)
    assert merkle.verify_inclusion(hashes[index], index, size, path, c.root(size))


def test_bad_arguments() -> None:
    c = cache_of(leaves(5))
    for call in (
        lambda: c.inclusion_path(5, 5),
        lambda: c.inclusion_path(0, 6),
        lambda: c.consistency_path(0, 5),
        lambda: c.consistency_path(3, 2),
        lambda: c.append(b"short"),
    ):
        with pytest.raises(InputError):
            call()
    assert MerkleCache().root() == merkle.EMPTY_ROOT
