"""Protection workflows on the real stack (issue 17, acceptance): a presumed victim's recovery
and reflection period ends 30 days or more after the decision, survives a restart and
reminds once (two replicas racing); a return referral for a separated child is refused
before a best-interests determination and made after it; the statistics export of a seeded
population has no group smaller than 11."""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from mpa_cli.stack.topics import ensure_topics
from mpa_common.auth import Role, mint_dev_token
from mpa_contracts.envelope import from_kafka_record
from mpa_contracts.events.protection import BestInterestsDeterminedV1
from mpa_contracts.events.report import StatisticsExportedV1
from mpa_contracts.vocabularies import (
    ActorRole,
    AgeBand,
    BestInterestsOption,
    CaseScope,
    NeedCategory,
    Urgency,
    Vulnerability,
)
from mpa_intake.adapters.tables import metadata
from mpa_intake.main import create_app
from mpa_intake.settings import IntakeSettings
from tests.conftest import service_database_url
from tests.integration.intake_support import (
    FictionalPerson,
    IntakeUnderTest,
    case_body,
    configured_keys,
    intake_under_test,
    read_records,
)
from tests.integration.referral_support import (
    CASEWORKER as REFERRAL_CASEWORKER,
)
from tests.integration.referral_support import (
    ReferralStack,
    add_partner,
    envelope,
    eventually,
    open_referral_stack,
    referrals_of,
    registered,
    token,
)

pytestmark = pytest.mark.integration
ENDING = "org.mpa.case.reflection_period_ending.v1"
REPORT_TOPIC = "mpa.report.v1"
STARTED = "org.mpa.case.reflection_period_started.v1"


# --- the recovery and reflection period --------------------------------------------------


@asynccontextmanager
async def _running(settings: IntakeSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield client


async def test_a_presumed_victims_reflection_period_lasts_30_days_and_reminds_once_across_restarts(
    bootstrap_servers: str,
) -> None:
    # A schema and topics of its own: other intake apps of the run would fire its timers.
    schema = f"t_reflect_{uuid.uuid4().hex[:10]}"
    prefix = f"{schema}."
    admin = create_async_engine(service_database_url("intake"))
    async with admin.begin() as connection:
        await connection.execute(text(f"CREATE SCHEMA {schema}"))
        await connection.execute(text(f"SET search_path TO {schema}"))
        await connection.run_sync(metadata.create_all)
    await ensure_topics(bootstrap_servers, prefix)
    settings = IntakeSettings(
        KAFKA_TOPIC_PREFIX=prefix,
        KAFKA_BOOTSTRAP_SERVERS=bootstrap_servers,
        timer_poll_seconds=0.2,
        database_schema=schema,
        **configured_keys(),
    )
    try:
        await _reminds_once(bootstrap_servers, settings, prefix, schema)
    finally:
        async with admin.begin() as connection:
            await connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        await admin.dispose()


async def _reminds_once(
    bootstrap_servers: str, settings: IntakeSettings, prefix: str, schema: str
) -> None:
    headers = {
        "Authorization": "Bearer "
        + mint_dev_token(
            (Role.CASEWORKER,),
            subject="cw-reflect",
            team="ne-niamey-cm",
            agency="iom-ne",
            country="NE",
        )
    }
    # Decided long enough ago that the reminder (7 days before the end) falls due in 3 s.
    remind_in = timedelta(seconds=3)
    decided_at = datetime.now(UTC) - timedelta(days=30 - 7) + remind_in
    async with _running(settings) as client:
        registered_case = await client.post(
            "/v1/cases", json=case_body(FictionalPerson.new()), headers=headers
        )
        assert registered_case.status_code == 201, registered_case.text
        case_id = uuid.UUID(registered_case.json()["case_id"])
        decided = await client.post(
            f"/v1/cases/{case_id}/identification/reasonable-grounds",
            json={
                "decided_at": decided_at.isoformat(),
                "deciding_organisation_type": "competent_authority",
                "basis": "indicators_assessment",
                "exploitation_types": ["forced_labour"],
                "note": "Grounds, in words nobody else reads",
            },
            headers=headers,
        )
        assert decided.status_code == 201, decided.text
        period = decided.json()
        assert datetime.fromisoformat(period["ends_at"]) - decided_at >= timedelta(days=30)
        assert period["non_removal"] is True
        # Shorter than the Convention's floor: refused (another case).
        other = await client.post(
            "/v1/cases", json=case_body(FictionalPerson.new()), headers=headers
        )
        refused = await client.post(
            f"/v1/cases/{other.json()['case_id']}/identification/reasonable-grounds",
            json={
                "decided_at": decided_at.isoformat(),
                "deciding_organisation_type": "competent_authority",
                "basis": "indicators_assessment",
                "reflection_days": 29,
            },
            headers=headers,
        )
        assert refused.status_code == 422
        assert refused.headers["content-type"] == "application/problem+json"
    topic = f"{prefix}mpa.case.v1"
    (started,) = await read_records(
        bootstrap_servers, topic, key=case_id, expected=1, event_type=STARTED, timeout=20
    )
    started_event = from_kafka_record(started.key, started.value, list(started.headers or ()))
    data: Any = started_event.data
    assert data.ends_at - data.starts_at >= timedelta(days=30)
    assert b"nobody else reads" not in (started.value or b"")
    # Stopped before the reminder was due; it falls due while no intake runs.
    await asyncio.sleep(remind_in.total_seconds() + 0.5)
    none_yet = await read_records(
        bootstrap_servers, topic, key=case_id, expected=1, event_type=ENDING, timeout=1
    )
    assert none_yet == []
    # Restarted, as two replicas at once: it reminds, once.
    async with _running(settings), _running(settings) as client:
        fired = await read_records(
            bootstrap_servers, topic, key=case_id, expected=1, event_type=ENDING, timeout=20
        )
        assert len(fired) == 1
        view = await client.get(f"/v1/cases/{case_id}/protection", headers=headers)
        assert view.status_code == 200, view.text
        (shown,) = view.json()["reflection_periods"]
        assert shown["reminded_at"] is not None
        assert shown["state"] == "running"  # the end is a week away
        assert view.json()["identification"]["status"] == "presumed"
    # And never again after another restart.
    async with _running(settings):
        await asyncio.sleep(1.5)
    again = await read_records(
        bootstrap_servers, topic, key=case_id, expected=2, event_type=ENDING, timeout=3
    )
    assert len(again) == 1
    ending: Any = from_kafka_record(again[0].key, again[0].value, list(again[0].headers or ()))
    assert ending.data.owner_id == "caseworker:cw-reflect"
    assert ending.data.owner_team == "ne-niamey-cm"
    engine = create_async_engine(
        service_database_url("intake"), connect_args={"server_settings": {"search_path": schema}}
    )
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text("SELECT kind, outcome FROM timers ORDER BY kind"),
                )
            ).all()
    finally:
        await engine.dispose()
    assert [(r.kind, r.outcome) for r in rows] == [
        ("reflection_period_end", None),
        ("reflection_period_reminder", "reminded"),
    ]


