"""The intake service as a real process (own port, own topic prefix, configured keys):
register, read, erase over HTTP; the events reach Kafka; its logs hold no personal data."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from mpa_common.auth import Role, mint_dev_token
from mpa_common.kafka import operator_options
from tests.integration.intake_support import (
    ACCESS_TOPIC,
    CASE_TOPIC,
    FictionalPerson,
    case_body,
    configured_keys,
    header,
    read_records,
)
from tests.support import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
async def intake_process(
    bootstrap_servers: str, tmp_path: Path
) -> AsyncIterator[tuple[str, str, asyncio.subprocess.Process, Path]]:
    from mpa_cli.stack.topics import ensure_topics

    prefix = f"t-intake-e2e-{uuid.uuid4().hex[:8]}."
    topics = await ensure_topics(bootstrap_servers, prefix)
    keys = configured_keys()
    port = free_port()
    log_path = tmp_path / "intake.log"
    env = {
        **os.environ,
        "INTAKE_PORT": str(port),
        "KAFKA_TOPIC_PREFIX": prefix,
        "INTAKE_MASTER_KEYS": keys["master_keys"].get_secret_value(),
        "INTAKE_MATCHING_KEY": keys["matching_key"].get_secret_value(),
        "PYTHONUNBUFFERED": "1",
    }
    with log_path.open("w") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mpa_intake.main", env=env, stdout=log, stderr=log
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient() as client:
            while True:
                if process.returncode is not None:
                    pytest.fail(f"intake exited early:\n{log_path.read_text()}")
                try:
                    if (await client.get(url + "/readyz", timeout=2)).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"intake did not get ready:\n{log_path.read_text()}")
                await asyncio.sleep(0.2)
        yield url, prefix, process, log_path
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 20)
        admin = AIOKafkaAdminClient(**operator_options(bootstrap_servers))
        await admin.start()
        try:
            await admin.delete_topics(topics)
        finally:
            await admin.close()


async def test_intake_process_registers_reads_and_erases(
    intake_process: tuple[str, str, asyncio.subprocess.Process, Path], bootstrap_servers: str
) -> None:
    url, prefix, process, log_path = intake_process
    person = FictionalPerson.new()
    operator = {"Authorization": f"Bearer {mint_dev_token([Role.OPERATOR])}"}
    admin = {"Authorization": f"Bearer {mint_dev_token([Role.ADMIN])}"}
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        registered = await client.post("/v1/cases", json=case_body(person), headers=operator)
        assert registered.status_code == 201, registered.text
        case_id = uuid.UUID(registered.json()["case_id"])
        assert registered.headers["location"] == f"/v1/cases/{case_id}"
        read = await client.get(f"/v1/cases/{case_id}", headers=operator)
        assert read.json()["person"]["email"] == person.email
        assert (
            await client.delete(f"/v1/cases/{case_id}/personal-data", headers=admin)
        ).status_code == 200
        assert (await client.get(f"/v1/cases/{case_id}", headers=operator)).status_code == 410
        spec = (await client.get("/openapi.json")).json()
        assert "/v1/cases/{case_id}/personal-data" in spec["paths"]

    case_events = await read_records(
        bootstrap_servers, prefix + CASE_TOPIC, key=case_id, expected=2
    )
    assert [header(r, "ce_type") for r in case_events] == [
        "org.mpa.case.registered.v1",
        "org.mpa.case.personal_data_erased.v1",
    ]
    accesses = await read_records(bootstrap_servers, prefix + ACCESS_TOPIC, key=case_id, expected=1)
    assert len(accesses) == 1

    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 20) in (0, -signal.SIGTERM)
    log = log_path.read_text()
    for line in filter(None, log.splitlines()):
        json.loads(line)  # JSON lines only
    for needle in person.needles:
        assert needle not in log
