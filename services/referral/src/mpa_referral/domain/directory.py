"""The partner and service directory as routing sees it (HSDS 3.x-inspired), pure values.

A service covers areas (a country, whole or some first-level subdivisions), serves people
who meet its eligibility, and may track its free places. A partner may be designated, for
some areas, as the child-protection authority or the anti-trafficking focal point: the
mandatory routing rules look for those designations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

from mpa_contracts.vocabularies import (
    AgeBand,
    NeedCategory,
    PartnerType,
    ServiceStatus,
    Sex,
    Vulnerability,
)

# Inclusive age range of each CTDC band; 48+ is open-ended (an upper bound of 200 years).
AGE_BAND_RANGES: dict[AgeBand, tuple[int, int]] = {
    AgeBand.AGE_0_8: (0, 8),
    AgeBand.AGE_9_17: (9, 17),
    AgeBand.AGE_18_20: (18, 20),
    AgeBand.AGE_21_23: (21, 23),
    AgeBand.AGE_24_26: (24, 26),
    AgeBand.AGE_27_29: (27, 29),
    AgeBand.AGE_30_38: (30, 38),
    AgeBand.AGE_39_47: (39, 47),
    AgeBand.AGE_48_PLUS: (48, 200),
}


class DesignationRole(StrEnum):
    """A statutory role a partner holds for some areas; the mandatory rules route to it."""

    CHILD_PROTECTION_AUTHORITY = "child_protection_authority"
    ANTI_TRAFFICKING_FOCAL_POINT = "anti_trafficking_focal_point"


@dataclass(frozen=True, slots=True)
class Area:
    """A country, whole (no admin areas) or some of its first-level subdivisions."""

    country: str
    admin_areas: frozenset[str] = frozenset()

    @property
    def nationwide(self) -> bool:
        return not self.admin_areas

    def covers(self, country: str, admin_area: str | None) -> bool:
        """Whether a place is inside. An unknown admin area is inside any part of the country:
        the person may still travel there (e.g. help wanted in the country of return)."""
        if country != self.country:
            return False
        return self.nationwide or admin_area is None or admin_area in self.admin_areas


def covering_area(areas: tuple[Area, ...], country: str, admin_area: str | None) -> Area | None:
    """The area of `areas` that covers the place; one naming admin areas before a nationwide
    one. (A hot path of routing: a plain loop, no allocation.)"""
    nationwide = None
    for area in areas:
        if area.country != country:
            continue
        if not area.admin_areas:
            nationwide = nationwide or area
        elif admin_area is None or admin_area in area.admin_areas:
            return area
    return nationwide


@dataclass(frozen=True, slots=True)
class Designation:
    role: DesignationRole
    area: Area


@dataclass(frozen=True, slots=True)
class Eligibility:
    """Who a service serves; an empty collection means "no restriction"."""

    min_age: int | None = None
    max_age: int | None = None
    sexes: frozenset[Sex] = frozenset()
    nationalities_served: frozenset[str] = frozenset()
    nationalities_excluded: frozenset[str] = frozenset()
    # The person must have at least one of these (e.g. a shelter for trafficking victims).
    vulnerabilities_required: frozenset[Vulnerability] = frozenset()

    def serves_age_band(self, band: AgeBand) -> bool:
        # The whole band must be inside the range: a 9-17 year-old never reaches a 16+ service.
        low, high = AGE_BAND_RANGES[band]
        return (self.min_age is None or low >= self.min_age) and (
            self.max_age is None or high <= self.max_age
        )

    def age_bands_served(self) -> tuple[AgeBand, ...]:
        return tuple(band for band in AgeBand if self.serves_age_band(band))

    def serves_sex(self, sex: Sex) -> bool:
        return not self.sexes or sex in self.sexes

    def serves_nationality(self, nationality: str | None) -> bool:
        if nationality is not None and nationality in self.nationalities_excluded:
            return False
        return not self.nationalities_served or nationality in self.nationalities_served

    def serves_vulnerabilities(self, vulnerabilities: frozenset[Vulnerability]) -> bool:
        return not self.vulnerabilities_required or bool(
            self.vulnerabilities_required & vulnerabilities
        )


@dataclass(frozen=True, slots=True)
class ServiceListing:
    """One service with what routing needs of it and of its partner."""

    service_id: UUID
    partner_id: UUID
    partner_type: PartnerType
    partner_active: bool
    partner_designations: tuple[Designation, ...]
    category: NeedCategory
    status: ServiceStatus
    coverage: tuple[Area, ...]
    languages: frozenset[str]
    eligibility: Eligibility
    capacity_available: int | None  # None: capacity is not tracked
    capacity_total: int | None

    def designated(self, role: DesignationRole, country: str, admin_area: str | None) -> bool:
        return any(
            d.role is role and d.area.covers(country, admin_area) for d in self.partner_designations
        )


# ---- from the directory's stored rows (column -> value) ----------------------------------


def areas_of(document: Sequence[Mapping[Any, Any]]) -> tuple[Area, ...]:
    return tuple(
        Area(item["country"], frozenset(item.get("admin_areas") or ())) for item in document
    )


def designations_of(document: Sequence[Mapping[Any, Any]]) -> tuple[Designation, ...]:
    return tuple(
        Designation(
            DesignationRole(item["role"]),
            Area(item["country"], frozenset(item.get("admin_areas") or ())),
        )
        for item in document
    )


def eligibility_of(service: Mapping[Any, Any]) -> Eligibility:
    return Eligibility(
        min_age=service["min_age"],
        max_age=service["max_age"],
        sexes=frozenset(Sex(s) for s in service["sexes"]),
        nationalities_served=frozenset(service["nationalities_served"]),
        nationalities_excluded=frozenset(service["nationalities_excluded"]),
        vulnerabilities_required=frozenset(
            Vulnerability(v) for v in service["vulnerabilities_required"]
        ),
    )


@dataclass(frozen=True, slots=True)
class PartnerListing:
    """What routing needs of a partner."""

    partner_id: UUID
    partner_type: PartnerType
    active: bool
    designations: tuple[Designation, ...]

    @classmethod
    def of(cls, partner: Mapping[Any, Any]) -> PartnerListing:
        return cls(
            partner["id"],
            PartnerType(partner["partner_type"]),
            bool(partner["active"]),
            designations_of(partner["designations"]),
        )

    def designated(self, role: DesignationRole, country: str, admin_area: str | None) -> bool:
        return self.active and any(
            d.role is role and d.area.covers(country, admin_area) for d in self.designations
        )


def listing_of(service: Mapping[Any, Any], partner: PartnerListing) -> ServiceListing:
    """A stored service, with its partner, as routing sees it."""
    return ServiceListing(
        service_id=service["id"],
        partner_id=service["partner_id"],
        partner_type=partner.partner_type,
        partner_active=partner.active,
        partner_designations=partner.designations,
        category=NeedCategory(service["category"]),
        status=ServiceStatus(service["status"]),
        coverage=areas_of(service["coverage"]),
        languages=frozenset(service["languages"]),
        eligibility=eligibility_of(service),
        capacity_available=service["capacity_available"],
        capacity_total=service["capacity_total"],
    )
