"""What the fault suite's scenarios share: their size, and the reports printed at the end."""

from __future__ import annotations

import os

from mpa_cli.harness.report import ScenarioReport

# The floor is 300 cases a scenario; more, or another rate, for a heavier run.
CASES = int(os.environ.get("MPA_FAULTS_CASES", "300"))
RATE = float(os.environ.get("MPA_FAULTS_RATE", "8"))
REPORTS: list[ScenarioReport] = []
