"""Directory use cases: partners and their services (HSDS 3.x-inspired), each change an event.

Admins write everything; a partner's own staff may change only the capacity and status of
its own services, and never lift a deactivation an administrator made. Contacts are
organisational contact points: they never go into events, and only roles that reach
partners on a person's behalf (and the partner's own staff) read them. Services for
survivors of gender-based violence, and partners that only run such services, are hidden
from roles that do not need them. A partner or service that leaves the directory
(inactive) takes back to routing the referrals it holds that have not started; one that
returns gets the unroutable ones retried.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
    ActorRole,
    DeactivationReason,
    NeedCategory,
    PartnerType,
    RerouteCause,
    ServiceStatus,
    Sex,
    Urgency,
    Vulnerability,
)
from mpa_referral.app.cascades import reroute_held
from mpa_referral.app.common import DIRECTORY_RETRY_TIMER, ReferralContext, ReferralPolicy
from mpa_referral.app.ports import PartnerRow, ServiceFilter, ServiceRow, UnitOfWorkPort
from mpa_referral.domain.actors import Actor
from mpa_referral.domain.directory import DesignationRole, Eligibility, eligibility_of
from mpa_referral.domain.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidRequest,
    InvalidService,
    NotFound,
)
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


def service_rule_violations(row: Mapping[Any, Any]) -> list[tuple[str, str]]:
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


def _check_service(row: Mapping[Any, Any]) -> None:
    violations = service_rule_violations(row)
    if violations:
        raise InvalidService([FieldError(field, reason) for field, reason in violations])


# ---- who reads the directory --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DirectoryReader:
    """What of the directory a reader may see."""

    sees_gbv_services: bool  # services for survivors of gender-based violence
    sees_contacts: bool  # partners' and services' contact points
    partner_id: uuid.UUID | None = None  # a partner's staff see their own organisation in full

    def owns(self, partner_id: uuid.UUID) -> bool:
        return self.partner_id is not None and partner_id == self.partner_id

    def shown(self, row: Mapping[Any, Any], partner_id: uuid.UUID) -> dict[str, Any]:
        """The row as this reader sees it: without contacts unless it may read them."""
        shown = dict(row)
        if not (self.sees_contacts or self.owns(partner_id)):
            shown["contacts"] = []
        return shown


ADMIN_READER = DirectoryReader(sees_gbv_services=True, sees_contacts=True)


# ---- changes inside one unit of work (the HTTP use cases and the HSDS import share them)


class DirectoryChanges:
    """Changes to the directory in the caller's unit of work, each with its event and its
    cascades (a deactivation re-routes what was held; any other change retries the
    unroutable referrals the service might now take)."""

    def __init__(
        self, uow: UnitOfWorkPort, policy: ReferralPolicy, actor: Actor, now: datetime
    ) -> None:
        self._uow = uow
        self._policy = policy
        self._actor = actor
        self._now = now

    def _emit(self, data: Any, subject: str) -> None:
        self._uow.emit(data, subject=subject)

    def _by(self) -> dict[str, Any]:
        return {"actor_id": self._actor.actor_id, "actor_role": self._actor.role}

    async def register_partner(
        self, draft: PartnerDraft, *, partner_id: uuid.UUID | None = None, is_demo: bool = False
    ) -> uuid.UUID:
        """Adds a partner; `partner_id` keeps an id given elsewhere (an HSDS import)."""
        directory = self._uow.directory
        if await directory.partner_code_taken(draft.code):
            raise Conflict("code: a partner with this code exists")
        partner_id = partner_id or uuid.uuid4()
        await directory.add_partner(
            {
                "id": partner_id,
                "code": draft.code,
                "name": draft.name,
                "partner_type": draft.partner_type.value,
                "countries": list(draft.countries),
                "designations": _json(draft.designations),
                "contacts": _json(draft.contacts),
                "is_demo": is_demo,
            }
        )
        self._emit(
            PartnerRegisteredV1(
                partner_id=partner_id,
                partner_code=draft.code,
                partner_type=draft.partner_type,
                countries=tuple(dict.fromkeys(draft.countries)),
                **self._by(),
            ),
            f"partner/{partner_id}",
        )
        return partner_id

    async def update_partner(self, partner_id: uuid.UUID, patch: PartnerPatch) -> None:
        directory = self._uow.directory
        partner = await directory.get_partner(partner_id, for_update=True)
        if partner is None:
            raise NotFound("No such partner")
        values = {
            name: _json(getattr(patch, name))
            for name in patch.model_fields_set
            if getattr(patch, name) is not None
        }
        deactivating = values.get("active") is False and partner["active"]
        reactivating = values.get("active") is True and not partner["active"]
        if deactivating and patch.deactivation_reason is None:
            raise InvalidRequest("deactivation_reason", "required to deactivate")
        if values.get("active") is True:
            values["deactivation_reason"] = None
        await directory.update_partner(partner_id, values)
        updated = await directory.get_partner(partner_id)
        assert updated is not None
        if deactivating:
            assert patch.deactivation_reason is not None
            self._emit(
                PartnerDeactivatedV1(
                    partner_id=partner_id, reason=patch.deactivation_reason, **self._by()
                ),
                f"partner/{partner_id}",
            )
            await reroute_held(
                self._uow,
                self._policy,
                RerouteCause.PARTNER_DEACTIVATED,
                self._now,
                partner_id=partner_id,
            )
        else:
            self._emit(
                PartnerUpdatedV1(
                    partner_id=partner_id,
                    partner_code=updated["code"],
                    partner_type=PartnerType(updated["partner_type"]),
                    countries=tuple(dict.fromkeys(updated["countries"])),
                    **self._by(),
                ),
                f"partner/{partner_id}",
            )
        if reactivating:
            for service in await directory.list_services(
                ServiceFilter(partner_id=partner_id), limit=10_000
            ):
                await self._retry_unroutable(service["id"])

    async def register_service(
        self,
        partner_id: uuid.UUID,
        draft: ServiceDraft,
        *,
        service_id: uuid.UUID | None = None,
        is_demo: bool = False,
        capacity_updated_at: datetime | None = None,
        deactivation_reason: DeactivationReason | None = None,
    ) -> uuid.UUID:
        """Adds a service; `service_id`, `capacity_updated_at` and the reason an inactive
        service is inactive keep what an HSDS import says (otherwise a new id, capacity as
        of now, no reason)."""
        directory = self._uow.directory
        partner = await directory.get_partner(partner_id, for_update=True)
        if partner is None:
            raise NotFound("No such partner")
        service_id = service_id or uuid.uuid4()
        inactive = draft.status is ServiceStatus.INACTIVE
        row: dict[str, Any] = {
            "id": service_id,
            "partner_id": partner_id,
            "sexes": [],
            "nationalities_served": [],
            "nationalities_excluded": [],
            "vulnerabilities_required": [],
            "vulnerability_focus": [],
            "is_demo": is_demo,
            **service_columns(draft, capacity_updated_at),
            "name": draft.name,
            "description": draft.description,
            "category": draft.category.value,
            "status": draft.status.value,
            "coverage": _json(draft.coverage),
            "coverage_countries": [a.country for a in draft.coverage],
            "languages": list(dict.fromkeys(draft.languages)),
            "deactivation_reason": deactivation_reason.value
            if deactivation_reason and inactive
            else None,
            "deactivated_by": self._actor.role.value if inactive else None,
        }
        _check_service(row)
        await directory.add_service(row)
        stored = await directory.get_service(service_id)
        assert stored is not None
        self._emit(
            ServiceRegisteredV1(**service_description(stored), **self._by()),
            f"service/{service_id}",
        )
        await self._retry_unroutable(service_id)
        return service_id

    async def update_service(
        self,
        partner_id: uuid.UUID,
        service_id: uuid.UUID,
        patch: ServicePatch,
        *,
        capacity_updated_at: datetime | None = None,
    ) -> None:
        directory = self._uow.directory
        actor = self._actor
        if actor.partner_id is not None and actor.partner_id != partner_id:
            raise NotFound("No such service")
        service = await directory.get_service(service_id, for_update=True)
        if service is None or service["partner_id"] != partner_id:
            raise NotFound("No such service")
        if actor.partner_id is not None:
            _check_partner_may_change(service, patch)
        values = service_columns(patch, capacity_updated_at)
        deactivating = (
            values.get("status") == ServiceStatus.INACTIVE.value
            and service["status"] != ServiceStatus.INACTIVE.value
        )
        if deactivating and values.get("deactivation_reason") is None:
            raise InvalidRequest("deactivation_reason", "required to deactivate")
        if deactivating:
            values["deactivated_by"] = actor.role.value
        if values.get("status", service["status"]) != ServiceStatus.INACTIVE.value:
            values["deactivation_reason"] = None  # a reason only while inactive
            values["deactivated_by"] = None
        merged = {**dict(service), **values}
        _check_service(merged)
        await directory.update_service(service_id, values)
        stored = await directory.get_service(service_id)
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
            "deactivated_by",
        }
        subject = f"service/{service_id}"
        if deactivating:
            described.discard("status")  # said by the deactivation event below
            reason = DeactivationReason(values["deactivation_reason"])
            self._emit(
                ServiceDeactivatedV1(
                    service_id=service_id, partner_id=partner_id, reason=reason, **self._by()
                ),
                subject,
            )
        if described:
            self._emit(ServiceUpdatedV1(**service_description(stored), **self._by()), subject)
        if capacity_changed and stored["capacity_available"] is not None:
            self._emit(
                ServiceCapacityChangedV1(
                    service_id=service_id,
                    partner_id=partner_id,
                    available_slots=stored["capacity_available"],
                    total_slots=stored["capacity_total"],
                    **self._by(),
                ),
                subject,
            )
        if deactivating:
            await reroute_held(
                self._uow,
                self._policy,
                RerouteCause.SERVICE_DEACTIVATED,
                self._now,
                service_id=service_id,
            )
        else:
            await self._retry_unroutable(service_id)

    async def _retry_unroutable(self, service_id: uuid.UUID) -> None:
        # Durable and outside this transaction's hot path: the timer worker retries routing
        # of the unroutable referrals this service might now take.
        await self._uow.timers.schedule(
            kind=DIRECTORY_RETRY_TIMER, subject_id=service_id, due_at=self._now
        )


def _check_partner_may_change(service: ServiceRow, patch: ServicePatch) -> None:
    """A partner's own staff change only status and capacity, and never lift (or reword) a
    deactivation that was not theirs: an administrator's suspension stands until an
    administrator lifts it."""
    if not patch.model_fields_set <= PARTNER_WRITABLE:
        forbidden = ", ".join(sorted(patch.model_fields_set - PARTNER_WRITABLE))
        raise Forbidden(f"A partner may change only status and capacity: {forbidden}")
    deactivated_by_others = (
        service["status"] == ServiceStatus.INACTIVE.value
        and service.get("deactivated_by") != ActorRole.PARTNER.value
    )
    if deactivated_by_others and patch.model_fields_set & {"status", "deactivation_reason"}:
        raise Forbidden(
            "status: an administrator deactivated this service; only an administrator "
            "may change its status"
        )


def service_description(row: ServiceRow) -> dict[str, Any]:
    """The routing-relevant description of a service, as directory events carry it."""
    eligibility = eligibility_of(row)
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


# ---- the use cases --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisterPartner:
    draft: PartnerDraft
    actor: Actor


@dataclass(frozen=True, slots=True)
class UpdatePartner:
    partner_id: uuid.UUID
    patch: PartnerPatch
    actor: Actor


@dataclass(frozen=True, slots=True)
class RegisterService:
    partner_id: uuid.UUID
    draft: ServiceDraft
    actor: Actor


@dataclass(frozen=True, slots=True)
class UpdateService:
    """An admin's change, or the partner's own staff's (`actor.partner_id` set)."""

    partner_id: uuid.UUID
    service_id: uuid.UUID
    patch: ServicePatch
    actor: Actor
    reader: DirectoryReader


