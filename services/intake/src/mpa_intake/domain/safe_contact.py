"""The person's safety profile, applied to every path that would contact them or tell
someone how (issue 17): a partner's read of the record, and staff asking before they call,
write or visit.

Pure rules over the contract's `SafetyFlags`. "No contact" is absolute: nobody outside the
case's own staff learns a channel, and no channel is cleared. Otherwise only the person's
safe channel is cleared, at the safe times they gave, with a message left only if they said
one may be.

A child (issue 17) is never contacted on their own contact, on any path: a notice about the
child goes to the appointed guardian, at the contact recorded with the appointment, or else
to the caseworker who owns the case (always the caseworker when the child is not to be
contacted: nobody outside the case's staff learns the guardian either). With neither, the
contact is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from types import MappingProxyType
from uuid import UUID

from mpa_contracts.events.case import SafetyFlags
from mpa_contracts.vocabularies import (
    SAFE_CONTACT_HOURS,
    AgeBand,
    ChildContactRoute,
    ContactRefusal,
    PersonalDataField,
    SafeContactMethod,
    SafeContactTime,
    Vulnerability,
    is_child,
)
from mpa_intake.domain.case import CHILD_VULNERABILITIES

F = PersonalDataField

# The record's fields that tell a reader how to reach the person.
CONTACT_FIELDS = frozenset({F.PERSON_PHONE, F.PERSON_EMAIL, F.SAFETY_SAFE_CONTACT_DETAILS})

# Which contact field a channel needs a partner to know.
FIELD_OF_CHANNEL: Mapping[SafeContactMethod, PersonalDataField] = MappingProxyType(
    {
        SafeContactMethod.PHONE_CALL: F.PERSON_PHONE,
        SafeContactMethod.SMS: F.PERSON_PHONE,
        SafeContactMethod.MESSAGING_APP: F.PERSON_PHONE,
        SafeContactMethod.EMAIL: F.PERSON_EMAIL,
    }
)
# Channels on which a message can be left when the person does not answer.
MESSAGE_CHANNELS = frozenset(
    {SafeContactMethod.PHONE_CALL, SafeContactMethod.SMS, SafeContactMethod.MESSAGING_APP,
     SafeContactMethod.EMAIL}
)  # fmt: skip


def contact_fields_for_partners(safety: SafetyFlags) -> frozenset[PersonalDataField]:
    """The contact fields a partner may read: the safe channel's own field and the safe
    contact details; none at all when the person is not to be contacted (the partner
    works through the caseworker)."""
    if safety.do_not_contact:
        return frozenset()
    channel_field = FIELD_OF_CHANNEL.get(safety.safe_contact_method)
    fields = {F.SAFETY_SAFE_CONTACT_DETAILS}
    if channel_field is not None:
        fields.add(channel_field)
    return frozenset(fields)


def withholding_reason(safety: SafetyFlags) -> ContactRefusal:
    """Why contact fields are held back from a partner."""
    return (
        ContactRefusal.DO_NOT_CONTACT if safety.do_not_contact else ContactRefusal.CHANNEL_NOT_SAFE
    )


def in_safe_time(times: tuple[SafeContactTime, ...], local: time) -> bool:
    """Whether `local` (the person's local time) falls in one of `times`; no times: always."""
    if not times:
        return True
    for window in times:
        start, end = SAFE_CONTACT_HOURS[window]
        hour = local.hour
        inside = start <= hour < end if start < end else hour >= start or hour < end
        if inside:
            return True
    return False


@dataclass(frozen=True)
class ContactRequest:
    """Someone wants to reach the person on `channel`; at `local_time` (the person's local
    time) when known; leaving a message if they do not answer when `leave_message`."""

    channel: SafeContactMethod
    local_time: time | None = None
    leave_message: bool = False


def refusal_of(safety: SafetyFlags, request: ContactRequest) -> ContactRefusal | None:
    """Why the profile refuses the contact, or None when it is cleared."""
    if safety.do_not_contact or safety.safe_contact_method is SafeContactMethod.NONE:
        return ContactRefusal.DO_NOT_CONTACT
    if request.channel is not safety.safe_contact_method:
        return ContactRefusal.CHANNEL_NOT_SAFE
    if request.local_time is not None and not in_safe_time(safety.safe_times, request.local_time):
        return ContactRefusal.OUTSIDE_SAFE_TIMES
    if (
        request.leave_message
        and request.channel in MESSAGE_CHANNELS
        and not safety.voicemail_allowed
    ):
        return ContactRefusal.NO_VOICEMAIL
    return None


# --- a child: the guardian or the caseworker, never the child's own contact ---------------


def about_a_child(band: AgeBand, vulnerabilities: Sequence[Vulnerability]) -> bool:
    """Whether the person is a child: under 18 by age band, or unaccompanied or separated."""
    return is_child(band) or bool(CHILD_VULNERABILITIES & set(vulnerabilities))


@dataclass(frozen=True)
class GuardianContact:
    """A guardian appointment of the case, and whether a contact was recorded with it."""

    appointment_id: UUID
    appointed_at: datetime
    has_contact: bool


@dataclass(frozen=True)
class ChildContact:
    """Whom a notice about the child goes to."""

    route: ChildContactRoute
    guardian_appointment_id: UUID | None = None
    caseworker_id: str | None = None


def child_contact(
    safety: SafetyFlags, guardians: Sequence[GuardianContact], caseworker_id: str | None
) -> ChildContact | None:
    """The latest appointed guardian with a contact; else the caseworker; else nobody
    (None). A child not to be contacted is reached through the caseworker only."""
    if not safety.do_not_contact:
        reachable = [g for g in guardians if g.has_contact]
        if reachable:
            latest = max(reachable, key=lambda g: g.appointed_at)
            return ChildContact(
                ChildContactRoute.GUARDIAN, guardian_appointment_id=latest.appointment_id
            )
    if caseworker_id:
        return ChildContact(ChildContactRoute.CASEWORKER, caseworker_id=caseworker_id)
    return None


def child_refusal(contact: ChildContact | None) -> ContactRefusal:
    """Why the child's own contact is refused: it goes to someone else, or to nobody."""
    return ContactRefusal.CHILD if contact is not None else ContactRefusal.NO_GUARDIAN_OR_CASEWORKER
