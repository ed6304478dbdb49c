"""What every test run needs before its first test, fast tests included.

The development signing key: `mpa stack up` creates it for `make test`, and a service creates
it on its first start; `make unit` on a fresh checkout runs neither, yet its tests mint
tokens. Created the same way (`ensure_dev_key`), so a later `make run` uses the same key.
"""

from __future__ import annotations

import pytest

from mpa_common.auth import AuthSettings, ensure_dev_key


@pytest.fixture(scope="session", autouse=True)
def development_signing_key() -> None:
    ensure_dev_key(AuthSettings().dev_key_path)
