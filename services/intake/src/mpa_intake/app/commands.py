"""What clients send: the request bodies of the intake API (pydantic, no framework).

Every field has a description and an example; the examples describe fictional people.
Validation errors name the field and the reason, never the value (see mpa_common.problems).
Codes come from the contracts' vocabularies; nothing here redefines one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, Self, TypeVar
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from mpa_common.request_types import Date, DateTime, StrictBool, StrictInt, Text
from mpa_contracts.events.case import Location, SafetyFlags
from mpa_contracts.types import AdminAreaCode, CountryCode, LanguageCode, PartnerId
from mpa_contracts.vocabularies import (
    CaseClosureReason,
    ConsentGivenBy,
    ConsentMethod,
    ConsentScope,
    NeedCategory,
    PartnerType,
    SafeContactMethod,
    SafeContactTime,
    Sex,
    Urgency,
    Vulnerability,
)

PHONE_PATTERN = r"^\+?[0-9][0-9 ().-]{5,24}$"
EMAIL_PATTERN = r"^[^@\s\x00]{1,64}@[^@\s\x00]+\.[^@\s\x00]{2,}$"
_T = TypeVar("_T")

Name = Annotated[Text, Field(min_length=1, max_length=100)]
ShortText = Annotated[Text, Field(min_length=1, max_length=200)]
Note = Annotated[Text, Field(min_length=1, max_length=2000)]
Phone = Annotated[str, Field(pattern=PHONE_PATTERN, max_length=30)]
Email = Annotated[str, Field(pattern=EMAIL_PATTERN, max_length=254)]
OLDEST_AGE = 120
Age = Annotated[StrictInt, Field(ge=0, le=OLDEST_AGE)]


def _plausible_birth_date(value: date) -> date:
    """A date of birth is not in the future (an age can't be negative) nor older than the
    oldest age an operator may estimate."""
    today = datetime.now(UTC).date()
    if value > today:
        raise ValueError("a date of birth must not be in the future")
    if today.year - value.year > OLDEST_AGE + 1:
        raise ValueError(f"a date of birth must be within the last {OLDEST_AGE} years")
    return value


BirthDate = Annotated[Date, AfterValidator(_plausible_birth_date)]
# A person refusing more partners than this by name is recorded as refusing partner types.
MAX_REFUSED_PARTNERS = 100


def _unique(items: list[_T]) -> list[_T]:
    if len(set(items)) != len(items):
        raise ValueError("items must be unique")
    return items


Unique = AfterValidator(_unique)


class Command(BaseModel):
    # Unknown fields are errors (a typo must not silently drop data); text is trimmed.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


def _contract_rule(model: type[BaseModel], values: dict[str, Any]) -> None:
    """Applies a contracts model's cross-field rule, so a rule is written once."""
    try:
        model.model_validate(values)
    except ValidationError as error:
        reasons = "; ".join(e["msg"].removeprefix("Value error, ") for e in error.errors())
        raise ValueError(reasons) from None


class PersonInput(Command):
    """Who the person is. Everything but sex, nationality and languages is personal data
    and is stored encrypted; events carry the age band, never the date of birth."""

    given_name: Name = Field(
        description="Given name(s) as the person gives them", examples=["Aïcha"]
    )
    family_name: Name = Field(description="Family name(s)", examples=["Exemple"])
    date_of_birth: BirthDate | None = Field(
        default=None,
        description="Date of birth, when known; give it or `estimated_age`, not both",
        examples=["2009-04-17"],
    )
    estimated_age: Age | None = Field(
        default=None,
        description="Age in years as estimated by the operator when the date of birth is "
        "unknown; give it or `date_of_birth`, not both",
        examples=[16],
    )
    sex: Sex = Field(description="Sex as recorded for service eligibility", examples=["female"])
    gender_identity: ShortText | None = Field(
        default=None,
        description="Gender identity in the person's own words, if they wish to give it",
        examples=["woman"],
    )
    nationality: CountryCode | None = Field(
        default=None,
        description="ISO 3166-1 alpha-2 nationality; absent when stateless or unknown",
        examples=["NG"],
    )
    languages: Annotated[list[LanguageCode], Unique] = Field(
        min_length=1,
        max_length=10,
        description="ISO 639 codes of the languages the person speaks, preferred first",
        examples=[["ha", "en"]],
    )
    phone: Phone | None = Field(
        default=None,
        description="Phone number, international format preferred",
        examples=["+227 90 00 00 01"],
    )
    email: Email | None = Field(
        default=None, description="E-mail address", examples=["aicha.exemple@example.org"]
    )

    @model_validator(mode="after")
    def _one_age(self) -> Self:
        if (self.date_of_birth is None) == (self.estimated_age is None):
            raise ValueError("give exactly one of date_of_birth and estimated_age")
        return self


class LocationInput(Command):
    """Where the person is now. Only country and first-level subdivision leave intake."""

    country: CountryCode = Field(description="ISO 3166-1 alpha-2 country", examples=["NE"])
    admin_area: AdminAreaCode | None = Field(
        default=None,
        description="ISO 3166-2 first-level subdivision of `country`",
        examples=["NE-1"],
    )
    place: ShortText | None = Field(
        default=None,
        description="Where exactly (town, site, shelter): personal data, stored encrypted",
        examples=["Transit centre, north gate"],
    )

    @model_validator(mode="after")
    def _area_in_country(self) -> Self:
        _contract_rule(Location, {"country": self.country, "admin_area": self.admin_area})
        return self


class NeedInput(Command):
    """One need; each need is referred on its own."""

    category: NeedCategory = Field(description="What kind of help", examples=["shelter"])
    urgency: Urgency = Field(description="How soon it must be met", examples=["critical"])
    note: Note | None = Field(
        default=None,
        description="Details for whoever meets the need: personal data, stored encrypted, "
        "shown only to the partner referred for this need",
        examples=["Needs a place tonight; arrived with a younger sibling."],
    )
    assistance_country: CountryCode | None = Field(
        default=None,
        description="Country where help is wanted when it is not the person's current one",
        examples=["NG"],
    )


class ConsentDetails(Command):
    """Consent as the person gave it. Who recorded it is taken from the token."""

    scopes: Annotated[list[ConsentScope], Unique] = Field(
        min_length=1,
        max_length=len(ConsentScope),
        description="What the person agreed to: being referred, sharing their data with "
        "the partner that takes the referral, and being counted without identity in "
        "statistics (`statistical_reporting`)",
        examples=[["referral", "data_sharing"]],
    )
    given_by: ConsentGivenBy = Field(
        description="Who consented; for a child, who consented on the child's behalf",
        examples=["legal_guardian"],
    )
    method: ConsentMethod = Field(description="How consent was captured", examples=["verbal"])
    obtained_at: DateTime = Field(
        description="When consent was obtained (with time zone)",
        examples=["2026-03-02T09:15:00Z"],
    )
    expires_at: DateTime | None = Field(
        default=None,
        description="When consent lapses; absent for no expiry",
        examples=["2027-03-02T00:00:00Z"],
    )
    refused_partner_ids: Annotated[list[PartnerId], Unique] = Field(
        default=[],
        max_length=MAX_REFUSED_PARTNERS,
        description="Partners the person does not want to receive their case",
        examples=[["2f3a4b5c-6d7e-4f80-9a1b-2c3d4e5f6a7b"]],
    )
    refused_partner_types: Annotated[list[PartnerType], Unique] = Field(
        default=[],
        max_length=len(PartnerType),
        description="Kinds of organisation the person does not want involved",
        examples=[["government_agency"]],
    )


class ConsentInput(Command):
    """Informed consent at registration: given or not, and if given, its details."""

    given: StrictBool = Field(
        description="Whether the person consented. Without consent to `referral` the case is "
        "registered but nothing is referred",
        examples=[True],
    )
    details: ConsentDetails | None = Field(
        default=None,
        description="Required when `given` is true, absent otherwise",
        examples=[
            {
                "scopes": ["referral", "data_sharing"],
                "given_by": "legal_guardian",
                "method": "verbal",
                "obtained_at": "2026-03-02T09:15:00Z",
            }
        ],
    )

    @model_validator(mode="after")
    def _details_when_given(self) -> Self:
        if self.given and self.details is None:
            raise ValueError("details are required when consent is given")
        if not self.given and self.details is not None:
            raise ValueError("details must be absent when consent is not given")
        return self


class SafetyInput(Command):
    """How partners may, or may not, reach the person."""

    do_not_contact: StrictBool = Field(
        description="Partners must not contact the person directly", examples=[False]
    )
    safe_contact_method: SafeContactMethod = Field(
        description="The only way a partner may reach the person", examples=["sms"]
    )
    safe_contact_details: ShortText | None = Field(
        default=None,
        description="When and how contact is safe: personal data, stored encrypted",
        examples=["Text only, after 18:00; never mention the centre"],
    )
    safe_times: Annotated[list[SafeContactTime], Unique] = Field(
        default=[],
        max_length=len(SafeContactTime),
        description="When, in the person's local time, contact is safe; empty: any time",
        examples=[["evening"]],
    )
    voicemail_allowed: StrictBool = Field(
        default=False,
        description="Whether a voicemail or message may be left when the person does not answer",
        examples=[False],
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _contract_rule(SafetyFlags, self.flags_values())
        return self

    def flags_values(self) -> dict[str, Any]:
        return {
            "do_not_contact": self.do_not_contact,
            "safe_contact_method": self.safe_contact_method,
            "safe_times": tuple(self.safe_times),
            "voicemail_allowed": self.voicemail_allowed,
        }

    def flags(self) -> SafetyFlags:
        """The safety profile this input describes (the contract's rules checked)."""
        return SafetyFlags.model_validate(self.flags_values())


class RegisterCase(Command):
    """A new case: the person, where they are, their vulnerabilities, needs, consent and
    safety."""

    person: PersonInput = Field(description="Who the person is")
    location: LocationInput = Field(description="Where the person is now")
    vulnerabilities: Annotated[list[Vulnerability], Unique] = Field(
        default=[],
        max_length=len(Vulnerability),
        description="Protection profile; decides which specialised services are eligible",
        examples=[["unaccompanied_child", "trafficking_victim"]],
    )
    needs: list[NeedInput] = Field(
        min_length=1, max_length=20, description="What help the person needs, one entry per need"
    )
    consent: ConsentInput = Field(description="Informed consent, given or not")
    safety: SafetyInput = Field(description="Contact restrictions")


# --- changes to an existing case --------------------------------------------------------------


class PersonPatch(Command):
    """Fields to change; absent fields stay as they are, `null` clears an optional one.
    Setting `date_of_birth` clears `estimated_age` and the other way round."""

    given_name: Name | None = Field(
        default=None, description="New given name(s)", examples=["Aïcha"]
    )
    family_name: Name | None = Field(
        default=None, description="New family name(s)", examples=["Exemple"]
    )
    date_of_birth: BirthDate | None = Field(
        default=None, description="Date of birth", examples=["2009-04-17"]
    )
    estimated_age: Age | None = Field(default=None, description="Estimated age", examples=[16])
    sex: Sex | None = Field(default=None, description="Sex", examples=["female"])
    gender_identity: ShortText | None = Field(
        default=None, description="Gender identity; null clears it", examples=["woman"]
    )
    nationality: CountryCode | None = Field(
        default=None, description="Nationality; null when stateless or unknown", examples=["NG"]
    )
    languages: Annotated[list[LanguageCode], Unique] | None = Field(
        default=None,
        min_length=1,
        max_length=10,
        description="Languages, preferred first",
        examples=[["ha"]],
    )
    phone: Phone | None = Field(
        default=None, description="Phone number; null clears it", examples=["+227 90 00 00 02"]
    )
    email: Email | None = Field(
        default=None, description="E-mail; null clears it", examples=["a.exemple@example.org"]
    )

    @model_validator(mode="after")
    def _required_stay_set(self) -> Self:
        _no_nulls(self, ("given_name", "family_name", "sex", "languages"))
        if self.date_of_birth is not None and self.estimated_age is not None:
            raise ValueError("give at most one of date_of_birth and estimated_age")
        return self


class LocationPatch(Command):
    """A new location replaces the old one as a whole."""

    country: CountryCode = Field(description="ISO 3166-1 alpha-2 country", examples=["NE"])
    admin_area: AdminAreaCode | None = Field(
        default=None, description="First-level subdivision of `country`", examples=["NE-8"]
    )
    place: ShortText | None = Field(
        default=None, description="Where exactly (encrypted)", examples=["Host family, Niamey"]
    )

    @model_validator(mode="after")
    def _area_in_country(self) -> Self:
        _contract_rule(Location, {"country": self.country, "admin_area": self.admin_area})
        return self


class UpdateCase(Command):
    """A change to the person, location, vulnerabilities or safety of an open case."""

    person: PersonPatch | None = Field(default=None, description="Person fields to change")
    location: LocationPatch | None = Field(default=None, description="New location")
    vulnerabilities: Annotated[list[Vulnerability], Unique] | None = Field(
        default=None,
        max_length=len(Vulnerability),
        description="The complete new list of vulnerabilities",
        examples=[["trafficking_victim"]],
    )
    safety: SafetyInput | None = Field(default=None, description="New contact restrictions")

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("give at least one of person, location, vulnerabilities, safety")
        _no_nulls(self, ("person", "location", "vulnerabilities", "safety"))
        return self


class AddNeeds(Command):
    """Needs identified after registration."""

    needs: list[NeedInput] = Field(min_length=1, max_length=20, description="The new needs")


class RecordConsent(Command):
    """Records a new consent; it replaces the current one entirely."""

    action: Literal["record"] = Field(description="Record a new consent", examples=["record"])
    consent: ConsentDetails = Field(description="The consent the person gave")


class WithdrawConsent(Command):
    """Withdraws some or all scopes of the current consent."""

    action: Literal["withdraw"] = Field(description="Withdraw consent", examples=["withdraw"])
    scopes: Annotated[list[ConsentScope], Unique] = Field(
        min_length=1,
        max_length=len(ConsentScope),
        description="The scopes withdrawn; withdrawing `referral` stops routing and cancels "
        "open referrals, withdrawing `data_sharing` ends partners' access at once",
        examples=[["referral", "data_sharing"]],
    )


ConsentChange = Annotated[RecordConsent | WithdrawConsent, Field(discriminator="action")]


class DuplicateCheck(Command):
    """What an operator has typed so far, to look for the same person before registering.

    Compared exactly as at registration (keyed hashes of normalised names with the date of
    birth, or of the phone number); sent in a body, never in a URL."""

    given_name: Name | None = Field(default=None, description="Given name(s)", examples=["Aïcha"])
    family_name: Name | None = Field(
        default=None, description="Family name(s)", examples=["Exemple"]
    )
    date_of_birth: BirthDate | None = Field(
        default=None, description="Date of birth", examples=["2009-04-17"]
    )
    phone: Phone | None = Field(
        default=None, description="Phone number", examples=["+227 90 00 00 01"]
    )


class CloseCase(Command):
    """Closes a case; its open referrals are cancelled downstream."""

    reason: CaseClosureReason = Field(description="Why the case is closed", examples=["needs_met"])
    approval_id: UUID | None = Field(
        default=None,
        description="A supervisor's approved closure request of this case: needed while a "
        "referral of the case is not finished (completed, failed, cancelled, unroutable)",
        examples=["f3a4b5c6-d7e8-4f9a-8b1c-2d3e4f5a6b7c"],
    )


def _no_nulls(model: BaseModel, names: tuple[str, ...]) -> None:
    nulled = [n for n in names if n in model.model_fields_set and getattr(model, n) is None]
    if nulled:
        raise ValueError(f"{', '.join(nulled)} cannot be null")
