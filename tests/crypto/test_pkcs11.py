"""PKCS#11 signing keys against SoftHSM2 (issue 20): the Ed25519 half is made on the token,
never leaves it, and a profile stores only a reference."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pkcs11
import pytest
from pkcs11 import Attribute, ObjectClass
from softhsm import softhsm_token

from exchange.crypto import (
    TYP_ACK,
    HybridSigner,
    SigningPublicKey,
    parse_signing_jwk,
    sign_compact,
    verify_compact,
)
from exchange.crypto.composite import MLDSA65_SIG_SIZE
from exchange.errors import InputError, InvalidKey
from exchange.keystore import load_signer, public_signing_jwk, signer_from_document
from exchange.keystore.pkcs11 import (
    PIN_ENV,
    Pkcs11Ed25519Signer,
    Pkcs11Uri,
    _open_session,
    create_token_key,
    open_token_signer,
)

_N = itertools.count()


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch):
    t = softhsm_token()
    monkeypatch.setenv(PIN_ENV, t.pin)
    return t


def fresh(prefix: str = "k") -> str:
    return f"{prefix}-{next(_N)}-{id(object())}"


def resolver(*keys: SigningPublicKey):
    return {k.kid: k for k in keys}.get


# --- URIs ----------------------------------------------------------------------------------


def test_uri_round_trip_never_keeps_the_pin() -> None:
    u = Pkcs11Uri.parse(
        "pkcs11:token=My%20HSM;object=kz-ops;id=%01%FF?module-path=/usr/lib/x.so&pin-value=1234"
    )
    assert u.path == {"token": "My HSM", "object": "kz-ops", "id": "\x01\xff"}
    assert u.key_id == b"\x01\xff"
    assert u.pin() == "1234"
    ref = u.reference()
    assert "1234" not in ref and "pin-value" not in ref
    again = Pkcs11Uri.parse(ref)
    assert again.path == u.path and again.module() == "/usr/lib/x.so"


@pytest.mark.parametrize(
    "bad",
    [
        "token=x;object=y",
        "pkcs11:token=x",
        "pkcs11:object=y",
        "pkcs11:token=x;object=y;object=z",
        "pkcs11:token=x;object=y;evil=1",
        "pkcs11:token=x;object=y?module-path=/a&shell=1",
        "pkcs11:token=x;objecty",
    ],
)
def test_bad_uris_are_refused(bad: str) -> None:
    with pytest.raises(InputError):
        Pkcs11Uri.parse(bad)


def test_pin_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pin = tmp_path / "pin"
    pin.write_text("9999\n")
    monkeypatch.setenv(PIN_ENV, "from-env")
    assert Pkcs11Uri.parse(f"pkcs11:token=t;object=o?pin-source=file:{pin}").pin() == "9999"
    assert Pkcs11Uri.parse("pkcs11:token=t;object=o").pin() == "from-env"
    with pytest.raises(InputError):
        Pkcs11Uri.parse(f"pkcs11:token=t;object=o?pin-source={tmp_path / 'none'}").pin()
    monkeypatch.delenv("EXCHANGE_PKCS11_MODULE", raising=False)
    with pytest.raises(InputError, match="module"):
        Pkcs11Uri.parse("pkcs11:token=t;object=o").module()


# --- keys on the token ---------------------------------------------------------------------


def test_ed25519_key_on_token(token) -> None:
    signer, ref = create_token_key(token.uri(fresh()), "ed25519")
    assert isinstance(signer, Pkcs11Ed25519Signer)
    assert signer.alg == "EdDSA"
    assert set(ref) == {"kty", "crv", "x", "kid", "alg", "pkcs11"}
    assert token.pin not in json.dumps(ref)
    jws = sign_compact(b'{"a":1}', signer, TYP_ACK)
    assert verify_compact(jws, resolver(parse_signing_jwk(public_signing_jwk(ref))), TYP_ACK)
    # a wrong signature is not accepted: the token really signs with that key
    assert not signer.public.verify(signer.sign(b"x"), b"y")


def test_private_key_is_sensitive_and_never_extractable(token) -> None:
    label = fresh()
    create_token_key(token.uri(label), "ed25519")
    with _open_session(Pkcs11Uri.parse(token.uri(label)), rw=False) as s:
        priv = s.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
        assert priv[Attribute.SENSITIVE] is True
        assert priv[Attribute.EXTRACTABLE] is False
        assert priv[Attribute.NEVER_EXTRACTABLE] is True
        with pytest.raises(pkcs11.exceptions.PKCS11Error):
            priv[Attribute.VALUE]


def test_hybrid_key_with_token_half(token, tmp_path: Path) -> None:
    signer, ref = create_token_key(token.uri(fresh(), pin=True), "hybrid")
    assert isinstance(signer, HybridSigner)
    assert ref["alg"] == "ML-DSA-65-Ed25519" and "mldsa65_d" in ref
    assert "ed25519_d" not in ref and token.pin not in ref["pkcs11"]
    public = parse_signing_jwk(public_signing_jwk(ref))
    assert public == signer.public
    jws = sign_compact(b"{}", signer, TYP_ACK)
    assert verify_compact(jws, resolver(public), TYP_ACK).kid == public.kid
    sig = signer.sign(b"m")
    assert len(sig) == MLDSA65_SIG_SIZE + 64 and public.verify(sig, b"m")
    # the profile file reopens the same key through the token
    path = tmp_path / "signing.jwk"
    path.write_text(json.dumps(ref))
    again = load_signer(path)
    assert again.kid == signer.kid
    assert public.verify(again.sign(b"n"), b"n")
    with pytest.raises(InvalidKey):
        again.to_private_jwk()  # type: ignore[attr-defined]


def test_existing_label_is_not_replaced(token) -> None:
    uri = token.uri(fresh())
    create_token_key(uri, "ed25519")
    with pytest.raises(InputError, match="already holds"):
        create_token_key(uri, "ed25519")


def test_wrong_or_missing_pin(monkeypatch: pytest.MonkeyPatch) -> None:
    # a token this process never logged in to (a login is per process, not per session)
    token = softhsm_token("avsec-pin-test")
    monkeypatch.setenv(PIN_ENV, "000000")
    with pytest.raises(InputError, match="PIN"):
        create_token_key(token.uri(fresh()), "ed25519")
    monkeypatch.delenv(PIN_ENV)
    with pytest.raises(InputError):
        create_token_key(token.uri(fresh()), "ed25519")


def test_unknown_token_or_key(token) -> None:
    with pytest.raises(InputError, match="no PKCS#11 token"):
        create_token_key(f"pkcs11:token=nope;object=x?module-path={token.module}")
    _, ref = create_token_key(token.uri(fresh()), "ed25519")
    gone = {**ref, "pkcs11": token.uri(fresh())}
    with pytest.raises(InputError, match="holds no key"):
        open_token_signer(gone)


def test_reference_must_match_the_token(token) -> None:
    _, ref_a = create_token_key(token.uri(fresh()), "hybrid")
    _, ref_b = create_token_key(token.uri(fresh()), "hybrid")
    # b's public key and seed with a's token object: refused, never a silent other key
    swapped = {**ref_b, "pkcs11": ref_a["pkcs11"]}
    with pytest.raises(InvalidKey, match="does not match"):
        signer_from_document(swapped)
    no_seed = {k: v for k, v in ref_a.items() if k != "mldsa65_d"}
    with pytest.raises(InvalidKey):
        signer_from_document(no_seed)


def test_cli_keygen_pkcs11(token, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from exchange.cli.main import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EXCHANGE_URL", "http://127.0.0.1:9")
    uri = token.uri(fresh("cli"))
    rc = main(["keygen", "KZ/hsm", "--server-kid", "k" * 43, "--pkcs11", uri])
    out = capsys.readouterr().out
    assert rc == 0, out
    doc = json.loads((tmp_path / "keys/KZ/hsm/signing.jwk").read_text())
    assert doc["pkcs11"].startswith("pkcs11:") and "ed25519_d" not in doc
    assert (tmp_path / "keys/KZ/hsm/signing.jwk").stat().st_mode & 0o777 == 0o600
    assert load_signer(tmp_path / "keys/KZ/hsm/signing.jwk").kid == doc["kid"]
    assert doc["kid"] in out and "token reference" in out
    # a bad URI is one line and a non-zero exit
    rc = main(["keygen", "UZ/bad", "--server-kid", "k" * 43, "--pkcs11", "pkcs11:object=x"])
    assert rc != 0
    assert "must name the token" in capsys.readouterr().err
