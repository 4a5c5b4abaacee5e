"""Where a webhook may be sent (SSRF): only to global addresses, unless the operator
allows a network (``AlertsConfig.allow_networks``). Checked when an endpoint is
registered and again on every push, by the resolver the push connects with, so a name
that later resolves elsewhere (DNS rebinding) reaches nothing it should not."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from exchange.errors import EndpointRefused, InputError

__all__ = ["AddressPolicy", "AddressRefused", "GuardedResolver", "check_url", "parse_url"]

IP = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL = 2048


class AddressPolicy:
    """Global unicast addresses are allowed; loopback, private, link-local (the cloud
    metadata service at 169.254.169.254 among them), shared, multicast and reserved ones
    only inside an operator-allowed network."""

    def __init__(self, allow_networks: tuple[str, ...] = ()) -> None:
        self.allowed = tuple(ipaddress.ip_network(n, strict=False) for n in allow_networks)

    def operator_allowed(self, ip: IP) -> bool:
        return any(ip.version == n.version and ip in n for n in self.allowed)

    def permits(self, address: str) -> bool:
        try:
            ip: IP = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if self.operator_allowed(ip):
            return True
        return ip.is_global and not ip.is_multicast


def parse_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a webhook URL, or InputError."""
    if not isinstance(url, str) or len(url) > MAX_URL or any(c in url for c in "\r\n\t "):
        raise InputError("url: must be an absolute http(s) URL of at most 2048 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InputError("url: not a valid URL") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InputError("url: must be an absolute http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise InputError("url: credentials in the URL are not accepted")
    if parts.fragment:
        raise InputError("url: a fragment is not accepted")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def check_url(url: str, policy: AddressPolicy) -> None:
    """Refuse a URL whose host resolves to an address the policy refuses (every address
    must pass), and plain http except to an operator-allowed network."""
    scheme, host, port = parse_url(url)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise EndpointRefused(f"the endpoint's host {host!r} does not resolve") from exc
    addresses = {str(info[4][0]) for info in infos}
    if not addresses or not all(policy.permits(a) for a in addresses):
        raise EndpointRefused(
            "the endpoint resolves to an address that is not allowed (loopback, private, "
            "link-local or metadata); an operator may allow its network"
        )
    if scheme == "http" and not all(
        policy.operator_allowed(ipaddress.ip_address(a.split("%", 1)[0])) for a in addresses
    ):
        raise EndpointRefused("plain http is only allowed to an operator-allowed network")


class AddressRefused(OSError):
    """A push's host resolved to an address the policy refuses."""


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, but a name resolving to any refused address fails to connect.
    (aiohttp does not resolve IP literals: the sender checks those itself.)"""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not results or not all(self.policy.permits(r["host"]) for r in results):
            raise AddressRefused(f"{host} resolves to an address that is not allowed")
        return results

    async def close(self) -> None:
        await self._inner.close()

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"GuardedResolver({self.policy.allowed!r})"
