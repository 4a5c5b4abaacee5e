"""The README quick start, as a new user types it: init, serve, keygen, enrol, post,
read, acknowledge, and the sender's ledger; then a feed and a live watch."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from exchange.keyfiles import read_json

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _enrol_states(run: Callable[..., Any], served_url: str) -> None:
    for party, name, extra in (
        ("KZ", "Civil Aviation Committee of Kazakhstan", ()),
        ("UZ", "Civil Aviation Agency of Uzbekistan", ()),
        ("GE", "Georgian Civil Aviation Agency", ("--classical",)),
    ):
        out = run("keygen", f"{party}/ops", *extra).ok().out
        assert f"Created profile keys/{party}/ops" in out
        assert served_url in out
        run("admin", "party", "add", party, name).ok()
        r = run(
            "admin",
            "client",
            "add",
            f"{party}/ops",
            "--roles",
            "poster,reader",
            "--key",
            f"keys/{party}/ops",
        ).ok()
        assert f"added client {party}/ops (poster,reader)" in r.out
        r = run("admin", "enc-key", "add", party, "--key", f"keys/{party}/ops").ok()
        alg = "ECDH-ES+A256KW" if extra else "HPKE-MLKEM768X25519"
        assert f"({alg}) for {party}, now active" in r.out
    run("admin", "group", "add", "cac-avsec", "Central Asia/Caucasus AVSEC Group").ok()
    run("admin", "member", "set", "cac-avsec", "KZ", "chair").ok()
    run("admin", "member", "set", "cac-avsec", "UZ", "member").ok()
    run("admin", "member", "set", "cac-avsec", "GE", "observer").ok()


def test_quick_start(cli, served, examples: Path) -> None:
    # keys: private files 0600, public JWKs printed, never the private members
    _enrol_states(cli, served.url)
    for party in ("KZ", "UZ", "GE"):
        folder = served.folder / "keys" / party / "ops"
        assert _mode(folder / "signing.jwk") == 0o600
        assert _mode(folder / "encryption.jwk") == 0o600
        profile = read_json(folder / "profile.json")
        assert profile["client_id"] == f"{party}/ops"
        assert profile["server_url"] == served.url
    uz_enc = read_json(served.folder / "keys/UZ/ops/encryption.jwk")
    assert set(uz_enc) >= {"x25519_d", "mlkem768_d"}  # PROTOCOL §9 hybrid format
    assert "d" in read_json(served.folder / "keys/GE/ops/encryption.jwk")

    d = cli("directory").ok().out
    assert "(verified)" in d
    assert re.search(r"chairs\s+KZ", d) and re.search(r"members\s+UZ", d)
    assert re.search(r"observers\s+GE", d)
    assert "HPKE-MLKEM768X25519" in d and "ECDH-ES+A256KW" in d
    doc = json.loads(cli("directory", "--json").ok().out)
    assert {p["id"] for p in doc["parties"]} == {"OPERATOR", "KZ", "UZ", "GE"}

    kz, uz, ge = (["--profile", f"keys/{p}/ops"] for p in ("KZ", "UZ", "GE"))
    posted = cli("post", str(examples / "threat-assessment.json"), *kz).ok().out
    bid = re.search(rf"posted ({UUID})", posted).group(1)  # type: ignore[union-attr]
    assert re.search(r"recipients\s+GE UZ\n", posted)
    assert "receipt signature verified" in posted

    inbox = cli("inbox", *uz).ok().out
    row = rf"^1\s+{bid}\s+KZ\s+threat-assessment\s+priority \(FF\)\s+amber$"
    assert re.search(row, inbox, re.M)
    inbox = cli("inbox", "--open", *uz).ok().out
    assert "EXERCISE: UAS sightings near Tashkent (UTTT) approach" in inbox
    items = json.loads(cli("inbox", "--json", "--after", "1", *uz).ok().out)
    assert items == {"items": [], "next": 1}

    read = cli("read", bid, *uz).ok().out
    assert "From       KZ, signed by KZ/ops" in read
    assert "Threat level:   moderate" in read
    assert "Valid from:     2026-01-01 00:00Z" in read
    assert "UZ is a recipient" in read and "inner signature" in read
    bulletin = json.loads(cli("read", bid, "--json", *ge).ok().out)
    assert bulletin["iss"] == "KZ" and bulletin["body"]["locations"] == ["UTTT"]

    assert "as read for UZ" in cli("ack", bid, "--status", "read", *uz).ok().out
    assert "as received for GE" in cli("ack", bid, *ge).ok().out

    status = cli("status", bid, *kz).ok().out
    rows = {line.split()[0]: line for line in status.splitlines()[2:4]}
    assert set(rows) == {"GE", "UZ"}
    # UZ: delivered, no "received", "read" at a time, not actioned, not overdue
    uz_cells = re.split(r"\s{2,}", rows["UZ"])
    assert uz_cells[2] == "-" and uz_cells[3] != "-" and uz_cells[4:] == ["-", "no"]
    ge_cells = re.split(r"\s{2,}", rows["GE"])
    assert ge_cells[2] != "-" and ge_cells[3] == "-"
    assert "2 of 2 recipients acknowledged" in status
    ledger = json.loads(cli("status", bid, "--json", *kz).ok().out)
    assert {r["party"] for r in ledger["recipients"]} == {"GE", "UZ"}

    # the recipient may not see the sender's ledger; the sender has no copy to read
    err = cli("status", bid, *uz)
    assert err.rc == 1 and err.err.startswith("exchange: error: ")
    err = cli("read", bid, *["--profile", "keys/OPERATOR/admin"])
    assert err.rc == 1 and err.err.count("\n") == 1

    watched = cli("watch", "--count", "1", "--json", *ge).ok().out
    line = json.loads(watched.splitlines()[0])
    assert line["kind"] == "bulletin" and line["bulletin"]["bid"] == bid
    assert line["sender"] == "KZ/ops"


def test_feed_subscription_and_live_watch(cli, served, examples: Path) -> None:
    _enrol_states(cli, served.url)
    cli("admin", "party", "add", "ICAO-TA", "ICAO threat-assessment feed", "--kind", "feed").ok()
    out = cli("keygen", "ICAO-TA/feed", "--no-encryption").ok().out
    assert "Public encryption JWK" not in out
    assert not (served.folder / "keys/ICAO-TA/feed/encryption.jwk").exists()
    cli(
        "admin", "client", "add", "ICAO-TA/feed", "--roles", "poster", "--key", "keys/ICAO-TA/feed"
    ).ok()

    feed = ["--profile", "keys/ICAO-TA/feed"]
    kz = ["--profile", "keys/KZ/ops"]
    # nobody subscribed yet: the feed has no recipients
    body = served.folder / "body.json"
    body.write_text(
        json.dumps(json.loads((examples / "threat-assessment.json").read_text())["body"])
    )
    flags = [
        "--type",
        "threat-assessment",
        "--title",
        "UAS near UTTT",
        "--body-file",
        str(body),
        "--to-subscribers",
        "--priority",
        "immediate",
    ]
    refused = cli("post", *flags, *feed)
    assert refused.rc == 1 and "no recipients" in refused.err

    # only the chair (or the operator) may subscribe the group
    denied = cli("subscribe", "cac-avsec", "ICAO-TA", "--profile", "keys/UZ/ops")
    assert denied.rc == 1 and "chair" in denied.err
    r = cli("subscribe", "cac-avsec", "ICAO-TA", "--types", "threat-assessment", *kz).ok()
    assert "subscribed cac-avsec to ICAO-TA: threat-assessment" in r.out
    subs = cli("subscriptions", "cac-avsec", *kz).ok().out
    assert re.search(r"ICAO-TA\s+threat-assessment\s+any", subs)

    # a member watches live while the feed posts
    watcher = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exchange.cli.main",
            "watch",
            "--count",
            "3",
            "--ack",
            "--after",
            "0",
            "--profile",
            "keys/UZ/ops",
        ],
        cwd=served.folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watcher.stderr is not None
        assert "watching as UZ/ops" in watcher.stderr.readline()
        posted = cli("post", *flags, *feed).ok().out
        assert re.search(r"recipients\s+GE KZ UZ", posted)
        fed = subprocess.run(
            [
                sys.executable,
                str(examples / "feed.py"),
                *feed,
                "--generate",
                "--count",
                "2",
                "--interval",
                "0",
                "--seed",
                "7",
            ],
            cwd=served.folder,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert fed.returncode == 0, fed.stderr
        assert "[2/2] posted seq" in fed.stdout and "done: 2 posted, 0 refused" in fed.stdout
        out, err = watcher.communicate(timeout=30)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate()
    assert watcher.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 3, out
    assert "UAS near UTTT" in lines[0] and "ICAO-TA/feed" in lines[0] and "[acked]" in lines[0]
    assert all("SIMULATED:" in line for line in lines[1:])
    assert "Traceback" not in err

    # the watcher acknowledged all three: the feed's ledger shows UZ received them
    first = re.search(rf"bid ({UUID})", lines[0]).group(1)  # type: ignore[union-attr]
    ledger = json.loads(cli("status", first, "--json", *feed).ok().out)
    uz = next(r for r in ledger["recipients"] if r["party"] == "UZ")
    assert [a["status"] for a in uz["acks"]] == ["received"]

    cli("unsubscribe", "cac-avsec", "ICAO-TA", *kz).ok()
    assert "has no subscriptions" in cli("subscriptions", "cac-avsec", *kz).ok().out
