"""Composition root of the audit service: builds the app, its workers, and runs it."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI

from mpa_audit.adapters.kafka_offsets import end_offsets
from mpa_audit.adapters.log_store import LogStore
from mpa_audit.adapters.signing import load_signer
from mpa_audit.adapters.tables import outbox
from mpa_audit.adapters.uow import AuditUnitOfWork
from mpa_audit.adapters.witness_client import HttpWitness, read_cosigner_key
from mpa_audit.api.errors import install_audit_error_handlers
from mpa_audit.api.routes import AuditContext, router
from mpa_audit.app.integrity import IntegrityChecker, full_integrity_worker
from mpa_audit.app.tree_heads import TreeHeads, checkpoint_worker
from mpa_audit.handlers import log_subscription
from mpa_audit.settings import AuditSettings
from mpa_common.kafka import client_options
from mpa_common.messaging.outbox import topic_name
from mpa_common.service import ServiceContext, create_service_app, run_service
from mpa_contracts.topics import MAIN_TOPICS


class _ClosesWitnessClients:
    """Listed first among the workers, stopped last: closes the witnesses' HTTP clients."""

    name = "audit-witness-clients"

    def __init__(self, witnesses: Sequence[HttpWitness]) -> None:
        self._witnesses = witnesses

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        for witness in self._witnesses:
            await witness.aclose()


def create_app(settings: AuditSettings | None = None) -> FastAPI:
    settings = settings or AuditSettings()
    # Loaded now so that a missing or forbidden key stops the service before it serves.
    signer = load_signer(settings)
    witnesses = [
        HttpWitness(witness.url, read_cosigner_key(witness.key))
        for witness in settings.all_witnesses()
    ]
    service = ServiceContext.create(settings)
    units_of_work = service.units_of_work(outbox, AuditUnitOfWork)
    tree_heads = TreeHeads(units_of_work, signer, witnesses)
    integrity = IntegrityChecker(units_of_work, signer.public, signer.origin, witnesses)

    async def ask_kafka(topics: Sequence[str]) -> dict[tuple[str, int], int]:
        return await end_offsets(client_options(settings), topics)

    # The consumer's own transactions: the batch handler appends through the LogStore over
    # the consumer's session; the skip recorder opens units of work of its own.
    subscription = log_subscription(lambda uow: LogStore(uow.session), units_of_work)
    app = create_service_app(
        service,
        title="MPA Audit",
        description=(
            "An immutable, tamper-evident (RFC 6962 Merkle tree) log of every event "
            "and every access to personal data, for auditors. Tree heads are signed with "
            "Ed25519 (C2SP checkpoints) and cosigned by witnesses (C2SP tlog-witness); "
            "exports verify offline with `mpa audit verify`."
        ),
        routers=[router],
        workers=[
            _ClosesWitnessClients(witnesses),
            service.consumer(
                subscription, unit_of_work=service.units_of_work(outbox), processed=None
            ),
            checkpoint_worker(
                tree_heads, settings.checkpoint_interval_seconds, monitor=service.monitor
            ),
            full_integrity_worker(
                integrity, settings.full_integrity_interval_seconds, monitor=service.monitor
            ),
        ],
    )
    install_audit_error_handlers(app)
    app.state.audit = AuditContext(
        units_of_work,
        tree_heads,
        integrity,
        signer.public,
        ask_kafka,
        [topic_name(t.name, settings.kafka_topic_prefix) for t in MAIN_TOPICS],
    )
    return app


def main() -> None:
    settings = AuditSettings()
    run_service(create_app(settings), settings)


if __name__ == "__main__":
    main()
