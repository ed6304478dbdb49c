"""Example payloads of the cross-border events (issue 17), merged into `examples.EXAMPLES`.

Fixed ids, fictitious data; the case of examples.py, sent from Niger to Mali.
"""

from datetime import UTC, datetime, timedelta
from uuid import UUID

from mpa_contracts.events.base import EventData
from mpa_contracts.events.cross_border import (
    HandoffAcceptedV1,
    HandoffArrivedV1,
    HandoffCancelledV1,
    HandoffDeclinedV1,
    HandoffDepartedV1,
    HandoffRequestedV1,
    TransferConsentRecordedV1,
    TransferConsentWithdrawnV1,
)
from mpa_contracts.vocabularies import (
    ActorRole,
    ConsentGivenBy,
    ConsentMethod,
    HandoffCancelReason,
    HandoffDeclineReason,
)

CASE_ID = UUID("6f1c2a3e-8d4b-4c1a-9e2f-0a1b2c3d4e5f")  # the case of examples.py
TRANSFER_CONSENT_ID = UUID("0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e")
HANDOFF_ID = UUID("1c2d3e4f-5a6b-4c7d-9e8f-0a1b2c3d4e5f")
TRANSFER_ID = UUID("2d3e4f5a-6b7c-4d8e-8f9a-1b2c3d4e5f60")
SENDER = "caseworker:u-204"
RECEIVER = "caseworker:u-731"
_SENDING = {"actor_id": SENDER, "actor_role": ActorRole.CASEWORKER}
_RECEIVING = {"actor_id": RECEIVER, "actor_role": ActorRole.CASEWORKER}
_HANDOFF = {"case_id": CASE_ID, "handoff_id": HANDOFF_ID}
_AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

CROSS_BORDER_EXAMPLES: tuple[EventData, ...] = (
    TransferConsentRecordedV1(
        **_SENDING,
        case_id=CASE_ID,
        transfer_consent_id=TRANSFER_CONSENT_ID,
        destination_countries=("ML", "SN"),
        given_by=ConsentGivenBy.SELF,
        method=ConsentMethod.WRITTEN,
        obtained_at=_AT,
        expires_at=_AT + timedelta(days=365),
    ),
    TransferConsentWithdrawnV1(
        **_SENDING,
        case_id=CASE_ID,
        transfer_consent_id=TRANSFER_CONSENT_ID,
        withdrawn_countries=("SN",),
        remaining_countries=("ML",),
    ),
    HandoffRequestedV1(
        **_SENDING,
        **_HANDOFF,
        from_country="NE",
        from_owner_id=SENDER,
        to_country="ML",
        planned_travel_at=_AT + timedelta(days=10),
    ),
    HandoffAcceptedV1(
        **_RECEIVING,
        **_HANDOFF,
        to_country="ML",
        receiving_team="ml-bamako-cm",
        receiving_agency="iom-ml",
    ),
    HandoffDeclinedV1(
        **_RECEIVING, **_HANDOFF, to_country="ML", reason=HandoffDeclineReason.NO_CAPACITY
    ),
    HandoffCancelledV1(**_SENDING, **_HANDOFF, reason=HandoffCancelReason.TRAVEL_CANCELLED),
    HandoffDepartedV1(
        **_SENDING, **_HANDOFF, departed_at=_AT + timedelta(days=10), to_country="ML"
    ),
    HandoffArrivedV1(
        **_RECEIVING,
        **_HANDOFF,
        arrived_at=_AT + timedelta(days=11),
        from_country="NE",
        to_country="ML",
        transfer_id=TRANSFER_ID,
        owner_id=RECEIVER,
        departure_recorded=True,
    ),
)
