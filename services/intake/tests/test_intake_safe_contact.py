"""Safe contact (issue 17) on the fakes: the safety profile's rules, a partner's read that
withholds how to reach a "no contact" person (and says so in an event), and staff's
contact checks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from mpa_common.messaging.subscriptions import Delivery, RecordOrigin
from mpa_contracts.envelope import new_envelope
from mpa_contracts.events.case import SafetyFlags
from mpa_contracts.events.referral import ReferralAcceptedV1
from mpa_contracts.events.safe_contact import ContactWithheldV1
from mpa_contracts.vocabularies import (
    ActorRole,
    AgeBand,
    ChildContactRoute,
    ContactPath,
    ContactRefusal,
    PersonalDataField,
    ReferralState,
    SafeContactMethod,
    SafeContactTime,
    Vulnerability,
)
from mpa_intake import handlers
from mpa_intake.app import cases, children, reads, safe_contact
from mpa_intake.app.commands import RegisterCase
from mpa_intake.app.context import Actor
from mpa_intake.app.protection_commands import AppointGuardian
from mpa_intake.app.safe_contact import ContactCheck
from mpa_intake.domain.errors import CaseNotFound, OutsideScope
from mpa_intake.domain.safe_contact import (
    ContactRequest,
    GuardianContact,
    about_a_child,
    child_contact,
    child_refusal,
    in_safe_time,
    refusal_of,
)
from mpa_intake.testing import FakeIntake, FakeIntakeUnitOfWork, fake_intake

F = PersonalDataField
NIAMEY = {"team": "ne-niamey-cm", "agency": "iom-ne", "country": "NE"}
CASEWORKER = Actor(subject="cw-1", actor_id="caseworker:cw-1", role=ActorRole.CASEWORKER, **NIAMEY)
ELSEWHERE = Actor(
    subject="cw-9", actor_id="caseworker:cw-9", role=ActorRole.CASEWORKER,
    team="ml-gao-cm", agency="iom-ml", country="ML",
)  # fmt: skip
PHONE, EMAIL, DETAILS = "+227 90 00 00 01", "a.exemple@example.org", "Only through the imam"


def _body(safety: dict[str, Any], age: int = 30) -> dict[str, Any]:
    return {
        "person": {"given_name": "Aïcha", "family_name": "Exemple", "estimated_age": age,
                   "sex": "female", "languages": ["ha"], "phone": PHONE, "email": EMAIL},
        "location": {"country": "NE"},
        "needs": [{"category": "shelter", "urgency": "high"}],
        "consent": {"given": True, "details": {
            "scopes": ["referral", "data_sharing"], "given_by": "self" if age >= 18 else
            "legal_guardian", "method": "verbal",
            "obtained_at": "2026-01-05T10:00:00Z"}},
        "safety": {**safety, "safe_contact_details": DETAILS},
    }  # fmt: skip


NO_CONTACT = {"do_not_contact": True, "safe_contact_method": "through_caseworker"}
SMS_EVENINGS = {
    "do_not_contact": False, "safe_contact_method": "sms", "safe_times": ["evening"],
    "voicemail_allowed": False,
}  # fmt: skip


@pytest.fixture
def intake() -> FakeIntake:
    return fake_intake()


async def _registered(intake: FakeIntake, safety: dict[str, Any], age: int = 30) -> uuid.UUID:
    command = RegisterCase.model_validate(_body(safety, age))
    return (await cases.register_case(intake.context, CASEWORKER, command)).case_id


async def _accepted_by(intake: FakeIntake, case_id: uuid.UUID) -> Actor:
    partner_id, referral_id = uuid.uuid4(), uuid.uuid4()
    need_id = intake.memory.cases[case_id].case.needs[0].need_id
    accepted = ReferralAcceptedV1(
        actor_id="partner:p-1", actor_role=ActorRole.PARTNER, referral_id=referral_id,
        case_id=case_id, need_id=need_id, partner_id=partner_id, service_id=uuid.uuid4(),
        start_due_at=datetime.now(UTC) + timedelta(days=1),
    )  # fmt: skip
    delivery = Delivery(
        new_envelope(accepted, source="urn:mpa:service:referral"),
        RecordOrigin("mpa.referral.v1", 0, 0, 0),
    )
    async with FakeIntakeUnitOfWork(intake.memory) as uow:
        await handlers.on_referral_accepted(uow, accepted, delivery)  # type: ignore[arg-type]
        await uow.commit()
    intake.referrals.set(
        referral_id, case_id=case_id, need_id=need_id, partner_id=partner_id,
        state=ReferralState.ACCEPTED,
    )  # fmt: skip
    return Actor(subject="p-1", actor_id="partner:p-1", role=ActorRole.PARTNER,
                 partner_id=partner_id, credentials=str(partner_id))  # fmt: skip


# --- the rules -------------------------------------------------------------------------------


def test_no_contact_allows_neither_safe_times_nor_voicemail() -> None:
    with pytest.raises(ValidationError, match="neither safe_times nor voicemail"):
        SafetyFlags(do_not_contact=True, safe_contact_method=SafeContactMethod.NONE,
                    voicemail_allowed=True)  # fmt: skip
    with pytest.raises(ValidationError):
        RegisterCase.model_validate(_body({**NO_CONTACT, "safe_times": ["morning"]}))


def test_only_the_safe_channel_at_a_safe_time_and_a_message_only_if_allowed() -> None:
    profile = SafetyFlags.model_validate(SMS_EVENINGS)
    sms = SafeContactMethod.SMS
    assert refusal_of(profile, ContactRequest(sms, time(19, 30))) is None
    assert refusal_of(profile, ContactRequest(sms)) is None  # time unknown: the answer lists them
    assert refusal_of(profile, ContactRequest(sms, time(9, 0))) is ContactRefusal.OUTSIDE_SAFE_TIMES
    assert (refusal_of(profile, ContactRequest(SafeContactMethod.PHONE_CALL, time(19, 0)))
            is ContactRefusal.CHANNEL_NOT_SAFE)  # fmt: skip
    assert (refusal_of(profile, ContactRequest(sms, time(19, 0), leave_message=True))
            is ContactRefusal.NO_VOICEMAIL)  # fmt: skip
    hidden = SafetyFlags.model_validate(NO_CONTACT)
    for channel in SafeContactMethod:
        assert refusal_of(hidden, ContactRequest(channel)) is ContactRefusal.DO_NOT_CONTACT
    nobody = SafetyFlags(do_not_contact=False, safe_contact_method=SafeContactMethod.NONE)
    assert refusal_of(nobody, ContactRequest(sms)) is ContactRefusal.DO_NOT_CONTACT


def test_night_wraps_past_midnight_and_no_times_means_any_time() -> None:
    night = (SafeContactTime.NIGHT,)
    assert in_safe_time(night, time(23, 0))
    assert in_safe_time(night, time(5, 59))
    assert not in_safe_time(night, time(6, 0))
    assert in_safe_time((), time(3, 0))


# --- a partner's read ------------------------------------------------------------------------


async def test_a_partner_of_a_no_contact_person_learns_no_way_to_reach_them(
    intake: FakeIntake,
) -> None:
    case_id = await _registered(intake, NO_CONTACT)
    partner = await _accepted_by(intake, case_id)
    detail = await reads.read_case(intake.context, partner, case_id)
    assert detail.person.phone is None
    assert detail.person.email is None
    assert detail.safety.safe_contact_details is None
    assert detail.safety.do_not_contact is True
    assert not {F.PERSON_PHONE, F.PERSON_EMAIL, F.SAFETY_SAFE_CONTACT_DETAILS} & set(
        detail.disclosed_fields
    )
    (withheld,) = intake.memory.events_of(ContactWithheldV1)
    data = withheld.data
    assert isinstance(data, ContactWithheldV1)
    assert data.path is ContactPath.PARTNER_DISCLOSURE
    assert data.reason is ContactRefusal.DO_NOT_CONTACT
    assert set(data.withheld_fields) == {F.PERSON_PHONE, F.PERSON_EMAIL,
                                         F.SAFETY_SAFE_CONTACT_DETAILS}  # fmt: skip
    assert data.actor_partner_id == partner.partner_id
    text = withheld.model_dump_json()
    assert PHONE not in text
    assert EMAIL not in text
    assert DETAILS not in text
    # The caseworker still sees all of it.
    full = await reads.read_case(intake.context, CASEWORKER, case_id)
    assert full.person.phone == PHONE
    assert full.safety.safe_contact_details == DETAILS


async def test_a_partner_gets_only_the_safe_channel_and_the_rest_is_recorded_as_withheld(
    intake: FakeIntake,
) -> None:
    case_id = await _registered(intake, SMS_EVENINGS)
    partner = await _accepted_by(intake, case_id)
    detail = await reads.read_case(intake.context, partner, case_id)
    assert detail.person.phone == PHONE
    assert detail.person.email is None
    assert detail.safety.safe_times == [SafeContactTime.EVENING]
    assert detail.safety.voicemail_allowed is False
    (withheld,) = intake.memory.events_of(ContactWithheldV1)
    assert withheld.data.reason is ContactRefusal.CHANNEL_NOT_SAFE  # type: ignore[attr-defined]
    assert withheld.data.withheld_fields == (F.PERSON_EMAIL,)  # type: ignore[attr-defined]


# --- contact checks --------------------------------------------------------------------------


async def test_a_contact_check_on_a_no_contact_person_is_refused_and_recorded(
    intake: FakeIntake,
) -> None:
    case_id = await _registered(intake, NO_CONTACT)
    commits = intake.memory.commits
    result = await safe_contact.check_contact(
        intake.context, CASEWORKER, case_id, ContactCheck(channel=SafeContactMethod.PHONE_CALL)
    )
    assert not result.allowed
    assert result.refusal is ContactRefusal.DO_NOT_CONTACT
    assert intake.memory.commits == commits + 1
    (event,) = intake.memory.events_of(ContactWithheldV1)
    assert event.data.path is ContactPath.CONTACT_CHECK  # type: ignore[attr-defined]
    assert event.data.channel is SafeContactMethod.PHONE_CALL  # type: ignore[attr-defined]
    assert event.correlation_id == intake.memory.cases[case_id].case.correlation_id


async def test_a_cleared_contact_check_writes_nothing_and_repeats_the_profile(
    intake: FakeIntake,
) -> None:
    case_id = await _registered(intake, SMS_EVENINGS)
    commits = intake.memory.commits
    result = await safe_contact.check_contact(
        intake.context, CASEWORKER, case_id,
        ContactCheck.model_validate({"channel": "sms", "local_time": "19:30"}),
    )  # fmt: skip
    assert result.allowed
    assert result.refusal is None
    assert result.safe_times == [SafeContactTime.EVENING]
    assert intake.memory.commits == commits
    assert intake.memory.events_of(ContactWithheldV1) == []


async def test_a_contact_check_stays_within_scope(intake: FakeIntake) -> None:
    case_id = await _registered(intake, SMS_EVENINGS)
    check = ContactCheck(channel=SafeContactMethod.SMS)
    with pytest.raises(OutsideScope):
        await safe_contact.check_contact(intake.context, ELSEWHERE, case_id, check)
    with pytest.raises(CaseNotFound):
        await safe_contact.check_contact(intake.context, CASEWORKER, uuid.uuid4(), check)


# --- a child: the guardian or the caseworker, never the child's own contact ------------------

GUARDIAN_NOTE = "Maître Fictif, +227 90 00 00 09"


async def _guardian(intake: FakeIntake, case_id: uuid.UUID, note: str | None) -> uuid.UUID:
    body: dict[str, Any] = {"appointed_at": "2026-01-06T10:00:00Z", "appointing_authority": "court"}
    if note is not None:
        body["note"] = note
    view = await children.appoint_guardian(
        intake.context, CASEWORKER, case_id, AppointGuardian.model_validate(body)
    )
    return view.guardian_appointment_id


def test_a_childs_notices_go_to_the_latest_reachable_guardian_else_the_caseworker() -> None:
    assert about_a_child(AgeBand.AGE_9_17, ())
    assert about_a_child(AgeBand.AGE_18_20, (Vulnerability.UNACCOMPANIED_CHILD,))
    assert not about_a_child(AgeBand.AGE_27_29, ())
    sms = SafetyFlags.model_validate(SMS_EVENINGS)
    old, new, silent = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    at = datetime(2026, 1, 1, tzinfo=UTC)
    guardians = [
        GuardianContact(old, at, True),
        GuardianContact(new, at + timedelta(days=2), True),
        GuardianContact(silent, at + timedelta(days=3), False),  # no contact recorded
    ]
    via = child_contact(sms, guardians, "caseworker:cw-1")
    assert via is not None
    assert via.route is ChildContactRoute.GUARDIAN
    assert via.guardian_appointment_id == new
    assert child_refusal(via) is ContactRefusal.CHILD
    # A child not to be contacted: only through the caseworker, never the guardian.
    hidden = child_contact(SafetyFlags.model_validate(NO_CONTACT), guardians, "caseworker:cw-1")
    assert hidden is not None
    assert hidden.route is ChildContactRoute.CASEWORKER
    assert hidden.caseworker_id == "caseworker:cw-1"
    # Neither a guardian to reach nor a caseworker: nobody, and the refusal says so.
    nobody = child_contact(sms, guardians[2:], None)
    assert nobody is None
    assert child_refusal(nobody) is ContactRefusal.NO_GUARDIAN_OR_CASEWORKER


async def test_a_partner_reading_a_childs_case_gets_the_guardians_contact_not_the_childs(
    intake: FakeIntake,
) -> None:
    case_id = await _registered(intake, SMS_EVENINGS, age=15)
    partner = await _accepted_by(intake, case_id)
    before = await reads.read_case(intake.context, partner, case_id)
    # No guardian yet: the caseworker who owns the case.
    assert before.person.phone is None
    assert before.person.email is None
    assert before.safety.safe_contact_details is None
    assert before.contact_via is not None
    assert before.contact_via.route is ChildContactRoute.CASEWORKER
    assert before.contact_via.caseworker_id == CASEWORKER.actor_id
    appointment_id = await _guardian(intake, case_id, GUARDIAN_NOTE)
    detail = await reads.read_case(intake.context, partner, case_id)
    assert detail.person.phone is None
    assert detail.person.email is None
    assert detail.contact_via is not None
    assert detail.contact_via.route is ChildContactRoute.GUARDIAN
    assert detail.contact_via.guardian_appointment_id == appointment_id
    assert detail.contact_via.guardian_contact == GUARDIAN_NOTE
    assert F.CASEWORK_NOTE in detail.disclosed_fields
    assert not {F.PERSON_PHONE, F.PERSON_EMAIL, F.SAFETY_SAFE_CONTACT_DETAILS} & set(
        detail.disclosed_fields
    )
    withheld = [e.data for e in intake.memory.events_of(ContactWithheldV1)]
    assert len(withheld) == 2
    for data in withheld:
        assert isinstance(data, ContactWithheldV1)
        assert data.reason is ContactRefusal.CHILD
        assert set(data.withheld_fields) == {F.PERSON_PHONE, F.PERSON_EMAIL,
                                             F.SAFETY_SAFE_CONTACT_DETAILS}  # fmt: skip
    for event in intake.memory.events:
        for secret in (PHONE, EMAIL, DETAILS, GUARDIAN_NOTE):
            assert secret not in event.model_dump_json()
    # The case's own staff still read the child's record.
    full = await reads.read_case(intake.context, CASEWORKER, case_id)
    assert full.person.phone == PHONE
    assert full.contact_via is None


async def test_a_contact_check_on_a_child_is_refused_on_every_channel_and_names_whom_to_contact(
    intake: FakeIntake,
) -> None:
    case_id = await _registered(intake, SMS_EVENINGS, age=15)
    await _guardian(intake, case_id, None)  # a guardian with no contact recorded
    for channel in SafeContactMethod:
        result = await safe_contact.check_contact(
            intake.context, CASEWORKER, case_id, ContactCheck(channel=channel)
        )
        assert not result.allowed
        assert result.refusal is ContactRefusal.CHILD
        assert result.contact_via is not None
        assert result.contact_via.route is ChildContactRoute.CASEWORKER
        assert result.contact_via.guardian_contact is None
    appointment_id = await _guardian(intake, case_id, GUARDIAN_NOTE)
    result = await safe_contact.check_contact(
        intake.context, CASEWORKER, case_id,
        ContactCheck.model_validate({"channel": "sms", "local_time": "19:30"}),
    )  # fmt: skip
    assert result.refusal is ContactRefusal.CHILD
    assert result.contact_via is not None
    assert result.contact_via.route is ChildContactRoute.GUARDIAN
    assert result.contact_via.guardian_appointment_id == appointment_id
    # The check names the guardian's appointment; its details stay in the protection view.
    assert result.contact_via.guardian_contact is None
    events = intake.memory.events_of(ContactWithheldV1)
    assert len(events) == len(SafeContactMethod) + 1
    assert {e.data.reason for e in events} == {ContactRefusal.CHILD}  # type: ignore[attr-defined]
