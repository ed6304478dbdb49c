"""The directory as Open Referral HSDS 3.1 JSON: the profile's models and the pure mapping
between an HSDS document and the directory's partners and services.

The profile (`PROFILE`): a document holds `organizations` (the partners) and `services`
(each naming its `organization_id`), with HSDS ids being the directory's own UUIDs.
What HSDS models natively is used natively: organization identifiers (the partner code,
scheme `IDENTIFIER_SCHEME`), contacts with phones, service status, minimum/maximum age,
assured date, fees description, service areas (one per ISO 3166-1 country served whole or
ISO 3166-2 subdivision, `extent_type` "text"), languages, weekly schedules (RFC 5545
`byday` with opening and closing times) and capacities (unit "place"). The rest of what
routing needs is classified with HSDS attributes, each pointing at a term of one of this
platform's taxonomies (`urn:mpa:taxonomy:<name>`, the term's `code` a vocabulary code):
partner type, countries, statutory designations (value: the area), status and
deactivation reason; need category, sexes, nationalities served or excluded,
vulnerabilities required or in focus, response SLA per urgency (value: hours), cost,
GBV sensitivity, and the demo marker. Ids of the entries the directory does not store
(attributes, terms, areas, contacts, ...) are UUIDv5 of their content, so an export is
stable and an export of an import of an export is the same document.

Fields of HSDS outside the profile are ignored on import, as are attributes of other
taxonomies. Physical locations are not part of it: the directory keeps areas, never
addresses.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mpa_common.request_types import Count32, Date, DateTime, StrictInt, Text
from mpa_referral.app.directory import Weekday

HSDS_VERSION = "3.1"
PROFILE = "urn:mpa:hsds-profile:referral-directory:1"
IDENTIFIER_SCHEME = "urn:mpa:partner-code"
TAXONOMY = "urn:mpa:taxonomy:"
# The namespace of every UUIDv5 this mapping derives.
NAMESPACE = uuid.UUID("5a3f1d2e-8c4b-5e6f-9a0b-1c2d3e4f5a6b")
CAPACITY_UNIT = "place"
# List bounds of an imported document (stated in the OpenAPI); a country served by areas
# and every nationality classified fit well within them.
MAX_PER_ENTRY = 50
MAX_ATTRIBUTES = 1000


class Taxonomy(StrEnum):
    """The platform's taxonomies that HSDS attributes point at; the value names the URN."""

    PARTNER_TYPE = "partner-type"
    COUNTRY = "country"  # where a partner works
    DESIGNATION = "designation"  # value: a country, or subdivisions, comma-separated
    PARTNER_STATUS = "partner-status"  # active | inactive; value: the deactivation reason
    NEED_CATEGORY = "need-category"
    SEX_SERVED = "sex-served"
    NATIONALITY_SERVED = "nationality-served"
    NATIONALITY_EXCLUDED = "nationality-excluded"
    VULNERABILITY_REQUIRED = "vulnerability-required"
    VULNERABILITY_FOCUS = "vulnerability-focus"
    RESPONSE_SLA = "response-sla"  # code: urgency; value: hours
    COST = "cost"  # free | fee
    GBV_SENSITIVE = "gbv-sensitive"  # a service for survivors of gender-based violence
    DEACTIVATION_REASON = "deactivation-reason"  # of an inactive service
    LISTING = "listing"  # demo: part of the fictional demo directory

    @property
    def uri(self) -> str:
        return f"{TAXONOMY}{self.value}"


# ---- the profile's models (HSDS 3.1 field names) ----------------------------------------


class Hsds(BaseModel):
    # HSDS fields outside the profile are accepted and ignored.
    model_config = ConfigDict(extra="ignore")


class TaxonomyTerm(Hsds):
    id: uuid.UUID
    code: Text | None = Field(default=None, max_length=100)
    name: Text = Field(max_length=200)
    description: Text = Field(max_length=500)
    taxonomy: Text | None = Field(default=None, max_length=200, examples=["urn:mpa:taxonomy:cost"])


class Attribute(Hsds):
    """A classification of an organization or service by a taxonomy term."""

    id: uuid.UUID
    link_id: uuid.UUID | None = None
    link_entity: Text | None = Field(default=None, max_length=40)
    taxonomy_term_id: uuid.UUID | None = None
    value: Text | None = Field(default=None, max_length=200)
    taxonomy_term: TaxonomyTerm | None = None


