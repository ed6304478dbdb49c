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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from mpa_common.request_types import Count32, Date, DateTime, StrictInt, Text
from mpa_contracts.types import AdminAreaCode, CountryCode, LanguageCode, PartnerCode
from mpa_contracts.vocabularies import (
    DeactivationReason,
    NeedCategory,
    PartnerType,
    ServiceStatus,
    Sex,
    Urgency,
    Vulnerability,
)
from mpa_referral.app.directory import (
    AreaModel,
    ContactPoint,
    DesignationModel,
    OpeningHours,
    PartnerDraft,
    ServiceDraft,
    Weekday,
)
from mpa_referral.domain.directory import DesignationRole

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


# ---- directory -> HSDS --------------------------------------------------------------------


def _derived_id(*parts: object) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, "|".join(str(p) for p in parts))


def _attribute(
    link_id: uuid.UUID, entity: str, taxonomy: Taxonomy, code: str, value: str | None = None
) -> Attribute:
    term_id = _derived_id(taxonomy.uri, code)
    return Attribute(
        id=_derived_id(link_id, taxonomy.uri, code, value),
        link_id=link_id,
        link_entity=entity,
        taxonomy_term_id=term_id,
        value=value,
        taxonomy_term=TaxonomyTerm(
            id=term_id,
            code=code,
            name=code,
            description=f"{code} ({taxonomy.value})",
            taxonomy=taxonomy.uri,
        ),
    )


def _contacts(
    owner_id: uuid.UUID, owner: Literal["organization", "service"], points: Sequence[Any]
) -> list[Contact]:
    contacts = []
    for index, point in enumerate(points):
        contact_id = _derived_id(owner_id, "contact", index)
        contacts.append(
            Contact(
                id=contact_id,
                department=point["label"],
                email=point.get("email"),
                phones=[Phone(id=_derived_id(contact_id, "phone"), number=point["phone"])]
                if point.get("phone")
                else [],
                **{f"{owner}_id": owner_id},
            )
        )
    return contacts


def organization_of(partner: Mapping[Any, Any], *, with_contacts: bool) -> Organization:
    partner_id: uuid.UUID = partner["id"]

    def attribute(taxonomy: Taxonomy, code: str, value: str | None = None) -> Attribute:
        return _attribute(partner_id, "organization", taxonomy, code, value)

    attributes = [attribute(Taxonomy.PARTNER_TYPE, partner["partner_type"])]
    attributes += [attribute(Taxonomy.COUNTRY, country) for country in partner["countries"]]
    attributes += [
        attribute(
            Taxonomy.DESIGNATION,
            d["role"],
            ",".join(d["admin_areas"]) if d.get("admin_areas") else d["country"],
        )
        for d in partner["designations"]
    ]
    if partner["active"]:
        attributes.append(attribute(Taxonomy.PARTNER_STATUS, "active"))
    else:
        attributes.append(
            attribute(Taxonomy.PARTNER_STATUS, "inactive", partner["deactivation_reason"])
        )
    if partner["is_demo"]:
        attributes.append(attribute(Taxonomy.LISTING, "demo"))
    return Organization(
        id=partner_id,
        name=partner["name"],
        description="",
        organization_identifiers=[
            OrganizationIdentifier(
                id=_derived_id(partner_id, IDENTIFIER_SCHEME),
                organization_id=partner_id,
                identifier_scheme=IDENTIFIER_SCHEME,
                identifier_type="MPA partner code",
                identifier=partner["code"],
            )
        ],
        contacts=_contacts(partner_id, "organization", partner["contacts"])
        if with_contacts
        else [],
        attributes=attributes,
    )


_HSDS_STATUS: Mapping[str, HsdsStatus] = {
    ServiceStatus.ACTIVE.value: "active",
    ServiceStatus.INACTIVE.value: "inactive",
    ServiceStatus.TEMPORARILY_CLOSED.value: "temporarily closed",
}
_WEEKDAY_TO_RRULE = {day: day.value[:2].upper() for day in Weekday}


