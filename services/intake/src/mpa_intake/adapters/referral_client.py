"""The referral service's HTTP API, as intake asks it at each partner read.

`GET /v1/referrals?case_id=…` with the partner's own bearer token answers the partner's
referrals of that case (the referral service shows a partner nothing else). Relaying the
caller's token, rather than a service credential of intake's, means intake gains no
standing of its own in the referral service: it can only learn what the partner could see
there anyway, and the referral service checks that token itself.

Anything but a clear answer — refused connection, timeout, a 5xx, a body that does not
parse — is `DependencyUnavailable` (503 with Retry-After), never access. A 401/403 from
the referral service is an answer: the caller has no referrals there.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from mpa_common.failures import DependencyUnavailable
from mpa_contracts.vocabularies import ReferralState
from mpa_intake.app.ports import ReferralStatus

_PAGE_SIZE = 200  # the referral API's largest page; a case has a handful of referrals


class _ReferralItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: UUID
    case_id: UUID
    need_id: UUID
    partner_id: UUID | None
    state: ReferralState


class _ReferralPage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    items: list[_ReferralItem]
    next_cursor: str | None = None


class HttpReferralDirectory:
    """`ports.ReferralDirectory` over the referral service's documented API.

    A background worker of the service only so that its connections close at shutdown."""

    name = "referral-client"

    def __init__(self, base_url: str, *, timeout_seconds: float = 2.0) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = httpx.Timeout(timeout_seconds)
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        """Nothing to start: the client connects on first use."""

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self._base_url, timeout=self._timeout, follow_redirects=False
            )
        return self._client

    async def referrals_of_case(self, case_id: UUID, credentials: str) -> list[ReferralStatus]:
        found: list[ReferralStatus] = []
        params: dict[str, Any] = {"case_id": str(case_id), "limit": _PAGE_SIZE}
        while True:
            page = await self._page(params, credentials)
            if page is None:
                return []
            found += [
                ReferralStatus(item.id, item.case_id, item.need_id, item.partner_id, item.state)
                for item in page.items
            ]
            if not page.next_cursor:
                return found
            params = {**params, "cursor": page.next_cursor}

    async def _page(self, params: dict[str, Any], credentials: str) -> _ReferralPage | None:
        try:
            response = await self._http.get(
                "/v1/referrals",
                params=params,
                headers={"Authorization": f"Bearer {credentials}"},
            )
        except httpx.HTTPError as error:
            raise DependencyUnavailable("referral", type(error).__name__) from error
        if response.status_code in (401, 403):
            return None
        if response.status_code != 200:
            raise DependencyUnavailable("referral", f"answered {response.status_code}")
        try:
            return _ReferralPage.model_validate_json(response.content)
        except ValidationError as error:
            raise DependencyUnavailable("referral", "answered an unreadable body") from error
