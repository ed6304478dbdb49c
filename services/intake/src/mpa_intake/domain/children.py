"""A child's protection steps as records of the case (issue 17): who consented and the
child's own assent and views, the guardian's appointment, the best-interests assessment and
the best-interests panel's determination, approved by a supervisor.

Who the guardian is, and what the child said, are personal data: they are kept as notes
sealed into the case's encrypted record (never in these records or in events). Notices about
a child go to the caseworker who owns the case and the supervisors, never to the child's own
contact: no event of these steps names a contact at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from mpa_contracts.vocabularies import (
    ApprovalState,
    ApprovalSubject,
    BestInterestsOption,
    ChildAssent,
    ConsentGivenBy,
    GuardianAppointingAuthority,
    ProtectionConcern,
    is_child,
)
from mpa_intake.domain.case import Case
from mpa_intake.domain.casework import Approval, CaseworkRecord
from mpa_intake.domain.errors import AccessDenied, CaseConflict


def ensure_child(case: Case) -> None:
    if not is_child(case.profile.age_band):
        raise CaseConflict("this step is for a child, and the person is 18 or older")


class AssentRecord(CaseworkRecord):
    """Who consented for the child (the child itself: `self`), and the child's own assent."""

    kind: ClassVar[str] = "child_assent"

    consent_given_by: ConsentGivenBy
    assent: ChildAssent
    views_recorded: bool
    recorded_by: str


class GuardianAppointment(CaseworkRecord):
    kind: ClassVar[str] = "guardian_appointment"

    appointed_at: datetime
    appointing_authority: GuardianAppointingAuthority
    recorded_by: str


class BestInterestsAssessment(CaseworkRecord):
    """Date, assessor, risks and recommendation (the findings are a sealed note)."""

    kind: ClassVar[str] = "best_interests_assessment"

    assessed_at: datetime
    assessor_id: str
    risks: tuple[ProtectionConcern, ...] = ()
    recommendation: BestInterestsOption


class BestInterestsDetermination(CaseworkRecord):
    """A best-interests panel's determination, recorded with a supervisor's approval."""

    kind: ClassVar[str] = "best_interests_determination"

    determined_at: datetime
    panel_size: int
    decision: BestInterestsOption
    assessment_id: UUID
    approval_id: UUID
    approved_by: str
    recorded_by: str


def use_determination_approval(approval: Approval, now: datetime) -> str:
    """Spends an approved best-interests approval on one determination; returns who
    approved it."""
    if approval.subject is not ApprovalSubject.BEST_INTERESTS_DETERMINATION:
        raise CaseConflict("this approval is not for a best-interests determination")
    if approval.decided_by is None or approval.status is not ApprovalState.APPROVED:
        raise CaseConflict(
            f"the determination was not approved (the request is {approval.status.value})"
        )
    if approval.used_at is not None:
        raise CaseConflict("this approval recorded a determination once already")
    approval.used_at = now
    return approval.decided_by


def ensure_not_self_recorded(approval: Approval, actor_id: str) -> None:
    """Whoever approved a determination does not also record it (four eyes)."""
    if approval.decided_by == actor_id:
        raise AccessDenied("the supervisor who approved a determination does not record it")
