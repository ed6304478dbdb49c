"""Cross-border work (issue 17) on the in-memory unit of work: transfer consents naming the
destination countries, what a partner abroad may read with and without one, and the
hand-off that the receiving country office accepts before travel and closes on arrival —
what each step commits and emits, and what it refuses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mpa_common.messaging.subscriptions import Delivery, RecordOrigin
from mpa_contracts.envelope import new_envelope
from mpa_contracts.events.case import CaseUpdatedV1
from mpa_contracts.events.casework import CaseTransferAcceptedV1, CaseTransferRequestedV1
from mpa_contracts.events.cross_border import (
    HandoffAcceptedV1,
    HandoffArrivedV1,
    HandoffCancelledV1,
    HandoffDeclinedV1,
    HandoffDepartedV1,
    HandoffRequestedV1,
    TransferConsentRecordedV1,
    TransferConsentWithdrawnV1,
)
from mpa_contracts.events.referral import ReferralAcceptedV1
from mpa_contracts.vocabularies import (
    ActorRole,
    CaseClosureReason,
    HandoffCancelReason,
    HandoffDeclineReason,
    HandoffState,
    ReferralState,
    TransferInitiator,
)
from mpa_intake import handlers
from mpa_intake.app import cases, casework, cross_border, reads
from mpa_intake.app.casework_commands import RequestTransfer
from mpa_intake.app.commands import CloseCase, RegisterCase
from mpa_intake.app.context import Actor
from mpa_intake.app.cross_border import (
    CancelHandoff,
    DeclineHandoff,
    RecordArrival,
    RecordDeparture,
    RecordTransferConsent,
    RequestHandoff,
    WithdrawTransferConsent,
)
from mpa_intake.domain.errors import AccessDenied, CaseConflict, InvalidCase, OutsideScope
from mpa_intake.testing import FakeIntake, FakeIntakeUnitOfWork, fake_intake

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NIAMEY = {"team": "ne-niamey-cm", "agency": "iom-ne", "country": "NE"}
BAMAKO = {"team": "ml-bamako-cm", "agency": "iom-ml", "country": "ML"}
DAKAR = {"team": "sn-dakar-cm", "agency": "iom-sn", "country": "SN"}
CASEWORKER = Actor(subject="cw-1", actor_id="caseworker:cw-1", role=ActorRole.CASEWORKER, **NIAMEY)
MALI = Actor(subject="op-7", actor_id="operator:op-7", role=ActorRole.OPERATOR, **BAMAKO)
MALI_COLLEAGUE = Actor(
    subject="cw-8", actor_id="caseworker:cw-8", role=ActorRole.CASEWORKER, **BAMAKO
)
SENEGAL = Actor(subject="op-9", actor_id="operator:op-9", role=ActorRole.OPERATOR, **DAKAR)
ELSEWHERE = Actor(
    subject="cw-3",
    actor_id="caseworker:cw-3",
    role=ActorRole.CASEWORKER,
    team="ne-agadez-cm",
    agency="iom-ne",
    country="NE",
)


def register(**changes: Any) -> RegisterCase:
    body: dict[str, Any] = {
        "person": {
            "given_name": "Aïcha",
            "family_name": "Exemple",
            "estimated_age": 30,
            "sex": "female",
            "languages": ["ha"],
        },
        "location": {"country": "NE", "admin_area": "NE-1"},
        "needs": [
            {"category": "reintegration", "urgency": "medium", "assistance_country": "ML"},
            {"category": "shelter", "urgency": "high", "note": "A bed tonight"},
        ],
        "consent": {
            "given": True,
            "details": {
                "scopes": ["referral", "data_sharing"],
                "given_by": "self",
                "method": "verbal",
                "obtained_at": "2026-01-05T10:00:00Z",
            },
        },
        "safety": {"do_not_contact": False, "safe_contact_method": "through_caseworker"},
    }
    body.update(changes)
    return RegisterCase.model_validate(body)


@pytest.fixture
def intake() -> FakeIntake:
    return fake_intake(clock=lambda: NOW)


async def a_case(intake: FakeIntake, **changes: Any) -> uuid.UUID:
    return (await cases.register_case(intake.context, CASEWORKER, register(**changes))).case_id


def events(intake: FakeIntake, kind: type) -> list:  # type: ignore[type-arg]
    return [e.data for e in intake.memory.events_of(kind)]


def consent_to(*countries: str, **fields: Any) -> RecordTransferConsent:
    return RecordTransferConsent.model_validate(
        {
            "destination_countries": list(countries),
            "given_by": "self",
            "method": "written",
            "obtained_at": (NOW - timedelta(hours=1)).isoformat(),
            **fields,
        }
    )


async def consented(intake: FakeIntake, case_id: uuid.UUID, *countries: str) -> uuid.UUID:
    view = await cross_border.record_transfer_consent(
        intake.context, CASEWORKER, case_id, consent_to(*countries)
    )
    return view.transfer_consent_id


# --- transfer consents ---------------------------------------------------------------------


async def test_a_transfer_consent_names_its_countries_and_is_announced_without_personal_data(
    intake: FakeIntake,
) -> None:
    case_id = await a_case(intake)
    view = await cross_border.record_transfer_consent(
        intake.context, CASEWORKER, case_id, consent_to("ML", "SN")
    )
    assert view.destination_countries == ["ML", "SN"]
    assert view.obtained_by == CASEWORKER.actor_id
    (event,) = events(intake, TransferConsentRecordedV1)
    assert event.transfer_consent_id == view.transfer_consent_id
    assert event.destination_countries == ("ML", "SN")
    assert "Aïcha" not in intake.memory.events[-1].model_dump_json()
    shown = await cross_border.read_cross_border(intake.context, CASEWORKER, case_id)
    assert shown.awaiting_transfer_consent == []


async def test_a_transfer_consent_is_refused_where_its_rules_are_not_met(
    intake: FakeIntake,
) -> None:
    case_id = await a_case(intake)
    with pytest.raises(InvalidCase) as here:
        await cross_border.record_transfer_consent(
            intake.context, CASEWORKER, case_id, consent_to("NE")
        )
    assert [e.field for e in here.value.errors] == ["body.destination_countries"]
    with pytest.raises(InvalidCase):
        await cross_border.record_transfer_consent(
            intake.context,
            CASEWORKER,
            case_id,
            consent_to("ML", obtained_at=(NOW + timedelta(days=1)).isoformat()),
        )
    child = await a_case(
        intake,
        person={
            "given_name": "Ali",
            "family_name": "Exemple",
            "estimated_age": 12,
            "sex": "male",
            "languages": ["ha"],
        },
        consent={
            "given": True,
            "details": {
                "scopes": ["referral"],
                "given_by": "legal_guardian",
                "method": "verbal",
                "obtained_at": "2026-01-05T10:00:00Z",
            },
        },
    )
    with pytest.raises(InvalidCase) as by_self:
        await cross_border.record_transfer_consent(
            intake.context, CASEWORKER, child, consent_to("ML")
        )
    assert [e.field for e in by_self.value.errors] == ["body.given_by"]
    with pytest.raises(OutsideScope):
        await cross_border.record_transfer_consent(
            intake.context, ELSEWHERE, case_id, consent_to("ML")
        )
    assert events(intake, TransferConsentRecordedV1) == []


async def test_withdrawing_a_country_narrows_the_consent_and_is_announced(
    intake: FakeIntake,
) -> None:
    case_id = await a_case(intake)
    consent_id = await consented(intake, case_id, "ML", "SN")
    with pytest.raises(CaseConflict):
        await cross_border.withdraw_transfer_consent(
            intake.context,
            CASEWORKER,
            case_id,
            consent_id,
            WithdrawTransferConsent(countries=["GH"]),
        )
    view = await cross_border.withdraw_transfer_consent(
        intake.context, CASEWORKER, case_id, consent_id, WithdrawTransferConsent(countries=["ML"])
    )
    assert (view.destination_countries, view.withdrawn_countries) == (["SN"], ["ML"])
    (event,) = events(intake, TransferConsentWithdrawnV1)
    assert (event.withdrawn_countries, event.remaining_countries) == (("ML",), ("SN",))
    shown = await cross_border.read_cross_border(intake.context, CASEWORKER, case_id)
    assert shown.awaiting_transfer_consent == ["ML"]  # the reintegration need waits again
    everything = await cross_border.withdraw_transfer_consent(
        intake.context, CASEWORKER, case_id, consent_id, WithdrawTransferConsent()
    )
    assert everything.state == "withdrawn"


async def _accepted_by_partner(
    intake: FakeIntake, case_id: uuid.UUID, need_index: int, partner_id: uuid.UUID
) -> None:
    need_id = intake.memory.cases[case_id].case.needs[need_index].need_id
    referral_id = uuid.uuid4()
    accepted = ReferralAcceptedV1(
        actor_id="partner:p-1",
        actor_role=ActorRole.PARTNER,
        referral_id=referral_id,
        case_id=case_id,
        need_id=need_id,
        partner_id=partner_id,
        service_id=uuid.uuid4(),
        start_due_at=NOW + timedelta(days=1),
    )
    delivery = Delivery(
        new_envelope(accepted, source="urn:mpa:service:referral"),
        RecordOrigin("mpa.referral.v1", 0, 0, 0),
    )
    async with FakeIntakeUnitOfWork(intake.memory) as uow:
        await handlers.on_referral_accepted(uow, accepted, delivery)  # type: ignore[arg-type]
        await uow.commit()
    intake.referrals.set(
        referral_id,
        case_id=case_id,
        need_id=need_id,
        partner_id=partner_id,
        state=ReferralState.ACCEPTED,
    )


def partner(partner_id: uuid.UUID) -> Actor:
    return Actor(
        subject="p-1",
        actor_id="partner:p-1",
        role=ActorRole.PARTNER,
        partner_id=partner_id,
        credentials=str(partner_id),
    )


async def test_a_partner_abroad_reads_nothing_without_a_transfer_consent_for_its_country(
    intake: FakeIntake,
) -> None:
    case_id = await a_case(intake)
    abroad, at_home = uuid.uuid4(), uuid.uuid4()
    await _accepted_by_partner(intake, case_id, 0, abroad)  # reintegration in Mali
    await _accepted_by_partner(intake, case_id, 1, at_home)  # shelter in Niger
    with pytest.raises(AccessDenied, match="transfer of their data"):
        await reads.read_case(intake.context, partner(abroad), case_id)
    home = await reads.read_case(intake.context, partner(at_home), case_id)
    assert [n.category for n in home.needs] == ["shelter"]

    consent_id = await consented(intake, case_id, "ML")
    detail = await reads.read_case(intake.context, partner(abroad), case_id)
    assert [n.category for n in detail.needs] == ["reintegration"]

    # Withdrawn: no further disclosure, at once (before the referral service hears of it).
    await cross_border.withdraw_transfer_consent(
        intake.context, CASEWORKER, case_id, consent_id, WithdrawTransferConsent()
    )
    with pytest.raises(AccessDenied):
        await reads.read_case(intake.context, partner(abroad), case_id)


# --- hand-offs -----------------------------------------------------------------------------


def travel(days: int = 10) -> RequestHandoff:
    return RequestHandoff(to_country="ML", planned_travel_at=NOW + timedelta(days=days))


async def test_a_handoff_needs_a_transfer_consent_for_the_receiving_country(
    intake: FakeIntake,
) -> None:
    case_id = await a_case(intake)
    with pytest.raises(CaseConflict, match="no transfer consent in force names ML"):
        await cross_border.request_handoff(intake.context, CASEWORKER, case_id, travel())
    await consented(intake, case_id, "SN")
    with pytest.raises(CaseConflict):
        await cross_border.request_handoff(intake.context, CASEWORKER, case_id, travel())
    with pytest.raises(InvalidCase):
        await cross_border.request_handoff(
            intake.context,
            CASEWORKER,
            case_id,
            RequestHandoff(to_country="NE", planned_travel_at=NOW + timedelta(days=1)),
        )
    await consented(intake, case_id, "ML")
    with pytest.raises(OutsideScope):
        await cross_border.request_handoff(intake.context, ELSEWHERE, case_id, travel())
    view = await cross_border.request_handoff(intake.context, CASEWORKER, case_id, travel())
    assert (view.state, view.from_country, view.to_country) == (HandoffState.REQUESTED, "NE", "ML")
    (event,) = events(intake, HandoffRequestedV1)
    assert event.from_owner_id == CASEWORKER.actor_id
    with pytest.raises(CaseConflict, match="under way already"):
        await cross_border.request_handoff(intake.context, CASEWORKER, case_id, travel())


async def test_travel_is_refused_before_acceptance_and_only_the_receiving_office_accepts(
    intake: FakeIntake,
) -> None:
    case_id = await a_case(intake)
    await consented(intake, case_id, "ML")
    handoff = await cross_border.request_handoff(intake.context, CASEWORKER, case_id, travel())
    handoff_id = handoff.handoff_id
    with pytest.raises(CaseConflict, match="only once the receiving office accepted"):
        await cross_border.record_departure(
            intake.context, CASEWORKER, case_id, handoff_id, RecordDeparture(departed_at=NOW)
        )
    with pytest.raises(CaseConflict, match="only once the receiving office accepted"):
        await cross_border.record_arrival(
            intake.context, MALI, case_id, handoff_id, RecordArrival(arrived_at=NOW)
        )
    # Neither the sending office nor a third country's office accepts.
    for someone in (CASEWORKER, SENEGAL):
        with pytest.raises(AccessDenied):
            await cross_border.accept_handoff(intake.context, someone, case_id, handoff_id)
    inbox = await cross_border.pending_handoffs(intake.context, MALI)
    assert [h.handoff_id for h in inbox.items] == [handoff_id]
    assert (await cross_border.pending_handoffs(intake.context, SENEGAL)).items == []
    accepted = await cross_border.accept_handoff(intake.context, MALI, case_id, handoff_id)
    assert (accepted.state, accepted.accepted_by) == (HandoffState.ACCEPTED, MALI.actor_id)
    (event,) = events(intake, HandoffAcceptedV1)
    assert (event.actor_id, event.receiving_team) == (MALI.actor_id, "ml-bamako-cm")
    with pytest.raises(CaseConflict):
        await cross_border.accept_handoff(intake.context, MALI_COLLEAGUE, case_id, handoff_id)
    # Responsibility has not moved yet: the sending office keeps the case until arrival.
    assert intake.memory.cases[case_id].case.ownership.country == "NE"
    # Nor does an ordinary transfer slip in meanwhile.
    with pytest.raises(CaseConflict, match="hand-off"):
        await casework.request_transfer(
            intake.context, CASEWORKER, case_id, RequestTransfer(to_team="ne-agadez-cm")
        )


async def test_arrival_closes_the_loop_and_moves_responsibility_through_a_transfer(
    intake: FakeIntake,
) -> None:
    case_id = await a_case(intake)
    await consented(intake, case_id, "ML")
    handoff_id = (
        await cross_border.request_handoff(intake.context, CASEWORKER, case_id, travel(0))
    ).handoff_id
    await cross_border.accept_handoff(intake.context, MALI, case_id, handoff_id)
    departed = await cross_border.record_departure(
        intake.context, CASEWORKER, case_id, handoff_id, RecordDeparture(departed_at=NOW)
    )
    assert departed.state is HandoffState.DEPARTED
    (departure,) = events(intake, HandoffDepartedV1)
    assert departure.departed_at == NOW
    # The sending office cannot record arrival, nor another country's.
    for someone in (CASEWORKER, SENEGAL):
        with pytest.raises(AccessDenied):
            await cross_border.record_arrival(
                intake.context, someone, case_id, handoff_id, RecordArrival(arrived_at=NOW)
            )
    with pytest.raises(CaseConflict, match="before the departure"):
        await cross_border.record_arrival(
            intake.context,
            MALI_COLLEAGUE,
            case_id,
            handoff_id,
            RecordArrival(arrived_at=NOW - timedelta(hours=1)),
        )
    arrived = await cross_border.record_arrival(
        intake.context, MALI_COLLEAGUE, case_id, handoff_id, RecordArrival(arrived_at=NOW)
    )
    assert arrived.state is HandoffState.ARRIVED
    case = intake.memory.cases[case_id].case
    # The owner is who accepted responsibility, in the receiving office.
    owner = case.ownership
    assert (owner.owner_id, owner.team, owner.agency, owner.country) == (
        MALI.actor_id,
        "ml-bamako-cm",
        "iom-ml",
        "ML",
    )
    assert case.profile.location.country == "ML"
    (requested,) = events(intake, CaseTransferRequestedV1)
    (transfer,) = events(intake, CaseTransferAcceptedV1)
    assert requested.initiator is TransferInitiator.SENDER
    assert (requested.from_country, requested.to_country) == ("NE", "ML")
    assert transfer.transfer_id == arrived.transfer_id == requested.transfer_id
    assert transfer.owner_country == "ML"
    (updated,) = events(intake, CaseUpdatedV1)
    assert updated.profile.location.country == "ML"
    (event,) = events(intake, HandoffArrivedV1)
    assert (event.from_country, event.to_country, event.owner_id) == ("NE", "ML", MALI.actor_id)
    assert event.departure_recorded is True
    kinds = [e.type for e in intake.memory.events[-4:]]
    assert kinds == [
        "org.mpa.case.transfer_requested.v1",
        "org.mpa.case.transfer_accepted.v1",
        "org.mpa.case.updated.v1",
        "org.mpa.case.handoff_arrived.v1",
    ]
    with pytest.raises(CaseConflict):
        await cross_border.record_arrival(
            intake.context, MALI, case_id, handoff_id, RecordArrival(arrived_at=NOW)
        )
    # In Mali the reintegration need is no longer transnational.
    shown = await cross_border.read_cross_border(intake.context, MALI, case_id)
    assert (shown.country, shown.owner_country, shown.awaiting_transfer_consent) == ("ML", "ML", [])


async def test_a_declined_or_cancelled_handoff_changes_nothing_and_frees_the_case(
    intake: FakeIntake,
) -> None:
    case_id = await a_case(intake)
    await consented(intake, case_id, "ML")
    first = await cross_border.request_handoff(intake.context, CASEWORKER, case_id, travel())
    declined = await cross_border.decline_handoff(
        intake.context,
        MALI,
        case_id,
        first.handoff_id,
        DeclineHandoff(reason=HandoffDeclineReason.NO_CAPACITY),
    )
    assert declined.state is HandoffState.DECLINED
    (event,) = events(intake, HandoffDeclinedV1)
    assert event.reason is HandoffDeclineReason.NO_CAPACITY
    second = await cross_border.request_handoff(intake.context, CASEWORKER, case_id, travel())
    await cross_border.accept_handoff(intake.context, MALI, case_id, second.handoff_id)
    with pytest.raises(OutsideScope):
        await cross_border.cancel_handoff(
            intake.context,
            MALI,
            case_id,
            second.handoff_id,
            CancelHandoff(reason=HandoffCancelReason.OTHER),
        )
    cancelled = await cross_border.cancel_handoff(
        intake.context,
        CASEWORKER,
        case_id,
        second.handoff_id,
        CancelHandoff(reason=HandoffCancelReason.TRAVEL_CANCELLED),
    )
    assert cancelled.state is HandoffState.CANCELLED
    assert intake.memory.cases[case_id].case.ownership.owner_id == CASEWORKER.actor_id
    # The case is free for an ordinary transfer again.
    await casework.request_transfer(
        intake.context, CASEWORKER, case_id, RequestTransfer(to_team="ne-agadez-cm")
    )
    # The receiving office of its hand-offs may read them (codes only); a stranger may not.
    shown = await cross_border.read_cross_border(intake.context, MALI, case_id)
    assert {h.state for h in shown.handoffs} == {HandoffState.DECLINED, HandoffState.CANCELLED}
    with pytest.raises(OutsideScope):
        await cross_border.read_cross_border(intake.context, SENEGAL, case_id)


async def test_withdrawing_the_consent_stops_a_handoff_not_yet_travelled_and_holds_an_arrival(
    intake: FakeIntake,
) -> None:
    case_id = await a_case(intake)
    consent_id = await consented(intake, case_id, "ML")
    first = await cross_border.request_handoff(intake.context, CASEWORKER, case_id, travel(0))
    await cross_border.accept_handoff(intake.context, MALI, case_id, first.handoff_id)
    # Not closed while the receiving office holds it.
    with pytest.raises(CaseConflict, match="hand-off"):
        await cases.close_case(
            intake.context, CASEWORKER, case_id, CloseCase(reason=CaseClosureReason.OTHER)
        )
    await cross_border.withdraw_transfer_consent(
        intake.context, CASEWORKER, case_id, consent_id, WithdrawTransferConsent()
    )
    (cancelled,) = events(intake, HandoffCancelledV1)
    assert cancelled.handoff_id == first.handoff_id
    assert cancelled.reason is HandoffCancelReason.TRANSFER_CONSENT_WITHDRAWN
    # Under way when it is withdrawn: the arrival waits for a new consent.
    consent_id = await consented(intake, case_id, "ML")
    second = await cross_border.request_handoff(intake.context, CASEWORKER, case_id, travel(0))
    await cross_border.accept_handoff(intake.context, MALI, case_id, second.handoff_id)
    await cross_border.record_departure(
        intake.context, CASEWORKER, case_id, second.handoff_id, RecordDeparture(departed_at=NOW)
    )
    await cross_border.withdraw_transfer_consent(
        intake.context, CASEWORKER, case_id, consent_id, WithdrawTransferConsent()
    )
    assert len(events(intake, HandoffCancelledV1)) == 1  # the person is travelling
    with pytest.raises(CaseConflict, match="consents again"):
        await cross_border.record_arrival(
            intake.context, MALI, case_id, second.handoff_id, RecordArrival(arrived_at=NOW)
        )
    assert intake.memory.cases[case_id].case.ownership.country == "NE"
    await consented(intake, case_id, "ML")
    arrived = await cross_border.record_arrival(
        intake.context, MALI, case_id, second.handoff_id, RecordArrival(arrived_at=NOW)
    )
    assert arrived.state is HandoffState.ARRIVED