def _clock(value: str) -> str:
    return time.fromisoformat(value).isoformat(timespec="minutes")


def service_of(service: Mapping[Any, Any], *, with_contacts: bool) -> Service:
    service_id: uuid.UUID = service["id"]

    def attribute(taxonomy: Taxonomy, code: str, value: str | None = None) -> Attribute:
        return _attribute(service_id, "service", taxonomy, code, value)

    attributes = [attribute(Taxonomy.NEED_CATEGORY, service["category"])]
    for taxonomy, column in (
        (Taxonomy.SEX_SERVED, "sexes"),
        (Taxonomy.NATIONALITY_SERVED, "nationalities_served"),
        (Taxonomy.NATIONALITY_EXCLUDED, "nationalities_excluded"),
        (Taxonomy.VULNERABILITY_REQUIRED, "vulnerabilities_required"),
        (Taxonomy.VULNERABILITY_FOCUS, "vulnerability_focus"),
    ):
        attributes += [attribute(taxonomy, code) for code in service[column]]
    attributes += [
        attribute(Taxonomy.RESPONSE_SLA, urgency, str(hours))
        for urgency, hours in sorted(service["sla_hours"].items())
    ]
    attributes.append(attribute(Taxonomy.COST, "free" if service["free_of_charge"] else "fee"))
    if service["gbv_sensitive"]:
        attributes.append(attribute(Taxonomy.GBV_SENSITIVE, "gbv_sensitive"))
    if service["deactivation_reason"]:
        attributes.append(attribute(Taxonomy.DEACTIVATION_REASON, service["deactivation_reason"]))
    if service["is_demo"]:
        attributes.append(attribute(Taxonomy.LISTING, "demo"))

    area_codes = [
        code for area in service["coverage"] for code in (area["admin_areas"] or [area["country"]])
    ]
    capacities = []
    if service["capacity_available"] is not None:
        capacities.append(
            ServiceCapacity(
                id=_derived_id(service_id, "capacity"),
                service_id=service_id,
                unit=Unit(id=_derived_id(CAPACITY_UNIT), name=CAPACITY_UNIT),
                available=service["capacity_available"],
                maximum=service["capacity_total"],
                updated=service["capacity_updated_at"],
            )
        )
    return Service(
        id=service_id,
        organization_id=service["partner_id"],
        name=service["name"],
        description=service["description"],
        status=_HSDS_STATUS[service["status"]],
        fees_description=service["fees_description"],
        minimum_age=service["min_age"],
        maximum_age=service["max_age"],
        assured_date=service["assured_date"],
        service_areas=[
            ServiceArea(
                id=_derived_id(service_id, "area", code),
                service_id=service_id,
                name=code,
                extent=code,
                extent_type="text",
            )
            for code in area_codes
        ],
        languages=[
            Language(id=_derived_id(service_id, "language", code), service_id=service_id, code=code)
            for code in service["languages"]
        ],
        schedules=[
            Schedule(
                id=_derived_id(service_id, "schedule", index),
                service_id=service_id,
                freq="WEEKLY",
                byday=",".join(_WEEKDAY_TO_RRULE[Weekday(day)] for day in hours["days"]),
                opens_at=_clock(hours["opens"]),
                closes_at=_clock(hours["closes"]),
            )
            for index, hours in enumerate(service["opening_hours"])
        ],
        contacts=_contacts(service_id, "service", service["contacts"]) if with_contacts else [],
        capacities=capacities,
        attributes=attributes,
    )


def document_of(
    partners: Iterable[Mapping[Any, Any]],
    services: Iterable[Mapping[Any, Any]],
    *,
    contacts_visible: Callable[[uuid.UUID], bool],
) -> HsdsDocument:
    """The directory as one HSDS document; `contacts_visible(partner_id)` says whose
    contacts the reader may see. Both lists come in a stable order (by id)."""
    return HsdsDocument(
        organizations=[
            organization_of(p, with_contacts=contacts_visible(p["id"])) for p in partners
        ],
        services=[service_of(s, with_contacts=contacts_visible(s["partner_id"])) for s in services],
    )