async def register_partner(ctx: ReferralContext, command: RegisterPartner) -> PartnerRow:
    async with ctx.units_of_work() as uow:
        changes = DirectoryChanges(uow, ctx.policy, command.actor, ctx.clock())
        partner_id = await changes.register_partner(command.draft)
        row = await uow.directory.get_partner(partner_id)
        await uow.commit()
    assert row is not None
    return row


async def update_partner(ctx: ReferralContext, command: UpdatePartner) -> PartnerRow:
    async with ctx.units_of_work() as uow:
        changes = DirectoryChanges(uow, ctx.policy, command.actor, ctx.clock())
        await changes.update_partner(command.partner_id, command.patch)
        row = await uow.directory.get_partner(command.partner_id)
        await uow.commit()
    assert row is not None
    return row


async def register_service(ctx: ReferralContext, command: RegisterService) -> ServiceRow:
    async with ctx.units_of_work() as uow:
        changes = DirectoryChanges(uow, ctx.policy, command.actor, ctx.clock())
        service_id = await changes.register_service(command.partner_id, command.draft)
        row = await uow.directory.get_service(service_id)
        await uow.commit()
    assert row is not None
    return row


async def update_service(ctx: ReferralContext, command: UpdateService) -> ServiceRow:
    async with ctx.units_of_work() as uow:
        changes = DirectoryChanges(uow, ctx.policy, command.actor, ctx.clock())
        await changes.update_service(command.partner_id, command.service_id, command.patch)
        row = await uow.directory.get_service(command.service_id)
        await uow.commit()
    assert row is not None
    return command.reader.shown(row, row["partner_id"])


