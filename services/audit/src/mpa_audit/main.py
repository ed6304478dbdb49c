"""Composition root of the audit service: builds the app, its workers, and runs it."""

from __future__ import annotations

from fastapi import FastAPI

from mpa_audit.adapters.signing import load_signer
from mpa_audit.adapters.tables import outbox
from mpa_audit.api.routes import AuditContext, router
from mpa_audit.app.tree_heads import TreeHeads, checkpoint_worker
from mpa_audit.handlers import log_subscription
from mpa_audit.settings import AuditSettings
from mpa_common.service import ServiceContext, create_service_app, run_service


def create_app(settings: AuditSettings | None = None) -> FastAPI:
    settings = settings or AuditSettings()
    # Loaded now so that a missing or forbidden key stops the service before it serves.
    signer = load_signer(settings)
    service = ServiceContext.create(settings)
    tree_heads = TreeHeads(service.sessions, signer)

    unit_of_work = service.units_of_work(outbox)

    app = create_service_app(
        service,
        title="MPA Audit",
        description=(
            "An immutable, tamper-evident (RFC 6962 Merkle tree) log of every event "
            "and every access to personal data, for auditors. Tree heads are signed with "
            "Ed25519 (C2SP checkpoints); exports verify offline with `mpa audit verify`."
        ),
        routers=[router],
        workers=[
            service.consumer(
                log_subscription(service.sessions), unit_of_work=unit_of_work, processed=None
            ),
            checkpoint_worker(
                tree_heads, settings.checkpoint_interval_seconds, monitor=service.monitor
            ),
        ],
    )
    app.state.audit = AuditContext(settings, signer, service.sessions, tree_heads)
    return app


def main() -> None:
    settings = AuditSettings()
    run_service(create_app(settings), settings)


if __name__ == "__main__":
    main()
