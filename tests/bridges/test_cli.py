"""The bridge commands as a user types them: export stix/misp, import to a draft that
posts, the TAXII server as a process, and the feed's STIX folder mode."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import stix2
import yaml
from cli.conftest import free_port

from exchange.keyfiles import read_json


def _enrol(cli, served) -> str:
    for party in ("KZ", "UZ"):
        cli("keygen", f"{party}/ops").ok()
        cli("admin", "party", "add", party, f"State {party}").ok()
        cli(
            "admin",
            "client",
            "add",
            f"{party}/ops",
            "--roles",
            "poster,reader",
            "--key",
            f"keys/{party}/ops",
        ).ok()
        cli("admin", "enc-key", "add", party, "--key", f"keys/{party}/ops").ok()
    cli("admin", "group", "add", "cac-avsec", "CAC AVSEC").ok()
    cli("admin", "member", "set", "cac-avsec", "KZ", "chair").ok()
    cli("admin", "member", "set", "cac-avsec", "UZ", "member").ok()
    return "keys/UZ/ops"


def test_export_import_post(cli, served, examples: Path) -> None:
    uz = ["--profile", _enrol(cli, served)]
    out = cli("post", str(examples / "threat-assessment.json"), "--profile", "keys/KZ/ops").ok()
    bid = re.search(r"posted (\S+)", out.out).group(1)

    cli("export", "stix", bid, "-o", "b.json", *uz).ok()
    bundle = Path("b.json").read_text()
    assert Path("b.json").stat().st_mode & 0o777 == 0o600  # plaintext: the owner only
    stix2.parse(bundle, allow_custom=False)
    since = json.loads(cli("export", "stix", "--since", "0", *uz).ok().out)
    assert f"report--{bid}" in {o["id"] for o in since["objects"]}
    assert cli("export", "stix", *uz).rc == 1  # neither BIDs nor --since

    r = cli("import", "stix", "b.json", "-o", "draft.yaml").ok()
    assert "exchange: warning: extension.bid:" in r.err
    draft = yaml.safe_load(Path("draft.yaml").read_text())
    assert draft["type"] == "threat-assessment" and draft["groups"] == ["cac-avsec"]
    posted = cli("post", "draft.yaml", *uz).ok().out
    assert "posted" in posted and bid not in posted  # a new bulletin

    cli("export", "misp", bid, "-o", "ev.json", *uz).ok()
    event = json.loads(Path("ev.json").read_text())["Event"]
    assert event["uuid"] == bid
    r = cli("import", "misp", "ev.json").ok()
    assert yaml.safe_load(r.out)["body"] == draft["body"]

    Path("bad.json").write_text("{not json")
    bad = cli("import", "stix", "bad.json")
    assert (
        bad.rc == 1 and bad.err.startswith("exchange: error: not JSON") and bad.err.count("\n") == 1
    )
    missing = cli("export", "stix", "0b9f4a1e-6c2d-4e8a-9a51-3d7f2c1b8e40", *uz)
    assert missing.rc == 1 and "Traceback" not in missing.err


def test_taxii_command_and_feed_stix_dir(cli, served, examples: Path) -> None:
    profile = _enrol(cli, served)
    cli("post", str(examples / "threat-assessment.json"), "--profile", "keys/KZ/ops").ok()
    # the feed mode: a folder of STIX bundles posted through a subscription
    cli("admin", "party", "add", "ICAO-TA", "feed", "--kind", "feed").ok()
    cli("keygen", "ICAO-TA/feed", "--no-encryption").ok()
    cli(
        "admin", "client", "add", "ICAO-TA/feed", "--roles", "poster", "--key", "keys/ICAO-TA/feed"
    ).ok()
    cli("subscribe", "cac-avsec", "ICAO-TA", "--profile", "keys/KZ/ops").ok()
    incoming = Path("incoming")
    incoming.mkdir()
    rep = stix2.Report(
        name="UAS near UTTT",
        description="Drones seen.",
        labels=["uas"],
        published="2026-12-01T00:00:00Z",
        object_refs=["identity--0b9f4a1e-6c2d-4e8a-9a51-3d7f2c1b8e40"],
        object_marking_refs=[stix2.TLP_GREEN.id],
    )
    (incoming / "a.json").write_text(stix2.Bundle(rep, stix2.TLP_GREEN).serialize())
    (incoming / "b.json").write_text("[]")
    fed = subprocess.run(
        [
            sys.executable,
            str(examples / "feed.py"),
            "--profile",
            "keys/ICAO-TA/feed",
            "--stix-dir",
            "incoming",
            "--interval",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert fed.returncode == 0, fed.stderr
    assert "b.json: skipped: not a STIX bundle" in fed.stdout
    assert "a.json: warning:" in fed.stdout and "done: 1 posted, 0 refused" in fed.stdout

    port = free_port()
    taxii = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exchange.cli.main",
            "taxii",
            "--profile",
            profile,
            "--port",
            str(port),
            "--poll",
            "0.5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert taxii.stdout is not None
        lines: list[str] = []
        while not lines or not lines[-1].strip().startswith("token"):
            lines.append(taxii.stdout.readline())
            assert lines[-1] and len(lines) < 10, lines
        text = "".join(lines)
        assert "2 new bulletins" in text and "server of UZ: 2 bulletins" in text
        url = re.search(r"(http://\S+/taxii2/)", text).group(1)
        token = lines[-1].split()[-1]
        assert token == Path(profile, "taxii.token").read_text().strip()
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.headers["Content-Type"] == "application/taxii+json;version=2.1"
            assert json.load(resp)["api_roots"]
        try:
            urllib.request.urlopen(url, timeout=10)
            raise AssertionError("served without a credential")
        except urllib.error.HTTPError as exc:
            assert exc.code == 401
    finally:
        taxii.send_signal(signal.SIGINT)
        _out, err = taxii.communicate(timeout=15)
    assert taxii.returncode == 0, err
    assert "Traceback" not in err
    assert read_json(Path(profile, "profile.json"))["client_id"] == "UZ/ops"
