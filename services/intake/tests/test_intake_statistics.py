"""Statistics without identities (issue 17): the k-anonymity of the CTDC export, on made-up
records and through the use case on the in-memory unit of work."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

import pytest

from mpa_contracts.events.report import StatisticsExportedV1
from mpa_contracts.vocabularies import (
    ActorRole,
    AgeBand,
    CaseScope,
    ExploitationType,
    IdentificationStatus,
    MeansOfControl,
    Sex,
    StatisticsReport,
)
from mpa_intake.app import cases, identification, statistics
from mpa_intake.app.commands import RegisterCase
from mpa_intake.app.context import Actor
from mpa_intake.app.protection_commands import DecideReasonableGrounds
from mpa_intake.domain.errors import AccessDenied
from mpa_intake.domain.statistics import WITHHELD, StatisticsRecord, anonymise
from mpa_intake.testing import fake_intake

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NIAMEY = {"team": "ne-niamey-cm", "agency": "iom-ne", "country": "NE"}
CASEWORKER = Actor(subject="cw-1", actor_id="caseworker:cw-1", role=ActorRole.CASEWORKER, **NIAMEY)
AUDITOR = Actor(subject="au-1", actor_id="auditor:au-1", role=ActorRole.AUDITOR)


def record(**changes: object) -> StatisticsRecord:
    fields: dict[str, object] = {
        "year": 2026,
        "gender": Sex.FEMALE,
        "age_band": AgeBand.AGE_24_26,
        "citizenship": "NG",
        "country": "NE",
        "identification": IdentificationStatus.PRESUMED,
        **changes,
    }
    return StatisticsRecord(**fields)  # type: ignore[arg-type]


def test_a_group_of_eleven_is_published_as_recorded() -> None:
    figures = anonymise(
        [
            record(
                exploitation_types=frozenset({ExploitationType.FORCED_BEGGING}),
                means_of_control=frozenset({MeansOfControl.DEBT_BONDAGE}),
                referrals=2,
            )
            for _ in range(11)
        ]
    )
    (cell,) = figures.cells
    assert (cell.victims, cell.generalisation, cell.key.citizenship) == (11, 0, "NG")
    assert cell.exploitation == Counter({"isOtherExploit": 11})
    assert cell.means_of_control == Counter({"meansOfControlDebtBondage": 11})
    assert cell.referrals == 22
    assert (figures.included, figures.suppressed, figures.generalised) == (11, 0, 0)


def test_rarer_combinations_are_generalised_then_suppressed() -> None:
    common = [record() for _ in range(11)]
    # Ten people of five citizenships: no citizenship group reaches 11; together they do.
    rare_citizenships = [record(citizenship=c) for c in ("ML", "BF", "TD", "SD", "GH") * 2]
    one_more = [record(citizenship="CM")]
    # Three boys of 9-17 from one country: too few even with everything withheld.
    lonely = [
        record(gender=Sex.MALE, age_band=AgeBand.AGE_9_17, citizenship="ER", country="LY")
        for _ in range(3)
    ]
    figures = anonymise([*common, *rare_citizenships, *one_more, *lonely])
    cells = {(c.key.citizenship, c.generalisation): c.victims for c in figures.cells}
    assert cells == {("NG", 0): 11, (WITHHELD, 1): 11}
    assert figures.suppressed == 3
    assert figures.generalised == 11
    assert figures.included + figures.suppressed == 25


def test_no_published_cell_is_smaller_than_k_on_a_random_population() -> None:
    rng = random.Random(17)
    population = [
        record(
            year=rng.choice([2025, 2026]),
            gender=rng.choice([Sex.FEMALE, Sex.MALE]),
            age_band=rng.choice(list(AgeBand)),
            citizenship=rng.choice(["NG", "ML", "NE", "BF", None]),
            country=rng.choice(["NE", "ML"]),
        )
        for _ in range(700)
    ]
    figures = anonymise(population)
    assert figures.cells
    assert min(cell.victims for cell in figures.cells) >= 11
    assert figures.included + figures.suppressed == 700
    # Cells never overlap: a key and its generalisation level say which people it holds.
    assert len({(c.key, c.generalisation) for c in figures.cells}) == len(figures.cells)


def register(consents_to_reporting: bool) -> RegisterCase:
    scopes = ["referral", "statistical_reporting"] if consents_to_reporting else ["referral"]
    return RegisterCase.model_validate(
        {
            "person": {
                "given_name": "Ama",
                "family_name": "Exemple",
                "estimated_age": 25,
                "sex": "female",
                "nationality": "NG",
                "languages": ["en"],
            },
            "location": {"country": "NE", "admin_area": "NE-1"},
            "needs": [{"category": "shelter", "urgency": "high"}],
            "consent": {
                "given": True,
                "details": {
                    "scopes": scopes,
                    "given_by": "self",
                    "method": "verbal",
                    "obtained_at": NOW.isoformat(),
                },
            },
            "safety": {"do_not_contact": False, "safe_contact_method": "through_caseworker"},
        }
    )


async def test_only_cases_consenting_to_reporting_are_counted_and_only_by_some_roles() -> None:
    intake = fake_intake(clock=lambda: NOW)
    for number in range(14):
        case_id = (
            await cases.register_case(intake.context, CASEWORKER, register(number < 12))
        ).case_id
        if number < 3:
            await identification.decide_reasonable_grounds(
                intake.context,
                CASEWORKER,
                case_id,
                DecideReasonableGrounds.model_validate(
                    {
                        "decided_at": NOW,
                        "deciding_organisation_type": "competent_authority",
                        "basis": "indicators_assessment",
                        "exploitation_types": ["sexual_exploitation"],
                    }
                ),
            )
    export = await statistics.ctdc_export(intake.context, AUDITOR, None, None)
    assert export.k == 11
    (cell,) = export.cells
    assert cell.victims == 12  # the two without consent to reporting are not there
    assert cell.identificationStatus == {"presumed": 3, "not_assessed": 9}
    assert cell.exploitation == {"isSexualExploit": 3}
    assert (cell.gender, cell.ageBroad, cell.citizenship) == ("female", "24-26", "NG")
    assert "Ama" not in export.model_dump_json()
    with pytest.raises(AccessDenied):
        await statistics.ctdc_export(intake.context, CASEWORKER, None, None)


async def test_each_download_is_an_event_of_who_when_which_filters_and_how_much() -> None:
    intake = fake_intake(clock=lambda: NOW)
    for number in range(13):
        await cases.register_case(intake.context, CASEWORKER, register(number < 12))
    supervisor = Actor(
        subject="sv-1", actor_id="supervisor:sv-1", role=ActorRole.SUPERVISOR,
        team="ne-niamey-cm", agency="iom-ne", country="NE",
    )  # fmt: skip
    since, until = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    commits = intake.memory.commits
    export = await statistics.ctdc_export(intake.context, supervisor, since, until)
    assert intake.memory.commits == commits + 1  # announced before the figures are answered
    (event,) = intake.memory.events_of(StatisticsExportedV1)
    data = event.data
    assert isinstance(data, StatisticsExportedV1)
    assert (data.actor_id, data.actor_role) == ("supervisor:sv-1", ActorRole.SUPERVISOR)
    assert data.report is StatisticsReport.CTDC
    assert data.generated_at == NOW
    assert data.export_id == export.export_id
    assert data.scope is CaseScope.COUNTRY  # supervisors read their country office
    assert (data.scope_country, data.scope_team, data.scope_agency) == ("NE", None, None)
    assert (data.registered_from, data.registered_before) == (since, until)
    assert data.k == 11
    assert data.rows == len(export.cells) == 1
    assert data.cases_included == export.cases_included == 12
    assert data.cases_suppressed == export.cases_suppressed
    assert "Ama" not in event.model_dump_json()
    # An auditor's export covers every case; a refused download is no event.
    await statistics.ctdc_export(intake.context, AUDITOR, None, None)
    with pytest.raises(AccessDenied):
        await statistics.ctdc_export(intake.context, CASEWORKER, None, None)
    events = [e.data for e in intake.memory.events_of(StatisticsExportedV1)]
    assert len(events) == 2
    assert isinstance(events[1], StatisticsExportedV1)
    assert events[1].scope is CaseScope.ALL
    assert events[1].scope_country is None
    assert events[1].registered_from is None
