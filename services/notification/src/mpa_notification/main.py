"""Composition root of the notification service: builds the app, its workers, and runs it."""

from __future__ import annotations

from fastapi import FastAPI

from mpa_common.service import create_service_app, run_service
from mpa_notification.settings import NotificationSettings


def create_app(settings: NotificationSettings | None = None) -> FastAPI:
    settings = settings or NotificationSettings()
    return create_service_app(
        settings,
        title="MPA Notification",
        description=(
            "Signed webhooks and e-mail to partners and referrers, with durable "
            "retries, dead letters and a delivery log."
        ),
    )


def main() -> None:
    settings = NotificationSettings()
    run_service(create_app(settings), settings)


if __name__ == "__main__":
    main()