class Phone(Hsds):
    id: uuid.UUID
    number: Text = Field(min_length=1, max_length=40)


class Contact(Hsds):
    """An organisational contact point; `department` names the desk."""

    id: uuid.UUID
    organization_id: uuid.UUID | None = None
    service_id: uuid.UUID | None = None
    name: Text | None = Field(default=None, max_length=200)
    title: Text | None = Field(default=None, max_length=200)
    department: Text | None = Field(default=None, max_length=200)
    email: Text | None = Field(default=None, max_length=200)
    phones: list[Phone] = Field(default=[], max_length=MAX_PER_ENTRY)


class OrganizationIdentifier(Hsds):
    id: uuid.UUID
    organization_id: uuid.UUID | None = None
    identifier_scheme: Text | None = Field(default=None, max_length=200)
    identifier_type: Text = Field(max_length=200)
    identifier: Text = Field(max_length=200)


class Organization(Hsds):
    id: uuid.UUID
    name: Text = Field(min_length=1, max_length=200)
    description: Text = Field(default="", max_length=2000)
    organization_identifiers: list[OrganizationIdentifier] = Field(
        default=[], max_length=MAX_PER_ENTRY
    )
    contacts: list[Contact] = Field(default=[], max_length=MAX_PER_ENTRY)
    attributes: list[Attribute] = Field(default=[], max_length=MAX_ATTRIBUTES)


class ServiceArea(Hsds):
    id: uuid.UUID
    service_id: uuid.UUID | None = None
    name: Text | None = Field(default=None, max_length=200)
    extent: Text | None = Field(default=None, max_length=200)
    extent_type: Text | None = Field(default=None, max_length=20)


class Language(Hsds):
    id: uuid.UUID
    service_id: uuid.UUID | None = None
    code: Text | None = Field(default=None, max_length=10)


class Schedule(Hsds):
    id: uuid.UUID
    service_id: uuid.UUID | None = None
    freq: Literal["WEEKLY", "MONTHLY"] | None = None
    byday: Text | None = Field(default=None, max_length=40, examples=["MO,TU,WE,TH,FR"])
    opens_at: Text | None = Field(default=None, max_length=20, examples=["08:00"])
    closes_at: Text | None = Field(default=None, max_length=20, examples=["17:00"])


class Unit(Hsds):
    id: uuid.UUID
    name: Text = Field(max_length=100)


class ServiceCapacity(Hsds):
    id: uuid.UUID
    service_id: uuid.UUID | None = None
    unit: Unit
    available: Count32
    maximum: Count32 | None = None
    updated: DateTime


HsdsStatus = Literal["active", "inactive", "defunct", "temporarily closed"]


class Service(Hsds):
    id: uuid.UUID
    organization_id: uuid.UUID
    name: Text = Field(min_length=1, max_length=200)
    description: Text | None = Field(default=None, max_length=2000)
    status: HsdsStatus
    fees_description: Text | None = Field(default=None, max_length=500)
    minimum_age: StrictInt | None = Field(default=None, ge=0, le=120)
    maximum_age: StrictInt | None = Field(default=None, ge=0, le=200)
    assured_date: Date | None = None
    service_areas: list[ServiceArea] = Field(default=[], max_length=MAX_ATTRIBUTES)
    languages: list[Language] = Field(default=[], max_length=MAX_PER_ENTRY)
    schedules: list[Schedule] = Field(default=[], max_length=MAX_PER_ENTRY)
    contacts: list[Contact] = Field(default=[], max_length=MAX_PER_ENTRY)
    capacities: list[ServiceCapacity] = Field(default=[], max_length=MAX_PER_ENTRY)
    attributes: list[Attribute] = Field(default=[], max_length=MAX_ATTRIBUTES)


class HsdsDocument(Hsds):
    """The whole directory as HSDS 3.1 JSON (organizations and their services)."""

    hsds_version: Text = Field(default=HSDS_VERSION, max_length=20, examples=[HSDS_VERSION])
    profile: Text | None = Field(default=PROFILE, max_length=200, examples=[PROFILE])
    organizations: list[Organization] = Field(max_length=10_000)
    services: list[Service] = Field(max_length=100_000)


# RFC 5545 weekday codes (schedules' `byday`).
WEEKDAY_TO_RRULE = {day: day.value[:2].upper() for day in Weekday}
RRULE_TO_WEEKDAY = {rrule: day for day, rrule in WEEKDAY_TO_RRULE.items()}
