"""Sending one webhook by the Standard Webhooks specification, safely.

The host is resolved and every address checked against the URL policy right before the
request, and the request goes to the checked address (the Host header and TLS server name
keep the original name), so a DNS answer that changes between check and connect (rebinding)
cannot steer it to an internal address. Redirects are not followed; a response body is read
only when it is tiny (a receiver cannot make us download much).
"""

from __future__ import annotations

import asyncio
import functools
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

import aiohttp
import certifi
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
    return " ".join(_signer(secret).sign(message_id, timestamp, payload) for secret in secrets)


@functools.lru_cache(maxsize=1024)
def _signer(secret: str) -> Webhook:
    # Decoding a secret costs about what signing does: once per secret, not per attempt.
    return Webhook(secret)


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
    """POSTs webhooks over a pool of kept-alive connections (aiohttp: its connection pool
    holds up under hundreds of concurrent requests, where httpx's slows down as
    concurrency grows — encode/httpx#3215). Connections are keyed by the checked address
    and, for https, by the name the certificate must match."""

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
        self._max_connections = max_connections
        self._tls = ssl.create_default_context(cafile=certifi.where())
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use, inside the running event loop (aiohttp requires one).
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._max_connections,
                    limit_per_host=0,
                    ssl=self._tls,
                    # Addresses are checked and pinned here, never resolved by aiohttp.
                    use_dns_cache=False,
                ),
                # One deadline per attempt, `asyncio.timeout` in `send` (aiohttp's own timers
                # would be a second set per request).
                timeout=aiohttp.ClientTimeout(total=None),
                headers={"user-agent": USER_AGENT},
                # Never keep a receiver's cookies: none would be sent to another partner
                # sharing its address, and none are needed.
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                skip_auto_headers=("accept-encoding",),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

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
        https = target.parts.scheme == "https"
        try:
            async with asyncio.timeout(self._timeout):
                async with self._client().post(
                    pinned,
                    data=payload.encode(),
                    headers=headers,
                    allow_redirects=False,
                    # The certificate must match the name, not the pinned address.
                    server_hostname=target.parts.hostname if https else None,
                ) as response:
                    status, retry_after = response.status, response.headers.get("retry-after")
                    await _discard_body(response)
        except TimeoutError:
            return _failed(DeliveryFailureReason.TIMEOUT, "no answer within the timeout")
        except (aiohttp.ClientSSLError, ssl.SSLError):
            return _failed(DeliveryFailureReason.TLS_ERROR, "TLS handshake failed")
        except aiohttp.ClientConnectorError:
            return _failed(DeliveryFailureReason.CONNECTION_ERROR, "connection failed")
        except (aiohttp.ClientError, OSError) as error:
            return _failed(DeliveryFailureReason.CONNECTION_ERROR, type(error).__name__)
        return classify_http_response(status, retry_after, datetime.now(UTC))


# A receiver's answer is read only when it is this small (the connection is then reused);
# a larger one closes the connection: a receiver cannot make us download much.
_REUSE_BODY_LIMIT = 4096


async def _discard_body(response: aiohttp.ClientResponse) -> None:
    length = response.content_length
    if length is not None and length <= _REUSE_BODY_LIMIT:
        await response.read()
    else:
        response.close()


def _failed(reason: DeliveryFailureReason, error: str) -> AttemptResult:
    return AttemptResult(Verdict.RETRY, failure=reason, error=error)


def monotonic_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
