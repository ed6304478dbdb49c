"""Composition root of the notification service: builds the app, its workers, and runs it."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from mpa_common.service import ServiceContext, create_service_app, run_service
from mpa_notification.adapters.email import EmailSender
from mpa_notification.adapters.secrets import SecretBox
from mpa_notification.adapters.tables import outbox, processed_events
from mpa_notification.adapters.uow import NotificationUnitOfWork
from mpa_notification.adapters.webhooks import (
    Resolver,
    WebhookSender,
    resolve_checked,
    system_resolver,
)
from mpa_notification.api import contacts, deliveries, endpoints
from mpa_notification.api.errors import install_error_handler
from mpa_notification.app.context import NotificationContext
from mpa_notification.dispatcher import Dispatcher
from mpa_notification.domain.url_policy import UrlPolicy
from mpa_notification.handlers import casework_subscription, subscription
from mpa_notification.settings import NotificationSettings


def create_app(
    settings: NotificationSettings | None = None, *, resolver: Resolver = system_resolver
) -> FastAPI:
    """The service; `resolver` answers for webhook host names (the system's by default)."""
    settings = settings or NotificationSettings()
    service = ServiceContext.create(settings)
    policy = UrlPolicy.build(
        allow_http=settings.http_webhooks_allowed,
        allowed_networks=settings.webhook_allowed_networks,
        allowed_ports=settings.webhook_allowed_ports,
    )
    context = NotificationContext(
        settings=settings,
        secrets=SecretBox.from_settings(settings),
        check_url=partial(resolve_checked, policy=policy, resolver=resolver),
        schedule=NotificationContext.schedule_of(settings),
    )

    unit_of_work = service.units_of_work(outbox, NotificationUnitOfWork)
    dispatcher = Dispatcher(
        context,
        unit_of_work,
        WebhookSender(
            policy,
            timeout=settings.webhook_timeout_seconds,
            max_connections=settings.dispatch_concurrency,
            resolver=resolver,
        ),
        EmailSender(settings),
        monitor=service.monitor,
    )
    context.wake_dispatcher = dispatcher.wake
    app = create_service_app(
        service,
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
        workers=[
            dispatcher,
            service.consumer(
                subscription(context), unit_of_work=unit_of_work, processed=processed_events
            ),
            service.consumer(
                casework_subscription(context),
                unit_of_work=unit_of_work,
                processed=processed_events,
            ),
        ],
        openapi_tags=[
            {"name": "endpoints", "description": "Webhook endpoints of partners"},
            {"name": "deliveries", "description": "The delivery log, retries and recovery"},
            {"name": "contacts", "description": "E-mail recipients (the recipient registry)"},
        ],
    )
    install_error_handler(app)
    app.state.notification = context
    app.state.unit_of_work = unit_of_work
    app.state.dispatcher = dispatcher
    return app


def main() -> None:
    settings = NotificationSettings()
    run_service(create_app(settings), settings)


if __name__ == "__main__":
    main()
