"""Events of a PSEA complaint (protection from sexual exploitation and abuse; topic
`mpa.psea.v1`, key `complaint_id`: the complaint is an aggregate of its own, on a topic of
its own so that only the consumers that need its steps read them).

A complaint is a restricted record: only the PSEA focal point sees it. Its events say that
a step was taken, and when, so the audit log proves the timeliness; they carry no account,
no survivor, not even the survivor's case id (which would tie a person to an allegation in
everything that reads the case's story). The implicated organisation is named only once
the allegation is referred to it, and when the investigation concludes.
"""

from pydantic import Field

from mpa_contracts.events.base import ActorEventData, EventData
from mpa_contracts.types import PartnerId, PseaComplaintId, UniqueTuple, UtcTimestamp
from mpa_contracts.vocabularies import (
    PersonalDataField,
    PseaAllegationType,
    PseaAssistanceDecision,
    PseaInvestigationOutcome,
    PseaStep,
)


class PseaEvent(ActorEventData):
    """What every step of a complaint says: which complaint, who acted."""

    complaint_id: PseaComplaintId


class PseaComplaintReceivedV1(PseaEvent):
    """A complaint of sexual exploitation or abuse was received; its clocks started."""

    event_type = "org.mpa.psea.complaint_received.v1"

    assistance_due_at: UtcTimestamp = Field(
        description="When the survivor must have been offered assistance"
    )
    allegation_referral_due_at: UtcTimestamp = Field(
        description="When the allegation must have reached the implicated organisation"
    )


class PseaComplaintReadV1(PseaEvent):
    """The PSEA focal point read the restricted record (which fields, never their values)."""

    event_type = "org.mpa.psea.complaint_read.v1"

    fields: UniqueTuple[PersonalDataField] = Field(min_length=1)


class PseaAssistanceDecidedV1(PseaEvent):
    """The survivor was referred for assistance through the GBV pathway (with consent), or
    declined it."""

    event_type = "org.mpa.psea.assistance_decided.v1"

    decision: PseaAssistanceDecision
    on_time: bool = Field(description="Whether it was decided by its deadline")


class PseaAllegationReferredV1(PseaEvent):
    """The allegation was referred to the implicated organisation's investigation focal
    point; the survivor's identity goes with it only with their consent."""

    event_type = "org.mpa.psea.allegation_referred.v1"

    implicated_partner_id: PartnerId
    allegation_type: PseaAllegationType
    survivor_identity_shared: bool = Field(
        description="Whether the survivor consented to their identity being shared with the "
        "investigation (the focal point shares it outside the platform's events)"
    )
    investigation_due_at: UtcTimestamp
    on_time: bool = Field(description="Whether it was referred by its deadline")


class PseaInvestigationConcludedV1(PseaEvent):
    """The implicated organisation's investigation concluded; a substantiated allegation
    may suspend the organisation from the directory."""

    event_type = "org.mpa.psea.investigation_concluded.v1"

    implicated_partner_id: PartnerId
    outcome: PseaInvestigationOutcome
    suspend_partner: bool = Field(
        description="Suspend the organisation from the directory (substantiated only); "
        "only an administrator lifts it"
    )
    on_time: bool = Field(description="Whether it concluded by its deadline")


class PseaDeadlineMissedV1(PseaEvent):
    """A step of a complaint was not taken by its deadline (announced once)."""

    event_type = "org.mpa.psea.deadline_missed.v1"

    step: PseaStep
    due_at: UtcTimestamp


PSEA_EVENTS: tuple[type[EventData], ...] = (
    PseaComplaintReceivedV1,
    PseaComplaintReadV1,
    PseaAssistanceDecidedV1,
    PseaAllegationReferredV1,
    PseaInvestigationConcludedV1,
    PseaDeadlineMissedV1,
)
