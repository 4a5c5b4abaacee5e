"""Property tests: whatever arrives, validation answers a bulletin or InvalidBulletin."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.bulletin import BULLETIN_FIELDS, validate_bulletin, validate_metadata
from exchange.errors import InvalidBulletin

VALID = Path(__file__).resolve().parents[1] / "vectors" / "bulletins" / "valid"
BASES = {p.stem: json.loads(p.read_text("utf-8")) for p in VALID.glob("*.json")}

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.sampled_from(["KZ", "cac-avsec", "@subscribers", "UAAA", "red", "flash", "advisory"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.text(max_size=12) | st.sampled_from(BULLETIN_FIELDS), children, max_size=5
        )
    ),
    max_leaves=15,
)


def _check_error(error: InvalidBulletin) -> None:
    """Each problem is ``path: what is expected``, short, printable ASCII."""
    errors = error.extra["errors"]
    assert errors and isinstance(errors, list) and len(errors) <= 10
    for message in errors:
        path, _, expected = message.partition(": ")
        assert path and expected, message
        assert message.isascii() and message.isprintable(), message
        assert len(message) < 400, message
    json.dumps(error.problem())  # the problem body can always be sent


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_random_json_never_raises_anything_else(obj: Any) -> None:
    for check in (validate_bulletin, validate_metadata):
        try:
            check(obj, now=1_790_000_000)
        except InvalidBulletin as error:
            _check_error(error)


@settings(max_examples=100)
@given(
    st.sampled_from(sorted(BASES)),
    st.sampled_from(BULLETIN_FIELDS) | st.text(max_size=8),
    st.booleans(),
    json_values,
)
def test_one_field_replaced(base: str, field: str, in_body: bool, value: Any) -> None:
    """A valid bulletin with one field (top level or in its body) set to anything."""
    bulletin = copy.deepcopy(BASES[base])
    target = bulletin["body"] if in_body else bulletin
    target[field] = value
    try:
        assert validate_bulletin(bulletin) is bulletin
    except InvalidBulletin as error:
        _check_error(error)


def test_any_missing_field_is_named() -> None:
    for base, bulletin in BASES.items():
        for field in BULLETIN_FIELDS:
            broken = {k: v for k, v in bulletin.items() if k != field}
            try:
                validate_bulletin(broken)
            except InvalidBulletin as error:
                assert f"{field}: is required" in error.extra["errors"], (base, field)
            else:
                raise AssertionError(f"{base}: {field} is required")
