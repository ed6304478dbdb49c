"""Composition root of the audit service: builds the app, its workers, and runs it."""

from __future__ import annotations

from fastapi import FastAPI

from mpa_audit.settings import AuditSettings
from mpa_common.service import create_service_app, run_service


def create_app(settings: AuditSettings | None = None) -> FastAPI:
    settings = settings or AuditSettings()
    return create_service_app(
        settings,
        title="MPA Audit",
        description=(
            "An immutable, tamper-evident (RFC 6962 Merkle tree) log of every event "
            "and every access to personal data, for auditors."
        ),
    )


def main() -> None:
    settings = AuditSettings()
    run_service(create_app(settings), settings)


if __name__ == "__main__":
    main()
