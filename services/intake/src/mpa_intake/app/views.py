"""What the intake API answers: response bodies (pydantic, no framework).

`CaseSummary` and `RegistrationResult` hold no personal data (ids, codes, dates the system
set). `CaseDetail` does, and is only produced by a read that is announced as an access event.
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from mpa_contracts.vocabularies import (
    AccessPurpose,
    AgeBand,
    CaseClosureReason,
    ChildContactRoute,
    ConsentGivenBy,
    ConsentMethod,
    ConsentScope,
    ErasureBasis,
    NeedCategory,
    PartnerType,
    PersonalDataField,
    RiskLevel,
    SafeContactMethod,
    SafeContactTime,
    Sex,
    Urgency,
    Vulnerability,
)
from mpa_intake.domain.case import Case, CaseStatus
from mpa_intake.domain.consent import ConsentRecord

CASE_ID_EXAMPLE = "6f1c2a3e-8d4b-4c1a-9e2f-0a1b2c3d4e5f"
NEED_ID_EXAMPLE = "a3d5e7f9-1b2c-4d3e-8f4a-5b6c7d8e9f01"


class View(BaseModel):
    model_config = ConfigDict(frozen=True)


class RegistrationResult(View):
    """The registered case: ids only, no personal data (safe to store for idempotent replay)."""

    case_id: UUID = Field(description="Pseudonymous id of the case", examples=[CASE_ID_EXAMPLE])
    reference: str = Field(description="Human reference for forms", examples=["MPA-2026-000123"])
    status: CaseStatus = Field(description="Lifecycle state of the case", examples=["open"])
    need_ids: list[UUID] = Field(
        description="Ids given to the needs, in request order", examples=[[NEED_ID_EXAMPLE]]
    )
    consent_scopes: list[ConsentScope] = Field(
        description="Scopes of consent in force; without `referral` nothing is referred",
        examples=[["referral", "data_sharing"]],
    )
    possible_duplicates: list[UUID] = Field(
        description="Open cases whose person may be the same (same normalised name and date "
        "of birth, or same phone); registration is not blocked",
        examples=[[]],
    )
    registered_at: datetime = Field(
        description="When the case was registered", examples=["2026-03-02T09:30:00Z"]
    )


class NeedSummary(View):
    need_id: UUID = Field(description="Id of the need", examples=[NEED_ID_EXAMPLE])
    category: NeedCategory = Field(description="What kind of help", examples=["shelter"])
    urgency: Urgency = Field(description="How soon", examples=["critical"])
    assistance_country: str | None = Field(
        description="Country where help is wanted, if not the current one", examples=[None]
    )
    added_at: datetime = Field(description="When the need was recorded")


class CaseSummary(View):
    """A case without personal data: what lists show and what auditors may see."""

    case_id: UUID = Field(description="Pseudonymous id of the case", examples=[CASE_ID_EXAMPLE])
    reference: str = Field(description="Human reference", examples=["MPA-2026-000123"])
    status: CaseStatus = Field(description="Lifecycle state", examples=["open"])
    age_band: AgeBand = Field(description="CTDC age band", examples=["9-17"])
    sex: Sex = Field(description="Sex", examples=["female"])
    nationality: str | None = Field(description="ISO 3166-1 alpha-2", examples=["NG"])
    languages: list[str] = Field(description="ISO 639 codes", examples=[["ha", "en"]])
    country: str = Field(description="Current country", examples=["NE"])
    admin_area: str | None = Field(description="First-level subdivision", examples=["NE-1"])
    vulnerabilities: list[Vulnerability] = Field(description="Protection profile")
    needs: list[NeedSummary] = Field(description="Needs, in the order recorded")
    consent_scopes: list[ConsentScope] = Field(description="Consent scopes in force")
    do_not_contact: bool = Field(description="Partners must not contact the person directly")
    safe_contact_method: SafeContactMethod = Field(description="The only way to reach them")
    registered_at: datetime = Field(description="When registered")
    updated_at: datetime = Field(description="Last change")
    closed_at: datetime | None = Field(description="When closed")
    closure_reason: CaseClosureReason | None = Field(description="Why closed")
    personal_data_erased: bool = Field(description="Whether the personal data was erased")
    risk_level: RiskLevel | None = Field(
        default=None, description="The latest assessment's risk level", examples=["high"]
    )
    owner_id: str | None = Field(default=None, description="The owning caseworker's actor id")
    owner_team: str | None = Field(default=None, description="The owning team")
    owner_country: str | None = Field(default=None, description="The owning country office")


class CasePage(View):
    items: list[CaseSummary] = Field(description="Cases, newest first")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; absent on the last page",
        examples=["MjAyNi0wMy0wMlQwOTozMDowMCswMDowMHw2ZjFj"],
    )


class PersonView(View):
    given_name: str = Field(description="Given name(s)", examples=["Aïcha"])
    family_name: str = Field(description="Family name(s)", examples=["Exemple"])
    date_of_birth: date | None = Field(description="Date of birth", examples=["2009-04-17"])
    estimated_age: int | None = Field(description="Estimated age in years", examples=[None])
    sex: Sex = Field(description="Sex", examples=["female"])
    gender_identity: str | None = Field(description="Gender identity", examples=["woman"])
    nationality: str | None = Field(description="Nationality", examples=["NG"])
    languages: list[str] = Field(description="Languages", examples=[["ha", "en"]])
    phone: str | None = Field(description="Phone number", examples=["+227 90 00 00 01"])
    email: str | None = Field(description="E-mail", examples=["aicha.exemple@example.org"])


class LocationView(View):
    country: str = Field(description="Country", examples=["NE"])
    admin_area: str | None = Field(description="Subdivision", examples=["NE-1"])
    place: str | None = Field(description="Where exactly", examples=["Transit centre"])


class NeedView(NeedSummary):
    note: str | None = Field(description="Details of the need", examples=["Needs a place tonight"])


class ConsentView(View):
    consent_id: UUID = Field(description="Id of the consent record")
    scopes: list[ConsentScope] = Field(description="Scopes in force")
    withdrawn_scopes: list[ConsentScope] = Field(description="Scopes withdrawn since")
    given_by: ConsentGivenBy = Field(description="Who consented")
    method: ConsentMethod = Field(description="How consent was captured")
    obtained_by: str = Field(description="Actor who recorded it", examples=["operator:u-123"])
    obtained_at: datetime = Field(description="When consent was obtained")
    expires_at: datetime | None = Field(description="When it lapses")
    refused_partner_ids: list[UUID] = Field(description="Partners refused")
    refused_partner_types: list[PartnerType] = Field(description="Kinds of partner refused")
    recorded_at: datetime = Field(description="When it was recorded")

    @classmethod
    def of(cls, consent: ConsentRecord) -> ConsentView:
        return cls(
            consent_id=consent.consent_id,
            scopes=list(consent.scopes),
            withdrawn_scopes=list(consent.withdrawn_scopes),
            given_by=consent.given_by,
            method=consent.method,
            obtained_by=consent.obtained_by,
            obtained_at=consent.obtained_at,
            expires_at=consent.expires_at,
            refused_partner_ids=list(consent.refused_partner_ids),
            refused_partner_types=list(consent.refused_partner_types),
            recorded_at=consent.recorded_at,
        )


class ConsentState(View):
    """The case's consent after a change."""

    case_id: UUID = Field(description="The case", examples=[CASE_ID_EXAMPLE])
    consent: ConsentView | None = Field(description="The current consent; null when none")


