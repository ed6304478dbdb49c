"""Who may read which personal data of a case (data minimisation for partners).

Hotline operators and caseworkers manage the case and see all of it. A partner sees a case
only while it holds an accepted referral for it and the person's consent to data sharing
covers it; it then sees the fields its referrals' needs call for, nothing more:

* every need: the names (to recognise the person at the door);
* the fields in `FIELDS_BY_NEED` for the categories it was referred;
* how to reach the person only as their safety profile allows (`domain.safe_contact`): the
  safe-contact details, and a phone number or e-mail address only where the person's safe
  channel is that channel; nothing of it when the person is not to be contacted;
* the notes of the needs it was referred, not those of other needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from mpa_contracts.events.case import SafetyFlags
from mpa_contracts.vocabularies import (
    AccessPurpose,
    ActorRole,
    NeedCategory,
    PersonalDataField,
)
from mpa_intake.domain.safe_contact import CONTACT_FIELDS, contact_fields_for_partners

F = PersonalDataField

ALWAYS_SHARED_WITH_PARTNERS = frozenset({F.PERSON_GIVEN_NAME, F.PERSON_FAMILY_NAME})
_AGE = frozenset({F.PERSON_DATE_OF_BIRTH, F.PERSON_ESTIMATED_AGE})

FIELDS_BY_NEED: Mapping[NeedCategory, frozenset[PersonalDataField]] = MappingProxyType(
    {
        # Placement depends on age and gender; the place is where to collect the person.
        NeedCategory.SHELTER: _AGE | {F.PERSON_GENDER_IDENTITY, F.LOCATION_PLACE, F.NEEDS_NOTE},
        NeedCategory.MEDICAL: _AGE | {F.PERSON_GENDER_IDENTITY, F.NEEDS_NOTE},
        NeedCategory.MHPSS: frozenset({F.PERSON_GENDER_IDENTITY, F.NEEDS_NOTE}),
        NeedCategory.LEGAL_AID: _AGE | {F.NEEDS_NOTE},
        NeedCategory.FAMILY_TRACING: _AGE | {F.LOCATION_PLACE, F.NEEDS_NOTE},
        NeedCategory.RETURN_ASSISTANCE: _AGE | {F.NEEDS_NOTE},
        NeedCategory.REINTEGRATION: frozenset({F.NEEDS_NOTE}),
        NeedCategory.LIVELIHOOD: frozenset({F.NEEDS_NOTE}),
        NeedCategory.DOCUMENTATION: _AGE | {F.NEEDS_NOTE},
        NeedCategory.CHILD_PROTECTION: _AGE
        | {F.PERSON_GENDER_IDENTITY, F.LOCATION_PLACE, F.NEEDS_NOTE},
        NeedCategory.CASE_MANAGEMENT: _AGE
        | {F.PERSON_GENDER_IDENTITY, F.LOCATION_PLACE, F.NEEDS_NOTE},
        NeedCategory.FOOD: frozenset({F.LOCATION_PLACE}),
        NeedCategory.CASH: frozenset({F.NEEDS_NOTE}),
        # Survivor-centred: no place (the service arranges a safe meeting itself).
        NeedCategory.GBV_RESPONSE: _AGE | {F.PERSON_GENDER_IDENTITY, F.NEEDS_NOTE},
    }
)


def partner_fields(
    categories: Iterable[NeedCategory], safety: SafetyFlags
) -> frozenset[PersonalDataField]:
    """The fields a partner referred for `categories` may read."""
    fields = set(ALWAYS_SHARED_WITH_PARTNERS)
    for category in categories:
        fields |= FIELDS_BY_NEED[category]
    # The categories' fields hold no contact field; the safety profile alone decides those.
    return frozenset(fields - CONTACT_FIELDS) | contact_fields_for_partners(safety)


# Why each kind of reader may read, and what is recorded when it does not say.
PURPOSES_BY_ROLE: Mapping[ActorRole, frozenset[AccessPurpose]] = MappingProxyType(
    {
        ActorRole.OPERATOR: frozenset(
            {
                AccessPurpose.CASE_MANAGEMENT,
                AccessPurpose.REFERRAL_FOLLOW_UP,
                AccessPurpose.DATA_SUBJECT_REQUEST,
            }
        ),
        ActorRole.CASEWORKER: frozenset(
            {
                AccessPurpose.CASE_MANAGEMENT,
                AccessPurpose.REFERRAL_FOLLOW_UP,
                AccessPurpose.DATA_SUBJECT_REQUEST,
            }
        ),
        ActorRole.PARTNER: frozenset(
            {AccessPurpose.SERVICE_DELIVERY, AccessPurpose.REFERRAL_FOLLOW_UP}
        ),
    }
)
DEFAULT_PURPOSE: Mapping[ActorRole, AccessPurpose] = MappingProxyType(
    {
        ActorRole.OPERATOR: AccessPurpose.CASE_MANAGEMENT,
        ActorRole.CASEWORKER: AccessPurpose.CASE_MANAGEMENT,
        ActorRole.PARTNER: AccessPurpose.SERVICE_DELIVERY,
    }
)
