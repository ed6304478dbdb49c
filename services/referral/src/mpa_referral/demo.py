"""A fictional demo directory: partners and services in Niger and Mali, all marked as demo.

Seeded at start-up when the directory is empty and REFERRAL_DEMO_DIRECTORY is on (the
default in development); never in production. Every organisation, contact and address here
is invented; `.example` domains and the `DEMO-` codes make that visible wherever they show.
Each country has a designated child-protection authority and anti-trafficking focal point,
government and civil-society partners, and services for every need category.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

from mpa_contracts.vocabularies import ActorRole, NeedCategory, PartnerType, Urgency, Vulnerability
from mpa_referral.app.common import ReferralContext
from mpa_referral.app.directory import (
    AreaModel,
    ContactPoint,
    DesignationModel,
    DirectoryChanges,
    OpeningHours,
    PartnerDraft,
    ServiceDraft,
    Weekday,
)
from mpa_referral.domain.actors import Actor
from mpa_referral.domain.directory import DesignationRole

log = logging.getLogger(__name__)

DEMO_ACTOR = Actor("system:referral-demo", ActorRole.SYSTEM)
ASSURED = date(2026, 1, 15)
WEEKDAYS = [Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI]
OFFICE_HOURS = [
    OpeningHours.model_validate({"days": WEEKDAYS, "opens": "08:00", "closes": "17:00"})
]
ALWAYS_OPEN = [
    OpeningHours.model_validate({"days": list(Weekday), "opens": "00:00", "closes": "23:59"})
]
C = NeedCategory


@dataclass(frozen=True)
class DemoService:
    name: str
    category: NeedCategory
    areas: tuple[str, ...] = ()  # admin areas; empty: nationwide
    capacity: int | None = None
    min_age: int | None = None
    max_age: int | None = None
    required: tuple[Vulnerability, ...] = ()
    focus: tuple[Vulnerability, ...] = ()
    gbv_sensitive: bool = False
    hotline: bool = False  # open around the clock, answers critical referrals within 1 h


@dataclass(frozen=True)
class DemoPartner:
    code: str
    name: str
    partner_type: PartnerType
    country: str
    languages: tuple[str, ...]
    designations: tuple[DesignationRole, ...] = ()
    services: tuple[DemoService, ...] = field(default_factory=tuple)


def _country(
    country: str, name: str, languages: tuple[str, ...], hub: str, border: str
) -> tuple[DemoPartner, ...]:
    """The same fictional cast of partners for each country."""
    return (
        DemoPartner(
            f"DEMO-{country}-CPA",
            f"Demo {name} Directorate for Child Protection (fictional)",
            PartnerType.GOVERNMENT_AGENCY,
            country,
            languages,
            (DesignationRole.CHILD_PROTECTION_AUTHORITY,),
            (
                DemoService(
                    "Child protection case management",
                    C.CHILD_PROTECTION,
                    capacity=20,
                    min_age=0,
                    max_age=17,
                ),
                DemoService("Family tracing and reunification", C.FAMILY_TRACING, capacity=15),
            ),
        ),
        DemoPartner(
            f"DEMO-{country}-ATF",
            f"Demo {name} National Anti-Trafficking Focal Point (fictional)",
            PartnerType.GOVERNMENT_AGENCY,
            country,
            languages,
            (DesignationRole.ANTI_TRAFFICKING_FOCAL_POINT,),
            (
                DemoService(
                    "Victim identification and case management",
                    C.CASE_MANAGEMENT,
                    capacity=25,
                    required=(Vulnerability.TRAFFICKING_VICTIM,),
                ),
                DemoService(
                    "Legal assistance for victims of trafficking",
                    C.LEGAL_AID,
                    capacity=10,
                    required=(Vulnerability.TRAFFICKING_VICTIM,),
                ),
            ),
        ),
        DemoPartner(
            f"DEMO-{country}-HOPE",
            f"Demo Hope Shelter Network {name} (fictional)",
            PartnerType.CIVIL_SOCIETY_ORGANISATION,
            country,
            languages,
            services=(
                DemoService(
                    "Emergency shelter", C.SHELTER, areas=(hub, border), capacity=10, hotline=True
                ),
                DemoService(
                    "Safe house for women and girls",
                    C.SHELTER,
                    areas=(hub,),
                    capacity=6,
                    gbv_sensitive=True,
                    focus=(Vulnerability.GBV_SURVIVOR,),
                ),
                DemoService("Psychosocial support", C.MHPSS, capacity=30),
                DemoService(
                    "GBV case management",
                    C.GBV_RESPONSE,
                    areas=(hub,),
                    capacity=10,
                    gbv_sensitive=True,
                ),
                DemoService("Hot meals and food parcels", C.FOOD, areas=(hub, border)),
                DemoService(
                    "Primary health care", C.MEDICAL, areas=(hub, border), capacity=40, hotline=True
                ),
            ),
        ),
        DemoPartner(
            f"DEMO-{country}-LEX",
            f"Demo Legal Aid and Livelihoods {name} (fictional)",
            PartnerType.CIVIL_SOCIETY_ORGANISATION,
            country,
            languages,
            services=(
                DemoService("Legal counselling", C.LEGAL_AID, areas=(hub,), capacity=12),
                DemoService("Civil documentation", C.DOCUMENTATION, capacity=20),
                DemoService(
                    "Vocational training", C.LIVELIHOOD, areas=(hub,), capacity=15, min_age=15
                ),
                DemoService("Multipurpose cash", C.CASH, capacity=50, min_age=18),
            ),
        ),
        DemoPartner(
            f"DEMO-{country}-MIG",
            f"Demo International Migration Office {name} (fictional)",
            PartnerType.INTERNATIONAL_ORGANISATION,
            country,
            (*languages, "en"),
            services=(
                DemoService("Assisted voluntary return", C.RETURN_ASSISTANCE, capacity=30),
                DemoService("Reintegration support", C.REINTEGRATION, capacity=30),
                DemoService("Migrant case management", C.CASE_MANAGEMENT, capacity=25),
                DemoService("Medical screening", C.MEDICAL, capacity=20),
            ),
        ),
    )


DEMO_PARTNERS: tuple[DemoPartner, ...] = (
    *_country("NE", "Niger", ("fr", "ha", "dje"), hub="NE-8", border="NE-1"),
    *_country("ML", "Mali", ("fr", "bm", "ff"), hub="ML-BKO", border="ML-7"),
)


def _contact(code: str) -> list[ContactPoint]:
    return [
        ContactPoint(
            label="Referral desk (fictional)",
            email=f"referrals@{code.lower()}.example",
            phone="+000 00 00 00 00",
        )
    ]


def _service_draft(partner: DemoPartner, service: DemoService) -> ServiceDraft:
    return ServiceDraft(
        name=f"{service.name} (demo)",
        description="Fictional service of the demo directory.",
        category=service.category,
        coverage=[AreaModel(country=partner.country, admin_areas=list(service.areas))],
        languages=list(partner.languages),
        min_age=service.min_age,
        max_age=service.max_age,
        vulnerabilities_required=list(service.required),
        vulnerability_focus=list(service.focus),
        capacity_total=service.capacity,
        capacity_available=service.capacity,
        opening_hours=ALWAYS_OPEN if service.hotline else OFFICE_HOURS,
        sla_hours={Urgency.CRITICAL: 1} if service.hotline else {},
        free_of_charge=True,
        contacts=_contact(partner.code),
        assured_date=ASSURED,
        gbv_sensitive=service.gbv_sensitive,
    )


async def seed_demo_directory(context: ReferralContext) -> bool:
    """Registers the demo directory if the directory is empty; returns whether it did."""
    async with context.units_of_work() as uow:
        # Replicas starting together: one seeds, the others then find the directory filled
        # (the lock that serialises directory imports).
        await uow.directory.lock_for_import()
        if not await uow.directory.is_empty():
            return False
        changes = DirectoryChanges(uow, context.policy, DEMO_ACTOR, context.clock())
        for partner in DEMO_PARTNERS:
            partner_id = await changes.register_partner(
                PartnerDraft(
                    code=partner.code,
                    name=partner.name,
                    partner_type=partner.partner_type,
                    countries=[partner.country],
                    designations=[
                        DesignationModel(role=role, country=partner.country)
                        for role in partner.designations
                    ],
                    contacts=_contact(partner.code),
                ),
                is_demo=True,
            )
            for service in partner.services:
                await changes.register_service(
                    partner_id, _service_draft(partner, service), is_demo=True
                )
        await uow.commit()
    return True


class DemoDirectorySeeder:
    """A start-up step shaped as a background worker: seeds once, then has nothing to do."""

    name = "demo-directory"

    def __init__(self, context: ReferralContext) -> None:
        self._context = context

    async def start(self) -> None:
        if await seed_demo_directory(self._context):
            log.info("demo directory seeded", extra={"partners": len(DEMO_PARTNERS)})

    async def stop(self) -> None:
        return None
