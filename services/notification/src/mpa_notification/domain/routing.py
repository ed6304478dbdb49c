"""Who is told about what: webhook subscriptions and e-mail audiences per event type.

Pure rules over the contracts' event classes; the app layer looks the recipients up.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from mpa_contracts.events.access import BreakGlassAccessV1
from mpa_contracts.events.base import EventData
from mpa_contracts.events.casework import CaseApprovalRequestedV1, FollowUpOverdueV1
from mpa_contracts.events.notification import (
    NotificationEndpointDisabledV1,
    NotificationExhaustedV1,
)
from mpa_contracts.events.protection import ReflectionPeriodEndingV1
from mpa_contracts.events.psea import PseaAllegationReferredV1
from mpa_contracts.events.referral import (
    REFERRAL_EVENTS,
    ReferralAcceptedV1,
    ReferralCompletedV1,
    ReferralDeclinedV1,
    ReferralFailedV1,
    ReferralRoutedV1,
    ReferralSlaBreachedV1,
    ReferralUnroutableV1,
)
from mpa_contracts.vocabularies import NotificationRecipient

# Type of the message `POST /v1/endpoints/{id}/test` sends; never a platform event.
TEST_EVENT_TYPE = "mpa.webhook.test"


class Audience(StrEnum):
    """Whom an e-mail is for."""

    PARTNER = "partner"  # the partner's contact addresses
    REFERRER = "referrer"  # the person who requested the referral (by actor id)
    SUPERVISORS = "supervisors"  # the supervisors' address of the referral's country
    TEAM_SUPERVISORS = "team_supervisors"  # the supervisors of a team (owner: the team code)
    # A case's owning caseworker: reached at their own (`referrer`) address, by actor id.
    CASE_OWNER = "case_owner"
    # A partner's investigation focal point (owner: the partner id): PSEA allegations
    # against the organisation, for its investigation.
    INVESTIGATORS = "investigators"


# How outcome events name each audience (the contracts' vocabulary).
RECIPIENT_KIND: Mapping[Audience, NotificationRecipient] = MappingProxyType(
    {
        Audience.PARTNER: NotificationRecipient.PARTNER,
        Audience.REFERRER: NotificationRecipient.REFERRER,
        Audience.SUPERVISORS: NotificationRecipient.SUPERVISORS,
        Audience.TEAM_SUPERVISORS: NotificationRecipient.TEAM_SUPERVISORS,
        Audience.CASE_OWNER: NotificationRecipient.CASE_OWNER,
        Audience.INVESTIGATORS: NotificationRecipient.INVESTIGATORS,
    }
)

# Whose registry entries an audience reads when it differs from the audience itself: a
# case's owner is a user like a referrer, with one address for both.
CONTACT_KIND: Mapping[Audience, Audience] = MappingProxyType(
    {Audience.CASE_OWNER: Audience.REFERRER}
)
# The kinds of entry the registry holds (the others are reached through these).
REGISTRY_KINDS = frozenset(Audience) - frozenset(CONTACT_KIND)

EMAIL_AUDIENCES: Mapping[str, frozenset[Audience]] = MappingProxyType(
    {
        ReferralRoutedV1.event_type: frozenset({Audience.PARTNER}),
        ReferralAcceptedV1.event_type: frozenset({Audience.REFERRER}),
        ReferralDeclinedV1.event_type: frozenset({Audience.REFERRER}),
        ReferralCompletedV1.event_type: frozenset({Audience.REFERRER}),
        ReferralFailedV1.event_type: frozenset({Audience.REFERRER}),
        ReferralSlaBreachedV1.event_type: frozenset({Audience.REFERRER, Audience.SUPERVISORS}),
        ReferralUnroutableV1.event_type: frozenset({Audience.REFERRER, Audience.SUPERVISORS}),
        NotificationExhaustedV1.event_type: frozenset(
            {Audience.PARTNER, Audience.REFERRER, Audience.SUPERVISORS}
        ),
        NotificationEndpointDisabledV1.event_type: frozenset({Audience.PARTNER}),
        # Casework: the owning team's supervisors (a country's when the case has no team),
        # and the case's owner.
        BreakGlassAccessV1.event_type: frozenset({Audience.TEAM_SUPERVISORS, Audience.SUPERVISORS}),
        CaseApprovalRequestedV1.event_type: frozenset(
            {Audience.TEAM_SUPERVISORS, Audience.SUPERVISORS}
        ),
        FollowUpOverdueV1.event_type: frozenset({Audience.CASE_OWNER}),
        # Protection (issue 17): the case's owner and its team's supervisors — for a child,
        # too: notices about a child go to the caseworker and supervisors, never the child.
        ReflectionPeriodEndingV1.event_type: frozenset(
            {Audience.CASE_OWNER, Audience.TEAM_SUPERVISORS, Audience.SUPERVISORS}
        ),
        # PSEA: the allegation, to the implicated organisation's investigation focal point.
        PseaAllegationReferredV1.event_type: frozenset({Audience.INVESTIGATORS}),
    }
)
# Event types of the casework subscription (mpa.case.v1 and mpa.access.v1).
CASEWORK_EMAIL_EVENTS: tuple[type[EventData], ...] = (
    BreakGlassAccessV1,
    CaseApprovalRequestedV1,
    FollowUpOverdueV1,
    ReflectionPeriodEndingV1,
    PseaAllegationReferredV1,
)

# Payload fields naming the partner a referral event concerns (re-routed: the one it left).
_PARTNER_FIELDS = ("partner_id", "previous_partner_id")


def _names_a_partner(event_class: type[EventData]) -> bool:
    return any(name in event_class.model_fields for name in _PARTNER_FIELDS)


# What a webhook endpoint may subscribe to: every referral event that concerns a partner.
WEBHOOK_EVENT_TYPES: Mapping[str, type[EventData]] = MappingProxyType(
    {cls.event_type: cls for cls in REFERRAL_EVENTS if _names_a_partner(cls)}
)


def partner_concerned(data: EventData) -> uuid.UUID | None:
    """The partner whose endpoints hear about this event, if any."""
    for name in _PARTNER_FIELDS:
        value = getattr(data, name, None)
        if isinstance(value, uuid.UUID):
            return value
    return None
