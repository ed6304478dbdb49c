"""An HSDS 3.1 document read into the directory's terms (the profile: `schema.py`), and its
import: an idempotent upsert by HSDS id in one transaction.

The document is read whole and checked against itself and the directory first; any problem
is refused naming every bad path, and nothing is written. Then each new partner or service
is registered and each changed one patched through the same directory changes as the HTTP
API, so every change emits its directory event (registered, updated, capacity changed,
deactivated) and its cascades (a deactivation re-routes what the partner or service
holds); an unchanged entry emits nothing. Entries the document does not mention are left
as they are.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

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
from mpa_referral.app.common import ReferralContext
from mpa_referral.app.directory import (
    AreaModel,
    ContactPoint,
    DesignationModel,
    DirectoryChanges,
    OpeningHours,
    PartnerDraft,
    PartnerPatch,
    ServiceDraft,
    ServicePatch,
    service_columns,
    service_rule_violations,
)
from mpa_referral.app.hsds.schema import (
    CAPACITY_UNIT,
    IDENTIFIER_SCHEME,
    RRULE_TO_WEEKDAY,
    TAXONOMY,
    Attribute,
    Contact,
    HsdsDocument,
    Organization,
    Schedule,
    Service,
    Taxonomy,
)
from mpa_referral.domain.actors import Actor
from mpa_referral.domain.directory import DesignationRole
from mpa_referral.domain.errors import FieldError, InvalidDocument, ReferralError


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
    days = [RRULE_TO_WEEKDAY.get(day.strip()) for day in (schedule.byday or "").split(",")]
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


# ---- the import ------------------------------------------------------------------------

# Where in an HSDS service each directory rule's field lives, for error paths.
_HSDS_FIELD = {
    "coverage": "service_areas",
    "min_age/max_age": "minimum_age",
    "capacity_available": "capacities.0.available",
    "sla_hours": "attributes",
}
_PARTNER_FIELDS = ("name", "partner_type", "countries", "designations", "contacts")


class Counts(BaseModel):
    created: int = 0
    updated: int = 0
    unchanged: int = 0


class ImportSummary(BaseModel):
    organizations: Counts = Field(default_factory=Counts)
    services: Counts = Field(default_factory=Counts)


@dataclass(frozen=True, slots=True)
class ImportDirectory:
    document: HsdsDocument
    actor: Actor  # an administrator


async def import_directory(ctx: ReferralContext, command: ImportDirectory) -> ImportSummary:
    async with ctx.units_of_work() as uow:
        directory = uow.directory
        await directory.lock_for_import()
        plan = plan_import(command.document)
        errors = list(plan.errors)
        partners = {
            row["id"]: row
            for row in await directory.partners_by_ids(
                [p.partner_id for p in plan.partners], for_update=True
            )
        }
        owners = await directory.partner_ids_by_code([p.draft.code for p in plan.partners])
        for partner in plan.partners:
            owner = owners.get(partner.draft.code, partner.partner_id)
            stored = partners.get(partner.partner_id)
            if owner != partner.partner_id:
                errors.append(
                    (f"{partner.path}.organization_identifiers", "another partner has this code")
                )
            elif stored is not None and stored["code"] != partner.draft.code:
                errors.append(
                    (f"{partner.path}.organization_identifiers", "a partner's code never changes")
                )
        in_document = {p.partner_id for p in plan.partners}
        elsewhere = {
            row["id"]
            for row in await directory.partners_by_ids(
                {s.partner_id for s in plan.services} - in_document
            )
        }
        services = {
            row["id"]: row
            for row in await directory.services_by_ids(
                [s.service_id for s in plan.services], for_update=True
            )
        }
        for service in plan.services:
            stored_service = services.get(service.service_id)
            if service.partner_id not in in_document | elsewhere:
                errors.append(
                    (
                        f"{service.path}.organization_id",
                        "no such organization here or in the directory",
                    )
                )
            elif stored_service is not None and stored_service["partner_id"] != service.partner_id:
                errors.append(
                    (f"{service.path}.organization_id", "a service never changes organization")
                )
            merged = {
                **(dict(stored_service) if stored_service else {}),
                **service_columns(service.draft),
            }
            for name, reason in service_rule_violations(merged):
                errors.append((f"{service.path}.{_HSDS_FIELD.get(name, name)}", reason))
        if errors:
            raise InvalidDocument([FieldError(path, reason) for path, reason in errors])

        changes = DirectoryChanges(uow, ctx.policy, command.actor, ctx.clock())
        summary = ImportSummary()
        for partner in plan.partners:
            try:
                outcome = await _upsert_partner(changes, partner, partners.get(partner.partner_id))
            except ReferralError as refused:
                raise InvalidDocument([FieldError(partner.path, str(refused))]) from None
            _count(summary.organizations, outcome)
        for service in plan.services:
            try:
                outcome = await _upsert_service(changes, service, services.get(service.service_id))
            except ReferralError as refused:
                raise InvalidDocument([FieldError(service.path, str(refused))]) from None
            _count(summary.services, outcome)
        await uow.commit()
    return summary


async def _upsert_partner(
    changes: DirectoryChanges, partner: PartnerImport, stored: Mapping[str, Any] | None
) -> str:
    if stored is None:
        await changes.register_partner(
            partner.draft, partner_id=partner.partner_id, is_demo=partner.is_demo
        )
        if not partner.active:
            patch = PartnerPatch(active=False, deactivation_reason=partner.deactivation_reason)
            await changes.update_partner(partner.partner_id, patch)
        return "created"
    target = partner.draft.model_dump(mode="json", include=set(_PARTNER_FIELDS))
    changed: dict[str, Any] = {
        name: getattr(partner.draft, name)
        for name in _PARTNER_FIELDS
        if target[name] != stored[name]
    }
    if partner.active != stored["active"]:
        changed["active"] = partner.active
    if not partner.active and partner.deactivation_reason != stored["deactivation_reason"]:
        changed["active"] = False
        changed["deactivation_reason"] = partner.deactivation_reason
    if not changed:
        return "unchanged"
    await changes.update_partner(partner.partner_id, PartnerPatch(**changed))
    return "updated"


async def _upsert_service(
    changes: DirectoryChanges, service: ServiceImport, stored: Mapping[str, Any] | None
) -> str:
    if stored is None:
        await changes.register_service(
            service.partner_id,
            service.draft,
            service_id=service.service_id,
            is_demo=service.is_demo,
            capacity_updated_at=service.capacity_updated_at,
            deactivation_reason=service.deactivation_reason,
        )
        return "created"
    target = service_columns(service.draft)
    changed: dict[str, Any] = {
        name: getattr(service.draft, name)
        for name in ServicePatch.model_fields
        if name in target and target[name] != stored[name]
    }
    inactive = service.draft.status is ServiceStatus.INACTIVE
    if inactive and (
        "status" in changed or service.deactivation_reason != stored["deactivation_reason"]
    ):
        changed["status"] = ServiceStatus.INACTIVE
        changed["deactivation_reason"] = service.deactivation_reason
    if not changed:
        return "unchanged"
    await changes.update_service(
        service.partner_id,
        service.service_id,
        ServicePatch(**changed),
        capacity_updated_at=service.capacity_updated_at,
    )
    return "updated"


def _count(counts: Counts, outcome: str) -> None:
    setattr(counts, outcome, getattr(counts, outcome) + 1)
