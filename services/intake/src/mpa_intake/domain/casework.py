"""The work on a case between registration and closure, as records that check their own
transitions: transfers of responsibility, assessments, the case plan's interventions,
follow-ups, supervisors' approvals, and what intake learns of the case's referrals.

Every record belongs to one case and carries only ids, codes and dates; its free text (an
assessment's findings, an approval's comment, ...) is kept with the case's personal data,
encrypted, under the record's id (`PersonalData.casework_notes`), and erased with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import ClassVar, Self, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from mpa_contracts.vocabularies import (
    ActorRole,
    ApprovalState,
    ApprovalSubject,
    CaseClosureReason,
    CaseScope,
    FollowUpOutcome,
    FollowUpType,
    InterventionStatus,
    ProtectionConcern,
    ReferralState,
    RiskLevel,
    TransferInitiator,
    TransferState,
)
from mpa_intake.domain.errors import AccessDenied, CaseConflict
from mpa_intake.domain.ownership import Ownership, Viewer, within

# A referral in one of these states will not change any more: the case may close.
FINISHED_REFERRAL_STATES = frozenset(
    {
        ReferralState.COMPLETED,
        ReferralState.FAILED,
        ReferralState.CANCELLED,
        ReferralState.UNROUTABLE,
    }
)
# The state of a transfer or an approval that awaits a decision.
REQUESTED = "requested"
# Outcomes of a follow-up in which someone actually spoke with the person.
CONTACT_OUTCOMES = frozenset({FollowUpOutcome.REACHED, FollowUpOutcome.NEEDS_ESCALATION})


class CaseworkRecord(BaseModel):
    """Base of every casework record: one case's, identified by `record_id`."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    kind: ClassVar[str]

    record_id: UUID
    case_id: UUID
    created_at: datetime

    @property
    def state(self) -> str:
        """What the record's state column says (for queries); records without one: kind."""
        return self.kind


R = TypeVar("R", bound=CaseworkRecord)


class Transfer(CaseworkRecord):
    """A transfer of responsibility: requested → accepted | rejected | revoked."""

    kind: ClassVar[str] = "transfer"

    initiator: TransferInitiator
    status: TransferState = TransferState.REQUESTED
    requested_by: str
    source: Ownership
    to_owner_id: str | None
    to_team: str | None
    to_agency: str | None
    to_country: str
    sender_keeps_access: bool
    decided_by: str | None = None
    decided_at: datetime | None = None

    @property
    def state(self) -> str:
        return self.status.value

    def ensure_pending(self) -> None:
        if self.status is not TransferState.REQUESTED:
            raise CaseConflict(f"the transfer is {self.status.value} already")

    def is_receiver(self, viewer: Viewer, role: ActorRole) -> bool:
        """Whether `viewer` stands for the receiving side."""
        if self.to_owner_id is not None and viewer.actor_id == self.to_owner_id:
            return True
        if self.to_team is not None:
            same_team = viewer.team == self.to_team and viewer.country == self.to_country
            # A named receiver is decided for by them or their team's supervisor.
            return same_team and (self.to_owner_id is None or role is ActorRole.SUPERVISOR)
        if self.to_agency is not None and viewer.agency != self.to_agency:
            return False
        return self.to_owner_id is None and viewer.country == self.to_country

    def awaits(
        self, viewer: Viewer, role: ActorRole, write_scope: CaseScope, ownership: Ownership
    ) -> bool:
        """Whether `viewer` is on the side that decides (accepts or rejects) it: the
        receiving side when the owner handed the case over, the owning side (within its
        `write_scope` of the case, owned so now) when the receiver asked for it."""
        if self.initiator is TransferInitiator.SENDER:
            return self.is_receiver(viewer, role)
        return viewer.actor_id != self.requested_by and within(write_scope, ownership, viewer)

    def new_owner(self, acceptor: Viewer) -> Ownership:
        owner_id = self.to_owner_id or acceptor.actor_id
        return Ownership(
            owner_id=owner_id,
            team=self.to_team,
            agency=self.to_agency,
            country=self.to_country,
        )

    def accept(self, actor_id: str, now: datetime) -> None:
        self.ensure_pending()
        self.status, self.decided_by, self.decided_at = TransferState.ACCEPTED, actor_id, now

    def reject(self, actor_id: str, now: datetime) -> None:
        self.ensure_pending()
        self.status, self.decided_by, self.decided_at = TransferState.REJECTED, actor_id, now

    def revoke(self, actor_id: str, now: datetime) -> None:
        self.ensure_pending()
        self.status, self.decided_by, self.decided_at = TransferState.REVOKED, actor_id, now


class Assessment(CaseworkRecord):
    """Dated, by whom, a risk level and the protection concerns found."""

    kind: ClassVar[str] = "assessment"

    assessed_at: datetime
    assessed_by: str
    risk_level: RiskLevel
    protection_concerns: tuple[ProtectionConcern, ...] = ()

    @property
    def order(self) -> tuple[datetime, datetime]:
        return (self.assessed_at, self.created_at)


def latest_assessment(assessments: Iterable[Assessment]) -> Assessment | None:
    """The most recent assessment (by its date, then by when it was recorded)."""
    return max(assessments, key=lambda a: a.order, default=None)


