"""The partners a run routes to, registered through the platform's own APIs.

One fictional partner per run (its code and name say so) with a shelter service covering the
run's country, without capacity tracking (every case can be placed), and a webhook endpoint
on the harness's receiver subscribed to `referral.routed`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

from mpa_cli.harness.receiver import WebhookReceiver
from mpa_common.auth import Role, mint_dev_token
from mpa_contracts.events.referral import ReferralRoutedV1

COUNTRY = "NE"
LANGUAGE = "fr"
CATEGORY = "shelter"


@dataclass(frozen=True)
class RegisteredPartner:
    partner_id: uuid.UUID
    service_id: uuid.UUID
    endpoint_id: uuid.UUID
    endpoint: str  # the receiver's label for it


def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_dev_token([Role.ADMIN], subject='harness-admin')}"}


async def register_partner(
    urls: dict[str, str],
    receiver: WebhookReceiver,
    *,
    label: str = "partner-a",
    rate_limit_per_second: int | None = None,
    max_in_flight: int | None = None,
) -> RegisteredPartner:
    """Partner, service and webhook endpoint; each is in its service's database (and so
    routable, or subscribed) when its POST answers."""
    headers = admin_headers()
    async with httpx.AsyncClient(timeout=30, headers=headers) as client:
        partner = await client.post(
            f"{urls['referral']}/v1/partners",
            json={
                "code": f"HARNESS-{uuid.uuid4().hex[:6].upper()}",
                "name": "Harness partner (fictional)",
                "partner_type": "civil_society_organisation",
                "countries": [COUNTRY],
                "contacts": [{"label": "Referral desk", "email": "desk@harness.example"}],
            },
        )
        partner.raise_for_status()
        partner_id = uuid.UUID(partner.json()["id"])
        service = await client.post(
            f"{urls['referral']}/v1/partners/{partner_id}/services",
            json={
                "name": "Harness shelter (fictional)",
                "category": CATEGORY,
                "coverage": [{"country": COUNTRY}],
                "languages": [LANGUAGE],
            },
        )
        service.raise_for_status()
        endpoint_body: dict[str, object] = {
            "url": receiver.url(label),
            "event_types": [ReferralRoutedV1.event_type],
            "partner_id": str(partner_id),
        }
        if rate_limit_per_second is not None:
            endpoint_body["rate_limit_per_second"] = rate_limit_per_second
        if max_in_flight is not None:
            endpoint_body["max_in_flight"] = max_in_flight
        endpoint = await client.post(f"{urls['notification']}/v1/endpoints", json=endpoint_body)
        endpoint.raise_for_status()
        receiver.secrets[label] = endpoint.json()["secret"]
        return RegisteredPartner(
            partner_id=partner_id,
            service_id=uuid.UUID(service.json()["id"]),
            endpoint_id=uuid.UUID(endpoint.json()["id"]),
            endpoint=label,
        )
