"""Several desks per State, and rotating the State's encryption key, end to end: a
second desk joins the party key (copied on this machine, or carried sealed under a
passphrase to another machine); after a rotation every desk still reads every bulletin,
old ones with the retired key kept locally."""

from __future__ import annotations

import json
import re
from pathlib import Path

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
TITLE = "EXERCISE: UAS sightings near Tashkent"


def _post(cli, examples) -> str:
    out = cli("post", str(examples / "threat-assessment.json"), "--profile", "keys/KZ/ops")
    return re.search(rf"posted ({UUID})", out.ok().out).group(1)  # type: ignore[union-attr]


def _reads(cli, profile: str, *bids: str) -> None:
    for bid in bids:
        r = cli("read", bid, "--profile", profile)
        assert r.rc == 0 and TITLE in r.out, (profile, bid, r.err)


def test_second_desk_and_rotation(cli, running, enrol, examples, tmp_path: Path) -> None:
    enrol("KZ", "UZ", url=running.url)
    b1 = _post(cli, examples)

    # a second desk on the same machine must not lock the first out: it asks
    r = cli("keygen", "UZ/duty", "--server-url", running.url)
    assert r.rc == 1 and "Pass --join-party-key to use it, or --new-party-key" in r.err
    assert not (tmp_path / "keys/UZ/duty").exists()
    out = cli("keygen", "UZ/duty", "--server-url", running.url, "--join-party-key").ok().out
    assert "This desk shares the party key of keys/UZ/ops (1 key(s) copied)." in out
    assert "warning: the private key of UZ is now on one more desk" in out
    assert "enc-key add" not in out  # the party key is registered already
    public = json.loads((tmp_path / "keys/UZ/duty/public.json").read_text())
    assert "encryption" not in public
    cli("admin", "client", "add", "UZ/duty", "--roles", "reader", "--key", "keys/UZ/duty").ok()
    _reads(cli, "keys/UZ/duty", b1)

    # a desk on another machine: the key travels sealed under a passphrase
    (tmp_path / "pass.txt").write_text("correct horse battery staple\n")
    (tmp_path / "wrong.txt").write_text("not the passphrase at all\n")
    other = ("--keys", "remote/keys")
    out = cli("keygen", "UZ/remote", *other, "--server-url", running.url, "--join-party-key")
    assert "This desk has no party key yet" in out.ok().out
    remote = "remote/keys/UZ/remote"
    cli("admin", "client", "add", "UZ/remote", "--roles", "reader", "--key", remote).ok()
    share = ("keys", "share", "--profile", "keys/UZ/ops", "--out", "uz-keys.json")
    assert "sealed 1 key(s) of UZ" in cli(*share, "--passphrase-file", "pass.txt").ok().out
    sealed = (tmp_path / "uz-keys.json").read_text()
    private = json.loads((tmp_path / "keys/UZ/ops/encryption.jwk").read_text())
    assert private["x25519_d"] not in sealed and private["mlkem768_d"] not in sealed
    imp = ("keys", "import", "uz-keys.json", "--profile", remote)
    r = cli(*imp, "--passphrase-file", "wrong.txt")
    assert r.rc == 1 and "wrong passphrase, or the key file was altered" in r.err
    r = cli("keys", "import", "uz-keys.json", "--profile", "keys/KZ/ops", "--passphrase-file",
            "pass.txt")  # fmt: skip
    assert r.rc == 1 and "holds keys of UZ, not KZ" in r.err
    cli(*imp, "--passphrase-file", "pass.txt").ok()
    _reads(cli, remote, b1)

    # rotation: the new key is made on one desk; the old one stays readable everywhere
    old_kid = private["kid"]
    out = cli("keys", "rotate", "--profile", "keys/UZ/ops").ok().out
    new_kid = re.search(r"new party key (\S+)", out).group(1)  # type: ignore[union-attr]
    assert f"{old_kid} kept in retired/" in out
    b2 = _post(cli, examples)  # still sealed to the old key: the operator has not added it
    _reads(cli, "keys/UZ/ops", b1, b2)
    out = cli("admin", "enc-key", "add", "UZ", "--public", "keys/UZ/ops/public.json").ok().out
    assert f"added encryption key {new_kid}" in out
    keys = json.loads(cli("admin", "party", "show", "UZ", "--json").ok().out)["encryption_keys"]
    assert {(k["kid"], k["status"]) for k in keys} == {(old_kid, "retired"), (new_kid, "active")}
    b3 = _post(cli, examples)  # sealed to the new key
    _reads(cli, "keys/UZ/ops", b1, b2, b3)
    r = cli("read", b3, "--profile", "keys/UZ/duty")  # not given the new key yet
    assert r.rc == 1
    out = cli("keys", "share", "--profile", "keys/UZ/ops", "--to-profile", "keys/UZ/duty").ok()
    assert f"(active {new_kid})" in out.out
    _reads(cli, "keys/UZ/duty", b1, b2, b3)
    (tmp_path / "uz-keys.json").unlink()  # as the officer was told after the first import
    cli(*share, "--passphrase-file", "pass.txt").ok()
    cli(*imp, "--passphrase-file", "pass.txt").ok()
    _reads(cli, remote, b1, b2, b3)
    assert sorted(p.name for p in (tmp_path / remote / "retired").iterdir()) == [f"{old_kid}.jwk"]
