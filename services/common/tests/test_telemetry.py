"""The server span's name and route, remembered for routes without path parameters."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

from mpa_common.telemetry import instrument_app, memoized_span_details


def test_span_details_are_remembered_only_for_paths_without_parameters() -> None:
    calls: list[str] = []

    def details(scope: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        calls.append(scope["path"])
        route = "/v1/cases/{case_id}" if scope["path"].count("/") > 2 else scope["path"]
        return f"{scope['method']} {route}", {"http.route": route}

    memo = memoized_span_details(details)
    static = {"type": "http", "method": "POST", "root_path": "", "path": "/v1/cases"}
    assert memo(static) == ("POST /v1/cases", {"http.route": "/v1/cases"})
    assert memo(dict(static)) == ("POST /v1/cases", {"http.route": "/v1/cases"})
    assert memo({**static, "method": "GET"}) == ("GET /v1/cases", {"http.route": "/v1/cases"})
    with_id = {**static, "path": "/v1/cases/6f1c2a3e"}
    assert memo(with_id) == ("POST /v1/cases/{case_id}", {"http.route": "/v1/cases/{case_id}"})
    memo(with_id)
    assert calls == ["/v1/cases", "/v1/cases", "/v1/cases/6f1c2a3e", "/v1/cases/6f1c2a3e"]


def test_the_instrumented_app_names_its_spans_after_the_route() -> None:
    app = FastAPI()

    @app.post("/v1/things")
    async def things() -> dict[str, str]:
        return {}

    @app.get("/v1/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {}

    instrument_app(app)
    client = TestClient(app)
    assert client.post("/v1/things").status_code == 200
    node: Any = app.middleware_stack
    while not isinstance(node, OpenTelemetryMiddleware):
        node = node.app
    details = node.default_span_details
    scope = {"type": "http", "method": "POST", "root_path": "", "path": "/v1/things", "app": app}
    assert details(scope) == ("POST /v1/things", {"http.route": "/v1/things"})
    scope = {**scope, "method": "GET", "path": "/v1/things/42"}
    assert details(scope) == ("GET /v1/things/{thing_id}", {"http.route": "/v1/things/{thing_id}"})