# ---- reads ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListPartners:
    reader: DirectoryReader
    country: str | None = None
    partner_type: PartnerType | None = None


@dataclass(frozen=True, slots=True)
class GetPartner:
    partner_id: uuid.UUID
    reader: DirectoryReader


@dataclass(frozen=True, slots=True)
class ListServices:
    reader: DirectoryReader
    where: ServiceFilter
    limit: int = 200


def _hidden(reader: DirectoryReader, partner_id: uuid.UUID, gbv_only: frozenset[uuid.UUID]) -> bool:
    """A partner that only runs GBV services is hidden like its services."""
    return not reader.sees_gbv_services and partner_id in gbv_only and not reader.owns(partner_id)


async def list_partners(ctx: ReferralContext, query: ListPartners) -> list[dict[str, Any]]:
    async with ctx.units_of_work() as uow:
        rows = await uow.directory.list_partners(
            country=query.country, partner_type=query.partner_type
        )
        gbv_only = await uow.directory.gbv_only_partner_ids()
    reader = query.reader
    return [reader.shown(r, r["id"]) for r in rows if not _hidden(reader, r["id"], gbv_only)]


async def get_partner(ctx: ReferralContext, query: GetPartner) -> dict[str, Any]:
    async with ctx.units_of_work() as uow:
        row = await uow.directory.get_partner(query.partner_id)
        gbv_only = await uow.directory.gbv_only_partner_ids()
    if row is None or _hidden(query.reader, row["id"], gbv_only):
        raise NotFound("No such partner")
    return query.reader.shown(row, row["id"])


async def list_services(ctx: ReferralContext, query: ListServices) -> list[dict[str, Any]]:
    reader = query.reader
    where = query.where
    if not reader.sees_gbv_services:
        where = ServiceFilter(
            partner_id=where.partner_id,
            category=where.category,
            country=where.country,
            admin_area=where.admin_area,
            language=where.language,
            partner_type=where.partner_type,
            status=where.status,
            include_gbv_sensitive=False,
            visible_partner_id=reader.partner_id,
        )
    async with ctx.units_of_work() as uow:
        rows = await uow.directory.list_services(where, limit=query.limit)
    return [reader.shown(r, r["partner_id"]) for r in rows]
