"""The operator's SDK: change the directory through ``/v1/admin/…`` and read it back.

Reads (``parties``, ``party``, ``clients``, ``groups``, ``group``) come from the
server-signed directory, verified against the pinned server key and the log, so an
operator's listing is as trustworthy as what every State's client sees. Each change
answers with the new directory version; the server logs it."""

from __future__ import annotations

from typing import Any

from exchange.client.api import ExchangeClient
from exchange.errors import NotFound

__all__ = ["Admin"]


def _client_path(client_id: str) -> str:
    return f"/v1/admin/clients/{client_id}"  # PARTY/name: two path segments


class Admin:
    """``Admin(client)``: ``client`` is an ExchangeClient holding an admin key."""

    def __init__(self, client: ExchangeClient) -> None:
        self.client = client

    # --- reads, from the verified directory ----------------------------------------------

    async def directory(self) -> dict[str, Any]:
        return (await self.client.directory(refresh=True)).doc

    async def parties(self) -> list[dict[str, Any]]:
        """Every party with its status (``active`` unless the directory says otherwise)."""
        return [{"status": "active"} | p for p in (await self.directory())["parties"]]

    async def party(self, party: str) -> dict[str, Any]:
        """One party with its clients, encryption keys and group memberships."""
        doc = await self.directory()
        found = [p for p in doc["parties"] if p["id"] == party]
        if not found:
            raise NotFound(f"party {party} is not in the directory")
        groups = [
            {"group": g["id"], "role": m["role"]}
            for g in doc["groups"]
            for m in g["members"]
            if m["party"] == party
        ]
        return {
            "status": "active",
            **found[0],
            "clients": [c for c in doc["clients"] if c["party"] == party],
            "encryption_keys": [k for k in doc["encryption_keys"] if k["party"] == party],
            "groups": groups,
            "subscribed_by": [
                g["id"]
                for g in doc["groups"]
                if any(s["source"] == party for s in g["subscriptions"])
            ],
        }

    async def clients(self, party: str | None = None) -> list[dict[str, Any]]:
        doc = await self.directory()
        return [c for c in doc["clients"] if party is None or c["party"] == party]

    async def client_entry(self, client_id: str) -> dict[str, Any]:
        for c in await self.clients():
            if c["id"] == client_id:
                return c
        raise NotFound(f"client {client_id} is not in the directory")

    async def groups(self) -> list[dict[str, Any]]:
        return list((await self.directory())["groups"])

    async def group(self, group: str) -> dict[str, Any]:
        for g in await self.groups():
            if g["id"] == group:
                return g
        raise NotFound(f"group {group} is not in the directory")

    # --- changes --------------------------------------------------------------------------

    async def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        out: dict[str, Any] = await self.client.admin(method, path, body)
        return out

    async def add_party(self, party: str, name: str, kind: str = "state") -> dict[str, Any]:
        return await self._call(
            "POST", "/v1/admin/parties", {"id": party, "name": name, "kind": kind}
        )

    async def suspend_party(self, party: str) -> dict[str, Any]:
        return await self._call("POST", f"/v1/admin/parties/{party}/suspend")

    async def resume_party(self, party: str) -> dict[str, Any]:
        return await self._call("POST", f"/v1/admin/parties/{party}/resume")

    async def remove_party(self, party: str) -> dict[str, Any]:
        return await self._call("DELETE", f"/v1/admin/parties/{party}")

    async def add_client(
        self, client_id: str, roles: list[str], jwk: dict[str, Any]
    ) -> dict[str, Any]:
        party = client_id.split("/", 1)[0]
        body = {"id": client_id, "party": party, "roles": roles, "jwk": jwk}
        return await self._call("POST", "/v1/admin/clients", body)

    async def suspend_client(self, client_id: str) -> dict[str, Any]:
        return await self._call("POST", _client_path(client_id) + "/suspend")

    async def resume_client(self, client_id: str) -> dict[str, Any]:
        return await self._call("POST", _client_path(client_id) + "/resume")

    async def remove_client(self, client_id: str) -> dict[str, Any]:
        return await self._call("DELETE", _client_path(client_id))

    async def add_encryption_key(self, party: str, jwk: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", f"/v1/admin/parties/{party}/encryption-keys", {"jwk": jwk})

    async def rotate_client_key(
        self,
        client_id: str,
        jwk: dict[str, Any],
        *,
        grace: int | None = None,
        expires_at: int | None = None,
    ) -> dict[str, Any]:
        """Issue 18: register a client's new signing key; the old one verifies for
        ``grace`` seconds (the server's default when None), then is refused."""
        body: dict[str, Any] = {"jwk": jwk}
        if grace is not None:
            body["grace"] = grace
        if expires_at is not None:
            body["expires_at"] = expires_at
        return await self._call("POST", _client_path(client_id) + "/signing-key", body)

    async def set_key_expiry(
        self, *, client_id: str | None = None, kid: str | None = None, expires_at: int | None
    ) -> dict[str, Any]:
        """Issue 18: a client's signing key or an encryption key expires at ``expires_at``
        (ms; None clears it)."""
        body = {"client": client_id, "kid": kid, "expires_at": expires_at}
        return await self._call("PUT", "/v1/admin/key-expiry", body)

    async def revoke_key(self, kid: str) -> dict[str, Any]:
        return await self._call("POST", f"/v1/admin/keys/{kid}/revoke")

    async def add_group(self, group: str, name: str) -> dict[str, Any]:
        return await self._call("POST", "/v1/admin/groups", {"id": group, "name": name})

    async def remove_group(self, group: str) -> dict[str, Any]:
        return await self._call("DELETE", f"/v1/admin/groups/{group}")

    async def set_member(self, group: str, party: str, role: str) -> dict[str, Any]:
        path = f"/v1/admin/groups/{group}/members/{party}"
        return await self._call("PUT", path, {"role": role})

    async def remove_member(self, group: str, party: str) -> dict[str, Any]:
        return await self._call("DELETE", f"/v1/admin/groups/{group}/members/{party}")

    async def subscriptions(self, group: str) -> list[dict[str, Any]]:
        out = await self._call("GET", f"/v1/groups/{group}/subscriptions")
        subs: list[dict[str, Any]] = out["subscriptions"]
        return subs

    async def remove_subscription(self, group: str, source: str) -> dict[str, Any]:
        return await self._call("DELETE", f"/v1/groups/{group}/subscriptions/{source}")
