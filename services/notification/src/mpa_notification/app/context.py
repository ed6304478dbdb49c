"""What every use case needs, built once by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mpa_common.uow import UnitOfWork
from mpa_notification.adapters.secrets import SecretBox
from mpa_notification.adapters.tables import outbox
from mpa_notification.adapters.webhooks import Resolver, system_resolver
from mpa_notification.domain.schedule import RetrySchedule
from mpa_notification.domain.url_policy import UrlPolicy
from mpa_notification.settings import NotificationSettings

SOURCE = "urn:mpa:service:notification"


def _no_dispatcher() -> None:
    return None


@dataclass
class NotificationContext:
    settings: NotificationSettings
    sessions: async_sessionmaker[AsyncSession]
    secrets: SecretBox
    policy: UrlPolicy
    schedule: RetrySchedule
    # Where webhook host names are resolved, at registration and before every attempt.
    resolver: Resolver = system_resolver
    # Tells the dispatcher in this process that new deliveries are due (it polls as well).
    wake_dispatcher: Callable[[], None] = field(default=_no_dispatcher)

    @classmethod
    def build(
        cls,
        settings: NotificationSettings,
        sessions: async_sessionmaker[AsyncSession],
        *,
        resolver: Resolver = system_resolver,
    ) -> NotificationContext:
        return cls(
            settings=settings,
            sessions=sessions,
            resolver=resolver,
            secrets=SecretBox.from_settings(settings),
            policy=UrlPolicy.build(
                allow_http=settings.http_webhooks_allowed,
                allowed_networks=settings.webhook_allowed_networks,
                allowed_ports=settings.webhook_allowed_ports,
            ),
            schedule=RetrySchedule(
                delays=settings.retry_schedule_seconds,
                jitter_ratio=settings.retry_jitter_ratio,
                max_retry_after=settings.max_retry_after_seconds,
            ),
        )

    def uow(self) -> UnitOfWork:
        return UnitOfWork(
            self.sessions,
            outbox,
            source=self.settings.event_source,
            topic_prefix=self.settings.kafka_topic_prefix,
        )
