"""Issue 17, leaf privacy through the command line: after a TLP:RED bulletin and its ack,
``exchange audit verify`` passes for the sender, the recipient, a State not party to it
and the operator (the CLI's own post and ack checked their committed entries)."""

from __future__ import annotations

import json
import re

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def test_audit_verify_for_every_party(cli, running, enrol, examples) -> None:
    enrol("KZ", "UZ", "KG", url=running.url)
    doc = json.loads((examples / "threat-assessment.json").read_text(encoding="utf-8"))
    doc["groups"] = []
    with open("red.json", "w", encoding="utf-8") as f:
        json.dump(doc, f)
    out = cli(
        "post", "red.json", "--profile", "keys/KZ/ops", "--to", "UZ", "--tlp", "red",
    ).ok().out  # fmt: skip
    bid = re.search(rf"posted ({UUID})", out).group(1)  # type: ignore[union-attr]
    cli("ack", bid, "--profile", "keys/UZ/ops").ok()
    for profile in ("keys/KZ/ops", "keys/UZ/ops", "keys/KG/ops", None):
        args = ("--profile", profile) if profile else ()
        r = cli("audit", "verify", "--json", *args).ok()
        assert json.loads(r.out)["ok"] is True
    with open("serve.log", encoding="utf-8") as log:
        assert "Traceback" not in log.read()