# ---- HSDS -> directory ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartnerImport:
    path: str  # where the organization is in the document, for errors
    partner_id: uuid.UUID
    draft: PartnerDraft
    active: bool
    deactivation_reason: DeactivationReason | None
    is_demo: bool


@dataclass(frozen=True, slots=True)
class ServiceImport:
    path: str
    service_id: uuid.UUID
    partner_id: uuid.UUID
    draft: ServiceDraft
    deactivation_reason: DeactivationReason | None
    is_demo: bool
    capacity_updated_at: datetime | None


@dataclass
class ImportPlan:
    """What a document says, in the directory's terms, or where and why it is wrong."""

    partners: list[PartnerImport] = field(default_factory=list)
    services: list[ServiceImport] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


E = TypeVar("E", bound=StrEnum)
_COUNTRY: TypeAdapter[str] = TypeAdapter(CountryCode)
_ADMIN_AREA: TypeAdapter[str] = TypeAdapter(AdminAreaCode)
_LANGUAGE: TypeAdapter[str] = TypeAdapter(LanguageCode)
_PARTNER_CODE: TypeAdapter[str] = TypeAdapter(PartnerCode)
_RRULE_TO_WEEKDAY = {rrule: day for day, rrule in _WEEKDAY_TO_RRULE.items()}
_SERVICE_STATUS = {
    "active": ServiceStatus.ACTIVE,
    "inactive": ServiceStatus.INACTIVE,
    "defunct": ServiceStatus.INACTIVE,  # the directory has no "defunct": it takes no referral
    "temporarily closed": ServiceStatus.TEMPORARILY_CLOSED,
}
ORGANIZATION_TAXONOMIES = frozenset(
    {
        Taxonomy.PARTNER_TYPE,
        Taxonomy.COUNTRY,
        Taxonomy.DESIGNATION,
        Taxonomy.PARTNER_STATUS,
        Taxonomy.LISTING,
    }
)
SERVICE_TAXONOMIES = (frozenset(Taxonomy) - ORGANIZATION_TAXONOMIES) | {Taxonomy.LISTING}


class _Reader:
    """Collects the errors of one document, each with its path (FastAPI's `body.` style)."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []

    def fail(self, path: str, reason: str) -> None:
        self.errors.append((path, reason))

    def code(self, adapter: TypeAdapter[str], value: str | None, path: str, what: str) -> str:
        try:
            return adapter.validate_python(value)
        except ValidationError:
            self.fail(path, f"not {what}")
            return ""

    def vocabulary(self, enum: type[E], value: str | None, path: str) -> E | None:
        try:
            return enum(value or "")
        except ValueError:
            self.fail(path, f"not a code of {enum.__name__}")
            return None

    def attributes(
        self, attributes: Sequence[Attribute], path: str, allowed: frozenset[Taxonomy]
    ) -> dict[Taxonomy, list[tuple[str, str, str | None]]]:
        """The platform's attributes by taxonomy: (path of the code, code, value)."""
        found: dict[Taxonomy, list[tuple[str, str, str | None]]] = {}
        for index, attribute in enumerate(attributes):
            term = attribute.taxonomy_term
            here = f"{path}.attributes.{index}.taxonomy_term"
            if term is None or not (term.taxonomy or "").startswith(TAXONOMY):
                continue  # another classification: not the profile's business
            try:
                taxonomy = Taxonomy((term.taxonomy or "").removeprefix(TAXONOMY))
            except ValueError:
                self.fail(f"{here}.taxonomy", "not a taxonomy of this profile")
                continue
            if taxonomy not in allowed:
                self.fail(f"{here}.taxonomy", "does not apply to this entity")
                continue
            if not term.code:
                self.fail(f"{here}.code", "required")
                continue
            found.setdefault(taxonomy, []).append((f"{here}.code", term.code, attribute.value))
        return found

    def contacts(self, contacts: Sequence[Contact], path: str) -> list[ContactPoint]:
        points = []
        for index, contact in enumerate(contacts):
            label = contact.department or contact.name or contact.title
            if not label:
                self.fail(f"{path}.contacts.{index}.department", "a contact needs a label")
                continue
            phone = contact.phones[0].number if contact.phones else None
            try:
                points.append(ContactPoint(label=label, email=contact.email, phone=phone))
            except ValidationError as error:
                for problem in error.errors():
                    self.fail(f"{path}.contacts.{index}", str(problem["msg"]))
        return points


