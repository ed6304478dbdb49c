"""Every service's OpenAPI document states its limits and errors (issue 12, finding 11):
each string, list and integer a client sends is bounded (text refuses NUL), errors are
problem+json, and routes that need a token declare the bearer scheme."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from tests.security.openapi_walk import operations, unbounded


def _apps() -> dict[str, FastAPI]:
    from mpa_audit.main import create_app as audit
    from mpa_intake.main import create_app as intake
    from mpa_notification.main import create_app as notification
    from mpa_referral.main import create_app as referral

    return {"intake": intake(), "referral": referral(), "notification": notification(),
            "audit": audit()}  # fmt: skip


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    return {name: app.openapi() for name, app in _apps().items()}


@pytest.mark.parametrize("service", ["intake", "referral", "notification", "audit"])
def test_everything_a_client_sends_is_bounded(documents: dict, service: str) -> None:
    assert unbounded(documents[service]) == []


@pytest.mark.parametrize("service", ["intake", "referral", "notification", "audit"])
def test_errors_are_problem_json_and_tokens_are_declared(documents: dict, service: str) -> None:
    document = documents[service]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for method, path, operation in operations(document):
        responses = operation["responses"]
        for code, response in responses.items():
            if int(code) >= 400:
                assert list(response["content"]) == ["application/problem+json"], (path, code)
        # The person's feedback link: the token in its path is the only credential.
        public = path in ("/healthz", "/readyz", "/v1/audit/public-key",
                          "/v1/feedback-invitations/{token}")  # fmt: skip
        assert bool(operation.get("security")) != public, (method, path)
        if not public:
            assert {"401", "403", "503"} <= set(responses), (method, path)
        if "requestBody" in operation:
            assert {"413", "422"} <= set(responses), (method, path)
            assert operation["x-max-body-bytes"] >= 1024 * 1024
