"""Directory use cases: partners and their services (HSDS 3.x-inspired), each change an event.

Admins write everything; a partner's own staff may change only the capacity and status of
its own services. Contacts are organisational contact points and never go into events.
A partner or service that leaves the directory (inactive) takes back to routing the
referrals it holds that have not started; one that returns gets the unroutable ones retried.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.engine import RowMapping

from mpa_common.problems import Problem
from mpa_common.request_types import (
    Count32,
    Date,
    Int32,
    StrictBool,
    StrictInt,
    Text,
    Time,
    UniqueList,
)
from mpa_common.uow import UnitOfWork
from mpa_contracts.events.directory import (
    CoverageArea,
    PartnerDeactivatedV1,
    PartnerRegisteredV1,
    PartnerUpdatedV1,
    ServiceCapacityChangedV1,
    ServiceDeactivatedV1,
    ServiceRegisteredV1,
    ServiceUpdatedV1,
)
from mpa_contracts.types import AdminAreaCode, CountryCode, LanguageCode, PartnerCode
from mpa_contracts.vocabularies import (
    DeactivationReason,
    NeedCategory,
    PartnerType,
    RerouteCause,
    ServiceStatus,
    Sex,
    Urgency,
    Vulnerability,
)
from mpa_referral.adapters import directory_repository as directory_repo
from mpa_referral.adapters import timer_repository as timer_repo
from mpa_referral.app.common import Actor, Cause, emit
from mpa_referral.app.referrals import DIRECTORY_RETRY_TIMER, Referrals
from mpa_referral.domain.directory import DesignationRole, Eligibility
from mpa_referral.domain.sla import DEFAULT_ACCEPTANCE_SLA

# What a partner's own staff may change on its services.
PARTNER_WRITABLE = frozenset(
    {"status", "deactivation_reason", "capacity_available", "capacity_total"}
)


# Request list bounds (stated in the OpenAPI): ISO 3166-1 has 249 countries.
MAX_COUNTRIES = 250
MAX_AREAS = 200
MAX_ITEMS = 50


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AreaModel(Strict):
    """A country, whole (no admin areas) or some of its first-level subdivisions."""

    country: CountryCode = Field(examples=["NE"])
    admin_areas: list[AdminAreaCode] = Field(
        default=[],
        max_length=MAX_AREAS,
        description="ISO 3166-2 subdivisions; empty: nationwide",
        examples=[["NE-8"]],
    )

    @model_validator(mode="after")
    def _areas_in_country(self) -> Self:
        CoverageArea(country=self.country, admin_areas=tuple(self.admin_areas))
        return self


class DesignationModel(AreaModel):
    """A statutory role the partner holds in an area (mandatory routing rules use it)."""

    role: DesignationRole


class ContactPoint(Strict):
    """An organisational contact point (a desk or a duty line, not a private person)."""

    label: Text = Field(min_length=1, max_length=200, examples=["Referral desk"])
    email: Text | None = Field(default=None, max_length=200, examples=["referrals@example.org"])
    phone: Text | None = Field(default=None, max_length=40, examples=["+227 20 00 00 00"])


class PartnerDraft(Strict):
    code: PartnerCode = Field(description="Short code used in reports", examples=["DPE-NE"])
    name: Text = Field(min_length=1, max_length=200, examples=["Direction de la Protection"])
    partner_type: PartnerType
    countries: list[CountryCode] = Field(min_length=1, max_length=MAX_COUNTRIES, examples=[["NE"]])
    designations: list[DesignationModel] = Field(default=[], max_length=MAX_ITEMS)
    contacts: list[ContactPoint] = Field(default=[], max_length=MAX_ITEMS)


class PartnerPatch(Strict):
    name: Text | None = Field(default=None, min_length=1, max_length=200)
    partner_type: PartnerType | None = None
    countries: list[CountryCode] | None = Field(
        default=None, min_length=1, max_length=MAX_COUNTRIES
    )
    designations: list[DesignationModel] | None = Field(default=None, max_length=MAX_ITEMS)
    contacts: list[ContactPoint] | None = Field(default=None, max_length=MAX_ITEMS)
    active: StrictBool | None = Field(default=None, description="false deactivates the partner")
    deactivation_reason: DeactivationReason | None = Field(
        default=None, description="Required when `active` becomes false"
    )


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


class OpeningHours(Strict):
    days: list[Weekday] = Field(
        min_length=1, max_length=7, examples=[["mon", "tue", "wed", "thu", "fri"]]
    )
    opens: Time = Field(examples=["08:00"])
    closes: Time = Field(examples=["17:00"])


class ServiceFields(Strict):
    """Every field of a service; drafts require some, patches none."""

    name: Text | None = Field(default=None, min_length=1, max_length=200)
    description: Text | None = Field(default=None, max_length=2000)
    category: NeedCategory | None = None
    status: ServiceStatus | None = None
    coverage: list[AreaModel] | None = Field(default=None, min_length=1, max_length=MAX_COUNTRIES)
    languages: UniqueList[LanguageCode] | None = Field(
        default=None, min_length=1, max_length=MAX_ITEMS, examples=[["fr"]]
    )
    min_age: StrictInt | None = Field(default=None, ge=0, le=120)
    max_age: StrictInt | None = Field(default=None, ge=0, le=200)
    sexes: UniqueList[Sex] | None = Field(
        default=None, max_length=len(Sex), description="Empty: all"
    )
    nationalities_served: UniqueList[CountryCode] | None = Field(
        default=None, max_length=MAX_COUNTRIES, description="Empty: all"
    )
    nationalities_excluded: UniqueList[CountryCode] | None = Field(
        default=None, max_length=MAX_COUNTRIES
    )
    vulnerabilities_required: UniqueList[Vulnerability] | None = Field(
        default=None,
        max_length=len(Vulnerability),
        description="The person must have one of these; empty: none required",
    )
    vulnerability_focus: UniqueList[Vulnerability] | None = Field(
        default=None, max_length=len(Vulnerability)
    )
    capacity_total: Count32 | None = None
    capacity_available: Count32 | None = Field(
        default=None, description="Free places now; absent: capacity is not tracked"
    )
    opening_hours: list[OpeningHours] | None = Field(default=None, max_length=MAX_ITEMS)
    sla_hours: dict[Urgency, Int32] | None = Field(
        default=None,
        description="The service's own response promise per urgency, in hours; only "
        "shorter than the platform's default counts",
        examples=[{"critical": 1, "high": 12}],
    )
    free_of_charge: StrictBool | None = None
    fees_description: Text | None = Field(default=None, max_length=500)
    contacts: list[ContactPoint] | None = Field(default=None, max_length=MAX_ITEMS)
    assured_date: Date | None = Field(
        default=None, description="When the listing was last verified (HSDS assured_date)"
    )
    gbv_sensitive: StrictBool | None = Field(
        default=None,
        description="A service for survivors of gender-based violence: hidden "
        "from roles that do not need to see it",
    )


class ServiceDraft(ServiceFields):
    name: Text = Field(min_length=1, max_length=200, examples=["Emergency shelter"])
    description: Text = Field(default="", max_length=2000)
    category: NeedCategory
    status: ServiceStatus = ServiceStatus.ACTIVE
    coverage: list[AreaModel] = Field(min_length=1, max_length=MAX_COUNTRIES)
    languages: UniqueList[LanguageCode] = Field(
        min_length=1, max_length=MAX_ITEMS, examples=[["fr", "ha"]]
    )


class ServicePatch(ServiceFields):
    deactivation_reason: DeactivationReason | None = Field(
        default=None, description="Required when `status` becomes inactive"
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _json(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, StrEnum):
        return value.value
    return value


def service_columns(
    fields: ServiceFields, capacity_updated_at: datetime | None = None
) -> dict[str, Any]:
    values = {
        name: _json(getattr(fields, name))
        for name in fields.model_fields_set
        if getattr(fields, name) is not None
        or name
        in {
            "capacity_available",
            "capacity_total",
            "min_age",
            "max_age",
            "assured_date",
            "fees_description",
            "deactivation_reason",
        }
    }
    if "coverage" in values:
        values["coverage_countries"] = [area["country"] for area in values["coverage"]]
    if "capacity_available" in values or "capacity_total" in values:
        values["capacity_updated_at"] = capacity_updated_at or _now()
    return values


def service_rule_violations(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Rules across fields, checked on the service as it will be stored: (field, reason)."""
    violations: list[tuple[str, str]] = []
    countries = [a["country"] for a in row["coverage"]]
    if len(set(countries)) != len(countries):
        violations.append(("coverage", "each country may appear once"))
    eligibility = Eligibility(min_age=row.get("min_age"), max_age=row.get("max_age"))
    if not eligibility.age_bands_served():
        violations.append(("min_age/max_age", "the range must span a whole age band"))
    available, total = row.get("capacity_available"), row.get("capacity_total")
    if available is not None and total is not None and available > total:
        violations.append(("capacity_available", "must not exceed capacity_total"))
    if any(not 1 <= int(hours) <= 720 for hours in (row.get("sla_hours") or {}).values()):
        violations.append(("sla_hours", "hours must be within 1..720"))
    return violations


