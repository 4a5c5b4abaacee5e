"""PROTOCOL §7 limits and the HTTP surface: the maximum body (413), per-client rate
limits (429 with Retry-After), unknown routes (404) and methods (405) as problems, the
two public routes, and an OpenAPI 3.1 document that matches the routes the app serves."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import jsonschema
import pytest
from api._kit import Caller, HarnessFactory, Reply, World, assert_problem, bulletin, token

from exchange.config import Limits
from exchange.crypto.envelope import seal
from exchange.crypto.keys import Ed25519Signer

MODULE = pytest.mark.asyncio(loop_scope="module")


def _padded(obj: dict[str, Any], size: int) -> bytes:
    """Valid JSON of exactly ``size`` bytes (white space after the object)."""
    raw = json.dumps(obj).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


# --- the maximum body ----------------------------------------------------------------


async def test_body_over_the_configured_maximum_is_413(make_harness: HarnessFactory) -> None:
    limit = 4096
    _h, wire, admin = await make_harness(limits=Limits(max_body=limit))
    exact = _padded({"id": "at-the-limit", "name": "g"}, limit)
    r = await wire.call(admin, "POST", "/v1/admin/groups", raw_body=exact)
    assert r.status == 201, r.raw  # the limit itself is allowed

    over = _padded({"id": "over-the-limit", "name": "g"}, limit + 1)
    r = await wire.call(admin, "POST", "/v1/admin/groups", raw_body=over)
    assert_problem(r, 413, "payload-too-large")

    # the size is checked before the token: no token, a forged token, another route
    r = await wire.send("POST", "/v1/admin/groups", body=over)
    assert_problem(r, 413, "payload-too-large")
    r = await wire.send(
        "POST", "/v1/bulletins", body=b"e" * (limit * 4), content_type="application/jose"
    )
    assert_problem(r, 413, "payload-too-large")
    big = b"x" * (limit * 64)
    r = await wire.call(
        admin, "PUT", "/v1/groups/at-the-limit/subscriptions/OPERATOR", raw_body=big
    )
    assert_problem(r, 413, "payload-too-large")

    # nothing was created by the refused requests
    doc_groups = {g["id"] for g in (await _directory(wire, admin))["groups"]}
    assert doc_groups == {"at-the-limit"}


async def test_chunked_body_over_the_maximum_is_413(make_harness: HarnessFactory) -> None:
    """Without Content-Length the server still stops reading at the limit."""
    limit = 4096
    h, wire, _admin = await make_harness(limits=Limits(max_body=limit))

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(64):
            yield b" " * 1024

    async with wire.session.post(
        h.url + "/v1/admin/groups", data=chunks(), headers={"Content-Type": "application/json"}
    ) as resp:
        assert resp.status == 413
        assert resp.content_type == "application/problem+json"
        problem = await resp.json(content_type=None)
        assert problem["type"] == "urn:avsec:error:payload-too-large"


@MODULE
async def test_default_maximum_is_2_mib(world: World) -> None:
    assert world.h.server.exchange.limits.max_body == 2 * 1024 * 1024
    body = _padded({"id": "two-mib", "name": "g"}, 2 * 1024 * 1024 + 1)
    r = await world.wire.call(world.admin, "POST", "/v1/admin/groups", raw_body=body)
    assert_problem(r, 413, "payload-too-large")
    body = _padded({"id": "two-mib", "name": "g"}, 2 * 1024 * 1024)
    r = await world.wire.call(world.admin, "POST", "/v1/admin/groups", raw_body=body)
    assert r.status == 201, r.raw


async def _directory(wire: Any, who: Caller) -> dict[str, Any]:
    from exchange.crypto import b64u_decode

    r = await wire.call(who, "GET", "/v1/directory")
    assert r.status == 200
    doc: dict[str, Any] = json.loads(b64u_decode(r.data["directory"].split(".")[1]))
    return doc


POST = "/v1/bulletins"


# --- rate limits -----------------------------------------------------------------------


async def test_rate_limit_is_per_client_with_retry_after(make_harness: HarnessFactory) -> None:
    h, wire, admin = await make_harness(limits=Limits(rate_per_second=0.1, rate_burst=4))
    clock = h.server.exchange.clock
    # two requests of the admin's burst of four go to setting up a second client
    other = Caller("RL/ops", Ed25519Signer.generate())
    r = await wire.call(
        admin, "POST", "/v1/admin/parties", {"id": "RL", "name": "r", "kind": "state"}
    )
    assert r.status == 201
    body = {
        "id": other.client_id,
        "party": "RL",
        "roles": ["reader"],
        "jwk": other.signer.public.to_jwk(),
    }
    assert (await wire.call(admin, "POST", "/v1/admin/clients", body)).status == 201

    assert (await wire.call(admin, "GET", "/v1/directory")).status == 200
    assert (await wire.call(admin, "GET", "/v1/directory")).status == 200
    r = await wire.call(admin, "GET", "/v1/directory")
    assert_problem(r, 429, "rate-limited")
    retry = r.headers.get("Retry-After", "")
    assert re.fullmatch(r"[1-9][0-9]*", retry), retry
    assert 1 <= int(retry) <= 10  # one token at 0.1/s takes at most 10 s
    # still limited while nothing has refilled; any route, any method
    r = await wire.call(admin, "POST", "/v1/admin/groups", {"id": "rl-group", "name": "g"})
    assert_problem(r, 429, "rate-limited")

    # another client has its own bucket
    assert (await wire.call(other, "GET", "/v1/directory")).status == 200

    # once Retry-After has passed (on the server's clock) the admin is served again
    clock.offset += int(retry) + 0.5
    assert (await wire.call(admin, "GET", "/v1/directory")).status == 200
    assert_problem(await wire.call(admin, "GET", "/v1/directory"), 429, "rate-limited")


async def test_forged_tokens_do_not_drain_a_victims_bucket(make_harness: HarnessFactory) -> None:
    """The bucket is spent after the token is verified: tokens naming the admin's kid
    that fail verification cannot exhaust the admin's budget."""
    _h, wire, admin = await make_harness(limits=Limits(rate_per_second=0.01, rate_burst=2))
    forger = Ed25519Signer.generate()
    for _ in range(10):
        forged = token(
            forger,
            admin.client_id,
            aud=wire.aud,
            method="GET",
            path="/v1/directory",
            header={"kid": admin.signer.kid},
        )
        assert_problem(await wire.send("GET", "/v1/directory", bearer=forged), 401, "unauthorized")
    assert (await wire.call(admin, "GET", "/v1/directory")).status == 200
    assert (await wire.call(admin, "GET", "/v1/directory")).status == 200
    assert_problem(await wire.call(admin, "GET", "/v1/directory"), 429, "rate-limited")


