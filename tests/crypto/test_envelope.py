"""Envelope round trips and the tamper table (PROTOCOL §3): each attack is caught, and
caught with its own specific error."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from exchange.crypto import (
    ROUTING_FIELDS,
    TYP_BULLETIN,
    TYP_ENVELOPE,
    Ed25519Signer,
    EncryptionPrivateKey,
    OpenedBulletin,
    _json,
    open_envelope,
    seal,
    sign_compact,
    verify_compact,
    verify_envelope,
)
from exchange.crypto.envelope import _assemble, cek_commitment
from exchange.errors import (
    BadInnerSignature,
    BadSignature,
    CommitmentMismatch,
    DecryptFailed,
    DuplicateRecipient,
    InvalidBulletin,
    MetadataMismatch,
    NotARecipient,
    UnknownKey,
    UnwrapFailed,
)

RECIPIENTS = ("UZ", "GE", "KG", "AM")


def audience(meta: Mapping[str, Any]) -> set[str]:
    """What a client computes from the directory: members of cac-avsec plus ``to``."""
    members = {"cac-avsec": {"KZ", *RECIPIENTS}}
    parties = set(meta["to"])
    for g in meta["groups"]:
        parties |= members.get(g, set())
    return parties - {"KZ"}


@pytest.fixture
def setup(helpers, sender, party_keys):
    bulletin = helpers.bulletin()
    env = seal(bulletin, sender, [party_keys[p].public for p in RECIPIENTS])
    return bulletin, env


def _open(env: str, party: str, keys, resolve, aud=audience) -> OpenedBulletin:
    return open_envelope(env, resolve, party=party, key=keys[party], audience=aud)


def test_round_trip_every_recipient(helpers, sender, party_keys, setup) -> None:
    bulletin, env = setup
    resolve = helpers.resolver(sender)
    info = verify_envelope(env, resolve)
    assert info.kid == sender.kid
    assert info.recipient_kids == tuple(party_keys[p].kid for p in RECIPIENTS)
    assert info.metadata == {k: bulletin[k] for k in ROUTING_FIELDS}
    assert info.size == len(env)
    for party in RECIPIENTS:
        opened = _open(env, party, party_keys, resolve)
        assert opened.bulletin == bulletin
        assert opened.metadata == info.metadata
        assert opened.sender_kid == sender.kid
        assert opened.envelope_sha256 == info.sha256
        inner = verify_compact(opened.inner_jws, resolve, TYP_BULLETIN)
        assert _json.loads_object(inner.payload) == bulletin


def test_envelope_accepts_bytes(helpers, sender, party_keys, setup) -> None:
    _, env = setup
    assert verify_envelope(env.encode(), helpers.resolver(sender)).size == len(env)


def test_protected_header_layout(helpers, setup) -> None:
    _, env = setup
    jwe = helpers.jwe_of(env)
    assert list(jwe) == ["protected", "recipients", "iv", "ciphertext", "tag"]
    header = helpers.protected_of(jwe)
    assert list(header) == ["enc", "typ", "avsec"]
    assert list(header["avsec"]) == [*ROUTING_FIELDS, "cc"]
    assert [e["header"]["alg"] for e in jwe["recipients"]] == [
        "ECDH-ES+A256KW",
        "HPKE-MLKEM768X25519",
        "HPKE-MLKEM768X25519",
        "ECDH-ES+A256KW",
    ]


def test_seal_rejects_duplicates_and_empty(helpers, sender, party_keys) -> None:
    k = party_keys["UZ"].public
    with pytest.raises(DuplicateRecipient):
        seal(helpers.bulletin(), sender, [k, party_keys["GE"].public, k])
    with pytest.raises(InvalidBulletin):
        seal(helpers.bulletin(), sender, [])


@pytest.mark.parametrize(
    "change",
    [
        {"v": 2},
        {"v": True},
        {"bid": 5},
        {"groups": "cac-avsec"},
        {"to": [1]},
        {"iat": 1.5},
        {"exp": "soon"},
        {"supersedes": 3},
        {"body": float("nan")},
        {"body": object()},
        {"body": {1: "a", "1": "b"}},
        {"title": "\ud800"},
    ],
)
def test_seal_rejects_bad_bulletin(helpers, sender, party_keys, change) -> None:
    with pytest.raises(InvalidBulletin):
        seal(helpers.bulletin(**change), sender, [party_keys["UZ"].public])


@pytest.mark.parametrize("sizes", [(31, 12), (32, 11), (32, 16)])
def test_seal_rejects_bad_rand(helpers, sender, party_keys, sizes) -> None:
    outputs = iter(sizes)

    def rand(n: int) -> bytes:
        return bytes(next(outputs, n))

    with pytest.raises(InvalidBulletin):
        seal(helpers.bulletin(), sender, [party_keys["UZ"].public], rand=rand)


def test_seal_rejects_missing_field(helpers, sender, party_keys) -> None:
    b = helpers.bulletin()
    del b["supersedes"]
    with pytest.raises(InvalidBulletin):
        seal(b, sender, [party_keys["UZ"].public])


# --- (a) tampering after sealing, outer signature untouched: BadSignature --------------------


def _flip_member(name: str) -> Callable[[Any, dict[str, Any]], None]:
    def mutate(h: Any, jwe: dict[str, Any]) -> None:
        jwe[name] = h.flip(jwe[name], 3)

    return mutate


def _flip_entry(i: int, what: str) -> Callable[[Any, dict[str, Any]], None]:
    def mutate(h: Any, jwe: dict[str, Any]) -> None:
        entry = jwe["recipients"][i]
        if what == "epk":
            entry["header"]["epk"]["x"] = h.flip(entry["header"]["epk"]["x"], 5)
        else:
            entry["encrypted_key"] = h.flip(entry["encrypted_key"], 7)

    return mutate


TAMPER_SITES: dict[str, tuple[Callable[[Any, dict[str, Any]], None], type[Exception], str]] = {
    # name: (mutation, error when the sender re-signs the outer JWS, the party that sees it)
    "protected": (_flip_member("protected"), DecryptFailed, "UZ"),
    "iv": (_flip_member("iv"), DecryptFailed, "GE"),
    "ciphertext": (_flip_member("ciphertext"), DecryptFailed, "UZ"),
    "tag": (_flip_member("tag"), DecryptFailed, "KG"),
    "encrypted_key[UZ]": (_flip_entry(0, "key"), UnwrapFailed, "UZ"),
    "epk[UZ]": (_flip_entry(0, "epk"), UnwrapFailed, "UZ"),
    "encrypted_key[GE]": (_flip_entry(1, "key"), UnwrapFailed, "GE"),
    "encrypted_key[KG]": (_flip_entry(2, "key"), UnwrapFailed, "KG"),
    "encrypted_key[AM]": (_flip_entry(3, "key"), UnwrapFailed, "AM"),
    "epk[AM]": (_flip_entry(3, "epk"), UnwrapFailed, "AM"),
}


@pytest.mark.parametrize("site", sorted(TAMPER_SITES))
def test_tamper_without_resigning_is_bad_signature(helpers, sender, party_keys, setup, site):
    _, env = setup
    jwe = helpers.jwe_of(env)
    TAMPER_SITES[site][0](helpers, jwe)
    forged = helpers.replace_jwe(env, jwe)
    resolve = helpers.resolver(sender)
    with pytest.raises(BadSignature):
        verify_envelope(forged, resolve)
    with pytest.raises(BadSignature):
        _open(forged, TAMPER_SITES[site][2], party_keys, resolve)


@pytest.mark.parametrize("site", sorted(TAMPER_SITES))
def test_tamper_resigned_by_sender_gives_specific_error(
    helpers, sender, party_keys, setup, site
) -> None:
    """A sender (or anything before the outer signature) corrupting one part: the server
    accepts the structure, the recipient rejects it with the error for that part."""
    _, env = setup
    jwe = helpers.jwe_of(env)
    mutate, error, party = TAMPER_SITES[site]
    if site == "protected":
        # flip a routing value rather than a JSON delimiter: still well formed
        header = helpers.protected_of(jwe)
        header["avsec"]["priority"] = "flash"
        jwe = helpers.with_protected(jwe, header)
    else:
        mutate(helpers, jwe)
    forged = helpers.resign(env, jwe, sender)
    resolve = helpers.resolver(sender)
    verify_envelope(forged, resolve)
    with pytest.raises(error):
        _open(forged, party, party_keys, resolve)


def test_outer_signature_bit_flip(helpers, sender, party_keys, setup) -> None:
    _, env = setup
    h, p, s = env.split(".")
    forged = f"{h}.{p}.{helpers.flip(s, 10)}"
    with pytest.raises(BadSignature):
        verify_envelope(forged, helpers.resolver(sender))
    with pytest.raises(BadSignature):
        _open(forged, "UZ", party_keys, helpers.resolver(sender))


def test_outer_signature_by_unknown_key(helpers, sender, other_sender, setup) -> None:
    _, env = setup
    with pytest.raises(UnknownKey):
        verify_envelope(env, helpers.resolver(other_sender))


def test_cc_flip_is_commitment_mismatch(helpers, sender, party_keys, setup) -> None:
    _, env = setup
    jwe = helpers.jwe_of(env)
    header = helpers.protected_of(jwe)
    header["avsec"]["cc"] = helpers.flip(header["avsec"]["cc"])
    forged = helpers.resign(env, helpers.with_protected(jwe, header), sender)
    for party in RECIPIENTS:
        with pytest.raises(CommitmentMismatch):
            _open(forged, party, party_keys, helpers.resolver(sender))


# --- forged by the sender through the sealing internals ------------------------------------


def _inner(bulletin: dict[str, Any], signer: Ed25519Signer, typ: str = TYP_BULLETIN) -> bytes:
    return sign_compact(_json.dumps(bulletin), signer, typ).encode()


def _forge(
    metadata: Mapping[str, Any],
    inner: bytes,
    signer: Ed25519Signer,
    keys: list[EncryptionPrivateKey],
    ceks: list[bytes] | None = None,
) -> str:
    cek = os.urandom(32)
    wraps = [(k.public, (ceks or [])[i] if ceks else cek) for i, k in enumerate(keys)]
    return _assemble(metadata, inner, signer, wraps, cek, os.urandom)


def test_inner_signature_bit_flip(helpers, sender, party_keys) -> None:
    b = helpers.bulletin()
    h, p, s = _inner(b, sender).decode().split(".")
    inner = f"{h}.{p}.{helpers.flip(s, 20)}".encode()
    env = _forge(b, inner, sender, [party_keys["UZ"], party_keys["GE"]])
    verify_envelope(env, helpers.resolver(sender))
    for party in ("UZ", "GE"):
        with pytest.raises(BadInnerSignature):
            _open(env, party, party_keys, helpers.resolver(sender))


@pytest.mark.parametrize("case", ["other-kid", "wrong-typ", "not-a-jws"])
def test_inner_jws_not_by_outer_signer(helpers, sender, other_sender, party_keys, case):
    b = helpers.bulletin()
    inner = {
        "other-kid": _inner(b, other_sender),
        "wrong-typ": _inner(b, sender, TYP_ENVELOPE),
        "not-a-jws": _json.dumps(b),
    }[case]
    env = _forge(b, inner, sender, [party_keys["UZ"]])
    with pytest.raises(BadInnerSignature):
        _open(env, "UZ", party_keys, helpers.resolver(sender, other_sender))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("priority", "flash"),
        ("tlp", "clear"),
        ("groups", ["eurnat-avsec"]),
        ("to", ["TJ"]),
        ("bid", "00000000-0000-0000-0000-00000000beef"),
    ],
)
def test_metadata_relabelled(helpers, sender, party_keys, setup, field, value) -> None:
    resolve = helpers.resolver(sender)
    # (a) the protected header edited in transit: the outer signature fails
    _, env = setup
    jwe = helpers.jwe_of(env)
    header = helpers.protected_of(jwe)
    header["avsec"][field] = value
    with pytest.raises(BadSignature):
        verify_envelope(helpers.replace_jwe(env, helpers.with_protected(jwe, header)), resolve)
    # (b) a sender sealing a header that differs from the signed bulletin
    b = helpers.bulletin()
    env = _forge({**b, field: value}, _inner(b, sender), sender, [party_keys["UZ"]])
    assert verify_envelope(env, resolve).metadata[field] == value
    with pytest.raises(MetadataMismatch):
        _open(env, "UZ", party_keys, resolve, aud=lambda m: {"UZ"})


def test_inner_payload_missing_routing_field(helpers, sender, party_keys) -> None:
    b = helpers.bulletin()
    signed = {k: v for k, v in b.items() if k != "exp"}
    env = _forge(b, _inner(signed, sender), sender, [party_keys["UZ"]])
    with pytest.raises(MetadataMismatch):
        _open(env, "UZ", party_keys, helpers.resolver(sender))


def test_inner_payload_type_confusion(helpers, sender, party_keys) -> None:
    """1 and true are different JSON values even though Python says 1 == True."""
    b = helpers.bulletin()
    env = _forge(b, _inner({**b, "v": True}, sender), sender, [party_keys["UZ"]])
    with pytest.raises(MetadataMismatch):
        _open(env, "UZ", party_keys, helpers.resolver(sender))


def test_different_ceks_per_recipient(helpers, sender, party_keys) -> None:
    """Invisible salamanders: the recipient whose CEK is not the committed one notices."""
    b = helpers.bulletin()
    keys = [party_keys[p] for p in ("UZ", "GE", "KG", "AM")]
    good, evil = os.urandom(32), os.urandom(32)
    env = _assemble(
        b,
        _inner(b, sender),
        sender,
        [
            (keys[0].public, good),
            (keys[1].public, evil),
            (keys[2].public, good),
            (keys[3].public, evil),
        ],
        good,
        os.urandom,
    )
    resolve = helpers.resolver(sender)
    verify_envelope(env, resolve)
    assert _open(env, "UZ", party_keys, resolve).bulletin == b
    assert _open(env, "KG", party_keys, resolve).bulletin == b
    for party in ("GE", "AM"):
        with pytest.raises(CommitmentMismatch):
            _open(env, party, party_keys, resolve)
    assert cek_commitment(good) != cek_commitment(evil)


def test_forwarding_to_a_party_outside_the_audience(helpers, sender, other_sender, party_keys):
    b = helpers.bulletin()
    env = seal(b, sender, [party_keys[p].public for p in RECIPIENTS])
    resolve = helpers.resolver(sender, other_sender)
    # the envelope itself is useless to an outsider
    with pytest.raises(NotARecipient):
        _open(env, "TJ", party_keys, resolve)
    # UZ re-encrypts the inner JWS it read to TJ, signing the outer with its own key
    inner = _open(env, "UZ", party_keys, resolve).inner_jws.encode()
    forwarded = _forge(b, inner, other_sender, [party_keys["TJ"]])
    with pytest.raises(BadInnerSignature):
        _open(forwarded, "TJ", party_keys, resolve)
    # even sealed (by the sender's key) to TJ, TJ is not in the directory audience
    misrouted = _forge(b, inner, sender, [party_keys["TJ"]])
    with pytest.raises(NotARecipient):
        _open(misrouted, "TJ", party_keys, resolve)


def test_no_key_entry_for_us(helpers, sender, party_keys, setup) -> None:
    _, env = setup
    with pytest.raises(NotARecipient):
        _open(env, "TJ", party_keys, helpers.resolver(sender), aud=lambda m: {"TJ"})
