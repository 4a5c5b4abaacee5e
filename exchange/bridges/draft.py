"""A draft bulletin made from another tool's data, with one warning per field it lost.

An import never posts: it writes a draft that ``exchange post`` accepts, for a person to
review. Whatever the conversion cannot carry is named in a warning (users of MISP's STIX
converters complain of fields dropped silently), and the warnings head the draft file as
comments too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from exchange.bulletin.validate import validate_body
from exchange.errors import ExchangeError
from exchange.vocab import PRIORITIES, TLPS, TYPES

__all__ = ["DRAFT_FIELDS", "Draft", "one_line"]

#: The fields of a draft, in the order ``exchange post`` documents them.
DRAFT_FIELDS = (
    "type",
    "title",
    "priority",
    "tlp",
    "lang",
    "exp",
    "supersedes",
    "groups",
    "to",
    "body",
)


def one_line(value: Any, limit: int = 80) -> str:
    """A foreign value for a warning line: one line, printable, cut short."""
    text = " ".join(str(value).split())
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Draft:
    """The fields for ``exchange post`` and the warnings of the conversion."""

    source: str
    fields: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def warn(self, where: str, what: str) -> None:
        self.warnings.append(f"{one_line(where, 120)}: {what}")

    def check(self, now: int | None = None) -> None:
        """Fill what a post needs and say what the reviewer must still decide."""
        f = self.fields
        now = int(time.time()) if now is None else now
        exp = f.get("exp")
        if isinstance(exp, int) and exp <= now:
            del f["exp"]
            self.warn("exp", "the original expiry has passed: removed (set --expires-in)")
        if f.get("supersedes"):
            self.warn("supersedes", "kept: it must name a bulletin of the party that posts")
        if f.get("type") not in TYPES:
            f["type"] = "advisory"
        if f.get("priority") not in PRIORITIES:
            f["priority"] = "routine"
            self.warn("priority", "none given: routine (review it)")
        if f.get("tlp") not in TLPS:
            f["tlp"] = "amber"
            self.warn("tlp", "no TLP marking: amber until you choose (review it)")
        title = " ".join(str(f.get("title") or "").split())
        if not title:
            title = "Imported " + self.source
            self.warn("title", "none given: a placeholder title was set")
        if len(title) > 200:
            self.warn("title", f"{len(title)} characters cut to the 200 a bulletin allows")
            title = title[:199] + "…"
        f["title"] = title
        f.setdefault("lang", "en")
        f.setdefault("groups", [])
        f.setdefault("to", [])
        if not f["groups"] and not f["to"]:
            self.warn("groups", "no recipients: add --group GROUP or --to PARTY when posting")
        try:
            validate_body(str(f["type"]), f.get("body"))
        except ExchangeError as exc:
            self.warn("body", f"does not fit the {f['type']} schema yet: {one_line(exc.detail)}")

    def yaml(self) -> str:
        """The draft as YAML for ``exchange post``, the warnings as comments on top."""
        head = [f"# draft bulletin imported from {one_line(self.source)}; review, then:"]
        head.append("#   exchange post FILE --group GROUP")
        head += [f"# warning: {one_line(w, 400)}" for w in self.warnings]
        ordered = {k: self.fields[k] for k in DRAFT_FIELDS if k in self.fields}
        text = yaml.safe_dump(ordered, allow_unicode=True, sort_keys=False, width=88)
        return "\n".join(head) + "\n" + text

    def write(self, path: Path) -> None:
        path.write_text(self.yaml(), encoding="utf-8")
