"""Frontier: the O(log n) state a server keeps to sign a tree head after each append."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.audit.merkle import EMPTY_ROOT, Frontier, leaf_hash, root
from exchange.errors import InputError

LEAVES = [leaf_hash(f"leaf {i}".encode()) for i in range(201)]


def test_empty() -> None:
    f = Frontier()
    assert f.size == 0
    assert f.hashes == ()
    assert f.root() == EMPTY_ROOT == root([])
    assert f.to_json() == {"size": 0, "hashes": []}
    assert Frontier.from_json({"size": 0, "hashes": []}) == f


def test_agrees_with_root_and_round_trips_for_every_size_to_200() -> None:
    f = Frontier()
    for n in range(201):
        assert f.size == n
        assert f.root() == root(LEAVES[:n]), n
        assert len(f.hashes) == n.bit_count()  # one perfect subtree per set bit
        doc = f.to_json()
        wire = json.loads(json.dumps(doc))  # survives a JSON column as is
        back = Frontier.from_json(wire)
        assert back == f
        assert back.root() == f.root()
        assert Frontier.from_leaf_hashes(LEAVES[:n]) == f
        if n < 200:
            f.append(LEAVES[n])


def test_subtree_roots_are_the_perfect_subtrees() -> None:
    f = Frontier.from_leaf_hashes(LEAVES[:13])  # 13 = 8 + 4 + 1
    assert f.hashes == (root(LEAVES[:8]), root(LEAVES[8:12]), LEAVES[12])


@settings(max_examples=50, deadline=None)
@given(
    before=st.integers(min_value=0, max_value=120),
    after=st.integers(min_value=0, max_value=80),
)
def test_resumes_from_json(before: int, after: int) -> None:
    """A server that stores the frontier and restarts continues the same tree."""
    stored = json.dumps(Frontier.from_leaf_hashes(LEAVES[:before]).to_json())
    f = Frontier.from_json(json.loads(stored))
    for h in LEAVES[before : before + after]:
        f.append(h)
    assert f.root() == root(LEAVES[: before + after])


def test_hashes_are_unpadded_base64url() -> None:
    doc = Frontier.from_leaf_hashes(LEAVES[:7]).to_json()
    assert doc["size"] == 7
    for h in doc["hashes"]:
        assert len(h) == 43
        assert set(h) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_append_refuses_a_wrong_length_hash() -> None:
    f = Frontier()
    for bad in (b"", b"x" * 31, b"x" * 33):
        with pytest.raises(InputError):
            f.append(bad)
    assert f.size == 0


GOOD = Frontier.from_leaf_hashes(LEAVES[:3]).to_json()  # size 3: two hashes
H0, H1 = GOOD["hashes"]


@pytest.mark.parametrize(
    "doc",
    [
        None,
        [],
        "frontier",
        {"size": 3},
        {"hashes": [H0, H1]},
        {"size": 3, "hashes": [H0, H1], "extra": 1},
        {"size": -1, "hashes": []},
        {"size": True, "hashes": [H0]},
        {"size": 3.0, "hashes": [H0, H1]},
        {"size": "3", "hashes": [H0, H1]},
        {"size": 3, "hashes": [H0]},  # too few for popcount(3)
        {"size": 3, "hashes": [H0, H1, H1]},  # too many
        {"size": 1, "hashes": [H0, H1]},
        {"size": 3, "hashes": (H0, H1)},
        {"size": 3, "hashes": [H0, H1 + "="]},  # padded
        {"size": 3, "hashes": [H0, H1[:-1]]},  # 31.x bytes
        {"size": 3, "hashes": [H0, H1 + "AAAA"]},  # 35 bytes
        {"size": 3, "hashes": [H0, H1.replace(H1[5], "+", 1)]},  # base64, not base64url
        {"size": 3, "hashes": [H0, H1[:-1] + "B"]},  # non-zero unused low bits
        {"size": 3, "hashes": [H0, bytes(32)]},
        {"size": 3, "hashes": [H0, None]},
    ],
)
def test_from_json_refuses_malformed(doc: Any) -> None:
    with pytest.raises(InputError):
        Frontier.from_json(doc)


def test_from_json_accepts_the_good_document() -> None:
    assert Frontier.from_json(GOOD).root() == root(LEAVES[:3])


def test_is_not_hashable_and_compares_by_value() -> None:
    a = Frontier.from_leaf_hashes(LEAVES[:5])
    b = Frontier.from_leaf_hashes(LEAVES[:5])
    assert a == b
    assert a != Frontier.from_leaf_hashes(LEAVES[:4])
    assert a != "frontier"
    with pytest.raises(TypeError):
        hash(a)
    assert "size=5" in repr(a)
