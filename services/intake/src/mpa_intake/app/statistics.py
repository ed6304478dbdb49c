"""The statistics export without identities (issue 17): case, referral and identification
figures in the CTDC's variables and age bands, k-anonymous (see domain.statistics), only
for cases whose consent in force covers statistical reporting and whose personal data was
not erased, within the viewer's read scope.

Who may download it: supervisors (their read scope: their country office by default) and
auditors (oversight and donors: every case). It holds no personal data — no id, name,
date or free text — so it is not an announced read of personal data; no other role may
download it. Each download is announced all the same, as
`org.mpa.report.statistics_exported.v1` (who, when, the scope and filters, how many cells
and cases, how many suppressed), written in the transaction that read the figures, so the
audit log records every set of figures that left the platform.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from pydantic import Field

from mpa_contracts.events.report import StatisticsExportedV1
from mpa_contracts.vocabularies import (
    ActorRole,
    CaseScope,
    ConsentScope,
    ReferralState,
    StatisticsReport,
)
from mpa_intake.app.context import Actor, IntakeContext
from mpa_intake.app.ports import CaseFilter, PageCursor, ScopeFilter
from mpa_intake.app.views import View
from mpa_intake.domain.case import Case
from mpa_intake.domain.casework import ReferralProgress
from mpa_intake.domain.errors import AccessDenied
from mpa_intake.domain.identification import Identification
from mpa_intake.domain.statistics import (
    K_ANONYMITY,
    AnonymisedStatistics,
    Cell,
    StatisticsRecord,
    anonymise,
)

STATISTICS_ROLES = frozenset({ActorRole.SUPERVISOR, ActorRole.AUDITOR})
PAGE = 500


class StatisticsCell(View):
    """One combination of quasi-identifiers shared by `victims` ≥ k people (`*`: withheld)."""

    yearOfRegistration: str
    gender: str
    ageBroad: str
    majorityStatus: str
    citizenship: str
    countryOfAssistance: str
    victims: int = Field(description="People (cases) in the cell; never fewer than k")
    generalisation: int = Field(
        description="0: as recorded; 1: citizenship withheld; 2: and age band (majority "
        "status kept); 3: and gender; 4: and year"
    )
    identificationStatus: dict[str, int]
    exploitation: dict[str, int] = Field(description="isForcedLabour, isSexualExploit, ...")
    meansOfControl: dict[str, int]
    referrals: int
    referralsCompleted: int

    @classmethod
    def of(cls, cell: Cell) -> StatisticsCell:
        return cls(
            **vars(cell.key),
            victims=cell.victims,
            generalisation=cell.generalisation,
            identificationStatus=dict(cell.identification),
            exploitation=dict(cell.exploitation),
            meansOfControl=dict(cell.means_of_control),
            referrals=cell.referrals,
            referralsCompleted=cell.referrals_completed,
        )


class StatisticsExport(View):
    export_id: UUID = Field(
        description="This download, as the audit log records it (statistics_exported)"
    )
    k: int = Field(description="Every cell counts at least k people")
    generated_at: datetime
    method: str
    cases_included: int
    cases_generalised: int = Field(description="Published with at least one value withheld")
    cases_suppressed: int = Field(description="Left out: their group stayed smaller than k")
    cells: list[StatisticsCell]

    @classmethod
    def of(cls, figures: AnonymisedStatistics, now: datetime, export_id: UUID) -> StatisticsExport:
        return cls(
            export_id=export_id,
            k=figures.k,
            generated_at=now,
            method="k-anonymity by local generalisation (citizenship, then age band to "
            "majority status, then gender, then year) and suppression of the rest",
            cases_included=figures.included,
            cases_generalised=figures.generalised,
            cases_suppressed=figures.suppressed,
            cells=[StatisticsCell.of(cell) for cell in figures.cells],
        )


async def ctdc_export(
    ctx: IntakeContext,
    actor: Actor,
    registered_from: datetime | None,
    registered_before: datetime | None,
) -> StatisticsExport:
    if actor.role not in STATISTICS_ROLES:
        raise AccessDenied("only supervisors and auditors download statistics")
    scope = ctx.scopes.read_scope(actor.role)
    where = CaseFilter(
        scope=None if scope is CaseScope.ALL else ScopeFilter(scope, actor.viewer),
        registered_from=registered_from,
        registered_before=registered_before,
    )
    now = ctx.clock()
    cases: list[Case] = []
    async with ctx.unit_of_work() as uow:
        cursor: PageCursor | None = None
        while len(cases) < ctx.casework.report_case_limit:
            page = await uow.cases.page(where, cursor, PAGE)
            cases.extend(s.case for s in page if not s.case.is_erased and _reportable(s.case, now))
            if len(page) < PAGE:
                break
            last = page[-1].case
            cursor = PageCursor(registered_at=last.registered_at, case_id=last.case_id)
        ids = [case.case_id for case in cases]
        identifications = {i.case_id: i for i in await uow.casework.of_cases(Identification, ids)}
        referrals = await uow.casework.of_cases(ReferralProgress, ids)
        referred: dict[object, list[ReferralProgress]] = {}
        for referral in referrals:
            referred.setdefault(referral.case_id, []).append(referral)
        records = [
            _record(case, identifications.get(case.case_id), referred.get(case.case_id, []))
            for case in cases
        ]
        figures = anonymise(records, K_ANONYMITY)
        exported = _exported(actor, scope, registered_from, registered_before, figures, now)
        uow.emit(exported, subject=f"report/{exported.export_id}")
        # Committed before the figures are answered, as an announced read is.
        await uow.commit()
    return StatisticsExport.of(figures, now, exported.export_id)


def _exported(
    actor: Actor,
    scope: CaseScope,
    registered_from: datetime | None,
    registered_before: datetime | None,
    figures: AnonymisedStatistics,
    now: datetime,
) -> StatisticsExportedV1:
    viewer = actor.viewer
    return StatisticsExportedV1(
        actor_id=actor.actor_id,
        actor_role=actor.role,
        export_id=uuid4(),
        report=StatisticsReport.CTDC,
        generated_at=now,
        scope=scope,
        # The unit the scope stopped at (own: the actor alone, already named).
        scope_team=viewer.team if scope is CaseScope.TEAM else None,
        scope_agency=viewer.agency if scope is CaseScope.AGENCY else None,
        scope_country=viewer.country if scope is CaseScope.COUNTRY else None,
        registered_from=registered_from,
        registered_before=registered_before,
        k=figures.k,
        rows=len(figures.cells),
        cases_included=figures.included,
        cases_generalised=figures.generalised,
        cases_suppressed=figures.suppressed,
    )


def _reportable(case: Case, now: datetime) -> bool:
    return case.consent is not None and case.consent.in_force(
        ConsentScope.STATISTICAL_REPORTING, now
    )


def _record(
    case: Case, identification: Identification | None, referrals: list[ReferralProgress]
) -> StatisticsRecord:
    profile = case.profile
    return StatisticsRecord(
        year=case.registered_at.year,
        gender=profile.sex,
        age_band=profile.age_band,
        citizenship=profile.nationality,
        country=profile.location.country,
        identification=identification.status if identification else None,
        exploitation_types=frozenset(identification.exploitation_types if identification else ()),
        means_of_control=frozenset(identification.means_of_control if identification else ()),
        referrals=len(referrals),
        referrals_completed=sum(r.referral_state is ReferralState.COMPLETED for r in referrals),
    )