class SafetyView(View):
    do_not_contact: bool = Field(description="Partners must not contact the person directly")
    safe_contact_method: SafeContactMethod = Field(description="The only way to reach them")
    safe_contact_details: str | None = Field(description="When and how contact is safe")
    safe_times: list[SafeContactTime] = Field(
        description="When, in the person's local time, contact is safe; empty: any time"
    )
    voicemail_allowed: bool = Field(description="Whether a voicemail or message may be left")


class ChildContactView(View):
    """Whom to contact about a child instead of the child: never the child's own contact."""

    route: ChildContactRoute = Field(description="The guardian or the caseworker")
    guardian_appointment_id: UUID | None = Field(
        default=None, description="The guardian's appointment (route guardian)"
    )
    guardian_contact: str | None = Field(
        default=None,
        description="Who the guardian is and how to reach them, as recorded with the "
        "appointment (a partner's read, route guardian; announced as casework.note)",
    )
    caseworker_id: str | None = Field(
        default=None, description="Actor id of the caseworker who owns the case (route caseworker)"
    )


class CaseDetail(View):
    """A case with the personal data the reader may see. Fields outside `disclosed_fields`
    are null: a partner sees only what its referrals need."""

    case_id: UUID = Field(description="Pseudonymous id", examples=[CASE_ID_EXAMPLE])
    reference: str = Field(description="Human reference", examples=["MPA-2026-000123"])
    status: CaseStatus = Field(description="Lifecycle state", examples=["open"])
    age_band: AgeBand = Field(description="CTDC age band", examples=["9-17"])
    person: PersonView = Field(description="The person")
    location: LocationView = Field(description="Where the person is")
    vulnerabilities: list[Vulnerability] = Field(description="Protection profile")
    needs: list[NeedView] = Field(description="Needs (a partner sees those it was referred)")
    consent: ConsentView | None = Field(description="Current consent (not shown to partners)")
    safety: SafetyView = Field(description="Contact restrictions")
    registered_at: datetime = Field(description="When registered")
    updated_at: datetime = Field(description="Last change")
    closed_at: datetime | None = Field(description="When closed")
    disclosed_fields: list[PersonalDataField] = Field(
        description="The personal-data fields this response discloses (as announced in the "
        "access event)",
        examples=[["person.given_name", "person.family_name"]],
    )
    access_purpose: AccessPurpose = Field(
        description="The purpose recorded for this read", examples=["case_management"]
    )
    contact_via: ChildContactView | None = Field(
        default=None,
        description="A child's case read by a partner: whom to contact instead of the child "
        "(whose own contact is never disclosed); null otherwise, or when nobody may be",
    )


