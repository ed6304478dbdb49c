"""A partner's webhook endpoint on 127.0.0.1: verifies each Standard Webhooks signature and
records what arrived (webhook-id, type, referral, event, arrival time).

It runs in the harness's event loop (uvicorn, without its signal handlers) and answers 204
at once, so it is never the bottleneck it measures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mpa_cli.harness.ports import free_port


@dataclass(frozen=True, slots=True)
class Arrival:
    endpoint: str  # the label the endpoint was registered under
    webhook_id: str
    event_type: str
    event_id: str | None  # the platform event the webhook tells of
    referral_id: str | None
    case_id: str | None
    attempt: int | None
    arrived_at: float  # wall clock (time.time()), comparable with the databases' now()
    signature_valid: bool


@dataclass
class WebhookReceiver:
    port: int = field(default_factory=free_port)
    secrets: dict[str, str] = field(default_factory=dict)
    arrivals: list[Arrival] = field(default_factory=list)
    # What a request should be answered with (e.g. 503 to make the platform retry).
    status_code: int = 204
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    def url(self, endpoint: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{endpoint}"

    async def start(self) -> None:
        app = Starlette(routes=[Route("/hooks/{endpoint}", self._receive, methods=["POST"])])
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_config=None, access_log=False, lifespan="off"
        )
        self._server = _QuietServer(config)
        self._task = asyncio.create_task(self._server.serve(), name="webhook-receiver")
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._server = self._task = None

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        arrived_at = time.time()
        endpoint = request.path_params["endpoint"]
        headers = {k.lower(): v for k, v in request.headers.items()}
        secret = self.secrets.get(endpoint)
        valid = False
        if secret is not None:
            try:
                Webhook(secret).verify(body, headers)
                valid = True
            except WebhookVerificationError:
                valid = False
        document: dict[str, Any] = json.loads(body) if body else {}
        data: dict[str, Any] = document.get("data") or {}
        attempt = data.get("attempt")
        self.arrivals.append(
            Arrival(
                endpoint=endpoint,
                webhook_id=headers.get("webhook-id", ""),
                event_type=str(document.get("type", "")),
                event_id=data.get("event_id"),
                referral_id=data.get("referral_id"),
                case_id=data.get("case_id"),
                attempt=attempt if isinstance(attempt, int) else None,
                arrived_at=arrived_at,
                signature_valid=valid,
            )
        )
        return Response(status_code=self.status_code)

    def of_type(self, event_type: str) -> list[Arrival]:
        return [a for a in self.arrivals if a.event_type == event_type]


class _QuietServer(uvicorn.Server):
    """uvicorn without its SIGINT/SIGTERM handlers: the test runner keeps its own."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