def plan_import(document: HsdsDocument) -> ImportPlan:
    """Reads a whole document; every problem comes back with its path, none is raised."""
    reader = _Reader()
    plan = ImportPlan(errors=reader.errors)
    for index, organization in enumerate(document.organizations):
        partner = _partner(reader, organization, f"body.organizations.{index}")
        if partner is not None:
            plan.partners.append(partner)
    for index, service in enumerate(document.services):
        imported = _service(reader, service, f"body.services.{index}")
        if imported is not None:
            plan.services.append(imported)
    _no_duplicates(reader, [(p.path, p.partner_id) for p in plan.partners])
    _no_duplicates(reader, [(p.path, p.draft.code) for p in plan.partners], what="code")
    _no_duplicates(reader, [(s.path, s.service_id) for s in plan.services])
    return plan


def _no_duplicates(reader: _Reader, keys: Sequence[tuple[str, object]], what: str = "id") -> None:
    seen: set[object] = set()
    for path, key in keys:
        if key in seen:
            reader.fail(f"{path}.{what}", "appears twice in the document")
        seen.add(key)


def _partner(reader: _Reader, organization: Organization, path: str) -> PartnerImport | None:
    before = len(reader.errors)
    codes = [
        (i, identifier.identifier)
        for i, identifier in enumerate(organization.organization_identifiers)
        if identifier.identifier_scheme == IDENTIFIER_SCHEME
    ]
    code = ""
    if len(codes) != 1:
        reader.fail(
            f"{path}.organization_identifiers",
            f"exactly one identifier with scheme {IDENTIFIER_SCHEME} is required",
        )
    else:
        i, identifier = codes[0]
        code = reader.code(
            _PARTNER_CODE, identifier, f"{path}.organization_identifiers.{i}.identifier", "a code"
        )
    found = reader.attributes(organization.attributes, path, ORGANIZATION_TAXONOMIES)
    types = found.get(Taxonomy.PARTNER_TYPE, [])
    partner_type = None
    if len(types) != 1:
        reader.fail(f"{path}.attributes", f"exactly one {Taxonomy.PARTNER_TYPE.uri} is required")
    else:
        partner_type = reader.vocabulary(PartnerType, types[0][1], types[0][0])
    countries = [
        reader.code(_COUNTRY, code, where, "an ISO 3166-1 code")
        for where, code, _ in found.get(Taxonomy.COUNTRY, [])
    ]
    if not countries:
        reader.fail(f"{path}.attributes", f"at least one {Taxonomy.COUNTRY.uri} is required")
    designations = []
    for where, role_code, value in found.get(Taxonomy.DESIGNATION, []):
        role = reader.vocabulary(DesignationRole, role_code, where)
        area = _area(reader, value, where.removesuffix(".taxonomy_term.code") + ".value")
        if role is not None and area is not None:
            designations.append(
                DesignationModel(role=role, country=area.country, admin_areas=area.admin_areas)
            )
    active, reason = True, None
    statuses = found.get(Taxonomy.PARTNER_STATUS, [])
    if len(statuses) > 1:
        reader.fail(f"{path}.attributes", f"at most one {Taxonomy.PARTNER_STATUS.uri}")
    elif statuses:
        where, status, value = statuses[0]
        if status not in ("active", "inactive"):
            reader.fail(where, "not active or inactive")
        active = status == "active"
        if not active:
            reason = (
                reader.vocabulary(DeactivationReason, value, where) if value else None
            ) or DeactivationReason.OTHER
    contacts = reader.contacts(organization.contacts, path)
    if len(reader.errors) > before or partner_type is None:
        return None
    try:
        draft = PartnerDraft(
            code=code,
            name=organization.name,
            partner_type=partner_type,
            countries=list(dict.fromkeys(countries)),
            designations=designations,
            contacts=contacts,
        )
    except ValidationError as error:
        _fail_all(reader, path, error)
        return None
    return PartnerImport(
        path=path,
        partner_id=organization.id,
        draft=draft,
        active=active,
        deactivation_reason=reason,
        is_demo=_is_demo(found),
    )


