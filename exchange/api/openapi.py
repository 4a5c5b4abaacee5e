"""``GET /v1/openapi.json``: an OpenAPI 3.1 description of every route."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from exchange import __version__

__all__ = ["document", "routes"]

routes = web.RouteTableDef()

# (method, path, summary, role or None for public, request media type or None)
ROUTES: tuple[tuple[str, str, str, str | None, str | None], ...] = (
    ("get", "/v1/health", "Liveness and database reachability", None, None),
    ("get", "/v1/server-key", "The server's signing JWK", None, None),
    ("get", "/v1/openapi.json", "This document", None, None),
    ("get", "/v1/directory", "Server-signed directory (JWS)", "any", None),
    ("post", "/v1/bulletins", "Post a sealed envelope", "poster", "application/jose"),
    ("get", "/v1/bulletins/{bid}", "An envelope and its metadata", "any", None),
    ("get", "/v1/inbox", "The caller's party's bulletins after a cursor", "reader", None),
    ("get", "/v1/sent", "The caller's party's posted bulletins, acks counted", "poster", None),
    ("get", "/v1/stream", "WebSocket: backlog after a cursor, then live", "reader", None),
    ("post", "/v1/bulletins/{bid}/acks", "A recipient's signed ack", "reader", "application/jose"),
    ("get", "/v1/bulletins/{bid}/status", "The sender's delivery ledger", "any", None),
    ("get", "/v1/audit/sth", "Signed tree head", "any", None),
    ("get", "/v1/audit/entries", "Log entries [start, end)", "any", None),
    (
        "get",
        "/v1/audit/entries/{index}/opening",
        "A committed leaf's full entry and salt: the sender's party, the recipients and"
        " the operator only; 404 alike for a missing, public or not-entitled entry (1.1)",
        "any",
        None,
    ),
    ("get", "/v1/audit/proof", "Inclusion proof", "any", None),
    ("get", "/v1/audit/consistency", "Consistency proof", "any", None),
    ("get", "/v1/groups/{gid}/subscriptions", "A group's subscriptions", "any", None),
    (
        "put",
        "/v1/groups/{gid}/subscriptions/{source}",
        "Subscribe a group",
        "chair",
        "application/json",
    ),
    ("delete", "/v1/groups/{gid}/subscriptions/{source}", "Unsubscribe a group", "chair", None),
    ("post", "/v1/admin/parties", "Create a party", "admin", "application/json"),
    ("post", "/v1/admin/clients", "Register a client", "admin", "application/json"),
    (
        "post",
        "/v1/admin/parties/{party}/encryption-keys",
        "Register a party's encryption key (the previous one is retired)",
        "admin",
        "application/json",
    ),
    ("post", "/v1/admin/keys/{kid}/revoke", "Revoke a key", "admin", None),
    ("post", "/v1/admin/groups", "Create a group", "admin", "application/json"),
    (
        "put",
        "/v1/admin/groups/{gid}/members/{party}",
        "Set a member's role",
        "admin",
        "application/json",
    ),
    ("delete", "/v1/admin/groups/{gid}/members/{party}", "Remove a member", "admin", None),
    (
        "post",
        "/v1/alerts/endpoints",
        "Register a webhook or e-mail alert",
        "reader",
        "application/json",
    ),
    ("get", "/v1/alerts/endpoints", "A party's alert endpoints", "reader", None),
    ("delete", "/v1/alerts/endpoints/{id}", "Remove an alert endpoint", "reader", None),
    ("get", "/v1/alerts/endpoints/{id}/deliveries", "An endpoint's deliveries", "reader", None),
    (
        "post",
        "/v1/alerts/endpoints/{id}/redeliver",
        "Queue dead-lettered deliveries again",
        "reader",
        "application/json",
    ),
    ("post", "/v1/admin/parties/{party}/suspend", "Suspend a party", "admin", None),
    ("post", "/v1/admin/parties/{party}/resume", "Resume a suspended party", "admin", None),
    ("delete", "/v1/admin/parties/{party}", "Remove a party (final)", "admin", None),
    ("post", "/v1/admin/clients/{party}/{name}/suspend", "Suspend a client", "admin", None),
    ("post", "/v1/admin/clients/{party}/{name}/resume", "Resume a client", "admin", None),
    ("delete", "/v1/admin/clients/{party}/{name}", "Remove a client (final)", "admin", None),
    ("delete", "/v1/admin/groups/{gid}", "Remove a group", "admin", None),
    (
        "put",
        "/v1/admin/signing-policy",
        "Require hybrid signing keys of every party (issue 20)",
        "admin",
        "application/json",
    ),
    (
        "put",
        "/v1/admin/parties/{party}/signing-policy",
        "Require hybrid signing keys of one party (issue 20)",
        "admin",
        "application/json",
    ),
    (
        "post",
        "/v1/keys/signing",
        "Rotate the caller's signing key (issue 18)",
        "any",
        "application/json",
    ),
    (
        "post",
        "/v1/admin/clients/{party}/{name}/signing-key",
        "Register a client's new signing key (issue 18)",
        "admin",
        "application/json",
    ),
    (
        "put",
        "/v1/admin/key-expiry",
        "Set a key's expiry date (issue 18)",
        "admin",
        "application/json",
    ),
    (
        "get",
        "/v1/server-key/rotation",
        "The server key's rotations, each signed by the old key (issue 18)",
        None,
        None,
    ),
    ("get", "/metrics", "Prometheus metrics", None, None),
    ("get", "/v1/reports", "Delivery and acknowledgement figures (version 1.1)", "any", None),
)

_QUERY = {
    "/v1/inbox": ["after", "limit"],
    "/v1/sent": ["after", "limit"],
    "/v1/stream": ["after", "min_priority", "types", "access_token"],
    "/v1/audit/entries": ["start", "end"],
    "/v1/audit/proof": ["index", "size"],
    "/v1/audit/consistency": ["first", "second"],
    "/v1/reports": ["group", "party", "from", "to", "bucket"],
}

_PROBLEM = {
    "description": "RFC 9457 problem details",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def _operation(
    method: str, path: str, summary: str, role: str | None, media: str | None
) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}
        for p in (seg[1:-1] for seg in path.split("/") if seg.startswith("{"))
    ]
    for q in _QUERY.get(path, []):
        schema = (
            {"type": "string"}
            if q in ("min_priority", "types", "access_token")
            or q in ("group", "party", "from", "to", "bucket")
            else {"type": "integer", "minimum": 0}
        )
        params.append({"name": q, "in": "query", "required": False, "schema": schema})
    op: dict[str, Any] = {
        "summary": summary,
        "operationId": method + "_" + re.sub(r"[^a-z0-9]+", "_", path.lower()).strip("_"),
        "parameters": params,
        "responses": {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "400": _PROBLEM,
            "404": _PROBLEM,
            "503": _PROBLEM,
        },
    }
    if method in ("post", "put"):
        op["responses"]["201"] = {"description": "Created"}
    if role is not None:
        op["security"] = [{"requestToken": []}]
        op["description"] = f"Needs a per-request token (PROTOCOL §6); role: {role}."
        for code in ("401", "403", "429"):
            op["responses"][code] = _PROBLEM
    if media is not None:
        body_schema: dict[str, Any] = (
            {"type": "string"} if media == "application/jose" else {"type": "object"}
        )
        op["requestBody"] = {"required": True, "content": {media: {"schema": body_schema}}}
        op["responses"]["413"] = _PROBLEM
    return op


def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, role, media in ROUTES:
        paths.setdefault(path, {})[method] = _operation(method, path, summary, role, media)
    return {
        "openapi": "3.1.0",
        "info": {"title": "AVSEC Exchange", "version": __version__},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "requestToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "avsec-req+jwt",
                }
            },
            "schemas": {
                "Problem": {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                    },
                    "required": ["type", "title", "status"],
                }
            },
        },
    }


@routes.get("/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document())
