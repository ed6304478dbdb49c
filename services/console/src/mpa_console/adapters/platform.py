"""HTTP calls to the four services' public APIs, always with the signed-in user's token.

The console decides nothing about who may see what: it forwards the user's bearer token, so
each service applies its own rules (roles, tenancy, consent, disclosure) and records its own
audited reads. Errors come back as exceptions carrying the service's problem+json fields
(title, status, the names of invalid fields and why) — never request bodies, which may hold
personal data; nothing here logs a body either.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx

log = logging.getLogger(__name__)


class Service(StrEnum):
    INTAKE = "intake"
    REFERRAL = "referral"
    NOTIFICATION = "notification"
    AUDIT = "audit"


@dataclass(frozen=True)
class FieldProblem:
    field: str
    reason: str


@dataclass
class UpstreamError(Exception):
    """A service refused the request (4xx): not found, forbidden, conflict, invalid."""

    service: Service
    status: int
    title: str = ""
    detail: str = ""
    errors: list[FieldProblem] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.service.value} answered {self.status} {self.title}"


@dataclass
class UpstreamUnavailable(Exception):
    """A service could not be reached or failed (5xx): the user should try again."""

    service: Service
    retry_after: int = 5

    def __str__(self) -> str:
        return f"{self.service.value} is unavailable"


Json = Any


class Platform:
    """One pooled HTTP client for all four services."""

    def __init__(self, base_urls: dict[Service, str], *, timeout: float) -> None:
        self._base = {service: url.rstrip("/") for service, url in base_urls.items()}
        self._client = httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, headers={"accept": "application/json"}
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def call(
        self,
        service: Service,
        method: str,
        path: str,
        token: str | None,
        *,
        params: dict[str, Any] | None = None,
        json: Json = None,
        headers: dict[str, str] | None = None,
    ) -> Json:
        """The decoded JSON answer (None for 204); raises UpstreamError/Unavailable."""
        request_headers = dict(headers or {})
        if token is not None:
            request_headers["authorization"] = f"Bearer {token}"
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            response = await self._client.request(
                method,
                self._base[service] + path,
                params=clean,
                json=json,
                headers=request_headers,
            )
        except httpx.HTTPError as error:
            log.warning(
                "upstream unreachable",
                extra={"service": service.value, "error": type(error).__name__},
            )
            raise UpstreamUnavailable(service) from error
        if response.status_code >= 500:
            log.warning(
                "upstream failed", extra={"service": service.value, "status": response.status_code}
            )
            raise UpstreamUnavailable(service, _retry_after(response))
        if response.status_code >= 400:
            raise _error(service, response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    async def get(self, service: Service, path: str, token: str | None, **params: Any) -> Json:
        return await self.call(service, "GET", path, token, params=params)

    async def post(
        self,
        service: Service,
        path: str,
        token: str | None,
        body: Json = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> Json:
        return await self.call(service, "POST", path, token, json=body, headers=headers)

    async def patch(self, service: Service, path: str, token: str | None, body: Json) -> Json:
        return await self.call(service, "PATCH", path, token, json=body)

    async def ready(self, service: Service) -> bool:
        try:
            response = await self._client.get(self._base[service] + "/readyz", timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200


def _retry_after(response: httpx.Response) -> int:
    try:
        return max(1, int(response.headers.get("retry-after", "5")))
    except ValueError:
        return 5


def _error(service: Service, response: httpx.Response) -> UpstreamError:
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    errors = []
    for entry in problem.get("errors") or []:
        if isinstance(entry, dict):
            errors.append(FieldProblem(str(entry.get("field", "")), str(entry.get("reason", ""))))
    return UpstreamError(
        service,
        response.status_code,
        str(problem.get("title", "")),
        str(problem.get("detail", "")),
        errors,
    )