def _check_service(row: Mapping[str, Any]) -> None:
    violations = service_rule_violations(row)
    if violations:
        detail = "; ".join(f"{field}: {reason}" for field, reason in violations)
        raise Problem(422, "Invalid service", detail)


class Directory:
    def __init__(self, referrals: Referrals) -> None:
        self._referrals = referrals

    async def register_partner(
        self,
        uow: UnitOfWork,
        draft: PartnerDraft,
        actor: Actor,
        *,
        partner_id: uuid.UUID | None = None,
        is_demo: bool = False,
    ) -> uuid.UUID:
        """Adds a partner; `partner_id` keeps an id given elsewhere (an HSDS import)."""
        session = uow.session
        if await directory_repo.partner_code_taken(session, draft.code):
            raise Problem(409, "Conflict", "code: a partner with this code exists")
        partner_id = partner_id or uuid.uuid4()
        await directory_repo.insert_partner(
            session,
            {
                "id": partner_id,
                "code": draft.code,
                "name": draft.name,
                "partner_type": draft.partner_type.value,
                "countries": list(draft.countries),
                "designations": _json(draft.designations),
                "contacts": _json(draft.contacts),
                "is_demo": is_demo,
            },
        )
        emit(
            uow,
            PartnerRegisteredV1(
                partner_id=partner_id,
                partner_code=draft.code,
                partner_type=draft.partner_type,
                countries=tuple(dict.fromkeys(draft.countries)),
                actor_id=actor.actor_id,
                actor_role=actor.role,
            ),
            Cause(),
            subject=f"partner/{partner_id}",
        )
        return partner_id

    async def update_partner(
        self, uow: UnitOfWork, partner_id: uuid.UUID, patch: PartnerPatch, actor: Actor
    ) -> None:
        session = uow.session
        partner = await directory_repo.get_partner(session, partner_id, for_update=True)
        if partner is None:
            raise Problem(404, "Not found", "No such partner")
        values = {
            name: _json(getattr(patch, name))
            for name in patch.model_fields_set
            if getattr(patch, name) is not None
        }
        deactivating = values.get("active") is False and partner["active"]
        reactivating = values.get("active") is True and not partner["active"]
        if deactivating and patch.deactivation_reason is None:
            raise Problem(422, "Invalid request", "deactivation_reason: required to deactivate")
        if values.get("active") is True:
            values["deactivation_reason"] = None
        await directory_repo.update_partner(session, partner_id, values)
        updated = await directory_repo.get_partner(session, partner_id)
        assert updated is not None
        cause = Cause()
        if deactivating:
            assert patch.deactivation_reason is not None
            emit(
                uow,
                PartnerDeactivatedV1(
                    partner_id=partner_id,
                    reason=patch.deactivation_reason,
                    actor_id=actor.actor_id,
                    actor_role=actor.role,
                ),
                cause,
                subject=f"partner/{partner_id}",
            )
            await self._referrals.reroute_held(
                uow, RerouteCause.PARTNER_DEACTIVATED, partner_id=partner_id
            )
        else:
            emit(
                uow,
                PartnerUpdatedV1(
                    partner_id=partner_id,
                    partner_code=updated["code"],
                    partner_type=PartnerType(updated["partner_type"]),
                    countries=tuple(dict.fromkeys(updated["countries"])),
                    actor_id=actor.actor_id,
                    actor_role=actor.role,
                ),
                cause,
                subject=f"partner/{partner_id}",
            )
        if reactivating:
            for service in await directory_repo.list_services(
                session, partner_id=partner_id, limit=10_000
            ):
                await self._retry_unroutable(uow, service["id"])

    async def register_service(
        self,
        uow: UnitOfWork,
        partner_id: uuid.UUID,
        draft: ServiceDraft,
        actor: Actor,
        *,
        service_id: uuid.UUID | None = None,
        is_demo: bool = False,
        capacity_updated_at: datetime | None = None,
        deactivation_reason: DeactivationReason | None = None,
    ) -> uuid.UUID:
        """Adds a service; `service_id`, `capacity_updated_at` and the reason an inactive
        service is inactive keep what an HSDS import says (otherwise a new id, capacity as
        of now, no reason)."""
        session = uow.session
        partner = await directory_repo.get_partner(session, partner_id, for_update=True)
        if partner is None:
            raise Problem(404, "Not found", "No such partner")
        service_id = service_id or uuid.uuid4()
        draft_values = service_columns(draft, capacity_updated_at)
        row: dict[str, Any] = {
            "id": service_id,
            "partner_id": partner_id,
            "sexes": [],
            "nationalities_served": [],
            "nationalities_excluded": [],
            "vulnerabilities_required": [],
            "vulnerability_focus": [],
            "is_demo": is_demo,
            **{k: v for k, v in draft_values.items()},
            "name": draft.name,
            "description": draft.description,
            "category": draft.category.value,
            "status": draft.status.value,
            "coverage": _json(draft.coverage),
            "coverage_countries": [a.country for a in draft.coverage],
            "languages": list(dict.fromkeys(draft.languages)),
            "deactivation_reason": deactivation_reason.value
            if deactivation_reason and draft.status is ServiceStatus.INACTIVE
            else None,
        }
        _check_service(row)
        await directory_repo.insert_service(session, row)
        stored = await directory_repo.get_service(session, service_id)
        assert stored is not None
        emit(
            uow,
            ServiceRegisteredV1(**_service_description(stored), **_actor(actor)),
            Cause(),
            subject=f"service/{service_id}",
        )
        await self._retry_unroutable(uow, service_id)
        return service_id

    async def update_service(
        self,
        uow: UnitOfWork,
        partner_id: uuid.UUID,
        service_id: uuid.UUID,
        patch: ServicePatch,
        actor: Actor,
        *,
        capacity_updated_at: datetime | None = None,
    ) -> None:
        session = uow.session
        if actor.partner_id is not None and actor.partner_id != partner_id:
            raise Problem(404, "Not found", "No such service")
        service = await directory_repo.get_service(session, service_id, for_update=True)
        if service is None or service["partner_id"] != partner_id:
            raise Problem(404, "Not found", "No such service")
        if actor.partner_id is not None and not patch.model_fields_set <= PARTNER_WRITABLE:
            forbidden = ", ".join(sorted(patch.model_fields_set - PARTNER_WRITABLE))
            raise Problem(
                403, "Forbidden", f"A partner may change only status and capacity: {forbidden}"
            )
        values = service_columns(patch, capacity_updated_at)
        deactivating = (
            values.get("status") == ServiceStatus.INACTIVE.value
            and service["status"] != ServiceStatus.INACTIVE.value
        )
        if deactivating and values.get("deactivation_reason") is None:
            raise Problem(422, "Invalid request", "deactivation_reason: required to deactivate")
        if values.get("status", service["status"]) != ServiceStatus.INACTIVE.value:
            values["deactivation_reason"] = None  # a reason only while inactive
        merged = {**dict(service), **values}
        _check_service(merged)
        await directory_repo.update_service(session, service_id, values)
        stored = await directory_repo.get_service(session, service_id)
        assert stored is not None
        capacity_changed = (stored["capacity_available"], stored["capacity_total"]) != (
            service["capacity_available"],
            service["capacity_total"],
        )
        described = set(values) - {
            "capacity_available",
            "capacity_total",
            "capacity_updated_at",
            "deactivation_reason",
        }
        if deactivating:
            described.discard("status")  # said by the deactivation event below
            reason = DeactivationReason(values["deactivation_reason"])
            emit(
                uow,
                ServiceDeactivatedV1(
                    service_id=service_id, partner_id=partner_id, reason=reason, **_actor(actor)
                ),
                Cause(),
                subject=f"service/{service_id}",
            )
        if described:
            emit(
                uow,
                ServiceUpdatedV1(**_service_description(stored), **_actor(actor)),
                Cause(),
                subject=f"service/{service_id}",
            )
        if capacity_changed and stored["capacity_available"] is not None:
            emit(
                uow,
                ServiceCapacityChangedV1(
                    service_id=service_id,
                    partner_id=partner_id,
                    available_slots=stored["capacity_available"],
                    total_slots=stored["capacity_total"],
                    **_actor(actor),
                ),
                Cause(),
                subject=f"service/{service_id}",
            )
        if deactivating:
            await self._referrals.reroute_held(
                uow, RerouteCause.SERVICE_DEACTIVATED, service_id=service_id
            )
        else:
            await self._retry_unroutable(uow, service_id)

    @staticmethod
    async def _retry_unroutable(uow: UnitOfWork, service_id: uuid.UUID) -> None:
        # Durable and outside this transaction's hot path: the timer worker retries routing
        # of the unroutable referrals this service might now take.
        await timer_repo.schedule(
            uow.session, kind=DIRECTORY_RETRY_TIMER, subject_id=service_id, due_at=_now()
        )


