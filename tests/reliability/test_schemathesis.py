"""Hostile input, schema-driven (issue 7): schemathesis generates requests for every
operation of ``GET /v1/openapi.json`` (inputs that fit the schema and inputs that do
not) against the real server process, once without credentials and once with a valid
admin token signed per PROTOCOL §6 for each exact request (``SignedRequest``). No answer
may be a 5xx, every error must be problem+json, and the server's log must hold no
"unhandled error" and nothing at error level."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from pgdb import BACKENDS, create_database, drop_database
from reliability._proc import ServerProcess
from schemathesis.config import SchemathesisConfig

from exchange.api.openapi import document
from exchange.crypto import tokens
from exchange.crypto.keys import Ed25519Signer, signer_from_jwk
from exchange.keyfiles import read_json, read_profile

#: examples per operation and mode; 26 operations, two modes, two credentials, two
#: databases: about 700 requests per database
EXAMPLES = 6


@dataclass
class Served:
    srv: ServerProcess
    client_id: str
    signer: Ed25519Signer
    seen: dict[str, list[int]]


class SignedRequest(requests.auth.AuthBase):
    """PROTOCOL §6 for the request exactly as it goes on the wire: ``htm`` its method,
    ``htu`` its path as sent (without the query), ``bsh`` the hash of its body bytes."""

    def __init__(self, served: Served) -> None:
        self.served = served

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        body = r.body
        if isinstance(body, str):
            body = body.encode("utf-8")
            r.body = body
        assert body is None or isinstance(body, bytes), type(body)
        r.headers["Authorization"] = "Bearer " + tokens.make_request_token(
            self.served.signer,
            client_id=self.served.client_id,
            aud=self.served.srv.exchange_id,
            method=str(r.method),
            path=str(r.path_url).split("?", 1)[0],
            body=body or None,
            now=int(time.time()),
        )
        return r


@pytest.fixture(scope="module", params=BACKENDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    folder: Path = tmp_path_factory.mktemp("schemathesis")
    name = None
    if request.param == "postgres":
        name, url = asyncio.run(create_database("exst"))
    else:
        url = f"sqlite+aiosqlite:///{folder / 'x.db'}"
    srv = ServerProcess(folder, url)

    async def up() -> None:
        await srv.init()
        await srv.start()

    asyncio.run(up())
    profile = read_profile(srv.admin_profile)
    signer = signer_from_jwk(read_json(srv.admin_profile / "signing.jwk"))
    yield Served(srv, profile.client_id, signer, {"anonymous": [], "admin": []})
    asyncio.run(srv.stop())
    if name is not None:
        asyncio.run(drop_database(name))


@schemathesis.serializer("application/jose")
def _jose(_ctx: Any, value: Any) -> dict[str, Any]:
    """A JOSE body is a compact JWS (a string); negative cases may be any JSON value."""
    if isinstance(value, str):
        return {"data": value.encode("utf-8", "surrogatepass")}
    return {"data": json.dumps(value).encode()}


# The document the server serves at GET /v1/openapi.json (test_served_schema_is_this_one
# checks that it is this very one), loaded at import so that every operation becomes a
# test of its own; the server it is run against starts with the module.
schema = schemathesis.openapi.from_dict(
    document(),
    config=SchemathesisConfig.from_dict(
        {"generation": {"mode": "all", "max-examples": EXAMPLES, "database": "none"}}
    ),
)

_QUICK = settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=EXAMPLES)


def _check(served: Served, who: str, case: Any, response: Any) -> None:
    status = response.status_code
    served.seen[who].append(status)
    assert status < 500, (case.method, case.formatted_path, status, response.text[:300])
    if status >= 400:
        ctype = (response.headers.get("content-type") or [""])[0]  # lower-case, lists
        assert ctype.startswith("application/problem+json"), (case.method, case.path, status, ctype)
        problem = json.loads(response.content)
        assert problem["status"] == status and problem["type"].startswith("urn:avsec:error:")


def test_served_schema_is_this_one(served: Served) -> None:
    r = requests.get(served.srv.url + "/v1/openapi.json", timeout=10)
    assert r.status_code == 200 and r.json() == document()


@schema.parametrize()
@_QUICK
def test_every_route_without_credentials(case: Any, served: Served) -> None:
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    _check(served, "anonymous", case, case.call(base_url=served.srv.url, timeout=10))


@schema.parametrize()
@_QUICK
def test_every_route_as_admin(case: Any, served: Served) -> None:
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    case.headers = headers
    response = case.call(base_url=served.srv.url, auth=SignedRequest(served), timeout=10)
    _check(served, "admin", case, response)


def test_server_log_is_clean(served: Served) -> None:
    """Runs after the two above (file order): nothing they sent made the server log an
    unhandled error or anything at error level."""
    from collections import Counter

    for who, seen in served.seen.items():
        print(f"\nschemathesis {who}: {len(seen)} requests, {sorted(Counter(seen).items())}")
    assert len(served.seen["anonymous"]) > 100 and len(served.seen["admin"]) > 100
    bad = [
        r
        for r in served.srv.log_records()
        if r["level"] in ("error", "critical") or "unhandled error" in r.get("msg", "")
    ]
    assert not bad, bad[:3]
    assert "Traceback" not in served.srv.log.read_text()
