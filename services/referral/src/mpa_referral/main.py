"""Composition root of the referral service: builds the app, its workers, and runs it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fastapi import FastAPI

from mpa_common.service import (
    BackgroundWorker,
    ServiceContext,
    create_service_app,
    run_service,
)
from mpa_referral.adapters.directory_snapshot import DirectorySnapshot
from mpa_referral.adapters.notes import NoteCipher
from mpa_referral.adapters.tables import processed_events
from mpa_referral.adapters.uow import ReferralUnitOfWork
from mpa_referral.api import directory as directory_api
from mpa_referral.api import feedback as feedback_api
from mpa_referral.api import hsds as hsds_api
from mpa_referral.api import referrals as referrals_api
from mpa_referral.api import reports as reports_api
from mpa_referral.api.errors import install_referral_error_handler
from mpa_referral.app.common import ReferralContext, ReferralPolicy
from mpa_referral.app.timers import TimerAlarm, TimerWorker, referral_timers
from mpa_referral.demo import DemoDirectorySeeder
from mpa_referral.handlers import CaseEventHandlers
from mpa_referral.settings import ReferralSettings


def referral_policy(settings: ReferralSettings) -> ReferralPolicy:
    return ReferralPolicy(
        acceptance_sla=settings.acceptance_sla(),
        start_sla=settings.start_sla(),
        max_reroutes=settings.max_reroutes,
    )


@dataclass(frozen=True, slots=True)
class ReferralComposition:
    """What the composition root wires once per process: the use cases' context and the
    unit-of-work factory behind it (the consumer wants the concrete class)."""

    context: ReferralContext
    units_of_work: Callable[[], ReferralUnitOfWork]
    # Woken after a commit that scheduled a timer: this process's timer worker listens.
    timer_alarm: TimerAlarm


def compose(service: ServiceContext, settings: ReferralSettings) -> ReferralComposition:
    # A missing notes key in production stops start-up here, not at the first note.
    notes = NoteCipher.from_settings(settings)
    snapshot = DirectorySnapshot(
        capacity_refresh_seconds=settings.directory_capacity_refresh_seconds,
        records_refresh_seconds=settings.directory_records_refresh_seconds,
    )
    alarm = TimerAlarm()

    def units_of_work() -> ReferralUnitOfWork:
        return ReferralUnitOfWork(
            service.sessions,
            source=settings.event_source,
            snapshot=snapshot,
            notes=notes,
            topic_prefix=settings.kafka_topic_prefix,
            timer_scheduled=alarm.scheduled,
        )

    return ReferralComposition(
        ReferralContext(units_of_work, referral_policy(settings)), units_of_work, alarm
    )


class DirectorySnapshotLoader:
    """A start-up step shaped as a background worker: loads the directory snapshot before
    the first routing needs it (a failure, e.g. the database away, is retried by the
    service's start-up; routing would load it lazily anyway)."""

    name = "directory-snapshot"

    def __init__(self, units_of_work: Callable[[], ReferralUnitOfWork]) -> None:
        self._units_of_work = units_of_work

    async def start(self) -> None:
        async with self._units_of_work() as uow:
            await uow.directory.load_snapshot()

    async def stop(self) -> None:
        return None


def build_workers(
    service: ServiceContext, settings: ReferralSettings, composition: ReferralComposition
) -> Sequence[BackgroundWorker]:
    """The service's background work: demo seeding, the case consumer, the timer worker."""
    context = composition.context
    workers: list[BackgroundWorker] = [DirectorySnapshotLoader(composition.units_of_work)]
    if settings.demo_directory_enabled:
        workers.append(DemoDirectorySeeder(context))
    workers.append(
        service.consumer(
            CaseEventHandlers(context).subscription(),
            unit_of_work=composition.units_of_work,
            processed=processed_events,
        )
    )
    workers.append(
        TimerWorker(
            context.units_of_work,
            referral_timers(context),
            poll_seconds=settings.timer_poll_seconds,
            idle_seconds=settings.timer_idle_seconds,
            monitor=service.monitor,
            alarm=composition.timer_alarm,
        )
    )
    return workers


def create_app(settings: ReferralSettings | None = None) -> FastAPI:
    settings = settings or ReferralSettings()
    service = ServiceContext.create(settings)
    composition = compose(service, settings)
    app = create_service_app(
        service,
        title="MPA Referral",
        description=(
            "Partner and service directory, explainable routing of each need to an "
            "eligible partner, and the closed-loop referral lifecycle with SLA "
            "timers."
        ),
        routers=[
            directory_api.router,
            hsds_api.router,
            referrals_api.router,
            reports_api.router,
            feedback_api.router,
        ],
        workers=build_workers(service, settings, composition),
    )
    app.state.referral = composition.context
    app.state.referral_composition = composition
    install_referral_error_handler(app)
    return app


def main() -> None:
    settings = ReferralSettings()
    run_service(create_app(settings), settings)


if __name__ == "__main__":
    main()