def _fail_all(reader: _Reader, path: str, error: ValidationError) -> None:
    """A directory rule the entry breaks, named by the directory's field (never a value)."""
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"])
        reader.fail(path, f"{where}: {problem['msg']}")


def _area(reader: _Reader, value: str | None, path: str) -> AreaModel | None:
    """A designation's area: one country code, or subdivisions of one country."""
    codes = [c.strip() for c in (value or "").split(",") if c.strip()]
    if len(codes) == 1 and len(codes[0]) == 2:
        country = reader.code(_COUNTRY, codes[0], path, "an ISO 3166-1 code")
        return AreaModel(country=country) if country else None
    areas = [reader.code(_ADMIN_AREA, c, path, "ISO 3166-2 codes") for c in codes]
    if not areas or len({a[:2] for a in areas}) != 1:
        reader.fail(path, "a country, or subdivisions of one country, is required")
        return None
    if any(not a for a in areas):
        return None
    return AreaModel(country=areas[0][:2], admin_areas=list(dict.fromkeys(areas)))


def _is_demo(found: Mapping[Taxonomy, list[tuple[str, str, str | None]]]) -> bool:
    return any(code == "demo" for _, code, _ in found.get(Taxonomy.LISTING, []))


def _service(reader: _Reader, service: Service, path: str) -> ServiceImport | None:
    before = len(reader.errors)
    found = reader.attributes(service.attributes, path, SERVICE_TAXONOMIES)

    def codes(taxonomy: Taxonomy, enum: type[E]) -> list[E]:
        read = [reader.vocabulary(enum, code, where) for where, code, _ in found.get(taxonomy, [])]
        return [value for value in read if value is not None]

    def countries(taxonomy: Taxonomy) -> list[str]:
        return [
            reader.code(_COUNTRY, code, where, "an ISO 3166-1 code")
            for where, code, _ in found.get(taxonomy, [])
        ]

    categories = codes(Taxonomy.NEED_CATEGORY, NeedCategory)
    if len(found.get(Taxonomy.NEED_CATEGORY, [])) != 1:
        reader.fail(f"{path}.attributes", f"exactly one {Taxonomy.NEED_CATEGORY.uri} is required")
    sla_hours: dict[Urgency, int] = {}
    for where, code, value in found.get(Taxonomy.RESPONSE_SLA, []):
        urgency = reader.vocabulary(Urgency, code, where)
        if urgency is not None and value is not None and value.isdigit():
            sla_hours[urgency] = int(value)
        elif urgency is not None:
            reader.fail(where.removesuffix(".taxonomy_term.code") + ".value", "hours required")
    costs = [code for _, code, _ in found.get(Taxonomy.COST, [])]
    if costs not in ([], ["free"], ["fee"]):
        reader.fail(f"{path}.attributes", f"at most one {Taxonomy.COST.uri}: free or fee")
    reasons = codes(Taxonomy.DEACTIVATION_REASON, DeactivationReason)

    coverage: dict[str, list[str]] = {}  # country -> subdivisions ([]: the whole country)
    whole: set[str] = set()
    for index, area in enumerate(service.service_areas):
        here = f"{path}.service_areas.{index}.name"
        code = (area.extent if area.extent_type == "text" and area.extent else area.name) or ""
        if len(code) == 2:
            country = reader.code(_COUNTRY, code, here, "an ISO 3166-1 code")
            if country in coverage:
                reader.fail(here, "a country is covered once: whole or by subdivisions")
            coverage[country] = []
            whole.add(country)
        else:
            subdivision = reader.code(_ADMIN_AREA, code, here, "an ISO 3166 code")
            if subdivision[:2] in whole:
                reader.fail(here, "a country is covered once: whole or by subdivisions")
            coverage.setdefault(subdivision[:2], []).append(subdivision)
    if not service.service_areas:
        reader.fail(f"{path}.service_areas", "at least one service area is required")
    languages = [
        reader.code(_LANGUAGE, language.code, f"{path}.languages.{i}.code", "an ISO 639 code")
        for i, language in enumerate(service.languages)
    ]
    if not languages:
        reader.fail(f"{path}.languages", "at least one language is required")
    opening_hours = [
        hours
        for i, schedule in enumerate(service.schedules)
        if (hours := _opening_hours(reader, schedule, f"{path}.schedules.{i}")) is not None
    ]
    if len(service.capacities) > 1:
        reader.fail(f"{path}.capacities", "at most one capacity (unit: place)")
    capacity = service.capacities[0] if service.capacities else None
    if capacity is not None and capacity.unit.name != CAPACITY_UNIT:
        reader.fail(f"{path}.capacities.0.unit.name", f"the unit must be {CAPACITY_UNIT}")
    contacts = reader.contacts(service.contacts, path)
    if len(reader.errors) > before:
        return None
    status = _SERVICE_STATUS[service.status]
    try:
        draft = ServiceDraft(
            name=service.name,
            description=service.description or "",
            category=categories[0],
            status=status,
            coverage=[AreaModel(country=c, admin_areas=a) for c, a in coverage.items()],
            languages=list(dict.fromkeys(languages)),
            min_age=service.minimum_age,
            max_age=service.maximum_age,
            sexes=codes(Taxonomy.SEX_SERVED, Sex),
            nationalities_served=countries(Taxonomy.NATIONALITY_SERVED),
            nationalities_excluded=countries(Taxonomy.NATIONALITY_EXCLUDED),
            vulnerabilities_required=codes(Taxonomy.VULNERABILITY_REQUIRED, Vulnerability),
            vulnerability_focus=codes(Taxonomy.VULNERABILITY_FOCUS, Vulnerability),
            capacity_total=capacity.maximum if capacity else None,
            capacity_available=capacity.available if capacity else None,
            opening_hours=opening_hours,
            sla_hours=sla_hours,
            free_of_charge=costs != ["fee"],
            fees_description=service.fees_description,
            contacts=contacts,
            assured_date=service.assured_date,
            gbv_sensitive=Taxonomy.GBV_SENSITIVE in found,
        )
    except ValidationError as error:
        _fail_all(reader, path, error)
        return None
    inactive = status is ServiceStatus.INACTIVE
    return ServiceImport(
        path=path,
        service_id=service.id,
        partner_id=service.organization_id,
        draft=draft,
        deactivation_reason=(reasons[0] if reasons else DeactivationReason.OTHER)
        if inactive
        else None,
        is_demo=_is_demo(found),
        capacity_updated_at=capacity.updated if capacity else None,
    )


def _opening_hours(reader: _Reader, schedule: Schedule, path: str) -> OpeningHours | None:
    if schedule.freq != "WEEKLY":
        reader.fail(f"{path}.freq", "only WEEKLY schedules are part of the profile")
        return None
    days = [_RRULE_TO_WEEKDAY.get(day.strip()) for day in (schedule.byday or "").split(",")]
    if not days or None in days:
        reader.fail(f"{path}.byday", "RFC 5545 weekdays (MO..SU), comma-separated")
        return None
    try:
        opens = time.fromisoformat(schedule.opens_at or "")
        closes = time.fromisoformat(schedule.closes_at or "")
    except ValueError:
        reader.fail(f"{path}.opens_at", "opening and closing times (HH:MM) are required")
        return None
    return OpeningHours(days=[d for d in days if d is not None], opens=opens, closes=closes)
