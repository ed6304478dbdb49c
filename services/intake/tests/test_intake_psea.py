"""The PSEA channel (issue 17) on the fakes: a complaint is filed by whoever receives it and
seen by the focal point alone; its account is sealed and never in an event; assistance
through the GBV pathway needs consent; the allegation goes to the implicated organisation,
the outcome may suspend it; a step not taken by its deadline is announced once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mpa_common.timers import Timer
from mpa_contracts.events.case import CaseNeedsAddedV1
from mpa_contracts.events.psea import (
    PseaAllegationReferredV1,
    PseaAssistanceDecidedV1,
    PseaComplaintReadV1,
    PseaComplaintReceivedV1,
    PseaDeadlineMissedV1,
    PseaInvestigationConcludedV1,
)
from mpa_contracts.vocabularies import (
    ActorRole,
    CaseScope,
    NeedCategory,
    PersonalDataField,
    PseaAssistanceDecision,
    PseaInvestigationOutcome,
    PseaStep,
)
from mpa_intake.app import cases, keys, psea
from mpa_intake.app.commands import RegisterCase
from mpa_intake.app.context import Actor, ScopePolicy
from mpa_intake.app.psea import (
    TIMER_OF_STEP,
    DecideAssistance,
    FileComplaint,
    RecordOutcome,
    ReferAllegation,
)
from mpa_intake.domain.errors import (
    AccessDenied,
    ComplaintConflict,
    ComplaintNotFound,
    InvalidCase,
)
from mpa_intake.testing import FakeIntake, FakeIntakeUnitOfWork, fake_intake, vault_for_tests

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NIAMEY = {"team": "ne-niamey-cm", "agency": "iom-ne", "country": "NE"}
CASEWORKER = Actor(subject="cw-1", actor_id="caseworker:cw-1", role=ActorRole.CASEWORKER, **NIAMEY)
FOCAL_POINT = Actor(
    subject="fp-1", actor_id="psea:fp-1", role=ActorRole.PSEA_FOCAL_POINT, country="NE"
)
OTHERS = [
    CASEWORKER,
    Actor(subject="ad-1", actor_id="admin:ad-1", role=ActorRole.ADMIN),
    Actor(subject="au-1", actor_id="auditor:au-1", role=ActorRole.AUDITOR),
    Actor(subject="sv-1", actor_id="supervisor:sv-1", role=ActorRole.SUPERVISOR, **NIAMEY),
]
ACCOUNT = "ACCOUNT-do-not-leak: what the survivor said"
PARTNER = uuid.uuid4()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def intake(clock: Clock) -> FakeIntake:
    return fake_intake(clock=clock)


def complaint(**changes: Any) -> FileComplaint:
    body: dict[str, Any] = {
        "allegation_type": "sexual_exploitation",
        "account": ACCOUNT,
        "implicated_partner_id": str(PARTNER),
        "survivor": {"given_name": "Survivor-Name", "phone": "+227 90 11 22 33"},
        "assistance_consent": True,
        "identity_consent": False,
    }
    body.update(changes)
    return FileComplaint.model_validate(body)


async def survivor_case(intake: FakeIntake) -> uuid.UUID:
    command = RegisterCase.model_validate({
        "person": {"given_name": "Survivor-Name", "family_name": "Exemple", "estimated_age": 24,
                   "sex": "female", "languages": ["fr"]},
        "location": {"country": "NE"},
        "needs": [{"category": "shelter", "urgency": "high"}],
        "consent": {"given": True, "details": {"scopes": ["referral", "data_sharing"],
                    "given_by": "self", "method": "verbal", "obtained_at": "2026-03-01T00:00:00Z"}},
        "safety": {"do_not_contact": False, "safe_contact_method": "through_caseworker"},
    })  # fmt: skip
    return (await cases.register_case(intake.context, CASEWORKER, command)).case_id


async def filed(intake: FakeIntake, **changes: Any) -> uuid.UUID:
    return (
        await psea.file_complaint(intake.context, CASEWORKER, complaint(**changes))
    ).complaint_id


def all_event_text(intake: FakeIntake) -> str:
    return "".join(e.model_dump_json() for e in intake.memory.events)


async def test_a_filed_complaint_answers_its_id_only_and_seals_the_account(
    intake: FakeIntake,
) -> None:
    receipt = await psea.file_complaint(intake.context, CASEWORKER, complaint())
    assert set(receipt.model_dump()) == {"complaint_id", "received_at"}
    stored = intake.memory.complaints[receipt.complaint_id]
    assert ACCOUNT.encode() not in stored.sealed.ciphertext
    (received,) = intake.memory.events_of(PseaComplaintReceivedV1)
    assert received.data.assistance_due_at == NOW + timedelta(hours=24)  # type: ignore[attr-defined]
    assert received.subject == f"complaint/{receipt.complaint_id}"
    text = all_event_text(intake)
    for secret in (ACCOUNT, "Survivor-Name", "+227 90 11 22 33", str(PARTNER)):
        assert secret not in text
    kinds = {t.kind for t in intake.memory.timers if t.subject_id == receipt.complaint_id}
    assert kinds == {
        TIMER_OF_STEP[PseaStep.ASSISTANCE],
        TIMER_OF_STEP[PseaStep.ALLEGATION_REFERRAL],
    }


async def test_only_the_focal_point_lists_reads_or_acts_on_a_complaint(intake: FakeIntake) -> None:
    complaint_id = await filed(intake)
    for actor in OTHERS:
        with pytest.raises(AccessDenied):
            await psea.list_complaints(intake.context, actor)
        with pytest.raises(AccessDenied):
            await psea.read_complaint(intake.context, actor, complaint_id)
        with pytest.raises(AccessDenied):
            await psea.refer_allegation(intake.context, actor, complaint_id, ReferAllegation())
    listed = await psea.list_complaints(intake.context, FOCAL_POINT)
    assert [c.complaint_id for c in listed.items] == [complaint_id]
    assert ACCOUNT not in listed.model_dump_json()  # the list holds no account
    detail = await psea.read_complaint(intake.context, FOCAL_POINT, complaint_id)
    assert detail.account == ACCOUNT
    assert detail.survivor.given_name == "Survivor-Name"
    (read,) = intake.memory.events_of(PseaComplaintReadV1)
    assert set(read.data.fields) == {  # type: ignore[attr-defined]
        PersonalDataField.PSEA_ACCOUNT, PersonalDataField.PERSON_GIVEN_NAME,
        PersonalDataField.PERSON_PHONE,
    }  # fmt: skip
    with pytest.raises(ComplaintNotFound):
        await psea.read_complaint(intake.context, FOCAL_POINT, uuid.uuid4())


async def test_assistance_through_the_gbv_pathway_needs_consent_and_the_survivors_case(
    intake: FakeIntake,
) -> None:
    case_id = await survivor_case(intake)
    refused = await filed(intake, assistance_consent=False)
    with pytest.raises(ComplaintConflict, match="consent"):
        await psea.decide_assistance(
            intake.context, FOCAL_POINT, refused,
            DecideAssistance(decision=PseaAssistanceDecision.REFERRED, survivor_case_id=case_id),
        )  # fmt: skip
    complaint_id = await filed(intake)
    with pytest.raises(ComplaintConflict, match="case"):
        await psea.decide_assistance(
            intake.context, FOCAL_POINT, complaint_id,
            DecideAssistance(decision=PseaAssistanceDecision.REFERRED),
        )  # fmt: skip
    summary = await psea.decide_assistance(
        intake.context, FOCAL_POINT, complaint_id,
        DecideAssistance(decision=PseaAssistanceDecision.REFERRED, survivor_case_id=case_id),
    )  # fmt: skip
    assert summary.assistance is PseaAssistanceDecision.REFERRED
    case = intake.memory.cases[case_id].case
    assert [n.category for n in case.needs] == [NeedCategory.SHELTER, NeedCategory.GBV_RESPONSE]
    (added,) = intake.memory.events_of(CaseNeedsAddedV1)
    # The case's story does not say that the PSEA channel acted, nor which complaint.
    assert added.data.actor_role is ActorRole.SYSTEM  # type: ignore[attr-defined]
    assert str(complaint_id) not in added.model_dump_json()
    (decided,) = intake.memory.events_of(PseaAssistanceDecidedV1)
    assert decided.data.on_time is True  # type: ignore[attr-defined]
    assert str(case_id) not in decided.model_dump_json()
    assistance_timer = TIMER_OF_STEP[PseaStep.ASSISTANCE]
    assert all(t.fired for t in intake.memory.timers
               if t.subject_id == complaint_id and t.kind == assistance_timer)  # fmt: skip
    with pytest.raises(ComplaintConflict):
        await psea.decide_assistance(
            intake.context, FOCAL_POINT, complaint_id,
            DecideAssistance(decision=PseaAssistanceDecision.DECLINED),
        )  # fmt: skip


async def test_the_allegation_goes_to_the_implicated_organisation_then_its_outcome_may_suspend_it(
    intake: FakeIntake, clock: Clock
) -> None:
    anonymous = await filed(intake, implicated_partner_id=None)
    with pytest.raises(ComplaintConflict, match="implicated organisation"):
        await psea.refer_allegation(intake.context, FOCAL_POINT, anonymous, ReferAllegation())
    complaint_id = await filed(intake)
    with pytest.raises(ComplaintConflict, match="not been referred"):
        await psea.record_outcome(
            intake.context, FOCAL_POINT, complaint_id,
            RecordOutcome(outcome=PseaInvestigationOutcome.SUBSTANTIATED),
        )  # fmt: skip
    clock.now = NOW + timedelta(hours=30)  # late
    await psea.refer_allegation(intake.context, FOCAL_POINT, complaint_id, ReferAllegation())
    (referred,) = intake.memory.events_of(PseaAllegationReferredV1)
    data = referred.data
    assert isinstance(data, PseaAllegationReferredV1)
    assert data.implicated_partner_id == PARTNER
    assert data.survivor_identity_shared is False
    assert data.on_time is False
    assert data.investigation_due_at == clock.now + timedelta(days=90)
    with pytest.raises(ComplaintConflict, match="only a substantiated"):
        await psea.record_outcome(
            intake.context, FOCAL_POINT, complaint_id,
            RecordOutcome(outcome=PseaInvestigationOutcome.INCONCLUSIVE, suspend_partner=True),
        )  # fmt: skip
    summary = await psea.record_outcome(
        intake.context, FOCAL_POINT, complaint_id,
        RecordOutcome(outcome=PseaInvestigationOutcome.SUBSTANTIATED, suspend_partner=True),
    )  # fmt: skip
    assert summary.partner_suspended is True
    (concluded,) = intake.memory.events_of(PseaInvestigationConcludedV1)
    assert concluded.data.suspend_partner is True  # type: ignore[attr-defined]
    assert ACCOUNT not in all_event_text(intake)


async def test_a_step_not_taken_by_its_deadline_is_announced_once(
    intake: FakeIntake, clock: Clock
) -> None:
    complaint_id = await filed(intake)
    await psea.decide_assistance(
        intake.context, FOCAL_POINT, complaint_id,
        DecideAssistance(decision=PseaAssistanceDecision.DECLINED),
    )  # fmt: skip
    late = NOW + timedelta(hours=25)
    outcomes = []
    for step in (PseaStep.ALLEGATION_REFERRAL, PseaStep.ALLEGATION_REFERRAL, PseaStep.ASSISTANCE):
        timer = Timer(uuid.uuid4(), TIMER_OF_STEP[step], complaint_id, late, {})
        async with FakeIntakeUnitOfWork(intake.memory) as uow:
            outcomes.append(await psea.on_psea_deadline(uow, timer, late))
            await uow.commit()
    assert outcomes == ["missed", "done", "done"]
    (missed,) = intake.memory.events_of(PseaDeadlineMissedV1)
    assert missed.data.step is PseaStep.ALLEGATION_REFERRAL  # type: ignore[attr-defined]
    clock.now = late
    (summary,) = (await psea.list_complaints(intake.context, FOCAL_POINT)).items
    assert summary.overdue_steps == [PseaStep.ALLEGATION_REFERRAL]
    assert summary.missed_steps == [PseaStep.ALLEGATION_REFERRAL]


async def test_master_key_rotation_rewraps_complaints_too() -> None:
    vault = vault_for_tests("old", "new", active="old")
    before = fake_intake(vault=vault)
    complaint_id = await filed(before)
    keyring_new = type(vault.keyring)(vault.keyring._keys, "new")  # same keys, new active
    rotating = fake_intake(vault=type(vault)(keyring_new), memory=before.memory)
    report = await keys.rewrap_data_keys(rotating.context, batch_size=1)
    assert (report.complaints_rewrapped, report.complaints_by_master_key) == (1, {"new": 1})
    assert before.memory.complaints[complaint_id].sealed.master_key_id == "new"
    detail = await psea.read_complaint(rotating.context, FOCAL_POINT, complaint_id)
    assert detail.account == ACCOUNT


# --- the focal point's country scope ---------------------------------------------------------

ELSEWHERE = Actor(
    subject="fp-9", actor_id="psea:fp-9", role=ActorRole.PSEA_FOCAL_POINT, country="ML"
)


async def test_a_focal_point_reaches_only_their_country_offices_complaints(
    intake: FakeIntake,
) -> None:
    niger = await filed(intake)  # the caseworker's office: NE
    mali = (
        await psea.file_complaint(
            intake.context, CASEWORKER, complaint(country="ML", survivor=None)
        )
    ).complaint_id
    assert intake.memory.complaints[niger].complaint.country == "NE"
    listed = await psea.list_complaints(intake.context, FOCAL_POINT)
    assert [c.complaint_id for c in listed.items] == [niger]
    assert listed.items[0].country == "NE"
    assert [
        c.complaint_id for c in (await psea.list_complaints(intake.context, ELSEWHERE)).items
    ] == [mali]
    events = len(intake.memory.events)
    # Another office's complaint is answered as one that does not exist, read or step.
    with pytest.raises(ComplaintNotFound):
        await psea.read_complaint(intake.context, ELSEWHERE, niger)
    with pytest.raises(ComplaintNotFound):
        await psea.refer_allegation(intake.context, ELSEWHERE, niger, ReferAllegation())
    with pytest.raises(ComplaintNotFound):
        await psea.decide_assistance(
            intake.context,
            ELSEWHERE,
            niger,
            DecideAssistance(decision=PseaAssistanceDecision.DECLINED),
        )
    with pytest.raises(ComplaintNotFound):
        await psea.record_outcome(
            intake.context, ELSEWHERE, niger,
            RecordOutcome(outcome=PseaInvestigationOutcome.UNSUBSTANTIATED),
        )  # fmt: skip
    assert len(intake.memory.events) == events  # no read announced, no step taken
    assert intake.memory.complaints[niger].complaint.assistance is None
    # A focal point without a country office in their token reaches none.
    nowhere = Actor(subject="fp-0", actor_id="psea:fp-0", role=ActorRole.PSEA_FOCAL_POINT)
    assert (await psea.list_complaints(intake.context, nowhere)).items == []
    with pytest.raises(ComplaintNotFound):
        await psea.read_complaint(intake.context, nowhere, niger)


async def test_a_focal_point_configured_to_reach_all_sees_every_office(clock: Clock) -> None:
    intake = fake_intake(
        clock=clock,
        scopes=ScopePolicy(
            read={ActorRole.PSEA_FOCAL_POINT: CaseScope.ALL},
            write={ActorRole.PSEA_FOCAL_POINT: CaseScope.ALL},
        ),
    )
    niger = await filed(intake)
    listed = await psea.list_complaints(intake.context, ELSEWHERE)
    assert [c.complaint_id for c in listed.items] == [niger]
    await psea.refer_allegation(intake.context, ELSEWHERE, niger, ReferAllegation())


async def test_a_complaint_needs_a_receiving_country_office() -> None:
    intake = fake_intake()
    partner_staff = Actor(subject="p-1", actor_id="partner:p-1", role=ActorRole.PARTNER,
                          partner_id=PARTNER)  # fmt: skip
    with pytest.raises(InvalidCase) as refused:
        await psea.file_complaint(intake.context, partner_staff, complaint())
    assert refused.value.errors[0].field == "body.country"
    receipt = await psea.file_complaint(intake.context, partner_staff, complaint(country="NE"))
    assert intake.memory.complaints[receipt.complaint_id].complaint.country == "NE"
