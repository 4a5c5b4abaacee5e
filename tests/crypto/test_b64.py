"""Strict base64url: one value has exactly one accepted encoding."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.crypto import b64u_decode, b64u_encode
from exchange.errors import MalformedEnvelope


@given(st.binary(max_size=200))
def test_round_trip(data: bytes) -> None:
    encoded = b64u_encode(data)
    assert "=" not in encoded
    assert b64u_decode(encoded) == data
    assert b64u_decode(encoded.encode()) == data
    assert encoded == base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.mark.parametrize(
    "bad",
    [
        "AA==",  # padding
        "AAA=",
        "A",  # impossible length
        "AAAAA",
        "AB",  # non-zero unused bits (canonical is "AA")
        "AAB",  # canonical is "AAA"
        "A+8",  # standard alphabet
        "A/8",
        "AA AA",
        "AA\nAA",
        "é",
        "\x00\x00",
    ],
)
def test_rejects(bad: str) -> None:
    with pytest.raises(MalformedEnvelope):
        b64u_decode(bad)


def test_rejects_non_string() -> None:
    with pytest.raises(MalformedEnvelope):
        b64u_decode(123)  # type: ignore[arg-type]


@given(st.text(max_size=40))
def test_any_text_raises_only_malformed(text: str) -> None:
    try:
        decoded = b64u_decode(text)
    except MalformedEnvelope:
        return
    assert b64u_encode(decoded) == text  # whatever is accepted is canonical
