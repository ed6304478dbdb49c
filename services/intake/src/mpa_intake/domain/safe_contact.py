"""The person's safety profile, applied to every path that would contact them or tell
someone how (issue 17): a partner's read of the record, and staff asking before they call,
write or visit.

Pure rules over the contract's `SafetyFlags`. "No contact" is absolute: nobody outside the
case's own staff learns a channel, and no channel is cleared. Otherwise only the person's
safe channel is cleared, at the safe times they gave, with a message left only if they said
one may be.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from types import MappingProxyType

from mpa_contracts.events.case import SafetyFlags
from mpa_contracts.vocabularies import (
    SAFE_CONTACT_HOURS,
    ContactRefusal,
    PersonalDataField,
    SafeContactMethod,
    SafeContactTime,
)

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
