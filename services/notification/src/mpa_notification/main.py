"""Composition root of the notification service: builds the app, its workers, and runs it."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI

from mpa_common.messaging.consumer import EventConsumer
from mpa_common.messaging.outbox import topic_name
from mpa_common.service import BackgroundWorker, ServiceContext, create_service_app, run_service
from mpa_contracts.events.directory import PartnerDeactivatedV1
from mpa_contracts.events.referral import ReferralRoutedV1
from mpa_contracts.topics import topic_for_event_type
from mpa_notification.adapters.email import EmailSender
from mpa_notification.adapters.tables import outbox, processed_events
from mpa_notification.adapters.webhooks import Resolver, WebhookSender, system_resolver
from mpa_notification.api import contacts, deliveries, endpoints
from mpa_notification.app.context import NotificationContext
from mpa_notification.dispatcher import Dispatcher
from mpa_notification.handlers import event_handler
from mpa_notification.settings import NotificationSettings

CONSUMER_GROUP = "mpa-notification.referrals"


def create_app(
    settings: NotificationSettings | None = None, *, resolver: Resolver = system_resolver
) -> FastAPI:
    """The service; `resolver` answers for webhook host names (the system's by default)."""
    settings = settings or NotificationSettings()

    def workers(service: ServiceContext) -> Sequence[BackgroundWorker]:
        context = NotificationContext.build(settings, service.sessions, resolver=resolver)
        dispatcher = Dispatcher(
            context,
            WebhookSender(
                context.policy,
                timeout=settings.webhook_timeout_seconds,
                max_connections=settings.dispatch_concurrency,
                resolver=resolver,
            ),
            EmailSender(settings),
        )
        context.wake_dispatcher = dispatcher.wake
        app.state.notification = context
        app.state.dispatcher = dispatcher
        prefix = settings.kafka_topic_prefix
        consumer = EventConsumer(
            group_id=CONSUMER_GROUP,
            topics=[
                topic_name(topic_for_event_type(event_class.event_type).name, prefix)
                for event_class in (ReferralRoutedV1, PartnerDeactivatedV1)
            ],
            handler=event_handler(context),
            sessions=service.sessions,
            outbox=outbox,
            processed=processed_events,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            client_id=f"{settings.kafka_client_id}-consumer",
            topic_prefix=prefix,
        )
        return [dispatcher, consumer]

    app = create_service_app(
        settings,
        title="MPA Notification",
        description=(
            "Signed webhooks (Standard Webhooks) and e-mail to partners and referrers, with "
            "durable retries, recovery and a delivery log. Notifications carry no personal "
            "data: what happened, ids, state and links. An endpoint's concurrency and "
            "rate limits hold across every replica; per-endpoint ordering is not promised. "
            "Every delivery's outcome is an event on `mpa.notification.v1`, so the audit "
            "log holds it."
        ),
        routers=[endpoints.router, deliveries.router, contacts.router],
        workers=workers,
        openapi_tags=[
            {"name": "endpoints", "description": "Webhook endpoints of partners"},
            {"name": "deliveries", "description": "The delivery log, retries and recovery"},
            {"name": "contacts", "description": "E-mail recipients (the recipient registry)"},
        ],
    )
    return app


def main() -> None:
    settings = NotificationSettings()
    run_service(create_app(settings), settings)


if __name__ == "__main__":
    main()
