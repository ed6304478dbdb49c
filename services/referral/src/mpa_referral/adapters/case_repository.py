"""The pseudonymous case read model on PostgreSQL (see app/ports.py for the contract)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from mpa_common.driver import DriverSql, driver_of
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
from mpa_referral.adapters.directory_snapshot import DirectoryView
from mpa_referral.adapters.tables import case_needs, cases
from mpa_referral.adapters.write_buffer import WriteBuffer
from mpa_referral.domain.cases import (
    CaseNeed,
    CaseProfile,
    CaseStatus,
    ConsentTerms,
    TransferConsentTerms,
)
from mpa_referral.domain.mandatory import MandatoryRule


def _consent_document(consent: ConsentTerms | None) -> dict[str, Any] | None:
    if consent is None:
        return None
    return {
        "consent_id": str(consent.consent_id),
        "scopes": sorted(s.value for s in consent.scopes),
        "expires_at": consent.expires_at.isoformat() if consent.expires_at else None,
        "refused_partner_ids": sorted(str(p) for p in consent.refused_partner_ids),
        "refused_partner_types": sorted(t.value for t in consent.refused_partner_types),
    }


def _consent_of(document: Mapping[str, Any] | None) -> ConsentTerms | None:
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


def _transfer_consents_document(case: CaseProfile) -> list[dict[str, Any]]:
    return [
        {
            "transfer_consent_id": str(c.transfer_consent_id),
            "countries": sorted(c.countries),
            "expires_at": c.expires_at.isoformat() if c.expires_at else None,
        }
        for c in case.transfer_consents
    ]


def _transfer_consents_of(
    document: Sequence[Mapping[str, Any]],
) -> tuple[TransferConsentTerms, ...]:
    return tuple(
        TransferConsentTerms(
            transfer_consent_id=uuid.UUID(c["transfer_consent_id"]),
            countries=frozenset(c["countries"]),
            expires_at=datetime.fromisoformat(c["expires_at"]) if c["expires_at"] else None,
        )
        for c in document
    )


def _columns(case: CaseProfile) -> dict[str, Any]:
    """What a registration or a change stores (the case's id and story never change)."""
    return {
        "age_band": case.age_band.value,
        "sex": case.sex.value,
        "nationality": case.nationality,
        "languages": list(case.languages),
        "country": case.country,
        "admin_area": case.admin_area,
        "vulnerabilities": sorted(v.value for v in case.vulnerabilities),
        "consent": _consent_document(case.consent),
        "transfer_consents": _transfer_consents_document(case),
        "do_not_contact": case.do_not_contact,
        "safe_contact_method": case.safe_contact_method.value,
        "status": case.status.value,
    }


def _profile_of(row: RowMapping) -> CaseProfile:
    return CaseProfile(
        case_id=row["case_id"],
        age_band=AgeBand(row["age_band"]),
        sex=Sex(row["sex"]),
        nationality=row["nationality"],
        languages=tuple(row["languages"]),
        country=row["country"],
        admin_area=row["admin_area"],
        vulnerabilities=frozenset(Vulnerability(v) for v in row["vulnerabilities"]),
        consent=_consent_of(row["consent"]),
        do_not_contact=row["do_not_contact"],
        safe_contact_method=SafeContactMethod(row["safe_contact_method"]),
        status=CaseStatus(row["status"]),
        correlation_id=row["correlation_id"],
        personal_data_erased=row["personal_data_erased"],
        best_interests_determined_at=row["best_interests_determined_at"],
        transfer_consents=_transfer_consents_of(row["transfer_consents"]),
    )


def _need_of(row: RowMapping) -> CaseNeed:
    rule = row["mandatory_rule"]
    return CaseNeed(
        need_id=row["need_id"],
        case_id=row["case_id"],
        category=NeedCategory(row["category"]),
        urgency=Urgency(row["urgency"]),
        assistance_country=row["assistance_country"],
        mandatory_rule=MandatoryRule(rule) if rule else None,
    )


# What `_columns` gives, in its order: a registration stores them, a repeated one overwrites.
_CASE_COLUMNS = (
    "age_band",
    "sex",
    "nationality",
    "languages",
    "country",
    "admin_area",
    "vulnerabilities",
    "consent",
    "transfer_consents",
    "do_not_contact",
    "safe_contact_method",
    "status",
)
_ADDED = insert(cases)
# Built once: the registration's row, or the case's columns overwritten when it is known
# (a repeated registration). xmax is 0 on a row this statement inserted, not on one it
# updated.
_ADD_CASE: ReturningInsert[tuple[bool]] = (
    _ADDED.values(
        {
            name: bindparam(name)
            for name in ("case_id", "case_reference", "correlation_id", *_CASE_COLUMNS)
        }
    )
    .on_conflict_do_update(
        index_elements=[cases.c.case_id],
        set_={
            **{name: _ADDED.excluded[name] for name in _CASE_COLUMNS},
            "updated_at": func.now(),
        },
    )
    .returning(literal_column("(xmax = 0)").label("inserted"))
)


# The same statement for the driver: once the unit of work has caught up on the directory
# (every case of a batch after its first), a case is stored in a round trip of its own,
# and through the driver that costs a third of the CPU (mpa_common/driver.py).
_ADD_CASE_ON_DRIVER = DriverSql.of(_ADD_CASE)
# The JSONB documents as their text, as SQLAlchemy's JSONB type would send them.
_DOCUMENTS = ("consent", "transfer_consents")


class SqlCaseRepository:
    def __init__(self, session: AsyncSession, buffer: WriteBuffer, view: DirectoryView) -> None:
        self._session = session
        self._buffer = buffer
        self._view = view

    async def add(self, case: CaseProfile, reference: str) -> bool:
        parameters = {
            "case_id": case.case_id,
            "case_reference": reference,
            "correlation_id": case.correlation_id,
            **_columns(case),
        }
        if self._view.caught_up:
            driver = await driver_of(self._session)
            documents = {name: json.dumps(parameters[name]) for name in _DOCUMENTS}
            row = await _ADD_CASE_ON_DRIVER.fetchrow(driver, {**parameters, **documents})
            return row is not None and bool(row[0])
        # Routing the case's needs follows: the directory catch-up it needs first goes in
        # the same round trip.
        return bool(await self._view.current_with(_ADD_CASE, parameters))

    async def get(self, case_id: uuid.UUID, *, for_update: bool = False) -> CaseProfile | None:
        query = select(cases).where(cases.c.case_id == case_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).mappings().first()
        return None if row is None else _profile_of(row)

    async def save(self, case: CaseProfile) -> None:
        await self._session.execute(
            update(cases)
            .where(cases.c.case_id == case.case_id)
            .values(
                **_columns(case),
                personal_data_erased=case.personal_data_erased,
                best_interests_determined_at=case.best_interests_determined_at,
                updated_at=func.now(),
            )
        )

    async def needs_of(self, case_id: uuid.UUID) -> list[CaseNeed]:
        await self._buffer.flush()
        rows = (
            await self._session.execute(
                select(case_needs)
                .where(case_needs.c.case_id == case_id)
                .order_by(case_needs.c.added_at, case_needs.c.need_id)
            )
        ).mappings()
        return [_need_of(row) for row in rows]

    async def add_needs(self, needs: Sequence[CaseNeed]) -> None:
        self._buffer.add(
            case_needs,
            *(
                {
                    "need_id": need.need_id,
                    "case_id": need.case_id,
                    "category": need.category.value,
                    "urgency": need.urgency.value,
                    "assistance_country": need.assistance_country,
                    "mandatory_rule": need.mandatory_rule.value if need.mandatory_rule else None,
                }
                for need in needs
            ),
        )