# --- a separated child's return ------------------------------------------------------------


@pytest.fixture(scope="module")
async def referral_stack(bootstrap_servers: str) -> AsyncIterator[ReferralStack]:
    async for stack in open_referral_stack(bootstrap_servers):
        await stack.start_instance()
        yield stack


async def test_a_separated_childs_return_referral_is_refused_before_a_determination_and_made_after(
    referral_stack: ReferralStack,
) -> None:
    (service,) = referral_stack.instances
    client = service.client
    country = referral_stack.new_country()
    _, (return_service,) = await add_partner(client, country, NeedCategory.RETURN_ASSISTANCE)
    case = registered(
        country,
        [(NeedCategory.RETURN_ASSISTANCE, Urgency.HIGH)],
        vulnerabilities=(Vulnerability.SEPARATED_CHILD,),
        age_band=AgeBand.AGE_9_17,
    )
    await referral_stack.publish(envelope(case))
    (waiting,) = [
        r
        for r in await referrals_of(client, case.case_id, expected=1)
        if r["category"] == "return_assistance"
    ]
    assert waiting["state"] == "unroutable"
    assert waiting["status_reason"] == "best_interests_determination_required"
    (need,) = case.needs
    caseworker = token(Role.CASEWORKER)
    refused = await client.post(
        "/v1/referrals",
        json={"case_id": str(case.case_id), "need_id": str(need.need_id)},
        headers=caseworker,
    )
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["type"].endswith("best-interests-determination-required")
    assert problem["reason"] == "best_interests_determination_required"
    assert "best-interests determination" in problem["detail"]

    await referral_stack.publish(
        envelope(
            BestInterestsDeterminedV1(
                actor_id=REFERRAL_CASEWORKER,
                actor_role=ActorRole.CASEWORKER,
                case_id=case.case_id,
                determination_id=uuid.uuid4(),
                determined_at=datetime.now(UTC),
                panel_size=3,
                decision=BestInterestsOption.RETURN_TO_COUNTRY_OF_ORIGIN,
                approval_id=uuid.uuid4(),
                approved_by="supervisor:sv-1",
            )
        )
    )

    async def routed() -> bool:
        page = await client.get(
            "/v1/referrals", params={"case_id": str(case.case_id)}, headers=caseworker
        )
        found = [r for r in page.json()["items"] if r["id"] == waiting["id"]]
        return bool(found) and found[0]["state"] == "routed"

    await eventually(routed, 30, what="the waiting return referral routed")
    detail = await client.get(f"/v1/referrals/{waiting['id']}", headers=token(Role.ADMIN))
    assert detail.json()["service_id"] == str(return_service)


