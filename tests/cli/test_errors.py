"""Mistakes a user can make: each is one line on stderr and a non-zero exit (2 for
usage, 1 otherwise), never a traceback; and a few offline checks of ``post``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from exchange import __version__

KID = "A" * 43  # a server kid to pin when no server is running


def _one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("exchange: error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def offline_profile(cli, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A KZ profile pinned to a server that is not running (port 9 on loopback)."""
    monkeypatch.setenv("EXCHANGE_URL", "http://127.0.0.1:9")
    r = cli("keygen", "KZ/ops", "--server-kid", KID)
    assert r.rc == 0, r.err
    return ["--profile", "keys/KZ/ops"]


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        (["frobnicate"], 2, "invalid choice: 'frobnicate'"),
        ([], 2, "required: COMMAND"),
        (["inbox"], 1, "no profile: pass --profile DIR or set EXCHANGE_PROFILE"),
        (["inbox", "--profile", "nowhere"], 1, "no profile at nowhere"),
        (["directory"], 1, "no profile at keys/OPERATOR/admin"),
        (["read", "not-a-bid", "--profile", "x"], 2, "'not-a-bid' is not a bulletin id"),
        (["admin", "party", "add", "kz", "Kazakhstan"], 2, "'kz' is not a party id"),
        (["admin", "member", "set", "cac-avsec", "KZ", "boss"], 2, "invalid choice: 'boss'"),
        (["keygen", "kz-ops"], 1, "must be PARTY/name"),
        (["inbox", "--after", "x"], 2, "invalid int value"),
        (["serve"], 1, "no database at exchange.db: run 'exchange init' first"),
        (["post", "missing.json", "--profile", "."], 1, "no profile at ."),
    ],
)
def test_usage_and_setup_errors(cli, argv: list[str], status: int, message: str) -> None:
    r = cli(*argv)
    assert r.rc == status, r
    assert message in _one_error_line(r.err)
    assert r.out == ""


def test_server_down(cli, monkeypatch: pytest.MonkeyPatch, offline_profile: list[str]) -> None:
    r = cli("keygen", "UZ/ops")
    assert "cannot fetch the server key from http://127.0.0.1:9" in _one_error_line(r.err)
    assert r.rc == 1 and not Path("keys/UZ/ops").exists()  # nothing half-written
    for argv in (["inbox"], ["watch", "--count", "1"], ["directory"]):
        r = cli(*argv, *offline_profile)
        assert r.rc == 1
        assert "cannot reach http://127.0.0.1:9" in _one_error_line(r.err)


def test_keygen_refuses_to_overwrite(cli, offline_profile: list[str]) -> None:
    before = Path("keys/KZ/ops/signing.jwk").read_bytes()
    r = cli("keygen", "KZ/ops", "--server-kid", KID)
    assert r.rc == 1 and "refusing to overwrite a key" in _one_error_line(r.err)
    assert Path("keys/KZ/ops/signing.jwk").read_bytes() == before


def test_keygen_never_prints_private_keys(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXCHANGE_URL", "http://127.0.0.1:9")
    r = cli("keygen", "UZ/desk", "--server-kid", KID)
    assert r.rc == 0
    signing = json.loads(Path("keys/UZ/desk/signing.jwk").read_text())
    enc = json.loads(Path("keys/UZ/desk/encryption.jwk").read_text())
    secrets = (signing["ed25519_d"], signing["mldsa65_d"], enc["x25519_d"], enc["mlkem768_d"])
    for secret in secrets:
        assert secret not in r.out and secret not in r.err
    public = json.loads(Path("keys/UZ/desk/public.json").read_text())
    for secret in secrets:
        assert secret not in json.dumps(public)  # the hand-off file is public keys only
    assert public["signing"]["mldsa65"] == signing["mldsa65"]  # hybrid by default
    assert public["encryption"]["kid"] == enc["kid"]
    assert f"fingerprint by phone:  {public['fingerprint']}" in r.out


BAD_FILES = [
    ("bad.json", "{oops", "bad.json is not valid JSON"),
    ("bad.yaml", "a: [\n", "bad.yaml is not valid YAML"),
    ("list.json", "[1, 2]", "must hold an object"),
    ("other.json", '{"iss": "UZ"}', "iss is UZ, but this profile is KZ"),
    ("extra.json", '{"colour": "red"}', "unknown field colour"),
    (
        "schema.json",
        '{"type": "threat-assessment", "title": "t", "groups": ["cac-avsec"], '
        '"body": {"summary": "s"}}',
        "body.threat_level: is required",
    ),
    (
        "tlp.yaml",
        "type: advisory\ntitle: t\ngroups: [cac-avsec]\ntlp: red\nbody: {summary: s}\n",
        "groups: must be empty when tlp is red",
    ),
    ("absent.json", None, "No such file or directory: absent.json"),
]


@pytest.mark.parametrize(("name", "text", "message"), BAD_FILES)
def test_bad_bulletin_files(
    cli, offline_profile: list[str], name: str, text: str | None, message: str
) -> None:
    if text is not None:
        Path(name).write_text(text)
    r = cli("post", name, *offline_profile)
    assert r.rc == 1 and r.out == ""
    assert message in _one_error_line(r.err)


def test_post_dry_run_fills_and_converts(cli, offline_profile: list[str], examples) -> None:
    r = cli(
        "post",
        str(examples / "threat-assessment.yaml"),
        "--dry-run",
        "--to-subscribers",
        "--priority",
        "flash",
        "--to",
        "UZ,GE",
        "--expires-in",
        "2",
        *offline_profile,
    )
    assert r.rc == 0, r.err
    b = json.loads(r.out)
    assert (b["v"], b["iss"], b["priority"], b["tlp"]) == (1, "KZ", "flash", "green")
    assert b["groups"] == ["cac-avsec", "@subscribers"] and b["to"] == ["UZ", "GE"]
    assert re.fullmatch(r"[0-9a-f-]{36}", b["bid"])
    assert b["body"]["valid_from"] == 1767225600  # 2026-01-01T00:00:00Z from YAML
    assert b["exp"] == b["iat"] + 7200


def test_post_needs_type_title_body(cli, offline_profile: list[str]) -> None:
    r = cli("post", "--title", "x", *offline_profile)
    assert r.rc == 1
    assert "missing type, body" in _one_error_line(r.err)


def test_version(cli) -> None:
    r = cli("--version")
    assert r.rc == 0 and r.out.strip() == f"exchange {__version__}"


def test_real_process_errors(proc, offline_profile: list[str]) -> None:
    for argv, status, message in (
        (["nope"], 2, "invalid choice"),
        (["inbox", *offline_profile], 1, "cannot reach"),
        (["post", "--type", "advisory", *offline_profile], 1, "missing title, body"),
    ):
        r = proc(*argv)
        assert r.rc == status, r
        assert message in _one_error_line(r.err)
