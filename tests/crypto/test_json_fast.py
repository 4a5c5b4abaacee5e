"""The fast JSON path (orjson) accepts exactly what the strict reader accepts (issue 19)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.crypto import _json
from exchange.errors import MalformedEnvelope

REFUSED = [
    b'{"a":1,"a":2}',
    b'{"a":{"b":1,"b":1}}',
    b'{"a":":","a":1}',  # a value that looks like a member name
    b'{"a":[{"x":1},{"y":2,"y":3}]}',
    b'{"a" :1, "a"\t: 2}',
    b'{"a":18446744073709551616}',  # orjson reads this as a float
    b'{"a":-9223372036854775809}',
    b'{"a":9223372036854775808}',
    b'{"a":NaN}',
    b'{"a":1e400}',
    b'{"a":"\\ud800"}',
    b'{"a":"\xff"}',
    b'\xef\xbb\xbf{"a":1}',
    b'{"a":1}x',
    b"[1]",
]


@pytest.mark.parametrize("doc", REFUSED)
def test_refused(doc: bytes) -> None:
    with pytest.raises(MalformedEnvelope):
        _json.loads_object(doc)


def test_duplicate_refused_on_the_fast_path() -> None:
    # no backslash, valid for orjson: only the member count tells the duplicate
    assert _json._fast(b'{"k":1,"k":1}') is not None
    with pytest.raises(MalformedEnvelope, match="not valid JSON"):
        _json.loads_object(b'{"k":1,"k":1}')


def test_depth_bound_on_the_fast_path() -> None:
    with pytest.raises(MalformedEnvelope, match="deeper"):
        _json.loads_object(b'{"a":{"a":{"a":1}}}', max_depth=2)
    assert _json.loads_object(b'{"a":{"a":1}}', max_depth=3) == {"a": {"a": 1}}


def test_long_fraction_accepted() -> None:
    assert _json.loads_object(b'{"a":0.12345678901234567890}') == {"a": 0.12345678901234568}


_scalar = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=8)
_doc = st.recursive(
    _scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=12,
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(max_size=4), _doc, max_size=5), st.booleans(), st.booleans())
def test_same_as_strict(doc: dict[str, object], duplicate: bool, compact: bool) -> None:
    import json

    seps = (",", ":") if compact else (", ", ": ")
    text = json.dumps(doc, ensure_ascii=False, separators=seps)
    if duplicate and doc:
        key = json.dumps(next(iter(doc)), ensure_ascii=False)
        text = text[:-1] + f"{seps[0]}{key}{seps[1]}1}}"
    try:
        want: object = _json._strict(text)
        why = _json.check_tree(want)
    except ValueError:
        want, why = None, "invalid"
    if why is None:
        assert _json.loads_object(text.encode()) == want
    else:
        with pytest.raises(MalformedEnvelope):
            _json.loads_object(text.encode())
