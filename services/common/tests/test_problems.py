"""problem+json answers (RFC 9457) for errors, without echoing what was sent."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.exc import SQLAlchemyError

from mpa_common.logging import redacted_path
from mpa_common.problems import install_problem_handlers
from mpa_common.telemetry import _redact_secret_path


def test_an_unexpected_error_answers_problem_json_without_its_text() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("Amina Exemple +227 90 00 00 00")  # as if an internal echoed input

    response = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Internal error"
    assert "Amina" not in response.text


def test_a_feedback_links_token_is_in_no_problem_log_or_span() -> None:
    assert redacted_path("/v1/feedback-invitations/s3cret") == "/v1/feedback-invitations/{redacted}"
    assert redacted_path("/v1/cases/s3cret") == "/v1/cases/s3cret"
    assert redacted_path("/feedback/s3cret") == "/feedback/{redacted}"  # the console's page
    assert redacted_path("/feedback/partners/p-1") == "/feedback/partners/p-1"
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/v1/feedback-invitations/{token}")
    def boom(token: str) -> None:
        raise SQLAlchemyError("not a transient failure: logged with the request's path")

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("mpa.http").addHandler(handler)
    try:
        response = TestClient(app, raise_server_exceptions=False).get(
            "/v1/feedback-invitations/s3cret"
        )
    finally:
        logging.getLogger("mpa.http").removeHandler(handler)
    assert response.status_code == 500
    assert "s3cret" not in response.text
    assert [r.__dict__["path"] for r in records] == ["/v1/feedback-invitations/{redacted}"]

    span = TracerProvider().get_tracer("test").start_span("GET")
    span.set_attribute("http.target", "/v1/feedback-invitations/s3cret")
    _redact_secret_path(span, {"path": "/v1/feedback-invitations/s3cret"})
    attributes = dict(span.attributes or {})  # type: ignore[attr-defined]
    assert attributes["http.target"] == "/v1/feedback-invitations/{redacted}"
    assert "s3cret" not in str(attributes)
