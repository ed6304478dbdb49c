"""Events of the case aggregate, consent included (topic `mpa.case.v1`, key `case_id`).

Case events carry what the referral service needs to route, as codes: age band, sex,
nationality, languages, first-level location, vulnerabilities, needs, consent and safety.
Names, contact details, dates of birth, places and notes stay in the intake service.
"""

from typing import Self

from pydantic import Field, model_validator

from mpa_contracts.events.base import ActorEventData, ContractModel, EventData
from mpa_contracts.types import (
    AdminAreaCode,
    ApprovalId,
    CaseId,
    CaseReference,
    ConsentId,
    CountryCode,
    LanguageCode,
    NeedId,
    PartnerId,
    UniqueTuple,
    UtcTimestamp,
)
from mpa_contracts.vocabularies import (
    AgeBand,
    CaseClosureReason,
    ConsentGivenBy,
    ConsentMethod,
    ConsentScope,
    ErasureBasis,
    NeedCategory,
    PartnerType,
    PersonalDataField,
    SafeContactMethod,
    SafeContactTime,
    Sex,
    Urgency,
    Vulnerability,
)


class Location(ContractModel):
    """Where the person is, no finer than the first administrative level."""

    country: CountryCode
    admin_area: AdminAreaCode | None = Field(
        default=None, description="Subdivision of `country`; absent when unknown"
    )

    @model_validator(mode="after")
    def _admin_area_in_country(self) -> Self:
        if self.admin_area is not None and not self.admin_area.startswith(f"{self.country}-"):
            raise ValueError("admin_area must be a subdivision of country")
        return self


class Need(ContractModel):
    """One need of a person; each need is referred on its own."""

    need_id: NeedId
    category: NeedCategory
    urgency: Urgency
    assistance_country: CountryCode | None = Field(
        default=None,
        description="Country where help is wanted when it is not the person's current "
        "country, e.g. reintegration in the country of return",
    )


class Consent(ContractModel):
    """Informed consent as recorded by the caseworker."""

    consent_id: ConsentId
    scopes: UniqueTuple[ConsentScope] = Field(min_length=1)
    given_by: ConsentGivenBy
    method: ConsentMethod
    expires_at: UtcTimestamp | None = Field(default=None, description="Absent: no expiry")
    refused_partner_ids: UniqueTuple[PartnerId] = Field(
        default=(), description="Partners the person does not want their case shared with"
    )
    refused_partner_types: UniqueTuple[PartnerType] = Field(
        default=(), description="Kinds of organisation the person does not want involved"
    )


class SafetyFlags(ContractModel):
    """How partners may, or may not, reach the person."""

    do_not_contact: bool = Field(description="Partners must not contact the person directly")
    safe_contact_method: SafeContactMethod
    safe_times: UniqueTuple[SafeContactTime] = Field(
        default=(),
        description="When, in the person's local time, contact is safe; empty: any time",
    )
    voicemail_allowed: bool = Field(
        default=False,
        description="Whether a voicemail or message may be left when the person does not "
        "answer (absent: no)",
    )

    @model_validator(mode="after")
    def _no_direct_channel_when_do_not_contact(self) -> Self:
        # A direct channel next to "do not contact" would be read by someone as permission.
        if self.do_not_contact and self.safe_contact_method not in (
            SafeContactMethod.NONE,
            SafeContactMethod.THROUGH_CASEWORKER,
        ):
            raise ValueError(
                "do_not_contact allows safe_contact_method none or through_caseworker only"
            )
        if self.do_not_contact and (self.safe_times or self.voicemail_allowed):
            raise ValueError("do_not_contact allows neither safe_times nor voicemail_allowed")
        return self


class RoutingProfile(ContractModel):
    """The person's attributes that decide which services are eligible."""

    age_band: AgeBand
    sex: Sex
    nationality: CountryCode | None = Field(description="Absent when stateless or unknown")
    languages: UniqueTuple[LanguageCode] = Field(
        min_length=1, description="Languages the person speaks, preferred first"
    )
    location: Location
    vulnerabilities: UniqueTuple[Vulnerability] = ()


class CaseRegisteredV1(ActorEventData):
    """A caseworker registered a new case."""

    event_type = "org.mpa.case.registered.v1"

    case_id: CaseId
    case_reference: CaseReference
    profile: RoutingProfile
    needs: tuple[Need, ...] = Field(min_length=1)
    consent: Consent | None = Field(
        default=None, description="Absent when no consent was given at registration"
    )
    safety: SafetyFlags


class CaseUpdatedV1(ActorEventData):
    """The routing profile or safety flags of a case changed; carries the full new state."""

    event_type = "org.mpa.case.updated.v1"

    case_id: CaseId
    profile: RoutingProfile
    safety: SafetyFlags


class CaseNeedsAddedV1(ActorEventData):
    """New needs were identified for an open case."""

    event_type = "org.mpa.case.needs_added.v1"

    case_id: CaseId
    needs: tuple[Need, ...] = Field(min_length=1)


class CaseClosedV1(ActorEventData):
    """A case was closed; its open referrals are cancelled."""

    event_type = "org.mpa.case.closed.v1"

    case_id: CaseId
    reason: CaseClosureReason
    approval_id: ApprovalId | None = Field(
        default=None,
        description="The supervisor's approval it was closed with, when referrals were "
        "still open or a closure approval was asked for",
    )


class CasePersonalDataErasedV1(ActorEventData):
    """Personal data of a case was erased in the intake service; consumers erase their copies."""

    event_type = "org.mpa.case.personal_data_erased.v1"

    case_id: CaseId
    basis: ErasureBasis
    erased_fields: UniqueTuple[PersonalDataField] = Field(min_length=1)


class ConsentRecordedV1(ActorEventData):
    """Consent was given, renewed or changed; replaces any earlier consent of the case."""

    event_type = "org.mpa.case.consent_recorded.v1"

    case_id: CaseId
    consent: Consent


class ConsentWithdrawnV1(ActorEventData):
    """The person withdrew consent, for some or all scopes."""

    event_type = "org.mpa.case.consent_withdrawn.v1"

    case_id: CaseId
    consent_id: ConsentId
    withdrawn_scopes: UniqueTuple[ConsentScope] = Field(min_length=1)


CASE_EVENTS: tuple[type[EventData], ...] = (
    CaseRegisteredV1,
    CaseUpdatedV1,
    CaseNeedsAddedV1,
    CaseClosedV1,
    CasePersonalDataErasedV1,
    ConsentRecordedV1,
    ConsentWithdrawnV1,
)
