"""Issue 18: expiry dates on keys (at registration or later), in the directory, a
one-line warning on stderr from any command using the profile when this desk's key or
its party's encryption key is near or past expiry, and the server refusing an expired
signing key."""

from __future__ import annotations

import json
import time

KZ = ("--profile", "keys/KZ/ops")
GE = ("--profile", "keys/GE/ops")


def _entry(cli, kind: str, key: str, value: str) -> dict[str, object]:
    doc = json.loads(cli("directory", "--json", *KZ).ok().out)
    return next(e for e in doc[kind] if e[key] == value)


def test_expiry_warnings_and_refusal(cli, running, enrol, monkeypatch) -> None:
    enrol("KZ", "UZ", url=running.url)
    r = cli("inbox", *KZ).ok()
    assert "warning" not in r.err  # no expiry date: no warning

    cli("admin", "key-expiry", "--client", "KZ/ops", "--at", "10d").ok()
    assert isinstance(_entry(cli, "clients", "id", "KZ/ops")["expires_at"], int)
    r = cli("inbox", *KZ).ok()
    lines = [line for line in r.err.splitlines() if "warning" in line]
    assert len(lines) == 1 and "the signing key of KZ/ops expires in 10 day(s)" in lines[0]
    assert "exchange keys rotate --signing" in lines[0]
    monkeypatch.setenv("EXCHANGE_KEY_WARN_DAYS", "5")  # not near enough to warn
    assert "warning" not in cli("inbox", *KZ).ok().err
    monkeypatch.delenv("EXCHANGE_KEY_WARN_DAYS")

    enc_kid = str(_entry(cli, "encryption_keys", "party", "KZ")["kid"])
    cli("admin", "key-expiry", f"--kid={enc_kid}", "--at", "2d").ok()  # may begin with "-"
    cli("directory", *KZ).ok()  # reads the directory: the dates are kept in the profile
    err = cli("sent", *KZ).ok().err  # a command that does not read it warns from them
    assert "the encryption key of KZ expires in 2 day(s)" in err
    assert "the signing key of KZ/ops expires in 10 day(s)" in err

    r = cli("admin", "key-expiry", "--client", "KZ/ops", "--at", "2020-01-01")
    assert r.rc == 1 and "in the past" in r.err
    cli("admin", "key-expiry", "--client", "KZ/ops", "--clear").ok()
    assert "expires_at" not in _entry(cli, "clients", "id", "KZ/ops")

    # at registration; once past it, the server refuses the key and the desk is told why
    cli("keygen", "GE/ops", "--server-url", running.url).ok()
    cli("admin", "party", "add", "GE", "Georgia").ok()
    cli(
        "admin", "client", "add", "GE/ops", "--roles", "poster,reader", "--key", "keys/GE/ops",
        "--expires", "4s",
    ).ok()  # fmt: skip
    registered = time.monotonic()
    cli("admin", "enc-key", "add", "GE", "--key", "keys/GE/ops", "--expires", "400d").ok()
    assert isinstance(_entry(cli, "encryption_keys", "party", "GE")["expires_at"], int)
    r = cli("directory", *GE).ok()
    assert "the signing key of GE/ops expires in 1 day(s)" in r.err
    assert "encryption key of GE" not in r.err  # 400 days away
    time.sleep(max(0.0, registered + 4 - time.monotonic()) + 0.5)
    r = cli("inbox", *GE)
    assert r.rc == 1 and "key expired" in r.err
    assert "exchange: warning: the signing key of GE/ops expired on" in r.err