async def test_a_rate_limited_post_spends_its_jti(make_harness: HarnessFactory) -> None:
    """A post spends its jti in its admission (ADR 0020), after the rate limit: a post
    refused 429 must still spend it, so that its replay is refused once the bucket has
    refilled."""
    h, wire, admin = await make_harness(limits=Limits(rate_per_second=0.05, rate_burst=4))
    world = World(h, wire, admin)  # four admin requests, the admin's whole burst
    for party in ("KZ", "UZ"):
        await world.party(party)
    uz = await world.encryption_key("UZ")
    kz = await world.client("KZ", "ops", ("poster",))

    def post() -> tuple[bytes, str]:
        envelope = seal(bulletin("KZ", to=["UZ"]), kz.signer, [uz]).encode()
        tok = token(kz.signer, kz.client_id, aud=wire.aud, method="POST", path=POST, body=envelope)
        return envelope, tok

    async def send(envelope: bytes, tok: str) -> Reply:
        return await wire.send(
            "POST", POST, body=envelope, bearer=tok, content_type="application/jose"
        )

    for _ in range(4):
        assert (await send(*post())).status == 201
    limited = post()
    assert_problem(await send(*limited), 429, "rate-limited")
    h.server.exchange.clock.offset += 45  # two requests' worth; the token is still valid
    assert_problem(await send(*limited), 401, "unauthorized")
    assert (await send(*post())).status == 201


