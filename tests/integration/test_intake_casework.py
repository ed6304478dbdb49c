"""Casework on the real stack (issue 16, acceptance): a transfer moves ownership and access;
closure is refused while a referral is open and allowed with a supervisor's approval; an
overdue follow-up fires once — across a restart, and with two replicas racing for it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import ConsumerRecord
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from mpa_cli.stack.topics import ensure_topics
from mpa_common.auth import Role
from mpa_contracts.envelope import Envelope, from_kafka_record, new_envelope
from mpa_contracts.events.referral import ReferralAcceptedV1, ReferralRequestedV1
from mpa_contracts.vocabularies import ActorRole, NeedCategory, Urgency
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

pytestmark = pytest.mark.integration
AGADEZ = {"team": "ne-agadez-cm", "agency": "iom-ne", "country": "NE"}
OVERDUE = "org.mpa.case.follow_up_overdue.v1"


def _envelope(record: ConsumerRecord[bytes, bytes]) -> Envelope:
    return from_kafka_record(record.key, record.value, list(record.headers or ()))


@pytest.fixture(scope="module")
async def intake(bootstrap_servers: str) -> AsyncIterator[IntakeUnderTest]:
    async with intake_under_test(bootstrap_servers) as stack:
        yield stack


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def test_a_transfer_moves_ownership_and_access(intake: IntakeUnderTest) -> None:
    sender = intake.auth(Role.CASEWORKER, subject=f"cw-{uuid.uuid4().hex[:6]}")
    colleague = intake.auth(Role.CASEWORKER)  # the same Niamey team
    receiver_id = f"cw-{uuid.uuid4().hex[:6]}"
    receiver = intake.auth(Role.CASEWORKER, subject=receiver_id, **AGADEZ)
    case_id = (await intake.register(case_body(FictionalPerson.new()), headers=sender))["case_id"]
    url = f"/v1/cases/{case_id}"
    assert (await intake.client.get(url, headers=receiver)).status_code == 403

    transfer = await _ok(
        await intake.client.post(
            f"{url}/transfers",
            json={"to_team": "ne-agadez-cm", "to_agency": "iom-ne", "note": "Moves north"},
            headers=sender,
        ),
        201,
    )
    # The receiving team sees what awaits it; the sending side cannot accept for it.
    inbox = await _ok(await intake.client.get("/v1/transfers", headers=receiver))
    assert transfer["transfer_id"] in {t["transfer_id"] for t in inbox["items"]}
    accept = f"{url}/transfers/{transfer['transfer_id']}/accept"
    assert (await intake.client.post(accept, headers=colleague)).status_code == 403
    accepted = await _ok(await intake.client.post(accept, headers=receiver))
    assert accepted["state"] == "accepted"

    # Access moved with ownership: the receiver reads, lists and changes it, the old team no.
    assert (await intake.client.get(url, headers=receiver)).status_code == 200
    listed = await _ok(
        await intake.client.get("/v1/cases", headers=receiver, params={"limit": 100})
    )
    mine = [c for c in listed["items"] if c["case_id"] == case_id]
    assert mine[0]["owner_id"] == f"caseworker:{receiver_id}"
    assert mine[0]["owner_team"] == "ne-agadez-cm"
    assert (await intake.client.get(url, headers=sender)).status_code == 403
    assert (await intake.client.get(url, headers=colleague)).status_code == 403
    change = {"vulnerabilities": ["returnee"]}
    assert (await intake.client.patch(url, json=change, headers=colleague)).status_code == 403
    assert (await intake.client.patch(url, json=change, headers=receiver)).status_code == 200

    records = await intake.records(
        "mpa.case.v1",
        key=uuid.UUID(case_id),
        expected=1,
        event_type="org.mpa.case.transfer_accepted.v1",
    )
    assert records
    assert b"Moves north" not in b"".join(r.value or b"" for r in records)


async def test_closure_is_refused_with_an_open_referral_and_allowed_with_approval(
    intake: IntakeUnderTest,
) -> None:
    caseworker = intake.auth(Role.CASEWORKER, subject=f"cw-{uuid.uuid4().hex[:6]}")
    supervisor = intake.auth(Role.SUPERVISOR, subject=f"sv-{uuid.uuid4().hex[:6]}")
    registered = await intake.register(case_body(FictionalPerson.new()), headers=caseworker)
    case_id = uuid.UUID(registered["case_id"])
    need_id = uuid.UUID(registered["need_ids"][0])
    referral_id = uuid.uuid4()
    source = "urn:mpa:service:referral"
    await intake.publish(
        new_envelope(
            ReferralRequestedV1(
                actor_id="caseworker:cw-1",
                actor_role=ActorRole.CASEWORKER,
                referral_id=referral_id,
                case_id=case_id,
                need_id=need_id,
                category=NeedCategory.SHELTER,
                urgency=Urgency.HIGH,
                assistance_country="NE",
            ),
            source=source,
        ),
        new_envelope(
            ReferralAcceptedV1(
                actor_id="partner:p-1",
                actor_role=ActorRole.PARTNER,
                referral_id=referral_id,
                case_id=case_id,
                need_id=need_id,
                partner_id=uuid.uuid4(),
                service_id=uuid.uuid4(),
                start_due_at=datetime.now(UTC) + timedelta(days=1),
            ),
            source=source,
        ),
    )
    url = f"/v1/cases/{case_id}"

    async def accepted_is_known() -> bool:
        view = (await intake.client.get(f"{url}/casework", headers=caseworker)).json()
        return [r["state"] for r in view.get("referrals", [])] == ["accepted"]

    await intake.wait_until(accepted_is_known, what="intake to learn the referral's state")
    refused = await intake.client.post(
        f"{url}/close", json={"reason": "needs_met"}, headers=caseworker
    )
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert "approval" in refused.json()["detail"]

    approval = await _ok(
        await intake.client.post(
            f"{url}/approvals",
            json={"subject": "closure", "closure_reason": "needs_met", "note": "Safe now"},
            headers=caseworker,
        ),
        201,
    )
    inbox = await _ok(await intake.client.get("/v1/approvals", headers=supervisor))
    assert approval["approval_id"] in {a["approval_id"] for a in inbox["items"]}
    decision = f"{url}/approvals/{approval['approval_id']}/decision"
    approve = {"decision": "approved", "comment": "Agreed after the visit"}
    # Caseworkers do not approve; supervisors do.
    assert (await intake.client.post(decision, json=approve, headers=caseworker)).status_code == 403
    decided = await _ok(await intake.client.post(decision, json=approve, headers=supervisor))
    assert decided["state"] == "approved"
    closed = await _ok(
        await intake.client.post(
            f"{url}/close",
            json={"reason": "needs_met", "approval_id": approval["approval_id"]},
            headers=caseworker,
        )
    )
    assert closed["status"] == "closed"
    view = await _ok(await intake.client.get(f"{url}/casework", headers=supervisor))
    assert view["approvals"][0]["comment"] == "Agreed after the visit"
    assert view["approvals"][0]["used_at"] is not None
    records = await intake.records(
        "mpa.case.v1", key=case_id, expected=1, event_type="org.mpa.case.closed.v1"
    )
    closed_event = _envelope(records[0])
    assert str(closed_event.data.approval_id) == approval["approval_id"]  # type: ignore[attr-defined]
    everything = await intake.records("mpa.case.v1", key=case_id, expected=6, timeout=5)
    raw = b"".join(r.value or b"" for r in everything)
    assert b"Agreed after the visit" not in raw
    assert b"Safe now" not in raw


@asynccontextmanager
async def _running(settings: IntakeSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield client


async def test_an_overdue_follow_up_fires_once_across_a_restart_and_two_replicas(
    bootstrap_servers: str,
) -> None:
    # A schema of its own: other intake apps of the test run share `public`, and their
    # timer workers would fire this test's timer onto their own topics.
    schema = f"t_followup_{uuid.uuid4().hex[:10]}"
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
        await _fires_once(bootstrap_servers, settings, prefix, schema)
    finally:
        async with admin.begin() as connection:
            await connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        await admin.dispose()


async def _fires_once(
    bootstrap_servers: str, settings: IntakeSettings, prefix: str, schema: str
) -> None:
    from mpa_common.auth import mint_dev_token

    token = mint_dev_token(
        (Role.CASEWORKER,), subject="cw-timer", team="ne-niamey-cm", agency="iom-ne", country="NE"
    )
    headers = {"Authorization": f"Bearer {token}"}
    due_in = timedelta(seconds=3)
    async with _running(settings) as client:
        registered = await client.post(
            "/v1/cases", json=case_body(FictionalPerson.new()), headers=headers
        )
        case_id = uuid.UUID(registered.json()["case_id"])
        scheduled = await client.post(
            f"/v1/cases/{case_id}/follow-ups",
            json={
                "follow_up_type": "phone_call",
                "due_at": (datetime.now(UTC) + due_in).isoformat(),
            },
            headers=headers,
        )
        assert scheduled.status_code == 201, scheduled.text
        follow_up_id = scheduled.json()["follow_up_id"]
    # Stopped before it was due; it falls due while no intake runs.
    await asyncio.sleep(due_in.total_seconds() + 0.5)
    topic = f"{prefix}mpa.case.v1"
    none_yet = await read_records(
        bootstrap_servers, topic, key=case_id, expected=1, event_type=OVERDUE, timeout=1
    )
    assert none_yet == []
    # Restarted, as two replicas at once: it fires, once.
    async with _running(settings), _running(settings) as client:
        fired = await read_records(
            bootstrap_servers, topic, key=case_id, expected=1, event_type=OVERDUE, timeout=20
        )
        assert len(fired) == 1
        view = await client.get(f"/v1/cases/{case_id}/casework", headers=headers)
        (follow_up,) = view.json()["follow_ups"]
        assert follow_up["follow_up_id"] == follow_up_id
        assert follow_up["state"] == "overdue"
    # And never again after another restart.
    async with _running(settings):
        await asyncio.sleep(1.5)
    again = await read_records(
        bootstrap_servers, topic, key=case_id, expected=2, event_type=OVERDUE, timeout=3
    )
    assert len(again) == 1
    event = _envelope(again[0])
    assert event.data.owner_id == "caseworker:cw-timer"  # type: ignore[attr-defined]
    engine = create_async_engine(
        service_database_url("intake"), connect_args={"server_settings": {"search_path": schema}}
    )
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text("SELECT outcome FROM timers WHERE subject_id = :id"),
                    {"id": uuid.UUID(follow_up_id)},
                )
            ).all()
    finally:
        await engine.dispose()
    assert [row.outcome for row in rows] == ["overdue"]
