"""The four services start as real processes, answer /healthz, /readyz and /openapi.json
against the real Kafka and PostgreSQL, log JSON, and stop cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from mpa_common.settings import SERVICE_PORTS
from tests.support import free_port

pytestmark = pytest.mark.e2e


@dataclass
class RunningService:
    name: str
    port: int
    process: subprocess.Popen[str]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningService]]:
    logs = tmp_path_factory.mktemp("service-logs")
    running: dict[str, RunningService] = {}
    for name in SERVICE_PORTS:
        # Own ports, so a `make run` on the default ports does not collide with the tests.
        port = free_port()
        log_path = logs / f"{name}.log"
        env = {**os.environ, f"{name.upper()}_PORT": str(port), "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            [sys.executable, "-m", f"mpa_{name}.main"],
            env=env,
            stdout=log_path.open("w"),
            stderr=subprocess.STDOUT,
            text=True,
        )
        running[name] = RunningService(name, port, process, log_path)
    try:
        deadline = time.monotonic() + 60
        for service in running.values():
            while True:
                if service.process.poll() is not None:
                    pytest.fail(f"{service.name} exited early:\n{service.log_path.read_text()}")
                try:
                    if httpx.get(service.url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"{service.name} did not start:\n{service.log_path.read_text()}")
                time.sleep(0.2)
        yield running
    finally:
        for service in running.values():
            if service.process.poll() is None:
                service.process.send_signal(signal.SIGTERM)
        for service in running.values():
            try:
                service.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                service.process.kill()


@pytest.mark.parametrize("name", list(SERVICE_PORTS))
def test_service_is_live_and_ready(services: dict[str, RunningService], name: str) -> None:
    service = services[name]
    health = httpx.get(service.url + "/healthz", timeout=5)
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "service": name}
    ready = httpx.get(service.url + "/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "kafka": "ok"}


@pytest.mark.parametrize("name", list(SERVICE_PORTS))
def test_service_publishes_its_openapi_document(
    services: dict[str, RunningService], name: str
) -> None:
    document = httpx.get(services[name].url + "/openapi.json", timeout=5).json()
    assert document["openapi"].startswith("3.")
    assert {"/healthz", "/readyz"} <= set(document["paths"])


def test_services_log_json_and_stop_cleanly_on_sigterm(
    services: dict[str, RunningService],
) -> None:
    for service in services.values():
        service.process.send_signal(signal.SIGTERM)
    for service in services.values():
        # uvicorn shuts down gracefully, then re-raises the signal it caught: -SIGTERM.
        code = service.process.wait(timeout=20)
        assert code in (0, -signal.SIGTERM), service.log_path.read_text()
        lines = [line for line in service.log_path.read_text().splitlines() if line.strip()]
        assert lines, f"{service.name} logged nothing"
        records = [json.loads(line) for line in lines]  # every line is one JSON object
        for record in records:
            assert record["service"] == service.name
            assert {"time", "level", "logger", "message"} <= set(record)
            assert "\x1b" not in json.dumps(record)  # no terminal colour codes
        assert any(r["message"] == "Application shutdown complete." for r in records)
