"""problem+json answers (RFC 9457) for errors, without echoing what was sent."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from mpa_common.problems import install_problem_handlers


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
