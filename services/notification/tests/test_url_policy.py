"""SSRF guard (issue 12, finding 7): ports, special-use and metadata ranges the interpreter's
tables miss, and IPv6 transition forms judged by the IPv4 address they carry."""

from __future__ import annotations

import ipaddress

import pytest

from mpa_notification.adapters.webhooks import resolve_checked
from mpa_notification.domain.url_policy import IPAddress, UrlPolicy, UrlRefused

PRODUCTION = UrlPolicy.build(allow_http=False, allowed_networks=())
DEVELOPMENT = UrlPolicy.build(allow_http=True, allowed_networks=())
PUBLIC = "93.184.215.14"


@pytest.mark.parametrize(
    "address",
    [
        # passed on main (b606878): the tables of Python 3.11 call them global
        "192.0.0.192",  # Oracle Cloud metadata (192.0.0.0/24)
        "168.63.129.16",  # Azure WireServer
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
        "192.88.99.1",  # 6to4 relay anycast
        "198.18.0.1",  # benchmarking
        "3fff::1",  # documentation (RFC 9637)
        # transition forms carrying an internal address
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b::7f00:1",
        "64:ff9b:1::1",  # local-use NAT64
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo (client 192.0.2.45)
        "::127.0.0.1",  # IPv4-compatible
        # the classics still refused
        "100.100.100.200",  # Alibaba metadata (shared address space)
        "169.254.169.254",
        "fd00:ec2::254",
        "10.1.2.3",
        "255.255.255.255",
        "0.0.0.0",  # noqa: S104 (an address to refuse, not one to bind)
    ],
)
def test_special_and_metadata_addresses_are_refused(address: str) -> None:
    with pytest.raises(UrlRefused):
        PRODUCTION.check_addresses([ipaddress.ip_address(address)])


@pytest.mark.parametrize(
    "address",
    [PUBLIC, "::ffff:93.184.215.14", "2002:5db8:d70e::1", "64:ff9b::5db8:d70e", "2606:4700::1"],
)
def test_public_addresses_and_their_transition_forms_pass(address: str) -> None:
    PRODUCTION.check_addresses([ipaddress.ip_address(address)], 443)


@pytest.mark.parametrize(("policy", "port"), [(PRODUCTION, 22), (PRODUCTION, 80),
                                              (PRODUCTION, 8443), (DEVELOPMENT, 6379)])  # fmt: skip
def test_only_allowed_ports_may_be_called(policy: UrlPolicy, port: int) -> None:
    with pytest.raises(UrlRefused, match="port"):
        policy.check_addresses([ipaddress.ip_address(PUBLIC)], port)


def test_port_80_where_http_is_allowed_and_configured_ports() -> None:
    DEVELOPMENT.check_addresses([ipaddress.ip_address(PUBLIC)], 80)
    configured = UrlPolicy.build(allow_http=False, allowed_networks=(), allowed_ports=(8443,))
    configured.check_addresses([ipaddress.ip_address(PUBLIC)], 8443)
    with pytest.raises(UrlRefused):
        configured.check_addresses([ipaddress.ip_address(PUBLIC)], 443)


def test_an_allowed_network_is_exempt_ports_included() -> None:
    local = UrlPolicy.build(allow_http=True, allowed_networks=["127.0.0.1/32"])
    local.check_addresses([ipaddress.ip_address("127.0.0.1")], 8080)
    local.check_addresses([ipaddress.ip_address("::ffff:127.0.0.1")], 8080)
    with pytest.raises(UrlRefused):
        local.check_addresses([ipaddress.ip_address("127.0.0.2")], 8080)


async def test_a_url_port_is_checked_on_what_the_host_resolves_to() -> None:
    async def resolver(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(PUBLIC)]

    with pytest.raises(UrlRefused, match="port"):
        await resolve_checked("https://partner.example.org:22/hook", PRODUCTION, resolver)
    target = await resolve_checked("https://partner.example.org/hook", PRODUCTION, resolver)
    assert target.port == 443
