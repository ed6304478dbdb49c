"""Composition root of the audit service: builds the app, its workers, and runs it."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI

from mpa_audit.adapters.consumer import audit_log_consumer
from mpa_audit.adapters.signing import load_signer
from mpa_audit.api.routes import AuditContext, router
from mpa_audit.app.tree_heads import TreeHeads, checkpoint_worker
from mpa_audit.settings import AuditSettings
from mpa_common.service import BackgroundWorker, ServiceContext, create_service_app, run_service

LOG_CONSUMER_GROUP = "mpa-audit.log"


def create_app(settings: AuditSettings | None = None) -> FastAPI:
    settings = settings or AuditSettings()
    # Loaded now so that a missing or forbidden key stops the service before it serves.
    signer = load_signer(settings)

    def workers(context: ServiceContext) -> Sequence[BackgroundWorker]:
        tree_heads = TreeHeads(context.sessions, signer)
        app.state.audit = AuditContext(settings, signer, context.sessions, tree_heads)
        log_consumer = audit_log_consumer(
            group_id=LOG_CONSUMER_GROUP,
            sessions=context.sessions,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            client_id=f"{settings.kafka_client_id}-log",
            topic_prefix=settings.kafka_topic_prefix,
        )
        return [log_consumer, checkpoint_worker(tree_heads, settings.checkpoint_interval_seconds)]

    app = create_service_app(
        settings,
        title="MPA Audit",
        description=(
            "An immutable, tamper-evident (RFC 6962 Merkle tree) log of every event "
            "and every access to personal data, for auditors. Tree heads are signed with "
            "Ed25519 (C2SP checkpoints); exports verify offline with `mpa audit verify`."
        ),
        routers=[router],
        workers=workers,
    )
    return app


def main() -> None:
    settings = AuditSettings()
    run_service(create_app(settings), settings)


if __name__ == "__main__":
    main()
