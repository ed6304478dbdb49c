"""A complaint of sexual exploitation or abuse (PSEA): a restricted record of its own,
outside any case, that only the PSEA focal point sees (issue 17).

It has two flows, each with a deadline:

* assistance to the survivor, through the GBV pathway and only with their consent (a
  `gbv_response` need on the survivor's case), or declined;
* the allegation, to the implicated organisation's investigation focal point, without the
  survivor's identity unless they consented; then the investigation's outcome, which, when
  substantiated, may suspend the organisation from the directory.

Each step is taken once; the record says whether it was on time. Pure rules, no I/O.

A complaint belongs to the country office that received it. The focal point's scope (the
`psea` role's, configured like every role's) reaches the complaints of their own country
office (`country`, the default), or all of them (`all`, a regional or global focal point);
a complaint has no team or agency, so a narrower scope reaches those they received only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID

from mpa_contracts.vocabularies import (
    CaseScope,
    PseaAllegationType,
    PseaAssistanceDecision,
    PseaInvestigationOutcome,
    PseaStep,
)
from mpa_intake.domain.errors import ComplaintConflict
from mpa_intake.domain.ownership import Ownership, Viewer, within


@dataclass
class PseaComplaint:
    complaint_id: UUID
    received_at: datetime
    received_by: str  # actor id of whoever took the complaint
    allegation_type: PseaAllegationType
    implicated_partner_id: UUID | None
    # The survivor's case, when they have one: restricted like the rest of the record.
    survivor_case_id: UUID | None
    assistance_consent: bool  # to be referred for assistance through the GBV pathway
    identity_consent: bool  # to their identity going with the allegation
    assistance_due_at: datetime
    allegation_referral_due_at: datetime
    incident_date: date | None = None
    # The country office that received it (None: recorded before complaints had one; only
    # an `all` scope reaches those).
    country: str | None = None
    assistance: PseaAssistanceDecision | None = None
    assistance_decided_at: datetime | None = None
    assistance_need_id: UUID | None = None
    allegation_referred_at: datetime | None = None
    investigation_due_at: datetime | None = None
    outcome: PseaInvestigationOutcome | None = None
    concluded_at: datetime | None = None
    partner_suspended: bool = False
    missed_steps: set[PseaStep] = field(default_factory=set)

    def decide_assistance(
        self,
        decision: PseaAssistanceDecision,
        now: datetime,
        *,
        survivor_case_id: UUID | None = None,
        need_id: UUID | None = None,
    ) -> bool:
        """Records the assistance decision; whether it was on time. A referral needs the
        survivor's consent and their case."""
        if self.assistance is not None:
            raise ComplaintConflict("the assistance of this complaint was decided already")
        if decision is PseaAssistanceDecision.REFERRED:
            if not self.assistance_consent:
                raise ComplaintConflict("the survivor did not consent to a referral for assistance")
            if survivor_case_id is None or need_id is None:
                raise ComplaintConflict("a referral for assistance needs the survivor's case")
            self.survivor_case_id = survivor_case_id
            self.assistance_need_id = need_id
        self.assistance = decision
        self.assistance_decided_at = now
        return now <= self.assistance_due_at

    def refer_allegation(
        self, implicated_partner_id: UUID | None, now: datetime, investigation_due_at: datetime
    ) -> bool:
        """The allegation goes to the implicated organisation; whether it was on time."""
        if self.allegation_referred_at is not None:
            raise ComplaintConflict("the allegation of this complaint was referred already")
        partner_id = implicated_partner_id or self.implicated_partner_id
        if partner_id is None:
            raise ComplaintConflict("name the implicated organisation to refer the allegation")
        self.implicated_partner_id = partner_id
        self.allegation_referred_at = now
        self.investigation_due_at = investigation_due_at
        return now <= self.allegation_referral_due_at

    def conclude(
        self, outcome: PseaInvestigationOutcome, suspend_partner: bool, now: datetime
    ) -> bool:
        """The investigation's outcome; whether it came on time. Only a substantiated
        allegation suspends the organisation."""
        if self.allegation_referred_at is None or self.investigation_due_at is None:
            raise ComplaintConflict("the allegation has not been referred for investigation")
        if self.outcome is not None:
            raise ComplaintConflict("the investigation of this complaint concluded already")
        if suspend_partner and outcome is not PseaInvestigationOutcome.SUBSTANTIATED:
            raise ComplaintConflict("only a substantiated allegation suspends the organisation")
        self.outcome = outcome
        self.concluded_at = now
        self.partner_suspended = suspend_partner
        return now <= self.investigation_due_at

    def done(self, step: PseaStep) -> bool:
        match step:
            case PseaStep.ASSISTANCE:
                return self.assistance is not None
            case PseaStep.ALLEGATION_REFERRAL:
                return self.allegation_referred_at is not None
            case PseaStep.INVESTIGATION:
                return self.outcome is not None

    def due_at(self, step: PseaStep) -> datetime | None:
        match step:
            case PseaStep.ASSISTANCE:
                return self.assistance_due_at
            case PseaStep.ALLEGATION_REFERRAL:
                return self.allegation_referral_due_at
            case PseaStep.INVESTIGATION:
                return self.investigation_due_at

    def miss(self, step: PseaStep, now: datetime) -> bool:
        """The step's deadline passed (its timer fired): True, once, when it was not taken."""
        due = self.due_at(step)
        if self.done(step) or step in self.missed_steps or due is None or now < due:
            return False
        self.missed_steps.add(step)
        return True

    def overdue(self, now: datetime) -> list[PseaStep]:
        """The steps past their deadline and not taken (for the focal point's list)."""
        return [
            step
            for step in PseaStep
            if not self.done(step) and (due := self.due_at(step)) is not None and now >= due
        ]


def complaint_within(scope: CaseScope, complaint: PseaComplaint, viewer: Viewer) -> bool:
    """Whether `complaint` lies within a focal point's `scope` (the case scopes' rule, over
    the country office that received it and whoever received it)."""
    if complaint.country is None:
        return scope is CaseScope.ALL
    received = Ownership(owner_id=complaint.received_by, team=None, agency=None,
                         country=complaint.country)  # fmt: skip
    return within(scope, received, viewer)
