"""The protocol's vocabulary and the crypto core's boundary, checked on the source (issue 19).

A rule written twice drifts: each pattern and closed list below is defined in
``exchange/vocab.py`` and imported everywhere else, and nothing outside ``exchange.crypto``
reaches into its private modules."""

from __future__ import annotations

import ast
import pathlib

import pytest

import exchange

ROOT = pathlib.Path(exchange.__file__).parent
SOURCES = sorted(p for p in ROOT.rglob("*.py") if "migrations" not in p.parts)


def _module(path: pathlib.Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: pathlib.Path) -> list[str]:
    """Every module imported, ``from a import b`` counted as ``a.b`` too."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    out += [
        f"{n.module}.{a.name}"
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom)
        for a in n.names
    ]
    out += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    return out


def test_no_private_crypto_module_imported_from_outside() -> None:
    bad = [
        (_module(p), m)
        for p in SOURCES
        if not _module(p).startswith("exchange.crypto")
        for m in _imports(p)
        if m.startswith("exchange.crypto._")
    ]
    assert not bad, bad
    assert len(SOURCES) > 100


def test_the_crypto_core_imports_only_pure_modules() -> None:
    """crypto/ may use the error tree and the protocol vocabulary, nothing server-side."""
    allowed = ("exchange.crypto", "exchange.errors", "exchange.vocab")
    crypto = [p for p in SOURCES if _module(p).startswith("exchange.crypto")]
    bad = [
        (_module(p), m)
        for p in crypto
        for m in _imports(p)
        if m.startswith("exchange") and not m.startswith(allowed)
    ]
    assert not bad, bad
    assert len(crypto) >= 10


def test_the_vocabulary_imports_nothing_but_the_error_tree() -> None:
    path = ROOT / "vocab.py"
    imported = {m for m in _imports(path) if m.startswith("exchange")}
    assert imported == {"exchange.errors", "exchange.errors.InputError"}


#: the body of every identifier pattern, as it would be written again
_PATTERN_BODIES = {
    "KID_RE": "[A-Za-z0-9_-]{1,64}",
    "UUID_RE": "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    "PARTY_ID_RE": "[A-Z0-9][A-Z0-9-]{1,31}",
    "GROUP_ID_RE": "[a-z0-9][a-z0-9-]{1,63}",
}


def test_each_identifier_pattern_is_written_once() -> None:
    from exchange import vocab

    for name, body in _PATTERN_BODIES.items():
        assert body in getattr(vocab, name).pattern, name
        where = [_module(p) for p in SOURCES if body in p.read_text(encoding="utf-8")]
        assert where == ["exchange.vocab"], (name, where)


def _string_collections(path: pathlib.Path) -> list[frozenset[str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            items = [e.value for e in node.elts if isinstance(e, ast.Constant)]
            if len(items) == len(node.elts) >= 2 and all(isinstance(i, str) for i in items):
                out.append(frozenset(items))
    return out


def test_each_closed_list_is_written_once() -> None:
    """A literal holding a whole closed list (the ack statuses, party kinds, client or
    group roles, priorities, TLP labels, bulletin types) appears in vocab.py only."""
    from exchange import vocab

    lists = {
        name: frozenset(getattr(vocab, name))
        for name in (
            "ACK_STATUSES",
            "PARTY_KINDS",
            "CLIENT_ROLES",
            "GROUP_ROLES",
            "POSTING_ROLES",
            "PRIORITIES",
            "TLPS",
            "TYPES",
        )
    }
    found = [
        (_module(p), name)
        for p in SOURCES
        if _module(p) != "exchange.vocab"
        for literal in _string_collections(p)
        for name, values in lists.items()
        if literal == values
    ]
    assert not found, found


def test_the_limits_default_to_the_protocol_numbers() -> None:
    """One number each: the server's ``Limits`` and the crypto core's defaults agree
    (the crypto core allowed 1000 recipients where the server allowed 500)."""
    import inspect

    from exchange import vocab
    from exchange.config import Limits
    from exchange.crypto import envelope, tokens

    limits = Limits()
    assert limits.max_recipients == vocab.MAX_RECIPIENTS == envelope.MAX_RECIPIENTS
    assert limits.max_body == vocab.MAX_BODY == envelope.MAX_ENVELOPE
    assert limits.max_header == vocab.MAX_HEADER
    assert limits.clock_skew == vocab.CLOCK_SKEW
    assert limits.token_lifetime == vocab.TOKEN_LIFETIME
    assert limits.future_iat == vocab.FUTURE_IAT
    assert limits.past_iat == vocab.PAST_IAT
    verify = inspect.signature(tokens.verify_request_token).parameters
    assert verify["skew"].default == vocab.CLOCK_SKEW
    assert verify["max_lifetime"].default == vocab.TOKEN_LIFETIME
    for fn in (envelope.verify_envelope, envelope.open_envelope):
        assert inspect.signature(fn).parameters["max_recipients"].default == vocab.MAX_RECIPIENTS


@pytest.mark.parametrize(
    ("iat", "past", "expected"),
    [
        (1000, None, None),
        (1300, None, None),
        (1301, None, "more than 300 s in the future"),
        (-5000, None, None),
        (1000 - 600, 600, None),
        (1000 - 601, 600, "more than 600 s in the past"),
    ],
)
def test_iat_problem(iat: int, past: int | None, expected: str | None) -> None:
    from exchange.vocab import iat_problem

    assert iat_problem(iat, 1000, future=300, past=past) == expected
