"""Cases on PostgreSQL: the case row (pseudonymous columns and the sealed personal data),
its needs, its consents (current and superseded) and its match keys.

Everything runs on the unit of work's session: the caller commits once.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    and_,
    any_,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from mpa_common.uow import OutboxInsert
from mpa_contracts.events.case import SafetyFlags
from mpa_contracts.vocabularies import (
    CaseClosureReason,
    CaseScope,
    ConsentGivenBy,
    ConsentMethod,
    ConsentScope,
    ErasureBasis,
    NeedCategory,
    PartnerType,
    RiskLevel,
    SafeContactMethod,
    SafeContactTime,
    Urgency,
    Vulnerability,
)
from mpa_intake.adapters.prebuilt import Prebuilt, insert_select, insert_values
from mpa_intake.adapters.reference_counter import pending_reference
from mpa_intake.adapters.tables import case_consents, case_match_keys, case_needs, cases
from mpa_intake.app.ports import (
    CaseFilter,
    KeyedResponse,
    PageCursor,
    ScopeFilter,
    SealedPersonalData,
    StoredCase,
)
from mpa_intake.domain.case import Case, CaseStatus, NeedEntry, routing_profile
from mpa_intake.domain.consent import ConsentRecord
from mpa_intake.domain.matching import MatchKind
from mpa_intake.domain.ownership import Ownership


class SqlCaseRepository:
    """`ports.CaseRepository` on PostgreSQL (the unit of work's session)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # --- cases ---------------------------------------------------------------------------

    async def add(
        self,
        case: Case,
        sealed: SealedPersonalData,
        *,
        match_keys: Mapping[MatchKind, bytes] | None = None,
        first_response: KeyedResponse | None = None,
    ) -> bool:
        """The case row, its needs, its consent, its match keys and the request's
        idempotency record: ONE prebuilt statement (the others are INSERTs in CTEs of the
        case's INSERT; their foreign keys are checked at the end of the statement, when
        the case row exists). A taken key inserts no idempotency record, and the statement
        says so (the caller then rolls the case back)."""
        statement, parameters = _add_case(case, sealed, match_keys, first_response, None)
        result = await statement.execute(self._session, parameters)
        return first_response is None or bool(result.scalar())

    async def add_in_one_statement(
        self,
        connection: AsyncConnection,
        case: Case,
        sealed: SealedPersonalData,
        *,
        match_keys: Mapping[MatchKind, bytes] | None = None,
        first_response: KeyedResponse | None = None,
        outbox: OutboxInsert | None = None,
    ) -> tuple[bool, list[UUID]]:
        """`add`, with the case's possible duplicates (as `possible_duplicates` finds them,
        written into `first_response`'s body) and `outbox` (the unit of work's pending
        events) in the same statement, sent on `connection` outside any transaction block:
        the statement is its own transaction (see `UnitOfWork.commit_in_one_statement`). A
        taken key writes nothing at all, outbox rows included. Returns whether the key was
        free (True unkeyed) and the possible duplicates."""
        statement, parameters = _add_case(
            case, sealed, match_keys, first_response, outbox, duplicates=True
        )
        row = (await statement.execute_on(connection, parameters)).one()
        recorded = first_response is None or bool(row[0])
        return recorded, list(row[-1]) if match_keys else []

    async def get(self, case_id: UUID, *, for_update: bool = False) -> StoredCase | None:
        query = select(cases).where(cases.c.case_id == case_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).mappings().first()
        if row is None:
            return None
        loaded = await self._assemble([row])
        sealed = None
        if row["personal_data"] is not None:
            sealed = SealedPersonalData(
                row["master_key_id"], row["wrapped_data_key"], row["personal_data"]
            )
        return StoredCase(loaded[0], sealed)

    async def exists(self, case_id: UUID) -> bool:
        query = select(literal(True)).where(cases.c.case_id == case_id)
        return (await self._session.execute(query)).scalar() is not None

    async def update(self, case: Case) -> None:
        await self._session.execute(
            update(cases).where(cases.c.case_id == case.case_id).values(**_case_state(case))
        )

    async def set_ownership(self, case_id: UUID, ownership: Ownership) -> None:
        await self._session.execute(
            update(cases)
            .where(cases.c.case_id == case_id)
            .values(
                owner_id=ownership.owner_id,
                owner_team=ownership.team,
                owner_agency=ownership.agency,
                owner_country=ownership.country,
                shared_with=list(ownership.shared_with),
            )
        )

    async def store_personal_data(self, case_id: UUID, sealed: SealedPersonalData) -> None:
        await self._session.execute(
            update(cases)
            .where(cases.c.case_id == case_id)
            .values(
                master_key_id=sealed.master_key_id,
                wrapped_data_key=sealed.wrapped_data_key,
                personal_data=sealed.ciphertext,
            )
        )

    async def shred_personal_data(self, case_id: UUID) -> None:
        """Crypto-shredding: the data key and the ciphertext go; the row stays a tombstone."""
        await self._session.execute(
            update(cases)
            .where(cases.c.case_id == case_id)
            .values(master_key_id=None, wrapped_data_key=None, personal_data=None)
        )
        await self._session.execute(
            delete(case_match_keys).where(case_match_keys.c.case_id == case_id)
        )

    async def add_needs(
        self, case_id: UUID, needs: Sequence[NeedEntry], *, added_by: str, first: int
    ) -> None:
        if not needs:
            return
        await self._session.execute(insert(case_needs), _need_rows(case_id, needs, added_by, first))

    async def replace_consent(self, case_id: UUID, consent: ConsentRecord) -> None:
        """Supersedes the current consent (kept as history) with a new one."""
        await self._session.execute(
            update(case_consents)
            .where(case_consents.c.case_id == case_id, case_consents.c.superseded_at.is_(None))
            .values(superseded_at=consent.recorded_at)
        )
        await self._insert_consent(case_id, consent)

    async def update_consent_scopes(self, consent: ConsentRecord) -> None:
        await self._session.execute(
            update(case_consents)
            .where(case_consents.c.consent_id == consent.consent_id)
            .values(
                scopes=[s.value for s in consent.scopes],
                withdrawn_scopes=[s.value for s in consent.withdrawn_scopes],
            )
        )

    async def page(
        self, where: CaseFilter, after: PageCursor | None, limit: int
    ) -> list[StoredCase]:
        """Newest first, keyset-paginated; personal data is not loaded."""
        query = select(cases)
        conditions = []
        if where.scope is not None:
            conditions.append(_within(where.scope))
        if where.status is not None:
            conditions.append(cases.c.status == where.status.value)
        if where.vulnerability is not None:
            conditions.append(cases.c.vulnerabilities.contains([where.vulnerability.value]))
        if where.need is not None:
            conditions.append(
                cases.c.case_id.in_(
                    select(case_needs.c.case_id).where(case_needs.c.category == where.need.value)
                )
            )
        if where.registered_from is not None:
            conditions.append(cases.c.registered_at >= where.registered_from)
        if where.registered_before is not None:
            conditions.append(cases.c.registered_at < where.registered_before)
        if after is not None:
            conditions.append(
                tuple_(cases.c.registered_at, cases.c.case_id)
                < tuple_(after.registered_at, after.case_id)
            )
        query = (
            query.where(*conditions)
            .order_by(cases.c.registered_at.desc(), cases.c.case_id.desc())
            .limit(limit)
        )
        rows = list((await self._session.execute(query)).mappings())
        return [StoredCase(case, None) for case in await self._assemble(rows)]

    # --- duplicates ----------------------------------------------------------------------

    async def possible_duplicates(
        self, digests: Mapping[MatchKind, bytes], *, excluding: UUID
    ) -> list[UUID]:
        """Open, not erased cases sharing any match digest; oldest first."""
        if not digests:
            return []
        matches = or_(
            *(
                and_(case_match_keys.c.kind == kind.value, case_match_keys.c.digest == digest)
                for kind, digest in digests.items()
            )
        )
        query = (
            select(cases.c.case_id)
            .join(case_match_keys, case_match_keys.c.case_id == cases.c.case_id)
            .where(
                matches,
                cases.c.case_id != excluding,
                cases.c.status == CaseStatus.OPEN.value,
                cases.c.erased_at.is_(None),
            )
            .group_by(cases.c.case_id, cases.c.registered_at)
            .order_by(cases.c.registered_at, cases.c.case_id)
            .limit(20)
        )
        return list((await self._session.execute(query)).scalars())

    async def replace_match_keys(self, case_id: UUID, digests: Mapping[MatchKind, bytes]) -> None:
        await self._session.execute(
            delete(case_match_keys).where(case_match_keys.c.case_id == case_id)
        )
        if digests:
            await self._session.execute(insert(case_match_keys), _match_key_rows(case_id, digests))

    # --- key rotation --------------------------------------------------------------------

    async def lock_cases_wrapped_by(
        self, key_ids: Sequence[str], limit: int
    ) -> list[tuple[UUID, SealedPersonalData]]:
        """Up to `limit` cases whose data key is wrapped by one of `key_ids`, locked;
        rows another transaction holds are skipped (a later batch takes them)."""
        query = (
            select(
                cases.c.case_id,
                cases.c.master_key_id,
                cases.c.wrapped_data_key,
                cases.c.personal_data,
            )
            .where(cases.c.master_key_id.in_(key_ids))
            .order_by(cases.c.case_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [
            (
                row.case_id,
                SealedPersonalData(row.master_key_id, row.wrapped_data_key, row.personal_data),
            )
            for row in await self._session.execute(query)
        ]

    async def count_by_master_key(self) -> dict[str, int]:
        query = (
            select(cases.c.master_key_id, func.count())
            .where(cases.c.master_key_id.is_not(None))
            .group_by(cases.c.master_key_id)
        )
        return {row[0]: int(row[1]) for row in await self._session.execute(query)}

    # --- loading -------------------------------------------------------------------------

    async def _assemble(self, rows: Sequence[RowMapping]) -> list[Case]:
        ids = [row["case_id"] for row in rows]
        if not ids:
            return []
        needs: dict[UUID, list[NeedEntry]] = {case_id: [] for case_id in ids}
        need_rows = await self._session.execute(
            select(case_needs)
            .where(case_needs.c.case_id.in_(ids))
            .order_by(case_needs.c.case_id, case_needs.c.position)
        )
        for need in need_rows.mappings():
            needs[need["case_id"]].append(
                NeedEntry(
                    need_id=need["need_id"],
                    category=NeedCategory(need["category"]),
                    urgency=Urgency(need["urgency"]),
                    assistance_country=need["assistance_country"],
                    added_at=need["added_at"],
                )
            )
        consent_rows = await self._session.execute(
            select(case_consents).where(
                case_consents.c.case_id.in_(ids), case_consents.c.superseded_at.is_(None)
            )
        )
        consents = {row["case_id"]: _consent(row) for row in consent_rows.mappings()}
        return [_case(row, needs[row["case_id"]], consents.get(row["case_id"])) for row in rows]

    async def _insert_consent(self, case_id: UUID, consent: ConsentRecord) -> None:
        await self._session.execute(insert(case_consents).values(_consent_row(case_id, consent)))


def _need_rows(
    case_id: UUID, needs: Sequence[NeedEntry], added_by: str, first: int
) -> list[dict[str, Any]]:
    return [
        {
            "need_id": need.need_id,
            "case_id": case_id,
            "category": need.category.value,
            "urgency": need.urgency.value,
            "assistance_country": need.assistance_country,
            "position": first + index,
            "added_at": need.added_at,
            "added_by": added_by,
        }
        for index, need in enumerate(needs)
    ]


def _consent_row(case_id: UUID, consent: ConsentRecord) -> dict[str, Any]:
    return {
        "consent_id": consent.consent_id,
        "case_id": case_id,
        "scopes": [s.value for s in consent.scopes],
        "withdrawn_scopes": [s.value for s in consent.withdrawn_scopes],
        "given_by": consent.given_by.value,
        "method": consent.method.value,
        "obtained_by": consent.obtained_by,
        "obtained_at": consent.obtained_at,
        "expires_at": consent.expires_at,
        "refused_partner_ids": list(consent.refused_partner_ids),
        "refused_partner_types": [t.value for t in consent.refused_partner_types],
        "recorded_at": consent.recorded_at,
    }


def _match_key_rows(case_id: UUID, digests: Mapping[MatchKind, bytes]) -> list[dict[str, Any]]:
    return [
        {"case_id": case_id, "kind": kind.value, "digest": digest}
        for kind, digest in digests.items()
    ]


_CASE_COLUMNS = tuple(column.name for column in cases.c)
_NEED_COLUMNS = tuple(column.name for column in case_needs.c)
_CONSENT_COLUMNS = tuple(
    column.name for column in case_consents.c if column.name != "superseded_at"
)
_MATCH_KEY_COLUMNS = ("case_id", "kind", "digest")
_FIRST_RESPONSE_COLUMNS = (
    "subject",
    "idempotency_key",
    "request_digest",
    "response_status",
    "response_body",
)


def _add_case(
    case: Case,
    sealed: SealedPersonalData,
    match_keys: Mapping[MatchKind, bytes] | None,
    first_response: KeyedResponse | None,
    outbox: OutboxInsert | None,
    *,
    duplicates: bool = False,
) -> tuple[Prebuilt, dict[str, Any]]:
    """`SqlCaseRepository.add`'s statement and its parameters (`duplicates`: it looks up
    the case's possible duplicates too)."""
    digests = match_keys or {}
    parameters: dict[str, Any] = {
        "case_id": case.case_id,
        "reference": case.reference or pending_reference(case.case_id),
        "correlation_id": case.correlation_id,
        "registered_at": case.registered_at,
        "registered_by": case.registered_by,
        "owner_id": case.ownership.owner_id,
        "owner_team": case.ownership.team,
        "owner_agency": case.ownership.agency,
        "owner_country": case.ownership.country,
        "shared_with": list(case.ownership.shared_with),
        **_case_state(case),
        "master_key_id": sealed.master_key_id,
        "wrapped_data_key": sealed.wrapped_data_key,
        "personal_data": sealed.ciphertext,
    }
    for index, row in enumerate(_need_rows(case.case_id, case.needs, case.registered_by, 0)):
        parameters.update({f"need{index}_{name}": value for name, value in row.items()})
    if case.consent is not None:
        consent = _consent_row(case.case_id, case.consent)
        parameters.update({f"consent_{name}": value for name, value in consent.items()})
    for index, row in enumerate(_match_key_rows(case.case_id, digests)):
        parameters.update({f"match{index}_{name}": value for name, value in row.items()})
    if first_response is not None:
        parameters.update(
            first_subject=first_response.subject,
            first_idempotency_key=first_response.key,
            first_request_digest=first_response.request_digest,
            first_response_status=first_response.status,
            first_response_body=json.dumps(first_response.body, separators=(",", ":")),
        )
    if outbox is not None:
        parameters.update(outbox.parameters)
    statement = _add_case_statement(
        len(case.needs),
        case.consent is not None,
        len(digests),
        first_response is not None,
        outbox.sql(only_if=_RECORDED if first_response is not None else None)
        if outbox is not None
        else None,
        duplicates and bool(digests),
    )
    return statement, parameters


# Whether the request's idempotency record was inserted (its key was free): every other
# insert of a keyed registration is made only then.
_RECORDED = "EXISTS (SELECT 1 FROM first_response)"


@functools.cache
def _add_case_statement(
    needs: int,
    consent: bool,
    match_keys: int,
    keyed: bool,
    outbox: str | None = None,
    duplicates: bool = False,
) -> Prebuilt:
    """`SqlCaseRepository.add`'s statement for a case of this shape (built once per shape),
    with `outbox` (an outbox insert's text) as one more CTE when given.

    `duplicates` (with match keys): the statement also looks up the case's possible
    duplicates (`SqlCaseRepository.possible_duplicates`, in the statement's snapshot, so
    without the case itself), writes them into the idempotency record's body and returns
    them, as its last column.

    Keyed, the idempotency record is inserted first (ON CONFLICT DO NOTHING), every other
    row only if it was (`_RECORDED`: a taken key writes nothing), and the statement returns
    how many records it inserted (0: the key was taken)."""
    only_if = _RECORDED if keyed else None

    def insert(table: str, columns: tuple[str, ...], prefix: str = "") -> str:
        if only_if is None:
            return insert_values(table, columns, prefix)
        return insert_select(table, columns, prefix, only_if=only_if)

    children = []
    if duplicates:
        children.append(f"duplicates AS ({_duplicates_sql(match_keys)})")
    if keyed:
        record = insert_values("idempotency_keys", _FIRST_RESPONSE_COLUMNS, "first_")
        if duplicates:
            record = record.replace(
                ":first_response_body",
                "jsonb_set(CAST(:first_response_body AS jsonb), '{possible_duplicates}', "
                "(SELECT coalesce(jsonb_agg(case_id ORDER BY registered_at, case_id), "
                "'[]'::jsonb) FROM duplicates))",
            )
        children.append(f"first_response AS ({record} ON CONFLICT DO NOTHING RETURNING 1)")
    children += [
        f"added_need_{index} AS ({insert('case_needs', _NEED_COLUMNS, f'need{index}_')})"
        for index in range(needs)
    ]
    if consent:
        children.append(
            f"added_consent AS ({insert('case_consents', _CONSENT_COLUMNS, 'consent_')})"
        )
    children += [
        f"added_match_key_{index} AS ("
        f"{insert('case_match_keys', _MATCH_KEY_COLUMNS, f'match{index}_')})"
        for index in range(match_keys)
    ]
    if outbox is not None:
        # Its own WITH (the per-key locks) nests in this one.
        children.append(f"added_events AS ({outbox})")
    insert_case = insert("cases", _CASE_COLUMNS)
    found = (
        ", ARRAY(SELECT case_id FROM duplicates ORDER BY registered_at, case_id)"
        if duplicates
        else ""
    )
    if keyed:
        # The case's insert is a CTE too, and the statement answers whether the key was free
        # (every data-modifying CTE runs to completion, read or not).
        children.append(f"added_case AS ({insert_case})")
        main = f"SELECT (SELECT count(*) FROM first_response){found}"  # noqa: S608 - no input
    else:
        # One row either way: `add_in_one_statement` reads it.
        main = f"{insert_case} RETURNING {found[2:] if duplicates else 'true'}"
    with_children = f"WITH {', '.join(children)} " if children else ""
    return Prebuilt(f"{with_children}{main}")


def _duplicates_sql(match_keys: int) -> str:
    """`SqlCaseRepository.possible_duplicates` for the statement's own match keys."""
    matches = " OR ".join(
        f"(m.kind = :match{index}_kind AND m.digest = :match{index}_digest)"
        for index in range(match_keys)
    )
    return (
        "SELECT c.case_id, c.registered_at FROM cases c "  # noqa: S608 - names and a code, no input
        "JOIN case_match_keys m ON m.case_id = c.case_id "
        f"WHERE ({matches}) AND c.case_id <> :case_id "
        f"AND c.status = '{CaseStatus.OPEN.value}' AND c.erased_at IS NULL "
        "GROUP BY c.case_id, c.registered_at ORDER BY c.registered_at, c.case_id LIMIT 20"
    )


def _within(where: ScopeFilter) -> ColumnElement[bool]:
    """SQL for domain.ownership.within: one's own cases, or those of the scope's unit."""
    viewer, scope = where.viewer, where.scope
    if scope is CaseScope.ALL:
        return true()
    unit = {
        CaseScope.TEAM: (cases.c.owner_team, viewer.team),
        CaseScope.AGENCY: (cases.c.owner_agency, viewer.agency),
        CaseScope.COUNTRY: (cases.c.owner_country, viewer.country),
    }.get(scope)
    own = or_(
        cases.c.owner_id == viewer.actor_id, literal(viewer.actor_id) == any_(cases.c.shared_with)
    )
    if unit is None or unit[1] is None:
        return own
    column, value = unit
    return or_(own, column == value)


def _case_state(case: Case) -> dict[str, Any]:
    """The columns that change over a case's life."""
    profile = case.profile
    return {
        "status": case.status.value,
        "age_band": profile.age_band.value,
        "sex": profile.sex.value,
        "nationality": profile.nationality,
        "languages": list(profile.languages),
        "country": profile.location.country,
        "admin_area": profile.location.admin_area,
        "vulnerabilities": [v.value for v in profile.vulnerabilities],
        "do_not_contact": case.safety.do_not_contact,
        "safe_contact_method": case.safety.safe_contact_method.value,
        "safe_times": [t.value for t in case.safety.safe_times],
        "voicemail_allowed": case.safety.voicemail_allowed,
        "updated_at": case.updated_at,
        "closed_at": case.closed_at,
        "closure_reason": case.closure_reason.value if case.closure_reason else None,
        "erased_at": case.erased_at,
        "erasure_basis": case.erasure_basis.value if case.erasure_basis else None,
        "risk_level": case.risk_level.value if case.risk_level else None,
    }


def _case(row: RowMapping, needs: list[NeedEntry], consent: ConsentRecord | None) -> Case:
    return Case(
        case_id=row["case_id"],
        reference=row["reference"],
        status=CaseStatus(row["status"]),
        correlation_id=row["correlation_id"],
        profile=routing_profile(
            band=row["age_band"],
            sex=row["sex"],
            nationality=row["nationality"],
            languages=tuple(row["languages"]),
            country=row["country"],
            admin_area=row["admin_area"],
            vulnerabilities=tuple(Vulnerability(v) for v in row["vulnerabilities"]),
        ),
        safety=SafetyFlags(
            do_not_contact=row["do_not_contact"],
            safe_contact_method=SafeContactMethod(row["safe_contact_method"]),
            safe_times=tuple(SafeContactTime(t) for t in row["safe_times"]),
            voicemail_allowed=row["voicemail_allowed"],
        ),
        needs=needs,
        consent=consent,
        registered_at=row["registered_at"],
        registered_by=row["registered_by"],
        updated_at=row["updated_at"],
        ownership=Ownership(
            owner_id=row["owner_id"],
            team=row["owner_team"],
            agency=row["owner_agency"],
            country=row["owner_country"],
            shared_with=tuple(row["shared_with"]),
        ),
        closed_at=row["closed_at"],
        closure_reason=CaseClosureReason(row["closure_reason"]) if row["closure_reason"] else None,
        erased_at=row["erased_at"],
        erasure_basis=ErasureBasis(row["erasure_basis"]) if row["erasure_basis"] else None,
        risk_level=RiskLevel(row["risk_level"]) if row["risk_level"] else None,
    )


def _consent(row: RowMapping) -> ConsentRecord:
    return ConsentRecord(
        consent_id=row["consent_id"],
        scopes=tuple(ConsentScope(s) for s in row["scopes"]),
        withdrawn_scopes=tuple(ConsentScope(s) for s in row["withdrawn_scopes"]),
        given_by=ConsentGivenBy(row["given_by"]),
        method=ConsentMethod(row["method"]),
        obtained_by=row["obtained_by"],
        obtained_at=row["obtained_at"],
        expires_at=row["expires_at"],
        refused_partner_ids=tuple(row["refused_partner_ids"]),
        refused_partner_types=tuple(PartnerType(t) for t in row["refused_partner_types"]),
        recorded_at=row["recorded_at"],
    )
