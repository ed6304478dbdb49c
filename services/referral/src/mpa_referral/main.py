"""Composition root of the referral service: builds the app, its workers, and runs it."""

from __future__ import annotations

from fastapi import FastAPI

from mpa_common.service import create_service_app, run_service
from mpa_referral.settings import ReferralSettings


def create_app(settings: ReferralSettings | None = None) -> FastAPI:
    settings = settings or ReferralSettings()
    return create_service_app(
        settings,
        title="MPA Referral",
        description=(
            "Partner and service directory, explainable routing of each need to an "
            "eligible partner, and the closed-loop referral lifecycle with SLA "
            "timers."
        ),
    )


def main() -> None:
    settings = ReferralSettings()
    run_service(create_app(settings), settings)


if __name__ == "__main__":
    main()
