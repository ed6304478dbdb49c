"""Fixtures for the console's own tests: the app with unreachable services (no servers)."""

from __future__ import annotations

import re
import socket
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

from mpa_console.main import create_app
from mpa_console.settings import ConsoleSettings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def settings(tmp_path: Path) -> ConsoleSettings:
    # Nothing listens on these: the tests exercise the console's own behaviour.
    nowhere = f"http://127.0.0.1:{free_port()}"
    return ConsoleSettings(
        session_key_file=tmp_path / "session-key",
        intake_url=nowhere,
        referral_url=nowhere,
        notification_url=nowhere,
        audit_url=nowhere,
        upstream_timeout_seconds=1.0,
    )


@pytest.fixture
def client(settings: ConsoleSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def _signed_in(client: TestClient, role: str = "operator") -> str:
    """Signs in with the development chooser; returns the session's CSRF token."""
    token = _csrf_of(client.get("/sign-in").text)
    answer = client.post(
        "/sign-in/dev", data={"role": role, "csrf_token": token}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    return _csrf_of(client.get("/sign-in").text)


@pytest.fixture
def csrf_of() -> Callable[[str], str]:
    return _csrf_of


@pytest.fixture
def signed_in() -> Callable[..., str]:
    return _signed_in
