"""The whole platform, as four real service processes on the real Kafka and PostgreSQL.

One fictional referral walks through every service (the `mpa demo` walk-through itself, so
the demo cannot rot): intake registers the case, referral routes it, the partner is told by
a signed webhook, accepts, reads what the referral needs, completes; the audit log holds the
story in order. Also: one trace per case story across services; and a separated child's
return referral, held until intake records an approved best-interests determination (17).

Isolation: a private schema in each service's database and a private topic prefix, so a
`make run` on the same machine neither sees nor disturbs this run.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from standardwebhooks.webhooks import Webhook

from mpa_cli.demo import FICTIONAL_CASE, Platform, run_walkthrough
from mpa_cli.stack.topics import ensure_topics
from mpa_common.auth import Role, mint_dev_token
from mpa_common.kafka import operator_options
from mpa_common.settings import SERVICE_PORTS
from tests.conftest import service_owner_database_url
from tests.support import free_port

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class WebhookReceiver:
    """A partner's webhook endpoint: a real HTTP server that records what it is sent."""

    port: int
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def serve(self) -> HTTPServer:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.received.append((dict(self.headers.items()), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        server = HTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


@dataclass
class RunningPlatform:
    urls: dict[str, str]
    prefix: str
    bootstrap_servers: str
    receiver: WebhookReceiver
    logs: Path


async def _drop_schema(service: str, schema: str) -> None:
    engine = create_async_engine(service_owner_database_url(service))
    try:
        async with engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        await engine.dispose()


async def _delete_topics(bootstrap_servers: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(**operator_options(bootstrap_servers))
    await admin.start()
    try:
        await admin.delete_topics(names)
    finally:
        await admin.close()


@pytest.fixture(scope="module")
def platform(
    bootstrap_servers: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningPlatform]:
    schema = f"e2e_{uuid.uuid4().hex[:10]}"
    prefix = f"{schema}."
    logs = tmp_path_factory.mktemp("platform-logs")
    receiver = WebhookReceiver(free_port())
    server = receiver.serve()
    topics = asyncio.run(ensure_topics(bootstrap_servers, prefix))
    ports = {service: free_port() for service in SERVICE_PORTS}
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "KAFKA_TOPIC_PREFIX": prefix,
        "NOTIFICATION_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.1/32"]',
        "NOTIFICATION_SMTP_PORT": str(free_port()),  # nobody listens: e-mail just retries
        "NOTIFICATION_REFERRAL_API_BASE_URL": f"http://127.0.0.1:{ports['referral']}",
        "INTAKE_REFERRAL_API_BASE_URL": f"http://127.0.0.1:{ports['referral']}",
        "AUDIT_CHECKPOINT_INTERVAL_SECONDS": "1",
    }
    for service, port in ports.items():
        env[f"{service.upper()}_PORT"] = str(port)
        env[f"{service.upper()}_DATABASE_SCHEMA"] = schema
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for service in SERVICE_PORTS:
            migrated = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "alembic",
                    "-c",
                    f"services/{service}/alembic.ini",
                    "upgrade",
                    "head",
                ],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert migrated.returncode == 0, f"{service}: {migrated.stderr[-2000:]}"
        for service in SERVICE_PORTS:
            processes[service] = subprocess.Popen(
                [sys.executable, "-m", f"mpa_{service}.main"],
                cwd=ROOT,
                env=env,
                stdout=(logs / f"{service}.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
        urls = {service: f"http://127.0.0.1:{port}" for service, port in ports.items()}
        _wait_ready(urls, processes, logs)
        yield RunningPlatform(urls, prefix, bootstrap_servers, receiver, logs)
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        server.shutdown()
        for service in SERVICE_PORTS:
            asyncio.run(_drop_schema(service, schema))
        asyncio.run(_delete_topics(bootstrap_servers, topics))


def _wait_ready(
    urls: dict[str, str], processes: dict[str, subprocess.Popen[bytes]], logs: Path
) -> None:
    deadline = time.monotonic() + 90
    for service, url in urls.items():
        while True:
            if processes[service].poll() is not None:
                pytest.fail(f"{service} exited:\n{(logs / f'{service}.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=3).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{service} not ready:\n{(logs / f'{service}.log').read_text()[-3000:]}"
                )
            time.sleep(0.3)


def _subscribe_every_demo_partner(platform: RunningPlatform) -> dict[str, str]:
    """Each demo partner in Niger registers a webhook endpoint; returns partner -> secret."""
    admin = {"Authorization": f"Bearer {mint_dev_token([Role.ADMIN], subject='e2e-admin')}"}
    partners = httpx.get(
        f"{platform.urls['referral']}/v1/partners", params={"country": "NE"}, headers=admin
    ).json()
    items = partners["items"] if isinstance(partners, dict) else partners
    assert items, "the demo directory should have been seeded"
    secrets: dict[str, str] = {}
    for partner in items:
        created = httpx.post(
            f"{platform.urls['notification']}/v1/endpoints",
            headers=admin,
            json={
                "url": platform.receiver.url,
                "event_types": ["org.mpa.referral.routed.v1"],
                "partner_id": partner["id"],
            },
        )
        assert created.status_code == 201, created.text
        secrets[partner["id"]] = created.json()["secret"]
    return secrets


def test_one_referral_walks_through_every_service(platform: RunningPlatform) -> None:
    secrets = _subscribe_every_demo_partner(platform)
    client = httpx.Client(timeout=15)
    operator = mint_dev_token([Role.OPERATOR], subject="e2e-operator")
    urls = platform.urls
    # The demo itself: register, route, explain, accept, read, complete, FHIR, audit timeline.
    run_walkthrough(Platform(urls["intake"], urls["referral"], urls["audit"], client), operator)

    cases = client.get(
        f"{urls['intake']}/v1/cases", headers={"Authorization": f"Bearer {operator}"}
    ).json()["items"]
    assert len(cases) == 1  # the private schema holds only this story
    case_id = cases[0]["case_id"] if "case_id" in cases[0] else cases[0]["id"]

    # The routed partner was told by a signed webhook that carries no personal data.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(platform.receiver.received) < 2:
        time.sleep(0.3)
    assert len(platform.receiver.received) >= 2  # shelter + child protection
    for headers, body in platform.receiver.received:
        document = json.loads(body)
        partner = document.get("partner_id") or document.get("data", {}).get("partner_id")
        lowered = {k.lower(): v for k, v in headers.items()}
        Webhook(secrets[partner]).verify(body, lowered)  # raises when the signature is wrong
        for personal in ("Amina", "Exemple"):
            assert personal.encode() not in body
        assert case_id in body.decode()

    # The auditor can prove the story's first event is in the signed log.
    # The log is written from the topics: it has the story's last event within seconds.
    auditor = {"Authorization": f"Bearer {mint_dev_token([Role.AUDITOR], subject='e2e-au')}"}
    deadline = time.monotonic() + 30
    while True:
        timeline = client.get(
            f"{urls['audit']}/v1/audit/cases/{case_id}/timeline", headers=auditor
        ).json()["events"]
        types = [entry["event"]["type"] for entry in timeline]
        if "org.mpa.referral.completed.v1" in types or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert types[0] == "org.mpa.case.registered.v1"
    assert "org.mpa.access.personal_data_accessed.v1" in types
    assert types[-1] == "org.mpa.referral.completed.v1"


async def _referral_records_of(platform: RunningPlatform, case_id: str) -> list[dict[str, str]]:
    reader = AIOKafkaConsumer(
        f"{platform.prefix}mpa.referral.v1",
        **operator_options(platform.bootstrap_servers),
        auto_offset_reset="earliest",
        group_id=None,
    )
    await reader.start()
    found: list[dict[str, str]] = []
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while len(found) < 2 and asyncio.get_running_loop().time() < deadline:
            for batch in (await reader.getmany(timeout_ms=300)).values():
                for record in batch:
                    if record.key == case_id.encode():
                        found.append({k: v.decode() for k, v in record.headers})
    finally:
        await reader.stop()
    return found


def test_one_trace_follows_a_case_from_intake_into_the_referral_service(
    platform: RunningPlatform,
) -> None:
    trace_id = uuid.uuid4().hex
    operator = mint_dev_token([Role.OPERATOR], subject="e2e-tracer")
    registered = httpx.post(
        f"{platform.urls['intake']}/v1/cases",
        json=FICTIONAL_CASE,
        headers={
            "Authorization": f"Bearer {operator}",
            "Idempotency-Key": str(uuid.uuid4()),
            "traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01",
        },
        timeout=15,
    )
    assert registered.status_code == 201, registered.text
    case_id = registered.json()["case_id"]
    # Referral events were written by the referral service while handling intake's event:
    # they carry the trace the operator's HTTP request started.
    headers = asyncio.run(_referral_records_of(platform, case_id))
    assert headers, "no referral event for the traced case"
    for record_headers in headers:
        assert record_headers["traceparent"].split("-")[1] == trace_id


def _protection_auth(role: Role, subject: str) -> dict[str, str]:
    token = mint_dev_token(
        [role], subject=subject, team="ne-niamey-cm", agency="iom-ne", country="NE"
    )
    return {"Authorization": f"Bearer {token}"}


def _protection_ok(response: httpx.Response, status: int = 200) -> dict[str, object]:
    assert response.status_code == status, response.text
    answer: dict[str, object] = response.json()
    return answer


def test_a_separated_childs_return_waits_for_the_best_interests_determination(
    platform: RunningPlatform,
) -> None:
    intake, referral = platform.urls["intake"], platform.urls["referral"]
    caseworker = _protection_auth(Role.CASEWORKER, f"cw-{uuid.uuid4().hex[:6]}")
    supervisor = _protection_auth(Role.SUPERVISOR, f"sv-{uuid.uuid4().hex[:6]}")
    client = httpx.Client(timeout=15)
    registered = _protection_ok(
        client.post(
            f"{intake}/v1/cases",
            headers=caseworker,
            json={
                "person": {
                    "given_name": "Fictive",
                    "family_name": "Enfant",
                    "estimated_age": 14,
                    "sex": "female",
                    "nationality": "NG",
                    "languages": ["ha"],
                },
                "location": {"country": "NE", "admin_area": "NE-8"},
                "vulnerabilities": ["separated_child"],
                "needs": [{"category": "return_assistance", "urgency": "high"}],
                "consent": {
                    "given": True,
                    "details": {
                        "scopes": ["referral", "data_sharing"],
                        "given_by": "legal_guardian",
                        "method": "verbal",
                        "obtained_at": "2026-01-05T10:00:00Z",
                    },
                },
                "safety": {"do_not_contact": False, "safe_contact_method": "through_caseworker"},
            },
        ),
        201,
    )
    case_id, (need_id,) = registered["case_id"], registered["need_ids"]

    def return_referral() -> dict[str, str] | None:
        page = client.get(
            f"{referral}/v1/referrals", params={"case_id": case_id}, headers=caseworker
        ).json()
        found = [r for r in page["items"] if r["need_id"] == need_id and r["state"] != "requested"]
        return found[0] if found else None

    def wait_for(state: str, what: str) -> dict[str, str]:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = return_referral()
            if found is not None and (state == "" or found["state"] == state):
                return found
            time.sleep(0.3)
        pytest.fail(f"timed out waiting for {what}")

    waiting = wait_for("", "the return referral to be decided")
    assert waiting["state"] == "unroutable"
    assert waiting["status_reason"] == "best_interests_determination_required"
    refused = client.post(
        f"{referral}/v1/referrals",
        headers=caseworker,
        json={"case_id": case_id, "need_id": need_id},
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["reason"] == "best_interests_determination_required"

    url = f"{intake}/v1/cases/{case_id}"
    _protection_ok(
        client.post(
            f"{url}/child/assent",
            headers=caseworker,
            json={"consent_given_by": "legal_guardian", "assent": "given", "views": "Home"},
        ),
        201,
    )
    assessment = _protection_ok(
        client.post(
            f"{url}/child/best-interests/assessments",
            headers=caseworker,
            json={
                "assessed_at": "2026-01-06T10:00:00Z",
                "risks": ["family_separation"],
                "recommendation": "return_to_country_of_origin",
            },
        ),
        201,
    )
    approval = _protection_ok(
        client.post(
            f"{url}/approvals",
            headers=caseworker,
            json={"subject": "best_interests_determination", "note": "Panel of three agreed"},
        ),
        201,
    )
    determination = {
        "determined_at": "2026-01-07T10:00:00Z",
        "panel_size": 3,
        "decision": "return_to_country_of_origin",
        "assessment_id": assessment["assessment_id"],
        "approval_id": approval["approval_id"],
    }
    # Not approved yet: refused.
    early = client.post(
        f"{url}/child/best-interests/determination", headers=caseworker, json=determination
    )
    assert early.status_code == 409, early.text
    _protection_ok(
        client.post(
            f"{url}/approvals/{approval['approval_id']}/decision",
            headers=supervisor,
            json={"decision": "approved"},
        )
    )
    _protection_ok(
        client.post(
            f"{url}/child/best-interests/determination", headers=caseworker, json=determination
        ),
        201,
    )

    routed_referral = wait_for("routed", "the return referral routed after the determination")
    assert routed_referral["id"] == waiting["id"]
