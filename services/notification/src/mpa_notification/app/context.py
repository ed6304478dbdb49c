"""What the use cases need besides their unit of work, built once by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from mpa_notification.app.ports import UrlCheck, WebhookSecrets
from mpa_notification.domain.schedule import RetrySchedule
from mpa_notification.settings import NotificationSettings


def _no_dispatcher() -> None:
    return None


@dataclass
class NotificationContext:
    settings: NotificationSettings
    secrets: WebhookSecrets
    # Checks a webhook URL and what its host resolves to now (at registration and changes).
    check_url: UrlCheck
    schedule: RetrySchedule
    # Tells the dispatcher in this process that new deliveries are due (it polls as well);
    # always called after a commit, never inside the transaction.
    wake_dispatcher: Callable[[], None] = field(default=_no_dispatcher)

    @staticmethod
    def schedule_of(settings: NotificationSettings) -> RetrySchedule:
        return RetrySchedule(
            delays=settings.retry_schedule_seconds,
            jitter_ratio=settings.retry_jitter_ratio,
            max_retry_after=settings.max_retry_after_seconds,
        )

    @property
    def disable_after(self) -> timedelta:
        return timedelta(seconds=self.settings.endpoint_disable_after_seconds)

    @property
    def lease_seconds(self) -> float:
        """How long a claimed attempt holds its delivery: the longest an attempt may take,
        and a margin (a crash mid-attempt: the delivery is due again after this)."""
        settings = self.settings
        return (
            max(settings.webhook_timeout_seconds, settings.smtp_timeout_seconds)
            + settings.dispatch_lease_margin_seconds
        )
