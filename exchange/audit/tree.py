"""An append-only Merkle tree kept in memory with every complete subtree's hash, so
that a server can answer inclusion and consistency proofs in O(log² n) hashes instead
of rehashing the whole log per request. A complete ("perfect") subtree never changes
once its last leaf is appended, which is what makes caching it sound."""

from __future__ import annotations

from exchange.audit.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    _consistency,
    _inclusion,
    _split,
    node_hash,
)
from exchange.errors import InputError

__all__ = ["MerkleCache"]


class MerkleCache:
    """``levels[h][j]`` is the root of the perfect subtree over leaves
    ``[j·2^h, (j+1)·2^h)``; ``levels[0]`` are the leaf hashes."""

    def __init__(self) -> None:
        self.levels: list[list[bytes]] = [[]]

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append(self, leaf_hash: bytes) -> None:
        if len(leaf_hash) != HASH_SIZE:
            raise InputError(f"leaf hash is not {HASH_SIZE} bytes")
        self.levels[0].append(leaf_hash)
        h = 0
        while len(self.levels[h]) % 2 == 0:
            if len(self.levels) == h + 1:
                self.levels.append([])
            pair = self.levels[h][-2:]
            self.levels[h + 1].append(node_hash(pair[0], pair[1]))
            h += 1

    def subtree_root(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) from cached perfect subtrees; O(log n) hashes for the ranges
        RFC 9162's recursion produces (``lo`` a multiple of the split size)."""
        n = hi - lo
        if n <= 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and lo % n == 0:
            return self.levels[n.bit_length() - 1][lo // n]
        k = _split(n) if n > 1 else 1
        return node_hash(self.subtree_root(lo, lo + k), self.subtree_root(lo + k, hi))

    def _size_ok(self, size: int) -> None:
        if not 0 < size <= self.size:
            raise InputError("tree size out of range")

    def root(self, size: int | None = None) -> bytes:
        n = self.size if size is None else size
        if n == 0:
            return EMPTY_ROOT
        self._size_ok(n)
        return self.subtree_root(0, n)

    def inclusion_path(self, index: int, size: int) -> list[bytes]:
        self._size_ok(size)
        if not 0 <= index < size:
            raise InputError("leaf index out of range")
        return _inclusion(self.subtree_root, index, size)

    def consistency_path(self, first: int, second: int) -> list[bytes]:
        self._size_ok(second)
        if not 0 < first <= second:
            raise InputError("first tree size out of range")
        return _consistency(self.subtree_root, first, second)
