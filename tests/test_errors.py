"""The one error tree (exchange/errors.py): every class in the explicit registry, each
code once, no error class defined outside it, and a peer's problem turned back into the
right class without changing any class's status."""

from __future__ import annotations

import ast
import inspect
import pathlib

import pytest

import exchange
from exchange import errors
from exchange.client._problems import error_from_problem, retry_after_seconds


def _tree_classes() -> list[type[errors.ExchangeError]]:
    return [
        c
        for _, c in inspect.getmembers(errors, inspect.isclass)
        if issubclass(c, errors.ExchangeError) and c.__module__ == errors.__name__
    ]


def test_every_class_is_registered_once_by_its_own_code() -> None:
    classes = _tree_classes()
    assert len(classes) >= 30
    assert set(errors.BY_CODE.values()) == set(classes)
    assert len(errors.BY_CODE) == len(classes)  # no code repeats
    for cls in classes:
        assert errors.BY_CODE[cls.code] is cls


def test_no_error_class_is_defined_outside_errors_py() -> None:
    """A subclass elsewhere would be a code the client cannot map back (and a second
    definition of a class could drift from the first)."""
    root = pathlib.Path(exchange.__file__).parent
    names = {c.__name__ for c in _tree_classes()}
    found = []
    for path in root.rglob("*.py"):
        if path.name == "errors.py" and path.parent == root:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = {
                    b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
                }
                if bases & names or node.name in names:
                    found.append(f"{path.relative_to(root)}:{node.name}")
    assert not found, found


@pytest.mark.parametrize("cls", _tree_classes(), ids=lambda c: c.code)
def test_a_problem_comes_back_as_its_class_with_its_status(
    cls: type[errors.ExchangeError],
) -> None:
    err = error_from_problem(cls.status, cls("because").problem())
    assert type(err) is cls
    assert err.status == cls.status
    assert err.detail == "because"
    assert "status" not in vars(err)  # the class says the status, never an instance


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.InputError),
        (405, errors.MethodNotAllowed),
        (408, errors.RequestTimeout),
        (418, errors.InputError),
        (429, errors.RateLimited),
        (502, errors.StorageError),
        (500, errors.ExchangeError),
    ],
)
def test_an_unknown_code_falls_back_to_the_status(
    status: int, cls: type[errors.ExchangeError]
) -> None:
    err = error_from_problem(status, {"type": "urn:avsec:error:no-such-code"})
    assert type(err) is cls
    assert type(error_from_problem(status, "not a problem")) is cls


def test_extra_members_survive() -> None:
    err = error_from_problem(
        422, {"type": "urn:avsec:error:recipient-mismatch", "expected_kids": ["a"]}
    )
    assert isinstance(err, errors.RecipientMismatch)
    assert err.extra == {"expected_kids": ["a"]}


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("7", 7), (" 30 ", 30), (None, 1), ("0", 1), ("-5", 1), ("soon", 1), ("999999", 3600)],
)
def test_retry_after_is_read_and_bounded(header: str | None, seconds: int) -> None:
    err = error_from_problem(429, {"type": "urn:avsec:error:rate-limited"}, retry_after=header)
    assert isinstance(err, errors.RateLimited)
    assert err.retry_after == seconds == retry_after_seconds(header)
    busy = error_from_problem(503, {"type": "urn:avsec:error:overloaded"}, retry_after=header)
    assert isinstance(busy, errors.Unavailable)
    assert busy.retry_after == seconds
