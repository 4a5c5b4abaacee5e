"""The authenticated client of one request, as every service sees it."""

from __future__ import annotations

from dataclasses import dataclass

from exchange.errors import Forbidden

__all__ = ["Caller", "TokenId"]


@dataclass(frozen=True)
class Caller:
    """The authenticated client of one request."""

    client_id: str
    party: str
    roles: frozenset[str]
    kid: str

    def require(self, role: str) -> None:
        if role not in self.roles:
            raise Forbidden(f"this needs the '{role}' role")

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


@dataclass(frozen=True)
class TokenId:
    """A verified request token's ``jti`` and expiry, not yet spent: a bulletin's post
    spends it in its admission transaction (ADR 0020); every other request at once."""

    jti: str
    exp: int