# --- 404, 405 and the public routes ---------------------------------------------------


@MODULE
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/v1"),
        ("GET", "/v1/nope"),
        ("GET", "/v2/directory"),
        ("POST", "/v1/admin/unknown"),
        ("GET", "/v1/admin/groups/g/members"),
        ("GET", "/v1/directory/extra"),
        ("GET", "/v1/groups/a/b/subscriptions"),
    ],
)
async def test_unknown_route_is_404_problem(world: World, method: str, path: str) -> None:
    assert_problem(await world.wire.send(method, path), 404, "not-found")
    # a valid token does not change that
    assert_problem(await world.wire.call(world.admin, method, path), 404, "not-found")


@MODULE
@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/v1/health", {"GET"}),
        ("DELETE", "/v1/server-key", {"GET"}),
        ("PUT", "/v1/directory", {"GET"}),
        ("GET", "/v1/admin/parties", {"POST"}),
        ("PATCH", "/v1/admin/clients", {"POST"}),
        ("GET", "/v1/admin/keys/abc/revoke", {"POST"}),
        ("POST", "/v1/admin/groups/g/members/KZ", {"PUT", "DELETE"}),
        ("POST", "/v1/groups/g/subscriptions", {"GET"}),
        ("GET", "/v1/groups/g/subscriptions/KZ", {"PUT", "DELETE"}),
        ("DELETE", "/v1/bulletins", {"POST"}),
    ],
)
async def test_wrong_method_is_405_problem_with_allow(
    world: World, method: str, path: str, allowed: set[str]
) -> None:
    r = await world.wire.send(method, path)
    assert_problem(r, 405, "method-not-allowed")
    listed = {m.strip() for m in r.headers.get("Allow", "").split(",") if m.strip()}
    assert allowed <= listed <= allowed | {"HEAD"}, r.headers.get("Allow")


@MODULE
async def test_health_and_server_key_need_no_token(world: World) -> None:
    r = await world.wire.send("GET", "/v1/health")
    assert r.status == 200 and r.data == {"status": "ok", "database": "ok"}
    r = await world.wire.send("GET", "/v1/server-key")
    assert r.status == 200 and r.data["kty"] == "AVSEC-HYB"  # hybrid by default (issue 20)
    assert r.data["alg"] == "ML-DSA-65-Ed25519"
    # a broken Authorization header does not make them fail
    for path in ("/v1/health", "/v1/server-key"):
        r = await world.wire.send("GET", path, headers={"Authorization": "Bearer x.y.z"})
        assert r.status == 200


# --- OpenAPI ------------------------------------------------------------------------------

_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _refs(node: Any) -> list[str]:
    out: list[str] = []
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            out.append(node["$ref"])
        for v in node.values():
            out.extend(_refs(v))
    elif isinstance(node, list):
        for v in node:
            out.extend(_refs(v))
    return out


