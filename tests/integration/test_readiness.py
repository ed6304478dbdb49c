"""/readyz answers 503 problem+json naming the dependency that is down."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from mpa_intake.main import create_app
from mpa_intake.settings import IntakeSettings

pytestmark = pytest.mark.integration


def test_readyz_names_an_unreachable_database_and_broker() -> None:
    settings = IntakeSettings(
        database_url=SecretStr("postgresql+asyncpg://nobody:wrong@127.0.0.1:9/none"),
        KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9",
        readiness_timeout_seconds=1.0,
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 503
    assert body["checks"]["database"] != "ok"
    assert body["checks"]["kafka"] != "ok"
    assert "database:" in body["detail"]
    assert "kafka:" in body["detail"]


def test_readyz_is_ok_against_the_real_servers() -> None:
    with TestClient(create_app(IntakeSettings())) as client:
        response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ready"