class PossibleDuplicate(View):
    case_id: UUID = Field(description="An open case whose person may be the same")
    reference: str = Field(description="Its human reference", examples=["MPA-2026-000123"])
    registered_at: datetime = Field(description="When it was registered")


class DuplicateHints(View):
    """Open cases that may be about the same person: ids and references, no personal data."""

    possible_duplicates: list[PossibleDuplicate] = Field(description="Oldest first")


class NeedsAdded(View):
    case_id: UUID = Field(description="The case", examples=[CASE_ID_EXAMPLE])
    need_ids: list[UUID] = Field(description="Ids of the new needs, in request order")


class ErasureResult(View):
    case_id: UUID = Field(description="The case, now a tombstone", examples=[CASE_ID_EXAMPLE])
    basis: ErasureBasis = Field(description="Why the data was erased")
    erased_fields: list[PersonalDataField] = Field(description="Fields that held a value")
    erased_at: datetime = Field(description="When")


class RewrapReport(View):
    rewrapped: int = Field(description="Cases whose data key now uses the active master key")
    active_master_key: str = Field(description="Id of the active master key")
    cases_by_master_key: dict[str, int] = Field(description="Cases per master key id, after")
    complaints_rewrapped: int = Field(
        default=0, description="PSEA complaints whose data key now uses the active master key"
    )
    complaints_by_master_key: dict[str, int] = Field(
        default={}, description="PSEA complaints per master key id, after"
    )


def case_summary(case: Case) -> CaseSummary:
    profile = case.profile
    return CaseSummary(
        case_id=case.case_id,
        reference=case.reference,
        status=case.status,
        age_band=profile.age_band,
        sex=profile.sex,
        nationality=profile.nationality,
        languages=list(profile.languages),
        country=profile.location.country,
        admin_area=profile.location.admin_area,
        vulnerabilities=list(profile.vulnerabilities),
        needs=[
            NeedSummary(
                need_id=n.need_id,
                category=n.category,
                urgency=n.urgency,
                assistance_country=n.assistance_country,
                added_at=n.added_at,
            )
            for n in case.needs
        ],
        consent_scopes=list(case.consent.scopes) if case.consent else [],
        do_not_contact=case.safety.do_not_contact,
        safe_contact_method=case.safety.safe_contact_method,
        registered_at=case.registered_at,
        updated_at=case.updated_at,
        closed_at=case.closed_at,
        closure_reason=case.closure_reason,
        personal_data_erased=case.is_erased,
        risk_level=case.risk_level,
        owner_id=case.ownership.owner_id,
        owner_team=case.ownership.team,
        owner_country=case.ownership.country,
    )
