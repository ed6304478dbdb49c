"""API fuzzing (issue 12, Proof): schemathesis generates requests from each service's own
OpenAPI document and sends them to the real service process; no answer may be a 5xx, and
every answer must match the documented status codes, content types and schemas.

Bounded: a fixed number of examples per operation and a time budget per service, so `make
test` stays well under its limit. The counts are printed (`-s` shows them; the report file
under the test's temporary folder has the details).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mpa_common.auth import Role, mint_dev_token
from tests.security.conftest import Platform

pytestmark = pytest.mark.e2e

# Who fuzzes each service: the role that reaches most of its routes past authorisation.
FUZZ_AS = {
    "intake": Role.CASEWORKER,
    "referral": Role.ADMIN,
    "notification": Role.ADMIN,
    "audit": Role.AUDITOR,
}
EXAMPLES_PER_OPERATION = 12
SECONDS_PER_SERVICE = 30
# Stateful checks need links between operations the documents do not declare; a random id
# is rightly a 404, which `positive_data_acceptance` would call a rejected valid request.
EXCLUDED_CHECKS = "use_after_free,ensure_resource_availability,positive_data_acceptance"


def fuzz(platform: Platform, service: str, report: Path) -> dict[str, object]:
    token = mint_dev_token([FUZZ_AS[service]], subject=f"fuzz-{service}")
    command = [
        sys.executable, "-m", "schemathesis.cli", "run",
        f"{platform.urls[service]}/openapi.json",
        "--checks", "all",
        "--exclude-checks", EXCLUDED_CHECKS,
        "--max-examples", str(EXAMPLES_PER_OPERATION),
        "--max-time", str(SECONDS_PER_SERVICE),
        "--phases", "examples,coverage,fuzzing",
        "--workers", "1",
        "--seed", "12",
        "--request-timeout", "20",
        "--suppress-health-check", "all",
        "--header", f"Authorization: Bearer {token}",
        "--report", "json",
        "--report-json-path", str(report),
        "--no-color",
    ]  # fmt: skip
    result = subprocess.run(
        command,
        cwd=report.parent,  # its run cache goes there, not into the checkout
        capture_output=True,
        text=True,
        timeout=SECONDS_PER_SERVICE + 120,
        check=False,
    )
    summary = result.stdout[-6000:]
    print(f"\n==> schemathesis against {service}\n{summary}")
    assert result.returncode == 0, summary + result.stderr[-3000:]
    return json.loads(report.read_text()) if report.exists() else {}


@pytest.mark.parametrize("service", list(FUZZ_AS))
def test_generated_requests_get_no_5xx_and_match_the_documented_api(
    platform: Platform, service: str, tmp_path: Path
) -> None:
    fuzz(platform, service, tmp_path / f"{service}.json")
    for name in platform.pids:
        assert "Traceback" not in platform.log(name), platform.log(name)[-4000:]
