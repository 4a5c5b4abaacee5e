"""One configuration file: every setting from TOML, EXCHANGE_* or a flag, later sources
winning; ``exchange config show`` says where each value came from; bad settings are one
line. End to end: a rate limit and an ack deadline set in the file change what a real
server does."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _show(cli, *argv: str) -> dict[str, dict[str, str]]:
    rows = json.loads(cli("config", "show", "--json", *argv).ok().out)
    return {r["name"]: r for r in rows}


def test_sources_in_order(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "exchange.toml").write_text(
        'exchange_id = "cac-exchange"\nport = 9000\nhost = "0.0.0.0"\n'
        'db_url = "postgresql://exchange:s3cret@db.internal/exchange"\n'
        "[limits]\nrate_per_second = 5.5\nrate_burst = 300\nws_heartbeat = 30\n"
        "[ack_deadlines]\nflash = 600\n"
    )
    monkeypatch.setenv("EXCHANGE_PORT", "9001")
    monkeypatch.setenv("EXCHANGE_LIMITS_RATE_BURST", "400")
    s = _show(cli, "--config", "exchange.toml", "--host", "10.0.0.1", "--set", "log_level=debug")
    assert s["exchange_id"] == {
        "name": "exchange_id", "value": "cac-exchange", "source": "file exchange.toml",
        "env": "EXCHANGE_ID",
    }  # fmt: skip
    assert (s["port"]["value"], s["port"]["source"]) == ("9001", "env EXCHANGE_PORT")
    assert (s["host"]["value"], s["host"]["source"]) == ("10.0.0.1", "flag --host")
    assert s["limits.rate_per_second"]["value"] == "5.5"
    assert s["limits.rate_burst"]["source"] == "env EXCHANGE_LIMITS_RATE_BURST"
    assert s["limits.rate_burst"]["value"] == "400"
    assert s["limits.ws_heartbeat"]["value"] == "30.0"
    assert s["ack_deadlines.flash"]["value"] == "600"
    assert s["ack_deadlines.routine"] == {
        "name": "ack_deadlines.routine", "value": "86400", "source": "default",
        "env": "EXCHANGE_ACK_DEADLINES_ROUTINE",
    }  # fmt: skip
    assert (s["log_level"]["value"], s["log_level"]["source"]) == ("debug", "flag --set")
    assert s["db_url"]["value"] == "postgresql://exchange:***@db.internal/exchange"
    # every operator setting of the issue is there
    for name in (
        "host", "port", "db_url", "exchange_id", "limits.max_body", "limits.page_size",
        "limits.rate_per_second", "limits.rate_burst", "ack_deadlines.immediate",
        "limits.ws_heartbeat", "log_level", "log_file",
    ):  # fmt: skip
        assert name in s, name
    assert "reuse_port" not in s  # set by the program, not the operator
    text = cli("config", "show", "--config", "exchange.toml").ok().out
    assert "s3cret" not in text
    assert "limits.rate_burst" in text and "env EXCHANGE_LIMITS_RATE_BURST" in text


@pytest.mark.parametrize(
    ("toml", "argv", "message"),
    [
        ("prot = 1\n", (), "unknown setting 'prot'"),
        ("[limits]\nburst = 1\n", (), "unknown setting 'limits.burst'"),
        ("[ack_deadlines]\nurgent = 60\n", (), "unknown setting 'ack_deadlines.urgent'"),
        (
            'port = "eighty"\n',
            (),
            "bad setting port (in exchange.toml): expected a whole number, not 'eighty'",
        ),
        ("port = 1.5\n", (), "expected a whole number"),
        ("[limits]\nrate_per_second = 0\n", (), "bad setting limits.rate_per_second: must be"),
        ("[ack_deadlines]\nflash = -5\n", (), "must not be negative"),
        ("port = \n", (), "exchange.toml is not valid TOML"),
        ('log_level = "loud"\n', (), "log_level: must be one of debug, info"),
        ("", ("--set", "limits.nope=1"), "unknown setting 'limits.nope'"),
        ("", ("--set", "novalue"), "expected NAME=VALUE"),
        ("", ("--port", "http"), "bad setting port (--port): expected a whole number"),
    ],
)
def test_bad_settings_are_one_line(
    cli, tmp_path: Path, toml: str, argv: tuple[str, ...], message: str
) -> None:
    (tmp_path / "exchange.toml").write_text(toml)
    for command in (("config", "show"), ("serve",), ("migrate",), ("init",)):
        r = cli(*command, "--config", "exchange.toml", *argv)
        assert r.rc == 1, (command, r)
        assert message in r.err, (command, r.err)
        assert len(r.err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exchange.toml"]


def test_missing_config_file(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXCHANGE_CONFIG", "nowhere.toml")
    r = cli("serve")
    assert r.rc == 1 and "no configuration file at nowhere.toml" in r.err


def test_file_settings_change_the_server(cli, tmp_path: Path, start_serve, enrol, examples) -> None:
    port = _free_port()
    (tmp_path / "exchange.toml").write_text(
        f'exchange_id = "cac-exchange"\nport = {port}\n'
        f'db_url = "sqlite:///{tmp_path}/data/exchange.db"\nkeys_dir = "{tmp_path}/srv-keys"\n'
        'log_file = "exchange.log"\n[ack_deadlines]\nroutine = 1\n'
    )
    (tmp_path / "data").mkdir()
    cli("init", "--config", "exchange.toml").ok()
    assert (tmp_path / "data/exchange.db").exists()
    assert (tmp_path / "srv-keys/OPERATOR/admin/profile.json").exists()
    serving = start_serve(port, "--config", "exchange.toml", log="exchange.log", port_flag=False)
    admin = ["--profile", "srv-keys/OPERATOR/admin"]
    try:
        url = serving.url
        cli("admin", "group", "add", "cac-avsec", "CAC", *admin).ok()
        for party in ("KZ", "UZ"):
            cli("keygen", f"{party}/ops", "--server-url", url, "--exchange-id", "cac-exchange").ok()
            cli("admin", "party", "add", party, party, *admin).ok()
            cli(
                "admin", "client", "add", f"{party}/ops", "--roles", "poster,reader",
                "--key", f"keys/{party}/ops", *admin,
            ).ok()  # fmt: skip
            cli("admin", "enc-key", "add", party, "--key", f"keys/{party}/ops", *admin).ok()
            cli("admin", "member", "set", "cac-avsec", party, "member", *admin).ok()
        posted = cli(
            "post", str(examples / "threat-assessment.json"), "--priority", "routine",
            "--profile", "keys/KZ/ops",
        ).ok()  # fmt: skip
        bid = posted.out.split("posted ", 1)[1].split()[0]
        time.sleep(1.5)  # the routine deadline of the file (1 s) has passed
        ledger = json.loads(cli("status", bid, "--json", "--profile", "keys/KZ/ops").ok().out)
        assert [(r["party"], r["overdue"]) for r in ledger["recipients"]] == [("UZ", True)]
    finally:
        out, err = serving.stop()
    assert out.startswith(f"AVSEC Exchange 'cac-exchange' listening on {url} (log exchange.log)")
    assert err == ""

    # a flag overrides the file: a burst of 2 requests per client, refilled very slowly
    serving = start_serve(
        port, "--config", "exchange.toml", "--set", "limits.rate_burst=2",
        "--set", "limits.rate_per_second=0.01", log="exchange.log", port_flag=False,
    )  # fmt: skip
    try:
        results = [cli("inbox", "--profile", "keys/UZ/ops") for _ in range(3)]
    finally:
        serving.stop()
    assert results[0].rc == 0
    assert results[-1].rc == 1 and "rate limit exceeded" in results[-1].err