def check_openapi_31(doc: dict[str, Any]) -> None:
    """The structural rules of OpenAPI 3.1.0 that a document of this shape can break
    (OAS §4.8), with every schema checked as JSON Schema 2020-12."""
    assert re.fullmatch(r"3\.1\.\d+", doc["openapi"])
    assert isinstance(doc["info"]["title"], str) and isinstance(doc["info"]["version"], str)
    assert set(doc) <= {
        "openapi",
        "info",
        "jsonSchemaDialect",
        "servers",
        "paths",
        "webhooks",
        "components",
        "security",
        "tags",
        "externalDocs",
    }
    schemes = doc.get("components", {}).get("securitySchemes", {})
    for scheme in schemes.values():
        assert scheme["type"] in {"apiKey", "http", "mutualTLS", "oauth2", "openIdConnect"}
        if scheme["type"] == "http":
            assert isinstance(scheme["scheme"], str)
    for schema in doc.get("components", {}).get("schemas", {}).values():
        jsonschema.Draft202012Validator.check_schema(schema)
    op_ids: list[str] = []
    for path, item in doc["paths"].items():
        assert path.startswith("/"), path
        template = set(re.findall(r"\{([^}/]+)\}", path))
        for method, op in item.items():
            assert method in _METHODS, (path, method)
            assert op["responses"], (path, method)
            for code, resp in op["responses"].items():
                assert re.fullmatch(r"[1-5](\d\d|XX)|default", code), (path, code)
                resp = _resolve(doc, resp["$ref"]) if "$ref" in resp else resp
                assert isinstance(resp["description"], str), (path, method, code)
                for media in resp.get("content", {}).values():
                    jsonschema.Draft202012Validator.check_schema(media.get("schema", {}))
            seen = set()
            for p in op.get("parameters", []):
                assert p["in"] in {"query", "header", "path", "cookie"}
                assert (p["name"], p["in"]) not in seen, (path, p)
                seen.add((p["name"], p["in"]))
                if p["in"] == "path":
                    assert p["required"] is True
                jsonschema.Draft202012Validator.check_schema(p.get("schema", {}))
            assert {n for n, where in seen if where == "path"} == template, (path, method)
            if "requestBody" in op:
                assert op["requestBody"]["content"], (path, method)
                for media in op["requestBody"]["content"].values():
                    jsonschema.Draft202012Validator.check_schema(media.get("schema", {}))
            for requirement in op.get("security", []):
                assert set(requirement) <= set(schemes), (path, method)
            if "operationId" in op:
                op_ids.append(op["operationId"])
    assert len(op_ids) == len(set(op_ids)), "operationId must be unique"
    for ref in _refs(doc):
        _resolve(doc, ref)


def _served_routes(world: World) -> set[tuple[str, str]]:
    app = world.h.server.runner.app
    served = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue  # aiohttp adds HEAD to every GET by itself
        canonical = route.resource.canonical if route.resource is not None else ""
        served.add((route.method, canonical))
    return served


@MODULE
async def test_openapi_is_valid_31_and_lists_every_served_route(world: World) -> None:
    r = await world.wire.send("GET", "/v1/openapi.json")
    assert r.status == 200 and r.content_type == "application/json"
    doc = r.data
    check_openapi_31(doc)
    documented = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    served = _served_routes(world)
    assert documented == served, {
        "served, not documented": sorted(served - documented),
        "documented, not served": sorted(documented - served),
    }


def test_openapi_checker_catches_broken_documents() -> None:
    """The checker above is strict enough to fail: a sample of broken documents."""
    from exchange.api.openapi import document

    good = document()
    check_openapi_31(good)
    breakages = [
        lambda d: d.update(openapi="3.0.3"),
        lambda d: d["info"].pop("version"),
        lambda d: d["paths"]["/v1/directory"]["get"]["responses"]["200"].pop("description"),
        lambda d: d["paths"]["/v1/directory"]["get"].update(security=[{"nope": []}]),
        lambda d: d["paths"]["/v1/inbox"]["get"]["parameters"].append({"name": "x", "in": "body"}),
        lambda d: d["paths"]["/v1/bulletins/{bid}"]["get"].update(parameters=[]),
        lambda d: d["components"]["schemas"]["Problem"].update(type="objekt"),
        lambda d: d["paths"]["/v1/inbox"]["get"]["responses"].update(
            {"200": {"$ref": "#/components/responses/Missing"}}
        ),
    ]
    for breakage in breakages:
        broken = json.loads(json.dumps(good))
        breakage(broken)
        with pytest.raises((AssertionError, KeyError, jsonschema.SchemaError)):
            check_openapi_31(broken)


@MODULE
async def test_openapi_security_matches_what_the_server_enforces(world: World) -> None:
    """Every operation documented with a request token answers 401 without one, and the
    ones documented as public do not."""
    doc = (await world.wire.send("GET", "/v1/openapi.json")).data
    for path, item in doc["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "X1", path)
        for method, op in item.items():
            r = await world.wire.send(method.upper(), concrete)
            if op.get("security"):
                assert_problem(r, 401, "unauthorized")
            else:
                assert r.status == 200, (method, path, r.status)
