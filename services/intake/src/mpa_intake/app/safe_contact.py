"""Use case of safe contact (issue 17): staff ask before they call, write or visit.

The person's safety profile answers; a refusal is announced as
`org.mpa.access.contact_withheld.v1` (path `contact_check`, the channel and the reason),
so the audit log shows the profile held. A cleared contact is not an event: nothing was
disclosed, and the caller already reads the case.
"""

from __future__ import annotations

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
from mpa_intake.app.views import View
from mpa_intake.domain.errors import CaseNotFound, OutsideScope
from mpa_intake.domain.ownership import within
from mpa_intake.domain.safe_contact import ContactRequest, refusal_of


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
        refusal = refusal_of(
            safety, ContactRequest(command.channel, command.local_time, command.leave_message)
        )
        if refusal is not None:
            uow.emit(
                ContactWithheldV1(
                    actor_id=actor.actor_id,
                    actor_role=actor.role,
                    case_id=case_id,
                    path=ContactPath.CONTACT_CHECK,
                    reason=refusal,
                    channel=command.channel,
                ),
                subject=f"case/{case_id}",
                cause=Cause.story(case.correlation_id),
            )
            await uow.commit()
    return ContactCheckResult(
        allowed=refusal is None,
        refusal=refusal,
        do_not_contact=safety.do_not_contact,
        safe_contact_method=safety.safe_contact_method,
        safe_times=list(safety.safe_times),
        voicemail_allowed=safety.voicemail_allowed,
    )
