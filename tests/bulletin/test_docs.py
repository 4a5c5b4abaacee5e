"""The JSON examples of docs/bulletins.md are valid, so the page cannot drift from the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

from exchange.bulletin import validate_body, validate_bulletin
from exchange.vocab import TYPES

DOC = Path(__file__).resolve().parents[2] / "docs" / "bulletins.md"


def test_examples_are_valid() -> None:
    text = DOC.read_text("utf-8")
    seen: set[str] = set()
    for section in re.split(r"^### ", text, flags=re.M)[1:]:
        heading = section.split("\n", 1)[0].strip()
        for block in re.findall(r"```json\n(.*?)```", section, flags=re.S):
            example = json.loads(block)
            if "v" in example:
                validate_bulletin(example)
            else:
                validate_body(heading, example)
                seen.add(heading)
    assert seen == set(TYPES)
