"""The Merkle tree of the audit log, RFC 9162 §2.1 exactly (PROTOCOL §8).

Leaves hash as ``SHA-256(0x00 || entry)`` and inner nodes as
``SHA-256(0x01 || left || right)``; the prefixes keep a leaf from ever colliding with
an inner node.  A tree of ``n > 1`` leaves splits at ``k``, the largest power of two
below ``n``.  Paths and proofs are RFC 9162 §2.1.3.1 / §2.1.4.1 (siblings from the
bottom up), and the verifiers follow §2.1.3.2 / §2.1.4.2 step by step, so any
RFC 9162 (or RFC 6962) verifier accepts what this module produces.

Everything here is pure: hashes in, hashes out.  Generators take the leaf hashes
already in memory and raise :class:`~exchange.errors.InputError` for impossible
requests; verifiers take untrusted data and only ever return ``False``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from exchange.errors import InputError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Frontier",
    "consistency_path",
    "inclusion_path",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]

#: Bytes in every hash of the tree (SHA-256).
HASH_SIZE = 32
#: MTH of the empty tree: SHA-256 of the empty string (RFC 9162 §2.1.1).
EMPTY_ROOT = hashlib.sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_B64URL_HASH = re.compile(r"[A-Za-z0-9_-]{43}")  # 32 bytes, unpadded


def leaf_hash(entry: bytes) -> bytes:
    """Hash one log entry (its exact bytes) as a leaf: ``SHA-256(0x00 || entry)``."""
    return hashlib.sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash two child hashes into their parent: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (``n > 1``): RFC 9162's ``k``."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_leaves(leaf_hashes: Sequence[bytes], size: int) -> None:
    """A leaf of the wrong length would yield a well-formed but meaningless tree."""
    for i in range(size):
        if len(leaf_hashes[i]) != HASH_SIZE:
            raise InputError(f"leaf hash {i} is not {HASH_SIZE} bytes")


def _check_int(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InputError(f"{name} must be an integer")
    return value


def _subtree_root(leaf_hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]), bottom-up in O(hi - lo) hashes without recursion.

    Pairing each level from the left and lifting an odd last node unchanged builds
    exactly the RFC 9162 tree (left subtree the largest power of two).
    """
    if hi == lo:
        return EMPTY_ROOT
    level = list(leaf_hashes[lo:hi])
    sha256 = hashlib.sha256
    while len(level) > 1:
        paired = [
            sha256(_NODE_PREFIX + level[i] + level[i + 1]).digest()
            for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over all of ``leaf_hashes`` (RFC 9162 §2.1.1); ``EMPTY_ROOT`` for none."""
    _check_leaves(leaf_hashes, len(leaf_hashes))
    return _subtree_root(leaf_hashes, 0, len(leaf_hashes))


def inclusion_path(
    leaf_hashes: Sequence[bytes], index: int, size: int | None = None
) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, the leaf's sibling first.

    ``size`` defaults to every leaf given.  Costs O(size) hashes: the siblings cover
    disjoint ranges, each hashed once.
    """
    n = len(leaf_hashes) if size is None else _check_int("size", size)
    index = _check_int("index", index)
    if not 0 < n <= len(leaf_hashes):
        raise InputError("tree size out of range")
    if not 0 <= index < n:
        raise InputError("leaf index out of range")
    _check_leaves(leaf_hashes, n)
    return _inclusion(lambda lo, hi: _subtree_root(leaf_hashes, lo, hi), index, n)


def _inclusion(subtree: Callable[[int, int], bytes], index: int, n: int) -> list[bytes]:
    """The path algorithm over any source of subtree roots (a leaf list, a cache)."""
    siblings: list[bytes] = []  # top-down; reversed at the end
    lo, hi = 0, n
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:  # PATH(m, D[0:k]) : MTH(D[k:n])
            siblings.append(subtree(lo + k, hi))
            hi = lo + k
        else:  # PATH(m - k, D[k:n]) : MTH(D[0:k])
            siblings.append(subtree(lo, lo + k))
            lo += k
    siblings.reverse()
    return siblings


def consistency_path(
    leaf_hashes: Sequence[bytes], first: int, second: int | None = None
) -> list[bytes]:
    """PROOF(first, D[0:second]) of RFC 9162 §2.1.4.1; ``[]`` when the sizes are equal.

    ``second`` defaults to every leaf given; ``0 < first <= second`` (the empty tree
    is consistent with everything and needs no proof).  Costs O(second) hashes.
    """
    n = len(leaf_hashes) if second is None else _check_int("second", second)
    m = _check_int("first", first)
    if not 0 < n <= len(leaf_hashes):
        raise InputError("second tree size out of range")
    if not 0 < m <= n:
        raise InputError("first tree size out of range")
    _check_leaves(leaf_hashes, n)
    return _consistency(lambda lo, hi: _subtree_root(leaf_hashes, lo, hi), m, n)


def _consistency(subtree: Callable[[int, int], bytes], m: int, n: int) -> list[bytes]:
    nodes: list[bytes] = []  # top-down; reversed at the end
    lo, hi = 0, n
    complete = True  # RFC 9162's b: the first tree is still a left-edge subtree
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:  # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            nodes.append(subtree(lo + k, hi))
            hi = lo + k
        else:  # SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            nodes.append(subtree(lo, lo + k))
            lo += k
            m -= k
            complete = False
    if not complete:  # SUBPROOF(m, D[m], false) = [MTH(D[m])]
        nodes.append(subtree(lo, hi))
    nodes.reverse()
    return nodes


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _is_path(path: object) -> bool:
    return (
        isinstance(path, Sequence)
        and not isinstance(path, str | bytes | bytearray)
        and all(_is_hash(h) for h in path)
    )


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """Check an inclusion proof as RFC 9162 §2.1.3.2 says; never raises on bad input."""
    if not (
        isinstance(index, int)
        and isinstance(size, int)
        and _is_hash(leaf_hash)
        and _is_hash(root)
        and _is_path(path)
    ):
        return False
    # 1. leaf_index >= tree_size fails (a negative index has no meaning either).
    if index < 0 or index >= size:
        return False
    # 2.-3.
    fn, sn = index, size - 1
    r = leaf_hash
    # 4.
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:  # only when LSB(fn) is not set
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    # 5.
    return sn == 0 and hmac.compare_digest(r, root)


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]
) -> bool:
    """Check a consistency proof as RFC 9162 §2.1.4.2 says; never raises on bad input.

    The RFC defines the check for ``0 < first < second``.  For ``first == second``
    the proof is ``[]`` and the two roots must be equal; anything else fails.
    """
    if not (
        isinstance(first, int)
        and isinstance(second, int)
        and _is_hash(first_root)
        and _is_hash(second_root)
        and _is_path(path)
    ):
        return False
    if not 0 < first <= second:
        return False
    if first == second:
        return len(path) == 0 and hmac.compare_digest(first_root, second_root)
    # 1.
    if len(path) == 0:
        return False
    # 2.
    nodes = list(path)
    if first & (first - 1) == 0:
        nodes.insert(0, first_root)
    # 3.
    fn, sn = first - 1, second - 1
    # 4.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5.
    fr = sr = nodes[0]
    # 6.
    for c in nodes[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:  # only when LSB(fn) is not set
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # 7.
    first_ok = hmac.compare_digest(fr, first_root)
    second_ok = hmac.compare_digest(sr, second_root)
    return first_ok and second_ok and sn == 0


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url_hash(text: object) -> bytes:
    """Decode one unpadded base64url hash, refusing every non-canonical spelling."""
    if not isinstance(text, str) or not _B64URL_HASH.fullmatch(text):
        raise InputError("frontier hash is not unpadded base64url of 32 bytes")
    try:
        data = base64.urlsafe_b64decode(text + "=")
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - regex guards
        raise InputError("frontier hash is not base64url") from exc
    if _b64url(data) != text:  # stray low bits in the last character
        raise InputError("frontier hash is not canonical base64url")
    return data


class Frontier:
    """The compact range of a log: roots of its maximal perfect subtrees, left first.

    A log of ``size`` leaves has one perfect subtree per set bit of ``size``, so the
    server keeps O(log n) hashes and signs a new tree head after each append for
    O(log n) hashes, without rereading the log.  ``root()`` always equals
    :func:`root` over the same leaves.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @classmethod
    def from_leaf_hashes(cls, leaf_hashes: Sequence[bytes]) -> Frontier:
        """Build the frontier of an existing log (e.g. when a server starts)."""
        frontier = cls()
        for h in leaf_hashes:
            frontier.append(h)
        return frontier

    @property
    def size(self) -> int:
        """Number of leaves appended so far; it only goes up (STYLE §10)."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The subtree roots, largest (leftmost) first."""
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> None:
        """Add one leaf hash, merging equal-sized subtrees as a binary counter carries."""
        if not _is_hash(leaf_hash):
            raise InputError(f"leaf hash must be {HASH_SIZE} bytes")
        node = leaf_hash
        carry = self._size
        while carry & 1:  # each trailing 1 bit is a perfect subtree of the same size
            node = node_hash(self._hashes.pop(), node)
            carry >>= 1
        self._hashes.append(node)
        self._size += 1

    def root(self) -> bytes:
        """MTH of the log so far: the subtree roots folded right to left."""
        if not self._hashes:
            return EMPTY_ROOT
        acc = self._hashes[-1]
        for h in reversed(self._hashes[:-1]):
            acc = node_hash(h, acc)
        return acc

    def to_json(self) -> dict[str, Any]:
        """``{"size": n, "hashes": [base64url, ...]}`` for storage next to the log."""
        return {"size": self._size, "hashes": [_b64url(h) for h in self._hashes]}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Frontier:
        """Inverse of :meth:`to_json`; refuses any shape that ``to_json`` cannot produce."""
        if not isinstance(d, Mapping) or set(d) != {"size", "hashes"}:
            raise InputError('frontier must be {"size", "hashes"}')
        size, hashes = d["size"], d["hashes"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InputError("frontier size must be a non-negative integer")
        if not isinstance(hashes, list) or len(hashes) != size.bit_count():
            raise InputError("frontier must hold one hash per set bit of its size")
        frontier = cls()
        frontier._size = size
        frontier._hashes = [_unb64url_hash(h) for h in hashes]
        return frontier

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frontier):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Frontier(size={self._size}, root={self.root().hex()})"
