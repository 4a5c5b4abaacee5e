"""Directory administration end to end through the CLI, on each backend: list and show
parties, clients, groups and members from the verified directory; suspend and resume a
party or a client (refused while suspended, nothing addressed to it lost); remove a
client, a group or a party (final, confirmed with --yes, its unacknowledged bulletins no
longer overdue); each change bumps the directory version and is in the audit log."""

from __future__ import annotations

import json
import re

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
KZ = ("--profile", "keys/KZ/ops")
UZ = ("--profile", "keys/UZ/ops")


def _post(cli, examples, *extra: str) -> str:
    out = cli("post", str(examples / "threat-assessment.json"), *KZ, *extra).ok().out
    return re.search(rf"posted ({UUID})", out).group(1)  # type: ignore[union-attr]


def _version(out: str) -> int:
    return int(re.search(r"directory v(\d+)", out).group(1))  # type: ignore[union-attr]


def _inbox_bids(cli, profile: tuple[str, str]) -> list[str]:
    return [i["bid"] for i in json.loads(cli("inbox", "--json", *profile).ok().out)["items"]]


def test_list_and_show(cli, running, enrol) -> None:
    enrol("KZ", "UZ", url=running.url)
    out = cli("admin", "party", "list").ok().out
    assert re.search(r"KZ\s+state\s+active\s+Civil Aviation Committee of Kazakhstan", out)
    parties = json.loads(cli("admin", "party", "list", "--json").ok().out)
    assert [(p["id"], p["status"]) for p in parties] == [
        ("KZ", "active"), ("OPERATOR", "active"), ("UZ", "active"),
    ]  # fmt: skip
    show = cli("admin", "party", "show", "KZ").ok().out
    assert "KZ (state, active): Civil Aviation Committee of Kazakhstan" in show
    assert re.search(r"KZ/ops\s+poster,reader\s+active", show)
    assert "HPKE-MLKEM768X25519  active" in show
    assert "groups: cac-avsec (member)" in show
    clients = json.loads(cli("admin", "client", "list", "--party", "UZ", "--json").ok().out)
    assert [c["id"] for c in clients] == ["UZ/ops"]
    assert (
        "UZ/ops of UZ: active, roles poster,reader"
        in cli("admin", "client", "show", "UZ/ops").ok().out
    )
    assert re.search(r"cac-avsec\s+2\s+0\s+Central Asia", cli("admin", "group", "list").ok().out)
    members = json.loads(cli("admin", "member", "list", "cac-avsec", "--json").ok().out)
    assert members == [{"party": "KZ", "role": "member"}, {"party": "UZ", "role": "member"}]
    assert re.search(r"KZ\s+member", cli("admin", "group", "show", "cac-avsec").ok().out)
    for argv in (("party", "show", "XX"), ("client", "show", "KZ/none"), ("group", "show", "no")):
        r = cli("admin", *argv)
        assert r.rc == 1 and "is not in the directory" in r.err, r
    # a State's client is not the operator
    r = cli("admin", "party", "suspend", "UZ", *KZ)
    assert r.rc == 1 and "admin" in r.err.lower(), r.err


def test_suspend_and_resume_lose_nothing(cli, running, enrol, examples) -> None:
    enrol("KZ", "UZ", url=running.url)
    first = _post(cli, examples)
    out = cli("admin", "party", "suspend", "UZ").ok().out
    assert "suspended UZ: its clients are refused" in out
    v1 = _version(out)
    r = cli("inbox", *UZ)
    assert r.rc == 1 and "party suspended" in r.err, r.err
    second = _post(cli, examples)  # accepted while UZ is suspended, and kept for it
    assert re.search(r"UZ\s+state\s+suspended", cli("admin", "party", "list").ok().out)
    r = cli("admin", "party", "suspend", "UZ")
    assert r.rc == 1 and "already suspended" in r.err
    r = cli("admin", "party", "suspend", "OPERATOR")
    assert r.rc == 1 and "cannot be suspended" in r.err
    v2 = _version(cli("admin", "party", "resume", "UZ").ok().out)
    assert v2 == v1 + 1
    assert _inbox_bids(cli, UZ) == [first, second]

    # one desk suspended: it cannot post; what it sent before still reads as verified
    assert "suspended KZ/ops until" in cli("admin", "client", "suspend", "KZ/ops").ok().out
    r = cli("post", str(examples / "threat-assessment.json"), *KZ)
    assert r.rc == 1 and "client suspended" in r.err, r.err
    read = cli("read", first, *UZ).ok().out
    assert "KZ/ops" in read and "EXERCISE: UAS sightings" in read
    cli("admin", "client", "resume", "KZ/ops").ok()
    _post(cli, examples)
    cli("audit", "verify").ok()


def test_remove_is_final(cli, running, enrol, examples) -> None:
    enrol("KZ", "UZ", url=running.url)
    cli("subscribe", "cac-avsec", "UZ").ok()
    bid = _post(cli, examples, "--priority", "flash")
    r = cli("admin", "party", "remove", "UZ")
    assert r.rc == 1 and "removing party UZ is final; run again with --yes" in r.err
    out = cli("admin", "party", "remove", "UZ", "--yes").ok().out
    assert "removed party UZ" in out
    assert re.search(r"clients revoked\s+UZ/ops", out)
    assert re.search(r"groups left\s+cac-avsec", out)
    assert re.search(r"subscriptions\s+1 removed", out)
    assert re.search(r"unacknowledged\s+1 bulletins \(kept, no longer overdue\)", out)
    ledger = json.loads(cli("status", bid, "--json", *KZ).ok().out)
    assert [(r["party"], r["overdue"]) for r in ledger["recipients"]] == [("UZ", False)]
    r = cli("inbox", *UZ)
    assert r.rc == 1 and "key revoked" in r.err
    party = json.loads(cli("admin", "party", "show", "UZ", "--json").ok().out)
    assert party["status"] == "removed" and party["groups"] == []
    assert {k["status"] for k in party["encryption_keys"]} == {"revoked"}
    for argv, message in (
        (("party", "add", "UZ", "Again"), "party UZ already exists"),
        (("member", "set", "cac-avsec", "UZ", "member"), "UZ was removed"),
        (("client", "resume", "UZ/ops"), "removal is final"),
        (("party", "resume", "UZ"), "removal is final"),
        (("party", "remove", "OPERATOR", "--yes"), "cannot be removed"),
        (("client", "remove", "OPERATOR/admin", "--yes"), "last active admin"),
    ):
        r = cli("admin", *argv)
        assert r.rc == 1 and message in r.err, (argv, r.err)

    # nothing is routed to a removed party any more: KZ is alone in the group
    r = cli("post", str(examples / "threat-assessment.json"), *KZ)
    assert r.rc == 1 and "no recipients" in r.err, r.err
    assert "removed client KZ/ops" in cli("admin", "client", "remove", "KZ/ops", "--yes").ok().out
    assert re.search(r"KZ/ops\s+poster,reader\s+revoked", cli("admin", "client", "list").ok().out)
    out = cli("admin", "group", "remove", "cac-avsec", "--yes").ok().out
    assert "removed group cac-avsec (1 members, 0 subscriptions)" in out
    assert "(no groups)" in cli("admin", "group", "list").ok().out
    r = cli("admin", "group", "remove", "cac-avsec", "--yes")
    assert r.rc == 1 and "group cac-avsec does not exist" in r.err
    cli("audit", "verify").ok()
    log = json.loads(cli("directory", "--json").ok().out)
    assert log["version"] >= 10
