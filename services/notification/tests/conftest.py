"""Fixtures for the notification service's use-case tests (helpers: mpa_notification.testing;
nothing is imported from a `tests` package, whose name the repository's other suites share)."""

from __future__ import annotations

import pytest

from mpa_notification.testing import World, make_world


@pytest.fixture
def world() -> World:
    return make_world()
