"""Use case of safe contact (issue 17): staff ask before they call, write or visit.

The person's safety profile answers; a refusal is announced as
`org.mpa.access.contact_withheld.v1` (path `contact_check`, the channel and the reason),
so the audit log shows the profile held. A cleared contact is not an event: nothing was
disclosed, and the caller already reads the case.

A child's own contact is refused on every channel (reason `child`): the answer names whom to
contact instead, the appointed guardian (whose details the protection view shows) or the
caseworker; with neither, the reason is `no_guardian_or_caseworker`.
"""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from pydantic import Field

from mpa_common.request_types import StrictBool, Time
from mpa_common.uow import Cause
from mpa_contracts.events.safe_contact import ContactWithheldV1
from mpa_contracts.vocabularies import (
    ContactPath,
    ContactRefusal,
    SafeContactMethod,
    SafeContactTime,
)
from mpa_intake.app.commands import Command
from mpa_intake.app.context import Actor, IntakeContext
from mpa_intake.app.ports import IntakeUnitOfWorkPort, StoredCase
from mpa_intake.app.views import ChildContactView, View
from mpa_intake.domain.children import GuardianAppointment
from mpa_intake.domain.errors import CaseNotFound, OutsideScope
from mpa_intake.domain.ownership import within
from mpa_intake.domain.safe_contact import (
    ChildContact,
    ContactRequest,
    GuardianContact,
    about_a_child,
    child_contact,
    child_refusal,
    refusal_of,
)


class ContactCheck(Command):
    """A contact someone is about to make."""

    channel: SafeContactMethod = Field(
        description="How you mean to reach the person", examples=["sms"]
    )
    local_time: Time | None = Field(
        default=None,
        description="The person's local time of the contact (HH:MM); absent: not checked "
        "against the safe times, which the answer lists",
        examples=["19:30"],
    )
    leave_message: StrictBool = Field(
        default=False,
        description="Whether you would leave a voicemail or message if they do not answer",
        examples=[False],
    )


class ContactCheckResult(View):
    """The profile's answer, and what it says, so the caller contacts the person safely."""

    allowed: bool = Field(description="Whether this contact may be made")
    refusal: ContactRefusal | None = Field(description="Why not; null when allowed")
    do_not_contact: bool = Field(description="The person is not to be contacted at all")
    safe_contact_method: SafeContactMethod = Field(description="The person's safe channel")
    safe_times: list[SafeContactTime] = Field(description="When contact is safe; empty: any")
    voicemail_allowed: bool = Field(description="Whether a message may be left")
    contact_via: ChildContactView | None = Field(
        default=None,
        description="A child: whom to contact instead (the guardian or the caseworker); "
        "null for an adult, or for a child nobody may be contacted about",
    )


async def check_contact(
    ctx: IntakeContext, actor: Actor, case_id: UUID, command: ContactCheck
) -> ContactCheckResult:
    async with ctx.unit_of_work() as uow:
        stored = await uow.cases.get(case_id)
        if stored is None:
            raise CaseNotFound(f"no case {case_id}")
        case = stored.case
        scope = ctx.scopes.read_scope(actor.role)
        if not within(scope, case.ownership, actor.viewer):
            raise OutsideScope(f"this case is outside the {scope} scope this role reads")
        safety = case.safety
        request = ContactRequest(command.channel, command.local_time, command.leave_message)
        refusal, via = await refuse_contact(ctx, uow, actor, stored, request)
        if refusal is not None:
            await uow.commit()
    return ContactCheckResult(
        allowed=refusal is None,
        refusal=refusal,
        do_not_contact=safety.do_not_contact,
        safe_contact_method=safety.safe_contact_method,
        safe_times=list(safety.safe_times),
        voicemail_allowed=safety.voicemail_allowed,
        contact_via=child_contact_view(via),
    )


async def refuse_contact(
    ctx: IntakeContext,
    uow: IntakeUnitOfWorkPort,
    actor: Actor,
    stored: StoredCase,
    request: ContactRequest,
    *,
    referral_id: UUID | None = None,
) -> tuple[ContactRefusal | None, ChildContact | None]:
    """The safety profile's answer to a contact staff are about to make (a child's own
    contact never clears: whom to reach instead comes back too). A refusal is queued as a
    `contact_withheld` event in `uow`, which the caller commits."""
    case = stored.case
    via: ChildContact | None = None
    if about_a_child(case.profile.age_band, case.profile.vulnerabilities):
        via = await contact_about_child(ctx, uow, stored)
        refusal: ContactRefusal | None = child_refusal(via)
    else:
        refusal = refusal_of(case.safety, request)
    if refusal is not None:
        uow.emit(
            ContactWithheldV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case.case_id,
                path=ContactPath.CONTACT_CHECK,
                reason=refusal,
                channel=request.channel,
                referral_id=referral_id,
            ),
            subject=f"case/{case.case_id}",
            cause=Cause.story(case.correlation_id),
        )
    return refusal, via


async def contact_about_child(
    ctx: IntakeContext,
    uow: IntakeUnitOfWorkPort,
    stored: StoredCase,
    notes: Mapping[UUID, str] | None = None,
) -> ChildContact | None:
    """Whom a notice about the child of `stored` goes to: a guardian counts when a contact
    was recorded with the appointment (its sealed note; `notes` when already opened)."""
    case = stored.case
    if notes is None:
        notes = {}
        if stored.sealed is not None and not case.is_erased:
            notes = ctx.vault.open(case.case_id, stored.sealed).casework_notes
    guardians = [
        GuardianContact(g.record_id, g.appointed_at, bool(notes.get(g.record_id)))
        for g in await uow.casework.of_case(GuardianAppointment, case.case_id)
    ]
    return child_contact(case.safety, guardians, case.ownership.owner_id)


def child_contact_view(
    via: ChildContact | None, guardian_contact: str | None = None
) -> ChildContactView | None:
    if via is None:
        return None
    return ChildContactView(
        route=via.route,
        guardian_appointment_id=via.guardian_appointment_id,
        guardian_contact=guardian_contact,
        caseworker_id=via.caseworker_id,
    )
