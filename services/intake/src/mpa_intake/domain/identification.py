"""The identification of a victim of trafficking and the recovery and reflection period, as
records of a case that check their own transitions (issue 17).

Identification is separate from any referral's status, and assistance never waits for it:
potential (indicators noted) → presumed (a reasonable-grounds decision) → identified | not
identified (the conclusive decision), which may be appealed; an appeal upheld leaves the
decision, one overturned gives the other conclusion.

The recovery and reflection period runs from the reasonable-grounds decision for at least
30 days (Council of Europe Convention on Action against Trafficking, art. 13), or longer
where the country gives more; it may be extended, never shortened. Its `non_removal` flag
says whether removal from the country is suspended meanwhile. Nothing in either record
asks whether the person cooperates with the authorities: the Convention makes assistance
unconditional on it (art. 12(6)), and so does routing, which never sees these records.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import ClassVar, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from mpa_contracts.vocabularies import (
    MINIMUM_REFLECTION_DAYS,
    AppealOutcome,
    DecidingOrganisationType,
    ExploitationType,
    IdentificationBasis,
    IdentificationStatus,
    MeansOfControl,
    ReflectionExtensionReason,
)
from mpa_intake.domain.casework import CaseworkRecord
from mpa_intake.domain.errors import CaseConflict, FieldError, InvalidCase

T = TypeVar("T")
CONCLUSIONS = frozenset({IdentificationStatus.IDENTIFIED, IdentificationStatus.NOT_IDENTIFIED})
_OTHER_CONCLUSION = {
    IdentificationStatus.IDENTIFIED: IdentificationStatus.NOT_IDENTIFIED,
    IdentificationStatus.NOT_IDENTIFIED: IdentificationStatus.IDENTIFIED,
}


class Identification(CaseworkRecord):
    """A case's trafficking identification (one per case)."""

    kind: ClassVar[str] = "identification"

    status: IdentificationStatus = IdentificationStatus.POTENTIAL
    noted_by: str
    exploitation_types: tuple[ExploitationType, ...] = ()
    means_of_control: tuple[MeansOfControl, ...] = ()
    reasonable_grounds_at: datetime | None = None
    reasonable_grounds_by: DecidingOrganisationType | None = None
    basis: IdentificationBasis | None = None
    conclusive_at: datetime | None = None
    conclusive_by: DecidingOrganisationType | None = None
    appeal_lodged_at: datetime | None = None
    appeal_decided_at: datetime | None = None
    appeal_outcome: AppealOutcome | None = None
    updated_at: datetime

    @property
    def state(self) -> str:
        return self.status.value

    @property
    def appeal_pending(self) -> bool:
        return self.appeal_lodged_at is not None and self.appeal_decided_at is None

    def presume(
        self,
        *,
        decided_at: datetime,
        by: DecidingOrganisationType,
        basis: IdentificationBasis,
        exploitation_types: tuple[ExploitationType, ...],
        means_of_control: tuple[MeansOfControl, ...],
        now: datetime,
    ) -> None:
        """The reasonable-grounds decision: potential → presumed."""
        if self.status is not IdentificationStatus.POTENTIAL:
            raise CaseConflict(f"the identification is {self.status.value} already")
        self.status = IdentificationStatus.PRESUMED
        self.reasonable_grounds_at, self.reasonable_grounds_by, self.basis = decided_at, by, basis
        # Indicators found later add to those noted before.
        self.exploitation_types = _union(self.exploitation_types, exploitation_types)
        self.means_of_control = _union(self.means_of_control, means_of_control)
        self.updated_at = now

    def conclude(
        self,
        outcome: IdentificationStatus,
        *,
        decided_at: datetime,
        by: DecidingOrganisationType,
        now: datetime,
    ) -> None:
        """The conclusive decision: presumed → identified | not identified."""
        if outcome not in CONCLUSIONS:
            raise InvalidCase([FieldError("body.outcome", "is identified or not_identified")])
        if self.status is not IdentificationStatus.PRESUMED:
            raise CaseConflict(
                "a conclusive decision follows a reasonable-grounds decision "
                f"(the identification is {self.status.value})"
            )
        assert self.reasonable_grounds_at is not None
        if decided_at < self.reasonable_grounds_at:
            raise InvalidCase(
                [FieldError("body.decided_at", "must not precede the reasonable-grounds decision")]
            )
        self.status, self.conclusive_at, self.conclusive_by = outcome, decided_at, by
        self.updated_at = now

    def appeal(self, lodged_at: datetime, now: datetime) -> None:
        if self.status not in CONCLUSIONS:
            raise CaseConflict("only a conclusive decision can be appealed")
        if self.appeal_lodged_at is not None:
            raise CaseConflict("the decision was appealed already")
        assert self.conclusive_at is not None
        if lodged_at < self.conclusive_at:
            raise InvalidCase(
                [FieldError("body.lodged_at", "must not precede the conclusive decision")]
            )
        self.appeal_lodged_at, self.updated_at = lodged_at, now

    def decide_appeal(self, outcome: AppealOutcome, decided_at: datetime, now: datetime) -> None:
        if not self.appeal_pending:
            raise CaseConflict("no appeal awaits a decision")
        assert self.appeal_lodged_at is not None
        if decided_at < self.appeal_lodged_at:
            raise InvalidCase([FieldError("body.decided_at", "must not precede the appeal")])
        self.appeal_decided_at, self.appeal_outcome = decided_at, outcome
        if outcome is AppealOutcome.OVERTURNED:
            self.status = _OTHER_CONCLUSION[self.status]
        self.updated_at = now


