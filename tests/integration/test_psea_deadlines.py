"""PSEA deadlines are durable (issue 17, acceptance), on the real stack: the intake service
runs as a separate OS process on the real Kafka and PostgreSQL (a schema and topic prefix
of its own); a complaint is filed, the process is SIGKILLed before the survivor's assistance
falls due and started again only after: the new process announces the missed deadline
(`org.mpa.psea.deadline_missed.v1`), exactly once — the timer is fired and done in the
database, and the complaint's story on `mpa.psea.v1` holds one announcement before the
step finally taken."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from aiokafka import ConsumerRecord
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from mpa_cli.harness.processes import ServiceProcess
from mpa_cli.stack.topics import ensure_topics
from mpa_common.auth import Role, mint_dev_token
from tests.conftest import service_database_url, service_owner_database_url
from tests.integration.audit_support import delete_topics
from tests.integration.intake_support import header, read_records
from tests.support import free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PSEA_TOPIC = "mpa.psea.v1"
MISSED = "org.mpa.psea.deadline_missed.v1"
DECIDED = "org.mpa.psea.assistance_decided.v1"
# Long enough for the filing to be seen and the process killed before it falls due.
ASSISTANCE_DUE_SECONDS = 12


def _distinct(records: list[ConsumerRecord[bytes, bytes]]) -> list[ConsumerRecord[bytes, bytes]]:
    """One record per event id: the relay publishes at least once (a process killed between
    the publish and marking it sent publishes it again), and consumers deduplicate by id."""
    seen: dict[str | None, ConsumerRecord[bytes, bytes]] = {}
    for record in records:
        seen.setdefault(header(record, "ce_id"), record)
    return list(seen.values())


def _bearer(role: Role, subject: str) -> dict[str, str]:
    token = mint_dev_token((role,), subject=subject, country="NE", team="ne-niamey-cm")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def intake_process(
    bootstrap_servers: str, tmp_path: Path
) -> AsyncIterator[tuple[ServiceProcess, str, str]]:
    schema = f"t_pseadl_{uuid.uuid4().hex[:10]}"
    prefix = f"{schema}."
    topics = await ensure_topics(bootstrap_servers, prefix)
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "KAFKA_TOPIC_PREFIX": prefix,
        "INTAKE_DATABASE_SCHEMA": schema,
        "INTAKE_TIMER_POLL_SECONDS": "0.2",
        "INTAKE_PSEA_ASSISTANCE_DUE_SECONDS": str(ASSISTANCE_DUE_SECONDS),
        # The other step's deadline stays far away: one announcement to count.
        "INTAKE_PSEA_ALLEGATION_REFERRAL_DUE_SECONDS": "86400",
        "LOG_LEVEL": "WARNING",
    }
    migrated = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "alembic", "-c", "services/intake/alembic.ini", "upgrade", "head"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    port = free_port()
    env["INTAKE_PORT"] = str(port)
    process = ServiceProcess("intake", port, env, tmp_path / "intake.log", ROOT)
    try:
        yield process, prefix, schema
    finally:
        process.terminate()
        engine = create_async_engine(service_owner_database_url("intake"))
        async with engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()
        await delete_topics(bootstrap_servers, topics)


async def test_a_psea_deadline_fires_exactly_once_after_the_service_restarts(
    bootstrap_servers: str, intake_process: tuple[ServiceProcess, str, str]
) -> None:
    process, prefix, schema = intake_process
    process.start()
    await process.wait_ready()
    caseworker = _bearer(Role.CASEWORKER, "pseadl-cw")
    focal = _bearer(Role.PSEA_FOCAL_POINT, "pseadl-fp")
    async with httpx.AsyncClient(base_url=process.url, timeout=10) as client:
        filed = await client.post(
            "/v1/psea/complaints",
            headers=caseworker,
            json={
                "allegation_type": "sexual_exploitation",
                "account": "(a fictional account)",
                "assistance_consent": False,
                "identity_consent": False,
            },
        )
        assert filed.status_code == 201, filed.text
    complaint_id = uuid.UUID(filed.json()["complaint_id"])
    topic = f"{prefix}{PSEA_TOPIC}"
    received = (await read_records(bootstrap_servers, topic, key=complaint_id, expected=1))[0]
    due_at = datetime.fromisoformat(json.loads(received.value)["assistance_due_at"])

    # Killed before the deadline: no shutdown hook, nothing fired yet.
    process.kill()
    assert datetime.now(UTC) < due_at, "the filing took longer than the deadline"
    await asyncio.sleep((due_at - datetime.now(UTC)).total_seconds() + 0.5)
    # Still down when it fell due: nothing could announce it.
    down = await read_records(bootstrap_servers, topic, key=complaint_id, expected=2, timeout=2)
    assert MISSED not in [header(r, "ce_type") for r in down]

    # The new process finds the due timer in the database and announces the miss.
    process.start()
    await process.wait_ready()
    story = await read_records(
        bootstrap_servers, topic, key=complaint_id, expected=1, event_type=MISSED
    )
    missed = json.loads(story[0].value)
    assert missed["step"] == "assistance"
    assert datetime.fromisoformat(missed["due_at"]) == due_at

    # The step taken late: its event closes the story, so every announcement of the miss
    # (the key's records stay in order) is before it.
    async with httpx.AsyncClient(base_url=process.url, timeout=10) as client:
        decided = await client.post(
            f"/v1/psea/complaints/{complaint_id}/assistance",
            headers=focal,
            json={"decision": "declined"},
        )
        assert decided.status_code == 200, decided.text
        assert decided.json()["missed_steps"] == ["assistance"]
    story = await read_records(
        bootstrap_servers, topic, key=complaint_id, expected=1, event_type=DECIDED
    )
    story = _distinct(
        await read_records(bootstrap_servers, topic, key=complaint_id, expected=10, timeout=3)
    )
    types = [header(r, "ce_type") for r in story]
    assert types == ["org.mpa.psea.complaint_received.v1", MISSED, DECIDED]
    assert json.loads(story[-1].value)["on_time"] is False
    # In the database: the assistance timer fired once, and the allegation's still waits.
    engine = create_async_engine(service_database_url("intake"))
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f'SET search_path TO "{schema}"'))
            rows = (
                await connection.execute(
                    text(
                        "SELECT kind, fired_at IS NOT NULL AS fired, outcome FROM timers "
                        "WHERE subject_id = :id ORDER BY kind"
                    ),
                    {"id": complaint_id},
                )
            ).all()
    finally:
        await engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("psea_allegation_referral_due", False, None),
        ("psea_assistance_due", True, "missed"),
    ]
    assert process.starts == 2
