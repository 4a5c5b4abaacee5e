"""``exchange signing-policy`` and ``keygen --ed25519`` against a real ``exchange serve``
(issue 20)."""

from __future__ import annotations

import json
from pathlib import Path


def test_signing_policy_from_the_command_line(cli, served) -> None:
    cli("keygen", "KZ/ops").ok()
    cli("keygen", "KZ/legacy", "--ed25519", "--no-encryption").ok()
    legacy = json.loads(Path("keys/KZ/legacy/signing.jwk").read_text())
    assert legacy["kty"] == "OKP" and legacy["alg"] == "EdDSA"
    assert json.loads(Path("keys/KZ/ops/signing.jwk").read_text())["kty"] == "AVSEC-HYB"
    cli("admin", "party", "add", "KZ", "Civil Aviation Committee of Kazakhstan").ok()
    cli("admin", "client", "add", "KZ/ops", "--roles", "poster,reader", "--key", "keys/KZ/ops").ok()

    out = cli("signing-policy", "KZ", "--require-hybrid").ok().out
    assert out.startswith("KZ must sign with hybrid keys; directory v")
    r = cli("admin", "client", "add", "KZ/legacy", "--roles", "reader", "--key", "keys/KZ/legacy")
    assert r.rc != 0 and "hybrid" in r.err and "Traceback" not in r.err
    assert len(r.err.strip().splitlines()) == 1

    out = cli("signing-policy", "KZ", "--allow-ed25519").ok().out
    assert out.startswith("KZ may sign with Ed25519")
    cli("admin", "client", "add", "KZ/legacy", "--roles", "reader", "--key", "keys/KZ/legacy").ok()
    assert cli("signing-policy", "--require-hybrid").ok().out.startswith("every party must")
    r = cli("inbox", "--profile", "keys/KZ/legacy")
    assert r.rc != 0 and "hybrid" in r.err
    cli("signing-policy", "--allow-ed25519").ok()
    r = cli("signing-policy", "XX", "--require-hybrid")
    assert r.rc != 0 and "XX" in r.err
    r = cli("signing-policy", "KZ")  # neither flag: a usage error
    assert r.rc != 0
