"""Fixtures the console's browser tests share: one Chromium per module, and the folder each
test's screenshots go to (emptied first)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.e2e.console_support import CHROMIUM_ARGS, SCREENSHOTS, Steps, chromium_path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def steps(request: pytest.FixtureRequest) -> Steps:
    folder = SCREENSHOTS / request.node.name
    for old in folder.glob("*.png"):
        old.unlink()
    return Steps(folder)
