"""Which webhook URLs and resolved addresses may be called (server-side request forgery).

Checked when an endpoint is registered and again before every attempt, on the addresses the
name resolves to at that moment (a DNS answer can change: rebinding).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Ranges Python's flags do not all cover: carrier-grade NAT (shared address space) and
# cloud metadata services (AWS IPv6 IMDS; the IPv4 one, 169.254.169.254, is link-local).
_EXTRA_FORBIDDEN: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("100.64.0.0/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),
)


class UrlRefused(ValueError):
    """A webhook URL may not be used; the message names the rule, never the URL."""


@dataclass(frozen=True)
class UrlPolicy:
    allow_http: bool
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def build(cls, *, allow_http: bool, allowed_networks: Iterable[str]) -> UrlPolicy:
        return cls(allow_http, tuple(ipaddress.ip_network(n) for n in allowed_networks))

    def check_url(self, url: str) -> SplitResult:
        """Scheme, host and form of a URL; raises UrlRefused."""
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http"):
            raise UrlRefused("url must use https")
        if parts.scheme == "http" and not self.allow_http:
            raise UrlRefused("url must use https (http is not allowed here)")
        if not parts.hostname:
            raise UrlRefused("url must name a host")
        if parts.username or parts.password:
            raise UrlRefused("url must not carry credentials")
        if parts.fragment:
            raise UrlRefused("url must not carry a fragment")
        try:
            _ = parts.port
        except ValueError as error:
            raise UrlRefused("url has an invalid port") from error
        return parts

    def check_addresses(self, addresses: Iterable[IPAddress]) -> None:
        """Every address a host resolves to must be public (or explicitly allowed)."""
        found = list(addresses)
        if not found:
            raise UrlRefused("url host does not resolve")
        for address in found:
            if self.is_forbidden(address):
                raise UrlRefused(
                    "url resolves to a loopback, private, link-local or reserved address"
                )

    def is_forbidden(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.allowed_networks):
            return False
        return (
            address.is_loopback
            or address.is_private
            or address.is_link_local
            or address.is_multicast
            or address.is_reserved
            or address.is_unspecified
            or any(address in network for network in _EXTRA_FORBIDDEN)
        )
