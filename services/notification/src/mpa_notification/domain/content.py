"""What a notification says: a JSON body of ids, codes, state and links, no personal data.

Webhook bodies follow the Standard Webhooks payload shape `{type, timestamp, data}`; the
same body feeds the e-mail templates.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from mpa_contracts.envelope import Envelope
from mpa_contracts.events.referral import REFERRAL_STATE_AFTER
from mpa_notification.domain.routing import TEST_EVENT_TYPE

# Routing's explanation names other partners and their scores: not the recipient's business.
_WITHHELD_FIELDS = frozenset({"explanation", "exclusions"})

NotificationBody = dict[str, Any]


def referral_link(referral_api_base_url: str, referral_id: uuid.UUID) -> str:
    return f"{referral_api_base_url.rstrip('/')}/v1/referrals/{referral_id}"


def body_for_event(envelope: Envelope, *, referral_api_base_url: str) -> NotificationBody:
    data = {
        key: value
        for key, value in envelope.data.model_dump(mode="json").items()
        if key not in _WITHHELD_FIELDS
    }
    state = REFERRAL_STATE_AFTER.get(type(envelope.data))
    data["event_id"] = str(envelope.id)
    data["state"] = state.value if state is not None else None
    referral_id = getattr(envelope.data, "referral_id", None)
    if isinstance(referral_id, uuid.UUID):
        data["links"] = {"referral": referral_link(referral_api_base_url, referral_id)}
    return {"type": envelope.type, "timestamp": _iso(envelope.time), "data": data}


def body_for_outcome(
    event_type: str, occurred_at: datetime, data: dict[str, Any]
) -> NotificationBody:
    """A body for a notification the service itself originates (exhausted, disabled)."""
    return {"type": event_type, "timestamp": _iso(occurred_at), "data": data}


def webhook_test_body(endpoint_id: uuid.UUID, occurred_at: datetime) -> NotificationBody:
    return {
        "type": TEST_EVENT_TYPE,
        "timestamp": _iso(occurred_at),
        "data": {"endpoint_id": str(endpoint_id), "message": "This is a test notification."},
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
