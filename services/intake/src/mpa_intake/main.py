"""Composition root of the intake service: builds the app, its workers, and runs it."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI

from mpa_common.messaging.consumer import EventConsumer
from mpa_common.messaging.outbox import topic_name
from mpa_common.service import BackgroundWorker, ServiceContext, create_service_app, run_service
from mpa_contracts.events.referral import ReferralAcceptedV1
from mpa_contracts.topics import topic_for_event_type
from mpa_intake.adapters.crypto import PersonalDataVault
from mpa_intake.adapters.keys import master_keyring, match_keyer
from mpa_intake.adapters.tables import outbox, processed_events
from mpa_intake.api.errors import install_intake_error_handler
from mpa_intake.api.routes import cases_router
from mpa_intake.handlers import REFERRAL_ACCESS_GROUP, handle_referral_event
from mpa_intake.settings import IntakeSettings

REFERRAL_TOPIC = topic_for_event_type(ReferralAcceptedV1.event_type).name


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    # Keys are loaded now: a misconfigured (or, in production, missing) key stops start-up.
    vault = PersonalDataVault(master_keyring(settings))
    matcher = match_keyer(settings)

    def workers(context: ServiceContext) -> Sequence[BackgroundWorker]:
        return [
            EventConsumer(
                group_id=REFERRAL_ACCESS_GROUP,
                topics=[topic_name(REFERRAL_TOPIC, settings.kafka_topic_prefix)],
                handler=handle_referral_event,
                sessions=context.sessions,
                outbox=outbox,
                processed=processed_events,
                bootstrap_servers=settings.kafka_bootstrap_servers,
                client_id=f"{settings.kafka_client_id}-referral-access",
                topic_prefix=settings.kafka_topic_prefix,
            )
        ]

    app = create_service_app(
        settings,
        title="MPA Intake",
        description=(
            "Registers cases, needs and informed consent. Personal data stays here, "
            "encrypted per case; every read of it is recorded."
        ),
        routers=[cases_router(settings, vault, matcher)],
        workers=workers,
        openapi_tags=[
            {"name": "cases", "description": "Cases, needs, consent, erasure"},
            {"name": "health", "description": "Liveness and readiness"},
        ],
    )
    install_intake_error_handler(app)
    return app


def main() -> None:
    settings = IntakeSettings()
    run_service(create_app(settings), settings)


if __name__ == "__main__":
    main()
