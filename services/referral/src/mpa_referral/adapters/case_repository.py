"""The pseudonymous case read model: rows in and out."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_contracts.events.case import Consent, Need, RoutingProfile, SafetyFlags
from mpa_contracts.vocabularies import (
    AgeBand,
    ConsentScope,
    NeedCategory,
    PartnerType,
    SafeContactMethod,
    Sex,
    Urgency,
    Vulnerability,
)
from mpa_referral.adapters.tables import case_needs, cases
from mpa_referral.domain.cases import CaseNeed, CaseProfile, CaseStatus, ConsentTerms


def profile_columns(profile: RoutingProfile, safety: SafetyFlags) -> dict[str, Any]:
    return {
        "age_band": profile.age_band.value,
        "sex": profile.sex.value,
        "nationality": profile.nationality,
        "languages": list(profile.languages),
        "country": profile.location.country,
        "admin_area": profile.location.admin_area,
        "vulnerabilities": [v.value for v in profile.vulnerabilities],
        "do_not_contact": safety.do_not_contact,
        "safe_contact_method": safety.safe_contact_method.value,
    }


def consent_document(consent: Consent | None) -> dict[str, Any] | None:
    if consent is None:
        return None
    return {
        "consent_id": str(consent.consent_id),
        "scopes": [s.value for s in consent.scopes],
        "expires_at": consent.expires_at.isoformat() if consent.expires_at else None,
        "refused_partner_ids": [str(p) for p in consent.refused_partner_ids],
        "refused_partner_types": [t.value for t in consent.refused_partner_types],
    }


async def upsert_case(
    session: AsyncSession,
    *,
    case_id: uuid.UUID,
    case_reference: str,
    correlation_id: uuid.UUID,
    profile: RoutingProfile,
    safety: SafetyFlags,
    consent: Consent | None,
) -> None:
    values = {
        **profile_columns(profile, safety),
        "consent": consent_document(consent),
        "status": CaseStatus.OPEN.value,
    }
    await session.execute(
        insert(cases)
        .values(
            case_id=case_id, case_reference=case_reference, correlation_id=correlation_id, **values
        )
        .on_conflict_do_update(
            index_elements=[cases.c.case_id], set_={**values, "updated_at": func.now()}
        )
    )


async def update_case(session: AsyncSession, case_id: uuid.UUID, values: Mapping[str, Any]) -> bool:
    result = await session.execute(
        update(cases)
        .where(cases.c.case_id == case_id)
        .values(**values, updated_at=func.now())
        .returning(cases.c.case_id)
    )
    return result.first() is not None


async def add_needs(
    session: AsyncSession,
    case_id: uuid.UUID,
    needs: Sequence[Need],
) -> None:
    if not needs:
        return
    await session.execute(
        insert(case_needs)
        .values(
            [
                {
                    "need_id": need.need_id,
                    "case_id": case_id,
                    "category": need.category.value,
                    "urgency": need.urgency.value,
                    "assistance_country": need.assistance_country,
                }
                for need in needs
            ]
        )
        .on_conflict_do_nothing()
    )


async def add_mandatory_need(session: AsyncSession, need: CaseNeed) -> None:
    await session.execute(
        insert(case_needs)
        .values(
            need_id=need.need_id,
            case_id=need.case_id,
            category=need.category.value,
            urgency=need.urgency.value,
            assistance_country=need.assistance_country,
            mandatory_rule=need.mandatory_rule,
        )
        .on_conflict_do_nothing()
    )


async def get_case(
    session: AsyncSession, case_id: uuid.UUID, *, for_update: bool = False
) -> RowMapping | None:
    query = select(cases).where(cases.c.case_id == case_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).mappings().first()


async def get_profile(
    session: AsyncSession, case_id: uuid.UUID, *, for_update: bool = False
) -> CaseProfile | None:
    row = await get_case(session, case_id, for_update=for_update)
    return None if row is None else profile_from_row(row)


async def needs_of(session: AsyncSession, case_id: uuid.UUID) -> list[CaseNeed]:
    rows = (
        await session.execute(
            select(case_needs)
            .where(case_needs.c.case_id == case_id)
            .order_by(case_needs.c.added_at, case_needs.c.need_id)
        )
    ).mappings()
    return [need_from_row(row) for row in rows]


def need_from_row(row: RowMapping) -> CaseNeed:
    return CaseNeed(
        need_id=row["need_id"],
        case_id=row["case_id"],
        category=NeedCategory(row["category"]),
        urgency=Urgency(row["urgency"]),
        assistance_country=row["assistance_country"],
        mandatory_rule=row["mandatory_rule"],
    )


def consent_from_document(document: Mapping[str, Any] | None) -> ConsentTerms | None:
    if document is None:
        return None
    expires = document.get("expires_at")
    return ConsentTerms(
        consent_id=uuid.UUID(document["consent_id"]),
        scopes=frozenset(ConsentScope(s) for s in document["scopes"]),
        expires_at=datetime.fromisoformat(expires) if expires else None,
        refused_partner_ids=frozenset(uuid.UUID(p) for p in document["refused_partner_ids"]),
        refused_partner_types=frozenset(PartnerType(t) for t in document["refused_partner_types"]),
    )


def profile_from_row(row: RowMapping) -> CaseProfile:
    return CaseProfile(
        case_id=row["case_id"],
        age_band=AgeBand(row["age_band"]),
        sex=Sex(row["sex"]),
        nationality=row["nationality"],
        languages=tuple(row["languages"]),
        country=row["country"],
        admin_area=row["admin_area"],
        vulnerabilities=frozenset(Vulnerability(v) for v in row["vulnerabilities"]),
        consent=consent_from_document(row["consent"]),
        do_not_contact=row["do_not_contact"],
        safe_contact_method=SafeContactMethod(row["safe_contact_method"]),
        status=CaseStatus(row["status"]),
    )
