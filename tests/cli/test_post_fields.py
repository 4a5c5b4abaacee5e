"""``exchange post`` reads the schema 1.1 fields (handling, in_reply_to) from a file, as an
imported STIX or MISP draft holds them, and from flags."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from exchange.cli.bulletins import bulletin_from
from exchange.cli.main import build_parser
from exchange.errors import InvalidBulletin

NOW = 1_790_000_000


def _args(*argv: str) -> object:
    return build_parser().parse_args(["post", *argv])


def _draft(tmp_path: Path, **extra: object) -> Path:
    doc = {
        "type": "advisory",
        "title": "Reply on screening at UAAA",
        "groups": ["cac-avsec"],
        "priority": "routine",
        "tlp": "amber",
        "body": {"summary": "Screening rules as asked."},
        **extra,
    }
    path = tmp_path / "draft.json"
    path.write_text(json.dumps(doc))
    return path


def test_handling_and_reply_come_from_the_file(tmp_path: Path) -> None:
    original = str(uuid.uuid4())
    path = _draft(tmp_path, handling="RESTRICTED: no onward distribution", in_reply_to=original)
    b = bulletin_from(_args(str(path)), "KZ", NOW)
    assert b["handling"] == "RESTRICTED: no onward distribution"
    assert b["in_reply_to"] == original


def test_flags_override_the_file(tmp_path: Path) -> None:
    other = str(uuid.uuid4())
    path = _draft(tmp_path, handling="from the file")
    b = bulletin_from(
        _args(str(path), "--handling", "from a flag", "--in-reply-to", other), "KZ", NOW
    )
    assert (b["handling"], b["in_reply_to"]) == ("from a flag", other)


def test_a_bad_reply_id_is_refused(tmp_path: Path) -> None:
    path = _draft(tmp_path, in_reply_to="not-a-bid")
    with pytest.raises(InvalidBulletin):
        bulletin_from(_args(str(path)), "KZ", NOW)
