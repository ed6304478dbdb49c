"""Which webhook URLs and resolved addresses may be called (server-side request forgery).

Checked when an endpoint is registered and again before every attempt, on the addresses the
name resolves to at that moment (a DNS answer can change: rebinding).

An address is refused when the interpreter's tables call it loopback, private, link-local,
multicast, reserved or unspecified, when it is in the explicit deny-list below (special-use
and cloud-metadata ranges the tables miss), or when it is an IPv6 transition form (IPv4-
mapped, 6to4, Teredo, NAT64) whose embedded IPv4 address would be refused. Only the ports
in `allowed_ports` may be called (443; 80 too where http is allowed). An address inside an
explicitly allowed network (NOTIFICATION_WEBHOOK_ALLOWED_NETWORKS, e.g. a test receiver on
127.0.0.1) is exempt from all of it, ports included: the operator vouched for that network.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

HTTPS_PORT = 443
HTTP_PORT = 80

# Special-use ranges (IANA registries, RFC 6890) and cloud metadata endpoints, refused
# whatever this interpreter's `ipaddress` tables say: they differ between Python versions
# (3.11 passes 192.0.0.192, 168.63.129.16 and 6to4) and the list is the policy.
DENIED_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(network)
    for network in (
        # IPv4
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # carrier-grade NAT (shared); Alibaba metadata 100.100.100.200
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local; AWS/GCP/Azure/OpenStack metadata 169.254.169.254
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments; Oracle Cloud metadata 192.0.0.192
        "192.0.2.0/24",  # TEST-NET-1
        "192.31.196.0/24",  # AS112-v4
        "192.52.193.0/24",  # AMT
        "192.88.99.0/24",  # deprecated 6to4 relay anycast
        "192.168.0.0/16",  # private
        "192.175.48.0/24",  # direct delegation AS112
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # TEST-NET-2
        "203.0.113.0/24",  # TEST-NET-3
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the limited broadcast address
        "168.63.129.16/32",  # Azure platform (WireServer, DNS, metadata)
        # IPv6
        "::/128",  # unspecified
        "::1/128",  # loopback
        "::/96",  # IPv4-compatible (deprecated)
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments (Teredo is checked by its client below)
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation (RFC 9637)
        "5f00::/16",  # segment routing (SRv6) SIDs
        "fc00::/7",  # unique local; AWS IPv6 metadata fd00:ec2::254
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
        "64:ff9b:1::/48",  # local-use NAT64 (RFC 8215): translated inside the deployment
    )
)
_TEREDO = ipaddress.ip_network("2001::/32")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UrlRefused(ValueError):
    """A webhook URL may not be used; the message names the rule, never the URL."""


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 transition form carries, which is where it really goes."""
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address in _TEREDO and address.teredo is not None:
        found.extend(address.teredo)  # (server, client); the client is de-obfuscated
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


@dataclass(frozen=True)
class UrlPolicy:
    allow_http: bool
    allowed_networks: tuple[IPNetwork, ...] = ()
    # Empty: 443, and 80 when http is allowed.
    allowed_ports: tuple[int, ...] = ()

    @classmethod
    def build(
        cls,
        *,
        allow_http: bool,
        allowed_networks: Iterable[str],
        allowed_ports: Iterable[int] = (),
    ) -> UrlPolicy:
        return cls(
            allow_http,
            tuple(ipaddress.ip_network(n) for n in allowed_networks),
            tuple(allowed_ports),
        )

    @property
    def ports(self) -> frozenset[int]:
        if self.allowed_ports:
            return frozenset(self.allowed_ports)
        return frozenset({HTTPS_PORT, HTTP_PORT} if self.allow_http else {HTTPS_PORT})

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

    @staticmethod
    def port_of(parts: SplitResult) -> int:
        return parts.port or (HTTPS_PORT if parts.scheme == "https" else HTTP_PORT)

    def check_addresses(self, addresses: Iterable[IPAddress], port: int = HTTPS_PORT) -> None:
        """Every address a host resolves to must be public (or explicitly allowed), and the
        port one that may be called there."""
        found = list(addresses)
        if not found:
            raise UrlRefused("url host does not resolve")
        for address in found:
            if self.is_allowed_explicitly(address):
                continue
            if self.is_forbidden(address):
                raise UrlRefused(
                    "url resolves to a loopback, private, link-local or reserved address"
                )
            if port not in self.ports:
                allowed = ", ".join(str(p) for p in sorted(self.ports))
                raise UrlRefused(f"url port is not allowed (allowed: {allowed})")

    def is_allowed_explicitly(self, address: IPAddress) -> bool:
        candidates: list[IPAddress] = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        return any(a in network for a in candidates for network in self.allowed_networks)

    def is_forbidden(self, address: IPAddress) -> bool:
        if self.is_allowed_explicitly(address):
            return False
        if isinstance(address, ipaddress.IPv6Address):
            embedded = embedded_ipv4(address)
            if address.ipv4_mapped is not None or address in _NAT64 or address in _TEREDO:
                # A transition form goes where its IPv4 address goes: judge that address.
                return not embedded or any(self.is_forbidden(v4) for v4 in embedded)
            if any(self.is_forbidden(v4) for v4 in embedded):  # 6to4
                return True
        return _refused_by_tables(address) or any(address in n for n in DENIED_NETWORKS)


def _refused_by_tables(address: IPAddress) -> bool:
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )
