"""Issue 18: the server's signing key rotates (``exchange admin rotate-server-key``); a
desk that pinned the old kid follows the statement the old key signed, re-pins, and
keeps working (old receipts and tree heads included); a statement signed by another key,
or none, is refused."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from exchange.client import ExchangeClient
from exchange.client.server_key import verify_statement
from exchange.crypto import jws
from exchange.crypto.keys import generate_signer
from exchange.errors import BadSignature

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
KZ = ("--profile", "keys/KZ/ops")
UZ = ("--profile", "keys/UZ/ops")


def _pinned(folder: str) -> str:
    return str(json.loads(Path(folder, "profile.json").read_text())["server_kid"])


def _post(cli, examples) -> str:
    out = cli("post", str(examples / "threat-assessment.json"), *KZ).ok().out
    return re.search(rf"posted ({UUID})", out).group(1)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("init_flags", "rotate_flags", "alg"),
    [((), (), "ML-DSA-65-Ed25519"), (("--ed25519",), ("--hybrid",), "ML-DSA-65-Ed25519")],
)
def test_rotate_server_key(
    cli, db, start_serve: Callable[..., object], enrol, examples, monkeypatch,
    init_flags, rotate_flags, alg,
) -> None:  # fmt: skip
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    monkeypatch.setenv("EXCHANGE_PORT", str(port))
    cli("init", *init_flags).ok()
    server = start_serve(port, "--log-file", "serve.log")
    url = server.url  # type: ignore[attr-defined]
    enrol("KZ", "UZ", url=url)
    before = _post(cli, examples)  # its receipt and KZ's saved tree head: the old key
    old_kid = _pinned("keys/KZ/ops")

    out = cli("admin", "rotate-server-key", *rotate_flags).ok().out
    new_kid = re.search(r"new server key (\S+)", out).group(1)  # type: ignore[union-attr]
    assert new_kid != old_kid and Path(f"keys/server/retired/{old_kid}.jwk").is_file()
    assert json.loads(Path("keys/server/signing.jwk").read_text())["alg"] == alg
    server.stop()  # type: ignore[attr-defined]
    start_serve(port, "--log-file", "serve2.log", log="serve2.log")

    # the desk pinned to the old kid follows the statement and keeps working
    assert "KZ/ops" in cli("read", before, *UZ).ok().out
    assert _pinned("keys/UZ/ops") == new_kid
    after = _post(cli, examples)  # the log check starts from the head the old key signed
    cli("ack", after, *UZ).ok()
    assert _pinned("keys/KZ/ops") == new_kid
    cli("audit", "verify", *KZ).ok()
    doc = json.loads(cli("directory", "--json", *KZ).ok().out)
    assert [k["kid"] for k in doc["previous_server_keys"]] == [old_kid]

    async def rotations() -> list[dict[str, object]]:
        async with ExchangeClient.from_profile("keys/KZ/ops") as c:
            _, data = await c.request("GET", "/v1/server-key/rotation", auth=False)
            log = await c.request("GET", "/v1/audit/entries", params={"start": 0, "end": 999})
        import base64

        leaves = [json.loads(base64.urlsafe_b64decode(e["leaf"] + "==")) for e in log[1]["entries"]]
        assert [
            (e["old_kid"], e["new_kid"]) for e in leaves if e.get("op") == "rotate-server-key"
        ] == [(old_kid, new_kid)]
        return list(data["rotations"])

    (rotation,) = asyncio.run(rotations())
    assert jws.peek_header(str(rotation["statement"]))["kid"] == old_kid

    # a profile pinned to a key no statement names is refused, by every command
    profile = json.loads(Path("keys/KZ/ops/profile.json").read_text())
    profile["server_kid"] = generate_signer("ed25519").kid
    Path("keys/KZ/ops/profile.json").write_text(json.dumps(profile))
    for argv in (("inbox",), ("ack", before), ("post", str(examples / "threat-assessment.json"))):
        r = cli(*argv, *KZ)
        assert r.rc == 1 and "no statement signed by" in r.err, (argv, r.err)


def test_a_forged_statement_is_refused() -> None:
    """Signed by another key than the one it names as old, or naming another old key."""
    old, new, mallory = (generate_signer(k) for k in ("hybrid", "hybrid", "ed25519"))

    def statement(signer, old_jwk: dict[str, str], old_kid: str) -> str:
        claims = {
            "old_kid": old_kid, "old_jwk": old_jwk, "new_kid": new.kid,
            "new_jwk": new.public.to_jwk(), "at": 1,
        }  # fmt: skip
        return jws.sign_compact(json.dumps(claims).encode(), signer, jws.TYP_SERVER_KEY_ROTATION)

    good = statement(old, old.public.to_jwk(), old.kid)
    assert verify_statement(good, old.kid)[1]["new_kid"] == new.kid
    forged = statement(mallory, old.public.to_jwk(), old.kid)  # claims to be by the old key
    with pytest.raises(BadSignature, match="not signed by"):
        verify_statement(forged, old.kid)
    own = statement(mallory, mallory.public.to_jwk(), mallory.kid)  # Mallory's own key
    with pytest.raises(BadSignature, match="not about the pinned key"):
        verify_statement(own, old.kid)
    lying = statement(mallory, mallory.public.to_jwk(), old.kid)  # its kid claims the old one
    with pytest.raises(BadSignature, match="not about the pinned key"):
        verify_statement(lying, old.kid)