# --- statistics without identities ----------------------------------------------------------


@pytest.fixture(scope="module")
async def intake(bootstrap_servers: str) -> AsyncIterator[IntakeUnderTest]:
    async with intake_under_test(bootstrap_servers) as stack:
        yield stack


def _seeded(sex: str, birth: str, nationality: str, reporting: bool = True) -> dict[str, Any]:
    body = case_body(FictionalPerson.new())
    body = copy.deepcopy(body)
    body["person"].update({"sex": sex, "date_of_birth": birth, "nationality": nationality})
    if reporting:
        body["consent"]["details"]["scopes"] = ["referral", "data_sharing", "statistical_reporting"]
    return body


async def test_the_statistics_export_of_a_seeded_population_has_no_group_smaller_than_11(
    intake: IntakeUnderTest,
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    operator = intake.auth(Role.OPERATOR)
    population = [
        *[_seeded("female", "2001-03-01", "NG") for _ in range(14)],  # 24-26: one full cell
        *[_seeded("male", "1990-03-01", "ML") for _ in range(11)],  # 30-38: one full cell
        # Eight women of 24-26 of four other citizenships: together 8, plus the 3 below = 11
        # once citizenship is withheld.
        *[_seeded("female", "2001-03-01", c) for c in ("BF", "TD", "GH", "CM") * 2],
        *[_seeded("female", "2001-06-01", c) for c in ("SN", "GN", "CI")],
        # Two whose combination stays rare: suppressed.
        _seeded("male", "1960-03-01", "ER"),
        _seeded("female", "1955-03-01", "SD"),
        # Without consent to reporting: never counted.
        *[_seeded("female", "2001-03-01", "NG", reporting=False) for _ in range(3)],
    ]
    for body in population:
        await intake.register(body, headers=operator)
    auditor = intake.auth(Role.AUDITOR)
    response = await intake.client.get(
        "/v1/reports/ctdc", params={"registered_from": since.isoformat()}, headers=auditor
    )
    assert response.status_code == 200, response.text
    export = response.json()
    assert export["k"] == 11
    victims = [cell["victims"] for cell in export["cells"]]
    assert victims, export
    assert min(victims) >= 11
    assert sum(victims) == export["cases_included"]
    assert export["cases_included"] + export["cases_suppressed"] == len(population) - 3
    assert export["cases_suppressed"] == 2
    cells = {(c["gender"], c["ageBroad"], c["citizenship"]): c["victims"] for c in export["cells"]}
    assert cells == {("female", "24-26", "NG"): 14, ("male", "30-38", "ML"): 11,
                     ("female", "24-26", "*"): 11}  # fmt: skip
    raw = response.text
    for body in population:
        assert body["person"]["given_name"] not in raw
    # Caseworkers and operators do not download it; supervisors do, within their scope.
    caseworker = await intake.client.get("/v1/reports/ctdc", headers=intake.auth(Role.CASEWORKER))
    assert caseworker.status_code == 403
    supervisor = await intake.client.get(
        "/v1/reports/ctdc",
        params={"registered_from": since.isoformat()},
        headers=intake.auth(Role.SUPERVISOR),
    )
    assert supervisor.status_code == 200
    assert min(c["victims"] for c in supervisor.json()["cells"]) >= 11
    # Each download is an event on the report topic (the audit log keeps every event):
    # who, when, which filters, how many cells and suppressed cases; no personal data.
    for download, role in ((export, "auditor"), (supervisor.json(), "supervisor")):
        (record,) = await intake.records(
            REPORT_TOPIC,
            key=uuid.UUID(download["export_id"]),
            expected=1,
            event_type="org.mpa.report.statistics_exported.v1",
        )
        event = from_kafka_record(record.key, record.value, record.headers or [])
        assert isinstance(event.data, StatisticsExportedV1)
        assert event.data.actor_role.value == role
        assert event.data.registered_from == since
        assert event.data.rows == len(download["cells"])
        assert event.data.cases_included == download["cases_included"]
        assert event.data.cases_suppressed == download["cases_suppressed"]
        for body in population:
            assert body["person"]["given_name"] not in record.value.decode()
    (audited,) = await intake.records(REPORT_TOPIC, key=uuid.UUID(export["export_id"]), expected=1)
    assert from_kafka_record(audited.key, audited.value, audited.headers or []).data.scope == (
        CaseScope.ALL
    )
