"""The directory as one HSDS 3.1 document (the profile: `schema.py`), and the export of
what a reader may see: services for survivors of gender-based violence, and partners that
only run such services, only to roles that need them (and to the partner itself);
contacts only to roles that refer or administer (and to the partner's own staff)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import time
from typing import Any, Literal

from mpa_contracts.vocabularies import ServiceStatus
from mpa_referral.app.common import ReferralContext
from mpa_referral.app.directory import DirectoryReader, Weekday
from mpa_referral.app.hsds.schema import (
    CAPACITY_UNIT,
    IDENTIFIER_SCHEME,
    NAMESPACE,
    WEEKDAY_TO_RRULE,
    Attribute,
    Contact,
    HsdsDocument,
    HsdsStatus,
    Language,
    Organization,
    OrganizationIdentifier,
    Phone,
    Schedule,
    Service,
    ServiceArea,
    ServiceCapacity,
    Taxonomy,
    TaxonomyTerm,
    Unit,
)


def derived_id(*parts: object) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, "|".join(str(p) for p in parts))


def _attribute(
    link_id: uuid.UUID, entity: str, taxonomy: Taxonomy, code: str, value: str | None = None
) -> Attribute:
    term_id = derived_id(taxonomy.uri, code)
    return Attribute(
        id=derived_id(link_id, taxonomy.uri, code, value),
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
        contact_id = derived_id(owner_id, "contact", index)
        contacts.append(
            Contact(
                id=contact_id,
                department=point["label"],
                email=point.get("email"),
                phones=[Phone(id=derived_id(contact_id, "phone"), number=point["phone"])]
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
                id=derived_id(partner_id, IDENTIFIER_SCHEME),
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
                id=derived_id(service_id, "capacity"),
                service_id=service_id,
                unit=Unit(id=derived_id(CAPACITY_UNIT), name=CAPACITY_UNIT),
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
                id=derived_id(service_id, "area", code),
                service_id=service_id,
                name=code,
                extent=code,
                extent_type="text",
            )
            for code in area_codes
        ],
        languages=[
            Language(id=derived_id(service_id, "language", code), service_id=service_id, code=code)
            for code in service["languages"]
        ],
        schedules=[
            Schedule(
                id=derived_id(service_id, "schedule", index),
                service_id=service_id,
                freq="WEEKLY",
                byday=",".join(WEEKDAY_TO_RRULE[Weekday(day)] for day in hours["days"]),
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


@dataclass(frozen=True, slots=True)
class ExportDirectory:
    reader: DirectoryReader


async def export_directory(ctx: ReferralContext, query: ExportDirectory) -> HsdsDocument:
    reader = query.reader
    async with ctx.units_of_work() as uow:
        partners = await uow.directory.all_partners()
        services = await uow.directory.all_services()
    gbv_only = _gbv_only(services)
    return document_of(
        [
            p
            for p in partners
            if reader.sees_gbv_services or p["id"] not in gbv_only or reader.owns(p["id"])
        ],
        [
            s
            for s in services
            if reader.sees_gbv_services or not s["gbv_sensitive"] or reader.owns(s["partner_id"])
        ],
        contacts_visible=lambda partner_id: reader.sees_contacts or reader.owns(partner_id),
    )


def _gbv_only(services: Sequence[Mapping[str, Any]]) -> frozenset[uuid.UUID]:
    """Partners whose every service is for survivors of gender-based violence."""
    flags: dict[uuid.UUID, bool] = {}
    for service in services:
        flags[service["partner_id"]] = flags.get(service["partner_id"], True) and bool(
            service["gbv_sensitive"]
        )
    return frozenset(partner_id for partner_id, only in flags.items() if only)
