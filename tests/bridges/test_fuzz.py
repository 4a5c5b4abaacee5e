"""Property tests for the importers: any JSON a foreign tool sends gives a draft or a
one-line InputError, never another exception, and a draft's YAML always loads back."""

from __future__ import annotations

import json
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.bridges.misp import draft_from_misp
from exchange.bridges.stix import EXTENSION_ID
from exchange.bridges.stix_import import drafts_from_stix
from exchange.errors import InputError

_TEXT = st.text(max_size=30)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=20,
)
_REPORT = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["report", "note"]),
        "spec_version": st.just("2.1"),
        "id": st.just("report--2b6f3e0a-1a44-4b9a-9c65-3f1e0c2d4a11"),
        "created": st.just("2026-01-01T00:00:00.000Z"),
        "modified": st.just("2026-01-01T00:00:00.000Z"),
        "published": st.just("2026-01-01T00:00:00Z"),
        "name": _TEXT,
        "content": _TEXT,
        "object_refs": st.just(["identity--2b6f3e0a-1a44-4b9a-9c65-3f1e0c2d4a12"]),
    },
    optional={
        "labels": st.lists(_TEXT, max_size=3),
        "description": _JSON,
        "lang": _JSON,
        # an extension that claims to be ours, with anything in it
        "extensions": st.fixed_dictionaries(
            {
                EXTENSION_ID: st.dictionaries(
                    st.sampled_from(
                        [
                            "extension_type",
                            "bulletin_type",
                            "body",
                            "groups",
                            "to",
                            "exp",
                            "priority",
                            "supersedes",
                            "handling",
                            "bid",
                            "iat",
                        ]
                    ),
                    _JSON,
                ).map(lambda e: {**e, "extension_type": "property-extension"})
            }
        ),
    },
)
_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _ok_or_input_error(call: Any) -> None:
    try:
        drafts = call()
    except InputError as exc:
        assert "\n" not in exc.detail
        return
    for d in drafts if isinstance(drafts, list) else [drafts]:
        loaded = yaml.safe_load(d.yaml())
        assert set(loaded) <= {
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
        }
        assert all("\n" not in w for w in d.warnings)


@_SETTINGS
@given(_JSON)
def test_any_json_as_stix(data: Any) -> None:
    _ok_or_input_error(lambda: drafts_from_stix(json.dumps(data)))


@_SETTINGS
@given(_REPORT)
def test_report_like_bundles(report: dict[str, Any]) -> None:
    bundle = {
        "type": "bundle",
        "id": "bundle--2b6f3e0a-1a44-4b9a-9c65-3f1e0c2d4a13",
        "objects": [report],
    }
    _ok_or_input_error(lambda: drafts_from_stix(json.dumps(bundle)))


@_SETTINGS
@given(_JSON, _JSON, _JSON)
def test_any_json_as_misp(info: Any, tags: Any, attributes: Any) -> None:
    event = {
        "Event": {
            "info": info if isinstance(info, str) else "x",
            "Tag": tags,
            "Attribute": attributes,
            "Object": tags,
            "Galaxy": attributes,
        }
    }
    _ok_or_input_error(lambda: draft_from_misp(json.dumps(event)))
