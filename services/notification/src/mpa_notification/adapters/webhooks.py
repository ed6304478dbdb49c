"""Sending one webhook by the Standard Webhooks specification, safely.

The host is resolved and every address checked against the URL policy right before the
request, and the request goes to the checked address (the Host header and TLS server name
keep the original name), so a DNS answer that changes between check and connect (rebinding)
cannot steer it to an internal address. Redirects are not followed; the response body is
never read (a receiver cannot make us download much).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import SplitResult

import httpx
from standardwebhooks import Webhook

from mpa_contracts.vocabularies import DeliveryFailureReason
from mpa_notification.domain.outcomes import AttemptResult, Verdict, classify_http_response
from mpa_notification.domain.url_policy import IPAddress, UrlPolicy, UrlRefused

USER_AGENT = "mpa-notification/0.1 (Standard Webhooks)"


def encode_body(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def signature_header(
    message_id: str, timestamp: datetime, payload: str, secrets: Sequence[str]
) -> str:
    """`v1,<base64 HMAC-SHA256>` per secret, space-separated (two during a rotation)."""
    return " ".join(Webhook(secret).sign(message_id, timestamp, payload) for secret in secrets)


# The addresses a host name resolves to now (host, port) -> addresses; raises OSError or
# UnicodeError when it does not resolve. Injectable so that tests can play DNS rebinding.
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The operating system's answer (getaddrinfo), asked afresh each time."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0]) for info in infos]


@dataclass(frozen=True)
class CheckedTarget:
    parts: SplitResult
    address: IPAddress
    port: int


async def resolve_checked(
    url: str, policy: UrlPolicy, resolver: Resolver = system_resolver
) -> CheckedTarget:
    """The URL's form and every address its host resolves to, checked; raises UrlRefused."""
    parts = policy.check_url(url)
    host = parts.hostname
    assert host is not None  # check_url guarantees it
    port = policy.port_of(parts)
    try:
        addresses = [ipaddress.ip_address(host)]  # a literal address needs no resolving
    except ValueError:
        try:
            addresses = await resolver(host, port)
        except (OSError, UnicodeError) as error:  # socket.gaierror is an OSError
            raise UrlRefused("url host does not resolve") from error
    policy.check_addresses(addresses, port)
    return CheckedTarget(parts, addresses[0], port)


class WebhookSender:
    def __init__(
        self,
        policy: UrlPolicy,
        *,
        timeout: float,
        max_connections: int,
        resolver: Resolver = system_resolver,
    ) -> None:
        self._policy = policy
        self._resolver = resolver
        self._timeout = timeout
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=64),
            headers={"user-agent": USER_AGENT},
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def send(
        self, url: str, *, message_id: str, body: dict[str, Any], secrets: Sequence[str]
    ) -> AttemptResult:
        try:
            target = await resolve_checked(url, self._policy, self._resolver)
        except UrlRefused as refused:
            return AttemptResult(
                Verdict.RETRY, failure=DeliveryFailureReason.INVALID_ENDPOINT, error=str(refused)
            )
        payload = encode_body(body)
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "host": target.parts.netloc,
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature_header(message_id, now, payload, secrets),
        }
        host = f"[{target.address}]" if target.address.version == 6 else str(target.address)
        pinned = target.parts._replace(netloc=f"{host}:{target.port}").geturl()
        extensions = (
            {"sni_hostname": target.parts.hostname} if target.parts.scheme == "https" else {}
        )
        try:
            async with asyncio.timeout(self._timeout):
                request = self._client.build_request(
                    "POST", pinned, content=payload.encode(), headers=headers, extensions=extensions
                )
                response = await self._client.send(request, stream=True)
                await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            return _failed(DeliveryFailureReason.TIMEOUT, "no answer within the timeout")
        except httpx.ConnectError as error:
            if (
                isinstance(error.__context__, ssl.SSLError)
                or "SSL" in type(error.__context__).__name__
            ):
                return _failed(DeliveryFailureReason.TLS_ERROR, "TLS handshake failed")
            return _failed(DeliveryFailureReason.CONNECTION_ERROR, "connection failed")
        except httpx.TransportError as error:
            return _failed(DeliveryFailureReason.CONNECTION_ERROR, type(error).__name__)
        return classify_http_response(
            response.status_code, response.headers.get("retry-after"), datetime.now(UTC)
        )


def _failed(reason: DeliveryFailureReason, error: str) -> AttemptResult:
    return AttemptResult(Verdict.RETRY, failure=reason, error=error)


def monotonic_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
