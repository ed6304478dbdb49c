"""Intake during a database outage (issue 11), on a PostgreSQL cluster of the test's own that
it stops mid-request (`pg_ctl stop -m fast`) and starts again:

- a registration whose transaction the outage cuts, and one sent while the server is
  down, answer 503 problem+json with Retry-After (never 500), and leave nothing behind —
  no case, no event, no idempotency record, no reference number used;
- the client's retry with the same Idempotency-Key, once the server is back, registers
  the case exactly once, with the next reference number (no gap), and a further repeat
  answers the same result.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mpa_common.auth import Role
from mpa_contracts.events.case import CaseRegisteredV1
from mpa_intake.adapters.unit_of_work import IntakeUnitOfWork
from tests.integration.intake_support import (
    FictionalPerson,
    IntakeUnderTest,
    case_body,
    intake_under_test,
)
from tests.integration.private_postgres import PrivatePostgres, private_postgres

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
RETRY_FOR_SECONDS = 30.0


@pytest.fixture
def own_postgres() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        url = server.url("intake")
        migrated = subprocess.run(
            [
                sys.executable,
                "-m",
                "alembic",
                "-c",
                "services/intake/alembic.ini",
                "upgrade",
                "head",
            ],
            cwd=ROOT,
            env={**os.environ, "INTAKE_DATABASE_URL": url},
            capture_output=True,
            text=True,
            check=False,
        )
        assert migrated.returncode == 0, migrated.stderr
        yield server


@pytest.fixture
async def intake(
    bootstrap_servers: str, own_postgres: PrivatePostgres
) -> AsyncIterator[IntakeUnderTest]:
    async with intake_under_test(
        bootstrap_servers, database_url=own_postgres.url("intake")
    ) as stack:
        yield stack


class _HeldInTransaction:
    """Holds the next registration on its connection — duplicate lookup done, case,
    children, idempotency record and event about to go in their one statement (the
    reference is taken at its commit) — until the test has stopped the server."""

    def __init__(self) -> None:
        self.inside = asyncio.Event()
        self.release = asyncio.Event()
        self.armed = True

    def patch(self, monkeypatch: pytest.MonkeyPatch) -> None:
        original = IntakeUnitOfWork.commit_registration

        async def commit_registration(uow: IntakeUnitOfWork, *args: Any, **kwargs: Any) -> bool:
            registering = any(e.type == CaseRegisteredV1.event_type for e in uow.pending_events)
            if self.armed and registering:
                self.armed = False
                self.inside.set()
                await self.release.wait()
            return await original(uow, *args, **kwargs)

        monkeypatch.setattr(IntakeUnitOfWork, "commit_registration", commit_registration)


def _assert_unavailable(response: httpx.Response, *needles: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["status"] == 503
    for needle in needles:
        assert needle not in response.text


async def _retry_until_answered(
    intake: IntakeUnderTest, body: dict[str, Any], headers: dict[str, str]
) -> tuple[httpx.Response, int]:
    """What a client does with 503 + Retry-After: the same request again, a bounded time."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RETRY_FOR_SECONDS
    attempts = 0
    while True:
        attempts += 1
        response = await intake.client.post("/v1/cases", json=body, headers=headers)
        if response.status_code != 503 or loop.time() > deadline:
            return response, attempts
        await asyncio.sleep(0.5)


async def test_an_outage_mid_registration_answers_503_and_the_retry_registers_once(
    intake: IntakeUnderTest, own_postgres: PrivatePostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    subject = f"op-outage-{uuid.uuid4().hex[:8]}"
    operator = intake.auth(Role.OPERATOR, subject=subject)
    before = await intake.register(case_body(FictionalPerson.new()), headers=operator)
    person = FictionalPerson.new()
    body = case_body(person)
    keyed = {**operator, "Idempotency-Key": "outage-form-1"}

    held = _HeldInTransaction()
    held.patch(monkeypatch)
    cut = asyncio.create_task(intake.client.post("/v1/cases", json=body, headers=keyed))
    await asyncio.wait_for(held.inside.wait(), 10)
    await asyncio.to_thread(own_postgres.stop)  # the transaction's connection is cut
    try:
        held.release.set()
        _assert_unavailable(await asyncio.wait_for(cut, 30), *person.needles)
        # While the server is down: the same answer, at once, for writes and reads.
        _assert_unavailable(
            await intake.client.post("/v1/cases", json=body, headers=keyed), *person.needles
        )
        _assert_unavailable(
            await intake.client.get(f"/v1/cases/{before['case_id']}", headers=operator)
        )
    finally:
        await asyncio.to_thread(own_postgres.start)

    registered, attempts = await _retry_until_answered(intake, body, keyed)
    assert registered.status_code == 201, registered.text
    repeat = await intake.client.post("/v1/cases", json=body, headers=keyed)
    assert repeat.status_code == 201
    assert repeat.json() == registered.json()

    # Exactly once, and nothing from the cut attempt: one case, one event, one record, and
    # the reference right after the one before the outage (the cut attempt's went back).
    result = registered.json()
    year, number = before["reference"].rsplit("-", 2)[1:]
    assert result["reference"] == f"MPA-{year}-{int(number) + 1:06d}"
    cases = await intake.raw_rows("cases")
    assert len(cases) == 2
    assert not [c for c in cases if str(c["reference"]).startswith("~")]
    registrations = [
        r
        for r in await intake.raw_rows("outbox")
        if r["event_type"] == "org.mpa.case.registered.v1"
        and r["envelope"]["actorid"] == f"operator:{subject}"
    ]
    assert sorted(r["envelope"]["data"]["case_id"] for r in registrations) == sorted(
        [before["case_id"], result["case_id"]]
    )
    # Each registration event carries its case's reference, given with it at commit.
    assert sorted(r["envelope"]["data"]["case_reference"] for r in registrations) == sorted(
        [before["reference"], result["reference"]]
    )
    records = [r for r in await intake.raw_rows("idempotency_keys") if r["subject"] == subject]
    assert [r["idempotency_key"] for r in records] == ["outage-form-1"]
    assert await intake.plaintext_hits(person.needles) == []
    print(f"\nretry after the outage registered on attempt {attempts}")
