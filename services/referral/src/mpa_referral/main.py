"""Composition root of the referral service: builds the app, its workers, and runs it."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI

from mpa_common.service import (
    BackgroundWorker,
    ServiceContext,
    create_service_app,
    run_service,
)
from mpa_referral.adapters.tables import outbox, processed_events
from mpa_referral.api import directory as directory_api
from mpa_referral.api import hsds as hsds_api
from mpa_referral.api import referrals as referrals_api
from mpa_referral.api import reports as reports_api
from mpa_referral.app.directory import Directory
from mpa_referral.app.hsds_exchange import DirectoryExchange
from mpa_referral.app.referrals import (
    ACCEPTANCE_SLA_TIMER,
    DIRECTORY_RETRY_TIMER,
    START_SLA_TIMER,
    ReferralPolicy,
    Referrals,
)
from mpa_referral.app.timers import TimerWorker
from mpa_referral.demo import DemoDirectorySeeder
from mpa_referral.handlers import CaseEventHandler
from mpa_referral.settings import ReferralSettings


def referral_use_cases(settings: ReferralSettings) -> Referrals:
    return Referrals(
        ReferralPolicy(
            acceptance_sla=settings.acceptance_sla(),
            start_sla=settings.start_sla(),
            max_reroutes=settings.max_reroutes,
        )
    )


def build_workers(
    context: ServiceContext, settings: ReferralSettings, referrals: Referrals, directory: Directory
) -> Sequence[BackgroundWorker]:
    """The service's background work: demo seeding, the case consumer, the timer worker."""
    unit_of_work = context.units_of_work(outbox)

    workers: list[BackgroundWorker] = []
    if settings.demo_directory_enabled:
        workers.append(DemoDirectorySeeder(unit_of_work, directory))
    workers.append(
        context.consumer(
            CaseEventHandler(referrals).subscription(),
            unit_of_work=unit_of_work,
            processed=processed_events,
        )
    )
    workers.append(
        TimerWorker(
            unit_of_work,
            {
                ACCEPTANCE_SLA_TIMER: referrals.on_acceptance_sla,
                START_SLA_TIMER: referrals.on_start_sla,
                DIRECTORY_RETRY_TIMER: referrals.on_directory_changed,
            },
            poll_seconds=settings.timer_poll_seconds,
            monitor=context.monitor,
        )
    )
    return workers


def create_app(settings: ReferralSettings | None = None) -> FastAPI:
    settings = settings or ReferralSettings()
    service = ServiceContext.create(settings)
    referrals = referral_use_cases(settings)
    directory = Directory(referrals)
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
        ],
        workers=build_workers(service, settings, referrals, directory),
    )
    app.state.referrals = referrals
    app.state.directory = directory
    app.state.directory_exchange = DirectoryExchange(directory)
    return app


def main() -> None:
    settings = ReferralSettings()
    run_service(create_app(settings), settings)


if __name__ == "__main__":
    main()
