"""Casework e-mails on the real stack (issue 16): a break-glass read reaches the owning
team's supervisors, registered by a supervisor of that team, and nobody else; an overdue
follow-up reaches the case's owner at their own address. Real Kafka, PostgreSQL and SMTP."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage

import pytest

from mpa_common.auth import Role
from mpa_contracts.envelope import new_envelope
from mpa_contracts.examples import example_event
from tests.integration.notification_support import (
    Playground,
    bearer,
    mails_to,
    open_playground,
    running_service,
    smtp_server,
    text_and_html,
)

pytestmark = pytest.mark.integration
INTAKE = "urn:mpa:service:intake"


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[int, list[EmailMessage]]]:
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
async def playground(
    bootstrap_servers: str, smtp: tuple[int, list[EmailMessage]]
) -> AsyncIterator[Playground]:
    async for ground in open_playground(bootstrap_servers, smtp[0]):
        yield ground


async def _wait_for(check: object, what: str, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def test_a_break_glass_read_mails_the_owning_teams_supervisors(
    playground: Playground, smtp: tuple[int, list[EmailMessage]]
) -> None:
    _, messages = smtp
    team = f"ne-{uuid.uuid4().hex[:8]}"
    other_team = f"ml-{uuid.uuid4().hex[:8]}"
    supervisors = f"sv-{team}@iom.example.org"
    readers = f"sv-{other_team}@iom.example.org"
    async with running_service(playground.settings()) as (_, client):
        for owner, address in ((team, supervisors), (other_team, readers)):
            added = await client.post(
                "/v1/contacts",
                json={
                    "kind": "team_supervisors",
                    "team": owner,
                    "email": address,
                    "language": "fr",
                },
                headers=bearer(Role.SUPERVISOR, team=owner, country="NE"),
            )
            assert added.status_code == 201, added.text
        # Another team's supervisor may not add this team's address.
        refused = await client.post(
            "/v1/contacts",
            json={"kind": "team_supervisors", "team": team, "email": "x@x.example.org",
                  "language": "en"},
            headers=bearer(Role.SUPERVISOR, team=other_team, country="ML"),
        )  # fmt: skip
        assert refused.status_code == 403
        case_owner = await client.post(
            "/v1/contacts",
            json={"kind": "case_owner", "email": "y@x.example.org", "language": "en"},
            headers=bearer(Role.CASEWORKER),
        )
        assert case_owner.status_code == 422

        case_id = uuid.uuid4()
        glass = example_event("org.mpa.access.break_glass_used.v1").model_copy(
            update={"case_id": case_id, "owner_team": team, "actor_team": other_team}
        )
        await playground.publish(new_envelope(glass, source=INTAKE))
        await _wait_for(lambda: mails_to(messages, supervisors), "the supervisors' mail")
        (mail,) = mails_to(messages, supervisors)
        plain, _ = text_and_html(mail)
        assert str(case_id) in plain
        assert "owner_unavailable" in plain
        assert "Accès d'urgence" in str(mail["Subject"])
        await asyncio.sleep(1)
        assert mails_to(messages, readers) == []  # the reader's own team is not told


async def test_an_overdue_follow_up_mails_the_cases_owner(
    playground: Playground, smtp: tuple[int, list[EmailMessage]]
) -> None:
    _, messages = smtp
    owner = f"cw-{uuid.uuid4().hex[:8]}"
    address = f"{owner}@iom.example.org"
    async with running_service(playground.settings()) as (_, client):
        added = await client.post(
            "/v1/contacts",
            json={"kind": "referrer", "email": address, "language": "en"},
            headers=bearer(Role.CASEWORKER, subject=owner),
        )
        assert added.status_code == 201, added.text
        overdue = example_event("org.mpa.case.follow_up_overdue.v1").model_copy(
            update={"case_id": uuid.uuid4(), "owner_id": f"caseworker:{owner}"}
        )
        await playground.publish(new_envelope(overdue, source=INTAKE))
        await _wait_for(lambda: mails_to(messages, address), "the owner's mail")
        (mail,) = mails_to(messages, address)
        assert "Follow-up overdue" in str(mail["Subject"])