def _actor(actor: Actor) -> dict[str, Any]:
    return {"actor_id": actor.actor_id, "actor_role": actor.role}


def _service_description(row: RowMapping) -> dict[str, Any]:
    """The routing-relevant description of a service, as directory events carry it."""
    eligibility = directory_repo.eligibility_from_row(row)
    sla_hours = {Urgency(k): int(v) for k, v in row["sla_hours"].items()}
    medium = min(
        DEFAULT_ACCEPTANCE_SLA[Urgency.MEDIUM].total_seconds() / 3600,
        sla_hours.get(Urgency.MEDIUM, 720),
    )
    return {
        "service_id": row["id"],
        "partner_id": row["partner_id"],
        "category": NeedCategory(row["category"]),
        "status": ServiceStatus(row["status"]),
        "coverage": tuple(
            CoverageArea(country=a["country"], admin_areas=tuple(a["admin_areas"]))
            for a in row["coverage"]
        ),
        "languages": tuple(row["languages"]),
        "age_bands": eligibility.age_bands_served(),
        "sexes": tuple(sorted(eligibility.sexes)) if eligibility.sexes else tuple(Sex),
        "vulnerability_focus": tuple(Vulnerability(v) for v in row["vulnerability_focus"]),
        # The response promise for a medium-urgency referral.
        "response_time_hours": max(1, int(medium)),
        "available_slots": row["capacity_available"],
    }
