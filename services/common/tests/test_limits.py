"""Request body limits (413 while the body streams in), the shared request types and the
OpenAPI post-processing: no servers needed (the ASGI app is driven directly)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, Query
from pydantic import BaseModel, Field

from mpa_common.limits import MIB, body_limit, install_body_limits
from mpa_common.openapi import install_problem_openapi
from mpa_common.problems import install_problem_handlers
from mpa_common.request_types import (
    Count32,
    Date,
    DateTime,
    Index64Param,
    Int32,
    StrictBool,
    Text,
)


class Body(BaseModel):
    name: Text = Field(max_length=20)
    places: Count32 | None = None
    at: DateTime | None = None
    day: Date | None = None
    flag: StrictBool | None = None
    small: Int32 | None = None


def build_app(**overrides: int) -> tuple[FastAPI, list[int]]:
    app = FastAPI()
    install_problem_handlers(app)
    read: list[int] = []

    @app.post("/items")
    async def create(body: Body) -> dict[str, Any]:
        return body.model_dump(mode="json")

    @app.post("/bulk", openapi_extra=body_limit(4 * MIB))
    async def bulk(body: dict[str, Any]) -> dict[str, int]:
        return {"keys": len(body)}

    @app.get("/events")
    async def events(
        seq: Annotated[Index64Param, Query(ge=1)] = 1,
        kind: Annotated[Text | None, Query(max_length=50)] = None,
        since: Annotated[DateTime | None, Query()] = None,
    ) -> dict[str, Any]:
        return {"seq": seq, "kind": kind}

    limits = install_body_limits(app, default=MIB, overrides=overrides)
    install_problem_openapi(app, limits)
    return app, read


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    yield b'{"name": "'
    sent = 0
    while sent < total:
        yield b"x" * size
        sent += size
    yield b'"}'


async def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    app, _ = build_app()
    received: list[int] = []

    async def receive() -> dict[str, Any]:
        received.append(1)
        return {"type": "http.request", "body": b"", "more_body": False}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/items",
        "raw_path": b"/items",
        "query_string": b"",
        "headers": [(b"content-length", str(300 * MIB).encode())],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("t", 80),
        "client": ("c", 1),
        "root_path": "",
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 413
    assert (b"content-type", b"application/problem+json") in sent[0]["headers"]
    assert received == []  # not one byte of the body was read


async def test_a_chunked_body_is_cut_off_at_the_limit() -> None:
    app, _ = build_app()
    pulled = 0

    async def counted() -> AsyncIterator[bytes]:
        nonlocal pulled
        async for chunk in chunks(300 * MIB):
            pulled += len(chunk)
            yield chunk

    async with client(app) as http:
        response = await http.post(
            "/items", content=counted(), headers={"content-type": "application/json"}
        )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Content too large"
    assert pulled < 2 * MIB  # the rest of the 300 MB was never asked for


async def test_a_route_may_allow_more_and_settings_may_override_it() -> None:
    big = json.dumps({"k": "x" * (2 * MIB)})
    as_json = {"content-type": "application/json"}
    app, _ = build_app()
    async with client(app) as http:
        assert (await http.post("/bulk", content=big, headers=as_json)).status_code == 200
        assert (await http.post("/items", content=big, headers=as_json)).status_code == 413
    app, _ = build_app(**{"POST /bulk": MIB})
    async with client(app) as http:
        assert (await http.post("/bulk", content=big, headers=as_json)).status_code == 413
    document = app.openapi()
    assert document["paths"]["/bulk"]["post"]["x-max-body-bytes"] == MIB
    assert document["paths"]["/items"]["post"]["x-max-body-bytes"] == MIB


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "ok"}, 200),
        ({"name": "a\x00b"}, 422),  # PostgreSQL refuses NUL in text: it answered 500
        ({"name": "x" * 21}, 422),
        ({"name": "ok", "places": 2**31}, 422),  # beyond INTEGER
        ({"name": "ok", "places": -1}, 422),
        ({"name": "ok", "places": True}, 422),  # booleans are not integers
        ({"name": "ok", "places": "5"}, 422),
        ({"name": "ok", "small": -(2**31)}, 200),
        ({"name": "ok", "flag": 1}, 422),
        ({"name": "ok", "flag": "yes"}, 422),
        ({"name": "ok", "at": 1700000000}, 422),  # numbers are not date-times
        ({"name": "ok", "at": "1700000000"}, 422),
        ({"name": "ok", "at": "2026-03-02T09:15:00"}, 422),  # no time zone
        ({"name": "ok", "at": "0001-01-01T00:00:00+14:00"}, 422),  # not representable in UTC
        ({"name": "ok", "at": "2026-03-02T09:15:00Z"}, 200),
        ({"name": "ok", "day": 20000}, 422),
        ({"name": "ok", "day": "2026-03-02"}, 200),
    ],
)
async def test_the_shared_types_refuse_what_the_database_or_the_schema_would(
    body: dict[str, Any], status: int
) -> None:
    app, _ = build_app()
    async with client(app) as http:
        response = await http.post("/items", json=body)
    assert response.status_code == status, response.text
    if status == 422:
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("seq=5", 200),
        ("seq=0", 422),
        ("seq=99999999999999999999", 422),  # beyond BIGINT: the audit answered 500
        ("seq=true", 422),
        ("kind=a%00b", 422),
        ("since=1700000000", 422),
        ("since=2026-03-02T09:15:00%2B01:00", 200),
    ],
)
async def test_query_parameters_use_the_same_rules(query: str, status: int) -> None:
    app, _ = build_app()
    async with client(app) as http:
        assert (await http.get(f"/events?{query}")).status_code == status


@pytest.mark.parametrize(
    "content",
    [b'{"name": "\xff\xfe"}', b"\xc3\x28", b"[" * 100_000],
)
async def test_a_body_that_is_not_utf8_json_gets_the_same_422_as_malformed_json(
    content: bytes,
) -> None:
    app, _ = build_app()
    async with client(app) as http:
        malformed = await http.post(
            "/items", content=b'{"name": ', headers={"content-type": "application/json"}
        )
        undecodable = await http.post(
            "/items", content=content, headers={"content-type": "application/json"}
        )
    assert malformed.status_code == 422
    assert undecodable.status_code == 422, undecodable.text
    assert undecodable.headers["content-type"] == "application/problem+json"


def test_the_openapi_documents_problem_json_and_the_limits() -> None:
    app, _ = build_app()
    document = app.openapi()
    operation = document["paths"]["/items"]["post"]
    assert set(operation["responses"]) >= {"200", "413", "422", "503"}
    for code in ("413", "422", "503"):
        content = operation["responses"][code]["content"]
        assert list(content) == ["application/problem+json"]
    schema = document["components"]["schemas"]["Body"]["properties"]
    assert schema["name"]["maxLength"] == 20
    assert schema["name"]["pattern"] == "^[^\\x00]*$"
    assert "HTTPValidationError" not in document["components"]["schemas"]
    seq = document["paths"]["/events"]["get"]["parameters"][0]["schema"]
    assert (seq["minimum"], seq["maximum"]) == (1, 2**63 - 1)
