"""Keys across machines: keygen writes public.json (public keys only) with a fingerprint
for a phone check; the operator registers from that file and the admin commands refuse
private key material or an altered file. A profile pinned to another server key makes
every command refuse, before any token is sent."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _fingerprint(out: str) -> str:
    return re.search(r"fingerprint by phone:\s+([0-9A-F-]{39})", out).group(1)  # type: ignore[union-attr]


def test_hand_off_by_public_file(cli, running, tmp_path: Path) -> None:
    said = _fingerprint(cli("keygen", "KZ/ops", "--server-url", running.url).ok().out)
    # the State sends public.json by e-mail; the operator saves it elsewhere
    (tmp_path / "mail").mkdir()
    sent = tmp_path / "mail" / "kz-public.json"
    shutil.copy(tmp_path / "keys/KZ/ops/public.json", sent)
    cli("admin", "party", "add", "KZ", "Kazakhstan").ok()
    out = cli("admin", "client", "add", "KZ/ops", "--roles", "poster,reader", "--public", str(sent))
    assert f"fingerprint {said}: it must be the one the State reads to you" in out.ok().out
    out = cli("admin", "enc-key", "add", "KZ", "--public", str(sent)).ok().out
    assert f"fingerprint {said}" in out
    party = json.loads(cli("admin", "party", "show", "KZ", "--json").ok().out)
    public = json.loads(sent.read_text())
    assert party["clients"][0]["kid"] == public["signing"]["kid"]
    assert party["encryption_keys"][0]["kid"] == public["encryption"]["kid"]
    cli("inbox", "--profile", "keys/KZ/ops").ok()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda b, priv: b["signing"].update(ed25519_d=priv["ed25519_d"]),
            "holds private key material",
        ),
        (lambda b, priv: b.update(extra={"x25519_d": "AAAA"}), "holds private key material"),
        (
            lambda b, priv: b["signing"].update(ed25519=b["encryption"]["kid"]),
            "does not match its keys",
        ),
        (lambda b, priv: b.update(client_id="KZ/other"), "is for KZ/other, not KZ/ops"),
        (lambda b, priv: b.pop("format"), "not a public key file written by 'exchange keygen'"),
    ],
)
def test_refused_files(cli, tmp_path: Path, change, message: str) -> None:
    cli("keygen", "KZ/ops", "--server-url", "http://127.0.0.1:9", "--server-kid", "A" * 43).ok()
    bundle = json.loads((tmp_path / "keys/KZ/ops/public.json").read_text())
    private = json.loads((tmp_path / "keys/KZ/ops/signing.jwk").read_text())
    change(bundle, private)
    if message == "is for KZ/other, not KZ/ops":
        from exchange.keyfiles import fingerprint

        bundle["fingerprint"] = fingerprint(bundle)
    (tmp_path / "bad.json").write_text(json.dumps(bundle))
    r = cli("admin", "client", "add", "KZ/ops", "--roles", "reader", "--public", "bad.json")
    assert r.rc == 1 and message in r.err, r.err
    assert private["ed25519_d"] not in r.err and private["mldsa65_d"] not in r.err


@pytest.mark.parametrize("option", ["--jwk", "--public"])
def test_private_key_files_are_refused(cli, tmp_path: Path, option: str) -> None:
    cli("keygen", "KZ/ops", "--server-url", "http://127.0.0.1:9", "--server-kid", "A" * 43).ok()
    for argv in (
        ("client", "add", "KZ/ops", "--roles", "reader", option, "keys/KZ/ops/signing.jwk"),
        ("enc-key", "add", "KZ", option, "keys/KZ/ops/encryption.jwk"),
    ):
        r = cli("admin", *argv)
        assert r.rc == 1 and "private key material" in r.err, (argv, r.err)


def test_wrongly_pinned_server_key_stops_every_command(
    cli, running, enrol, examples, tmp_path: Path
) -> None:
    enrol("KZ", "UZ", url=running.url)
    bid = re.search(  # type: ignore[union-attr]
        rf"posted ({UUID})",
        cli("post", str(examples / "threat-assessment.json"), "--profile", "keys/KZ/ops").ok().out,
    ).group(1)
    for party in ("KZ", "UZ"):
        path = tmp_path / f"keys/{party}/ops/profile.json"
        profile = json.loads(path.read_text())
        profile["server_kid"] = "B" * 43  # another server's key (or a changed one)
        path.write_text(json.dumps(profile))
    uz, kz = ("--profile", "keys/UZ/ops"), ("--profile", "keys/KZ/ops")
    for argv in (
        ("inbox", *uz),
        ("ack", bid, *uz),
        ("read", bid, *uz),
        ("status", bid, *kz),
        ("post", str(examples / "threat-assessment.json"), *kz),
        ("directory", *uz),
        ("subscriptions", "cac-avsec", *uz),
        ("audit", "verify", *uz),
        ("watch", *uz),
    ):
        r = cli(*argv)
        assert r.rc == 1, (argv, r)
        assert f"pinned {'B' * 43}: refusing to talk to it" in r.err, (argv, r.err)
    # nothing was acknowledged: the refused ack never reached the server
    admin = ("--profile", "keys/OPERATOR/admin")  # the operator's view
    ledger = json.loads(cli("status", bid, "--json", *admin).ok().out)
    assert all(not r["acks"] for r in ledger["recipients"])