class Intervention(CaseworkRecord):
    """One step of the case plan: for a need, possibly through a referral."""

    kind: ClassVar[str] = "intervention"

    need_id: UUID | None
    referral_id: UUID | None
    responsible_id: str
    target_at: datetime
    status: InterventionStatus = InterventionStatus.PLANNED
    created_by: str
    updated_at: datetime

    @property
    def state(self) -> str:
        return self.status.value

    def change(
        self,
        *,
        status: InterventionStatus | None,
        responsible_id: str | None,
        target_at: datetime | None,
        now: datetime,
    ) -> None:
        if self.status in (InterventionStatus.DONE, InterventionStatus.CANCELLED) and (
            status is None or status is self.status
        ):
            raise CaseConflict(f"the intervention is {self.status.value}")
        if status is not None:
            self.status = status
        if responsible_id is not None:
            self.responsible_id = responsible_id
        if target_at is not None:
            self.target_at = target_at
        self.updated_at = now


class FollowUp(CaseworkRecord):
    """A planned contact with the person; overdue when not done by `due_at`."""

    kind: ClassVar[str] = "follow_up"

    follow_up_type: FollowUpType
    due_at: datetime
    scheduled_by: str
    done_at: datetime | None = None
    done_by: str | None = None
    outcome: FollowUpOutcome | None = None
    overdue_at: datetime | None = None  # when its timer found it not done

    @property
    def state(self) -> str:
        if self.done_at is not None:
            return "done"
        return "overdue" if self.overdue_at is not None else "scheduled"

    @property
    def was_overdue(self) -> bool:
        return self.done_at is not None and self.done_at > self.due_at

    def mark_done(
        self, actor_id: str, done_at: datetime, outcome: FollowUpOutcome, now: datetime
    ) -> None:
        if self.done_at is not None:
            raise CaseConflict("the follow-up is done already")
        if done_at > now:
            raise CaseConflict("a follow-up cannot be done in the future")
        self.done_at, self.done_by, self.outcome = done_at, actor_id, outcome

    def fall_overdue(self, now: datetime) -> bool:
        """Marks it overdue; False when it was done or already marked (nothing to tell)."""
        if self.done_at is not None or self.overdue_at is not None:
            return False
        self.overdue_at = now
        return True


class Approval(CaseworkRecord):
    """A request for a supervisor's approval: requested → approved | rejected."""

    kind: ClassVar[str] = "approval"

    subject: ApprovalSubject
    status: ApprovalState = ApprovalState.REQUESTED
    requested_by: str
    closure_reason: CaseClosureReason | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    used_at: datetime | None = None  # a closure approval closes the case once

    @property
    def state(self) -> str:
        return self.status.value

    def decide(self, actor_id: str, role: ActorRole, approve: bool, now: datetime) -> None:
        if role is not ActorRole.SUPERVISOR:
            raise AccessDenied("only a supervisor decides approvals")
        if actor_id == self.requested_by:
            raise AccessDenied("nobody approves their own request")
        if self.status is not ApprovalState.REQUESTED:
            raise CaseConflict(f"the request is {self.status.value} already")
        self.status = ApprovalState.APPROVED if approve else ApprovalState.REJECTED
        self.decided_by, self.decided_at = actor_id, now

    def use_for_closure(self, now: datetime) -> None:
        if self.subject is not ApprovalSubject.CLOSURE:
            raise CaseConflict("this approval is not for the closure")
        if self.status is not ApprovalState.APPROVED:
            raise CaseConflict(f"the closure was not approved (it is {self.status.value})")
        if self.used_at is not None:
            raise CaseConflict("this approval closed the case once already")
        self.used_at = now


class ReferralProgress(CaseworkRecord):
    """What intake knows of one referral of the case, from the referral service's events
    (`record_id` is the referral id)."""

    kind: ClassVar[str] = "referral"

    need_id: UUID
    referral_state: ReferralState
    accepted_at: datetime | None = None  # first acceptance by a partner
    started_at: datetime | None = None  # first service started
    completed_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime

    @property
    def state(self) -> str:
        return self.referral_state.value

    @property
    def is_finished(self) -> bool:
        return self.referral_state in FINISHED_REFERRAL_STATES

    def moved_to(self, state: ReferralState, at: datetime) -> Self:
        """The progress after an event that leaves the referral in `state` at `at`."""
        update: dict[str, object] = {"referral_state": state, "updated_at": at}
        if state is ReferralState.ACCEPTED and self.accepted_at is None:
            update["accepted_at"] = at
        if state is ReferralState.IN_PROGRESS and self.started_at is None:
            update["started_at"] = at
        if state is ReferralState.COMPLETED:
            update["completed_at"] = at
        if state in FINISHED_REFERRAL_STATES:
            update["finished_at"] = at
        else:
            update["finished_at"] = None
        return self.model_copy(update=update)


RECORD_KINDS: dict[str, type[CaseworkRecord]] = {
    cls.kind: cls
    for cls in (Transfer, Assessment, Intervention, FollowUp, Approval, ReferralProgress)
}
