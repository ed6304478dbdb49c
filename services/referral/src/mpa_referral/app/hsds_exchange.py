"""Import and export of the whole directory as HSDS 3.1 JSON (profile: app/hsds.py).

Export shows what the reader may see: services for survivors of gender-based violence only
to roles that need them (and to the partner that runs them), contacts only to roles that
refer or administer (and to the partner's own staff).

Import is an idempotent upsert by HSDS id in one transaction: the document is read whole
and checked against itself and the directory first; any problem answers 422 naming every
bad path, and nothing is written. Then each new partner or service is registered and each
changed one patched through the same use cases as the HTTP API, so every change emits its
directory event (registered, updated, capacity changed, deactivated) and its cascades (a
deactivation re-routes what the partner or service holds); an unchanged entry emits
nothing. Entries the document does not mention are left as they are.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_common.problems import PROBLEM_TYPE_BASE, Problem
from mpa_common.uow import UnitOfWork
from mpa_contracts.vocabularies import ServiceStatus
from mpa_referral.adapters import directory_repository as directory_repo
from mpa_referral.app.common import Actor
from mpa_referral.app.directory import (
    Directory,
    PartnerPatch,
    ServicePatch,
    service_columns,
    service_rule_violations,
)
from mpa_referral.app.hsds import (
    HsdsDocument,
    PartnerImport,
    ServiceImport,
    document_of,
    plan_import,
)

# Where in an HSDS service each directory rule's field lives, for error paths.
_HSDS_FIELD = {
    "coverage": "service_areas",
    "min_age/max_age": "minimum_age",
    "capacity_available": "capacities.0.available",
    "sla_hours": "attributes",
}
_PARTNER_FIELDS = ("name", "partner_type", "countries", "designations", "contacts")


@dataclass(frozen=True, slots=True)
class Reader:
    """What the principal reading the export may see."""

    sees_gbv_services: bool
    sees_contacts: bool
    partner_id: uuid.UUID | None  # a partner's staff see their own organisation in full


class Counts(BaseModel):
    created: int = 0
    updated: int = 0
    unchanged: int = 0


class ImportSummary(BaseModel):
    organizations: Counts = Field(default_factory=Counts)
    services: Counts = Field(default_factory=Counts)


class DirectoryExchange:
    def __init__(self, directory: Directory) -> None:
        self._directory = directory

    async def export(self, session: AsyncSession, reader: Reader) -> HsdsDocument:
        def own(partner_id: uuid.UUID) -> bool:
            return reader.partner_id is not None and partner_id == reader.partner_id

        services = [
            s
            for s in await directory_repo.all_services(session)
            if reader.sees_gbv_services or not s["gbv_sensitive"] or own(s["partner_id"])
        ]
        return document_of(
            await directory_repo.all_partners(session),
            services,
            contacts_visible=lambda partner_id: reader.sees_contacts or own(partner_id),
        )

    async def import_document(
        self, uow: UnitOfWork, document: HsdsDocument, actor: Actor
    ) -> ImportSummary:
        session = uow.session
        await directory_repo.lock_directory_import(session)
        plan = plan_import(document)
        errors = list(plan.errors)
        partners = {
            row["id"]: row
            for row in await directory_repo.partners_by_ids(
                session, [p.partner_id for p in plan.partners], for_update=True
            )
        }
        owners = await directory_repo.partner_ids_by_code(
            session, [p.draft.code for p in plan.partners]
        )
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
            for row in await directory_repo.partners_by_ids(
                session, {s.partner_id for s in plan.services} - in_document
            )
        }
        services = {
            row["id"]: row
            for row in await directory_repo.services_by_ids(
                session, [s.service_id for s in plan.services], for_update=True
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
            raise Problem(
                422,
                "Invalid HSDS document",
                f"{len(errors)} problem(s); nothing was imported",
                type_=PROBLEM_TYPE_BASE + "validation",
                extra={"errors": [{"field": path, "reason": reason} for path, reason in errors]},
            )

        summary = ImportSummary()
        for partner in plan.partners:
            try:
                outcome = await self._upsert_partner(
                    uow, partner, partners.get(partner.partner_id), actor
                )
            except Problem as problem:
                raise _at(partner.path, problem) from None
            _count(summary.organizations, outcome)
        for service in plan.services:
            try:
                outcome = await self._upsert_service(
                    uow, service, services.get(service.service_id), actor
                )
            except Problem as problem:
                raise _at(service.path, problem) from None
            _count(summary.services, outcome)
        return summary

    async def _upsert_partner(
        self, uow: UnitOfWork, partner: PartnerImport, stored: RowMapping | None, actor: Actor
    ) -> str:
        directory = self._directory
        if stored is None:
            await directory.register_partner(
                uow, partner.draft, actor, partner_id=partner.partner_id, is_demo=partner.is_demo
            )
            if not partner.active:
                patch = PartnerPatch(active=False, deactivation_reason=partner.deactivation_reason)
                await directory.update_partner(uow, partner.partner_id, patch, actor)
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
        await directory.update_partner(uow, partner.partner_id, PartnerPatch(**changed), actor)
        return "updated"

    async def _upsert_service(
        self, uow: UnitOfWork, service: ServiceImport, stored: RowMapping | None, actor: Actor
    ) -> str:
        directory = self._directory
        if stored is None:
            await directory.register_service(
                uow,
                service.partner_id,
                service.draft,
                actor,
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
        await directory.update_service(
            uow,
            service.partner_id,
            service.service_id,
            ServicePatch(**changed),
            actor,
            capacity_updated_at=service.capacity_updated_at,
        )
        return "updated"


def _count(counts: Counts, outcome: str) -> None:
    setattr(counts, outcome, getattr(counts, outcome) + 1)


def _at(path: str, problem: Problem) -> Problem:
    """A use case's refusal, placed at the document entry that caused it."""
    return Problem(
        problem.status if problem.status != 404 else 422,
        "Invalid HSDS document",
        "1 problem; nothing was imported",
        type_=PROBLEM_TYPE_BASE + "validation",
        extra={"errors": [{"field": path, "reason": problem.detail or problem.title}]},
    )
