"""Mandatory routing rules: referrals a case gets because of who the person is.

* An unaccompanied or separated child is always referred to the designated child-protection
  authority of its area, whether or not anyone asked: a statutory duty that neither the
  consent scope nor the person's refusals of partners can waive.
* A presumed victim of trafficking is offered the anti-trafficking focal point where one is
  designated, subject to consent like any referral.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from mpa_contracts.vocabularies import NeedCategory, Urgency, Vulnerability
from mpa_referral.domain.directory import DesignationRole

if TYPE_CHECKING:
    from mpa_referral.domain.cases import CaseProfile


class MandatoryRule(StrEnum):
    CHILD_PROTECTION_AUTHORITY = "child_protection_authority"
    ANTI_TRAFFICKING_FOCAL_POINT = "anti_trafficking_focal_point"


@dataclass(frozen=True, slots=True)
class MandatoryReferral:
    rule: MandatoryRule
    category: NeedCategory
    urgency: Urgency
    designation: DesignationRole
    # False: made without consent and regardless of the person's refusals (statutory duty).
    subject_to_consent: bool


CHILD_PROTECTION = MandatoryReferral(
    rule=MandatoryRule.CHILD_PROTECTION_AUTHORITY,
    category=NeedCategory.CHILD_PROTECTION,
    urgency=Urgency.HIGH,
    designation=DesignationRole.CHILD_PROTECTION_AUTHORITY,
    subject_to_consent=False,
)
ANTI_TRAFFICKING = MandatoryReferral(
    rule=MandatoryRule.ANTI_TRAFFICKING_FOCAL_POINT,
    category=NeedCategory.CASE_MANAGEMENT,
    urgency=Urgency.HIGH,
    designation=DesignationRole.ANTI_TRAFFICKING_FOCAL_POINT,
    subject_to_consent=True,
)
_UNACCOMPANIED_OR_SEPARATED = frozenset(
    {Vulnerability.UNACCOMPANIED_CHILD, Vulnerability.SEPARATED_CHILD}
)


def mandatory_referrals(case: CaseProfile) -> tuple[MandatoryReferral, ...]:
    """The mandatory referrals a case's profile calls for, in a fixed order."""
    rules: list[MandatoryReferral] = []
    if case.vulnerabilities & _UNACCOMPANIED_OR_SEPARATED:
        rules.append(CHILD_PROTECTION)
    if Vulnerability.TRAFFICKING_VICTIM in case.vulnerabilities:
        rules.append(ANTI_TRAFFICKING)
    return tuple(rules)


def mandatory_need_id(case_id: uuid.UUID, rule: MandatoryRule) -> uuid.UUID:
    """A stable id for the need a rule adds, so that replaying events never adds it twice."""
    return uuid.uuid5(case_id, f"mandatory:{rule.value}")


RULES: dict[MandatoryRule, MandatoryReferral] = {
    rule.rule: rule for rule in (CHILD_PROTECTION, ANTI_TRAFFICKING)
}


def is_statutory(rule: MandatoryRule | None) -> bool:
    """Whether a referral made by `rule` is a statutory duty that neither consent nor the
    person's refusals can waive (the child-protection referral). The one place that says so."""
    return rule is not None and not RULES[rule].subject_to_consent