class ReflectionPolicy(BaseModel):
    """How long recovery and reflection periods last (configured per country; never under
    the Convention's 30 days) and how long before its end the owner is reminded."""

    model_config = ConfigDict(frozen=True)

    days_by_country: Mapping[str, int] = {}
    default_days: int = MINIMUM_REFLECTION_DAYS
    reminder_days: int = 7

    def model_post_init(self, __context: object) -> None:
        short = {c: d for c, d in self.days_by_country.items() if d < MINIMUM_REFLECTION_DAYS}
        if self.default_days < MINIMUM_REFLECTION_DAYS or short:
            raise ValueError(
                f"a recovery and reflection period lasts at least {MINIMUM_REFLECTION_DAYS} "
                "days (Council of Europe Convention, art. 13)"
            )
        if self.reminder_days < 0:
            raise ValueError("the reminder comes before the end, not after it")

    def minimum_days(self, country: str) -> int:
        return self.days_by_country.get(country, self.default_days)

    def remind_at(self, starts_at: datetime, ends_at: datetime) -> datetime:
        return max(starts_at, ends_at - timedelta(days=self.reminder_days))


class ReflectionExtension(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    extended_at: datetime
    extended_by: str
    days: int
    reason: ReflectionExtensionReason


class ReflectionPeriod(CaseworkRecord):
    """A recovery and reflection period, from the reasonable-grounds decision."""

    kind: ClassVar[str] = "reflection_period"

    identification_id: UUID
    starts_at: datetime
    ends_at: datetime
    days: int
    non_removal: bool
    remind_at: datetime
    extensions: tuple[ReflectionExtension, ...] = ()
    reminded_at: datetime | None = None  # the reminder of the current end was sent
    ended_at: datetime | None = None

    @property
    def state(self) -> str:
        return "ended" if self.ended_at is not None else "running"

    @classmethod
    def begin(
        cls,
        *,
        record_id: UUID,
        case_id: UUID,
        identification_id: UUID,
        decided_at: datetime,
        country: str,
        requested_days: int | None,
        non_removal: bool,
        policy: ReflectionPolicy,
        now: datetime,
    ) -> ReflectionPeriod:
        minimum = policy.minimum_days(country)
        if requested_days is not None and requested_days < minimum:
            raise InvalidCase(
                [
                    FieldError(
                        "body.reflection_days",
                        f"the period lasts at least {minimum} days in this country",
                    )
                ]
            )
        days = requested_days or minimum
        ends_at = decided_at + timedelta(days=days)
        return cls.model_validate(
            {
                "record_id": record_id,
                "case_id": case_id,
                "created_at": now,
                "identification_id": identification_id,
                "starts_at": decided_at,
                "ends_at": ends_at,
                "days": days,
                "non_removal": non_removal,
                "remind_at": policy.remind_at(decided_at, ends_at),
            }
        )

    def extend(
        self,
        *,
        days: int,
        reason: ReflectionExtensionReason,
        non_removal: bool | None,
        actor_id: str,
        policy: ReflectionPolicy,
        now: datetime,
    ) -> None:
        """Lengthens the period; a new reminder is due before the new end."""
        if self.ended_at is not None:
            raise CaseConflict("the recovery and reflection period has ended")
        if days < 1:
            raise InvalidCase([FieldError("body.extension_days", "must be 1 or more")])
        self.extensions = (
            *self.extensions,
            ReflectionExtension(extended_at=now, extended_by=actor_id, days=days, reason=reason),
        )
        self.ends_at = self.ends_at + timedelta(days=days)
        self.days += days
        if non_removal is not None:
            self.non_removal = non_removal
        self.remind_at = policy.remind_at(self.starts_at, self.ends_at)
        self.reminded_at = None

    def remind(self, now: datetime) -> bool:
        """Marks the reminder of the current end sent; False when there is nothing to tell
        (sent already, or the period ended)."""
        if self.ended_at is not None or self.reminded_at is not None:
            return False
        self.reminded_at = now
        return True

    def end(self, now: datetime) -> bool:
        """Marks the period ended; False when it was, or when its end moved later."""
        if self.ended_at is not None or now < self.ends_at:
            return False
        self.ended_at = now
        return True


def _union(first: tuple[T, ...], more: tuple[T, ...]) -> tuple[T, ...]:
    return (*first, *(item for item in more if item not in first))
