"""Composition root of the intake service: builds the app, its workers, and runs it."""

from __future__ import annotations

from fastapi import FastAPI

from mpa_common.service import create_service_app, run_service
from mpa_intake.settings import IntakeSettings


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    return create_service_app(
        settings,
        title="MPA Intake",
        description=(
            "Registers cases, needs and informed consent. Personal data stays here, "
            "encrypted per case; every read of it is recorded."
        ),
    )


def main() -> None:
    settings = IntakeSettings()
    run_service(create_app(settings), settings)


if __name__ == "__main__":
    main()
