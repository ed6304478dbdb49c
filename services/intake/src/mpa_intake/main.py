"""Composition root of the intake service: builds the app, its workers, and runs it."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from mpa_common.service import ServiceContext, create_service_app, run_service
from mpa_common.timers import Timer, TimerWorker
from mpa_intake.adapters.casework_store import TIMER_STORE
from mpa_intake.adapters.crypto import PersonalDataVault
from mpa_intake.adapters.keys import master_keyring, match_keyer
from mpa_intake.adapters.referral_client import HttpReferralDirectory
from mpa_intake.adapters.tables import outbox, processed_events
from mpa_intake.adapters.unit_of_work import IntakeUnitOfWork
from mpa_intake.api.casework_routes import casework_router
from mpa_intake.api.cross_border_routes import cross_border_router
from mpa_intake.api.errors import install_intake_error_handler
from mpa_intake.api.feedback_routes import feedback_router
from mpa_intake.api.protection_routes import protection_router
from mpa_intake.api.psea_routes import psea_router
from mpa_intake.api.routes import cases_router
from mpa_intake.api.safe_contact_routes import safe_contact_router
from mpa_intake.app.casework import FOLLOW_UP_TIMER, on_follow_up_due
from mpa_intake.app.context import CaseworkPolicy, IntakeContext, PseaPolicy, ScopePolicy
from mpa_intake.app.identification import (
    REFLECTION_END_TIMER,
    REFLECTION_REMINDER_TIMER,
    on_reflection_end_due,
    on_reflection_reminder_due,
)
from mpa_intake.app.psea import PSEA_TIMERS, on_psea_deadline
from mpa_intake.domain.identification import ReflectionPolicy
from mpa_intake.handlers import REFERRAL_ACCESS, REFERRAL_PROGRESS
from mpa_intake.settings import IntakeSettings


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    service = ServiceContext.create(settings)
    unit_of_work = service.units_of_work(outbox, IntakeUnitOfWork)
    referrals = HttpReferralDirectory(
        settings.referral_api_base_url, timeout_seconds=settings.referral_timeout_seconds
    )
    # Keys are loaded now: a misconfigured (or, in production, missing) key stops start-up.
    intake = IntakeContext(
        unit_of_work=unit_of_work,
        vault=PersonalDataVault(master_keyring(settings)),
        matcher=match_keyer(settings),
        referrals=referrals,
        scopes=ScopePolicy(read=settings.case_read_scopes, write=settings.case_write_scopes),
        casework=CaseworkPolicy(
            sender_keeps_access=settings.transfer_sender_keeps_access,
            report_case_limit=settings.report_case_limit,
        ),
        reflection=ReflectionPolicy(
            days_by_country=settings.reflection_days_by_country,
            default_days=settings.reflection_days,
            reminder_days=settings.reflection_reminder_days,
        ),
        psea=PseaPolicy(
            assistance_due=timedelta(seconds=settings.psea_assistance_due_seconds),
            allegation_referral_due=timedelta(
                seconds=settings.psea_allegation_referral_due_seconds
            ),
            investigation_due=timedelta(seconds=settings.psea_investigation_due_seconds),
        ),
    )

    async def follow_up_due(uow: IntakeUnitOfWork, timer: Timer) -> str:
        return await on_follow_up_due(uow, timer, intake.clock())

    async def reflection_reminder_due(uow: IntakeUnitOfWork, timer: Timer) -> str:
        return await on_reflection_reminder_due(uow, timer, intake.clock())

    async def reflection_end_due(uow: IntakeUnitOfWork, timer: Timer) -> str:
        return await on_reflection_end_due(uow, timer, intake.clock())

    async def psea_deadline(uow: IntakeUnitOfWork, timer: Timer) -> str:
        return await on_psea_deadline(uow, timer, intake.clock())

    app = create_service_app(
        service,
        title="MPA Intake",
        description=(
            "Registers cases, needs and informed consent. Personal data stays here, "
            "encrypted per case; every read of it is recorded."
        ),
        routers=[
            cases_router(settings, intake),
            casework_router(intake),
            cross_border_router(intake),
            protection_router(intake),
            safe_contact_router(intake),
            psea_router(intake),
            feedback_router(intake),
        ],
        workers=[
            referrals,
            service.consumer(
                REFERRAL_ACCESS, unit_of_work=unit_of_work, processed=processed_events
            ),
            service.consumer(
                REFERRAL_PROGRESS, unit_of_work=unit_of_work, processed=processed_events
            ),
            TimerWorker(
                unit_of_work,
                TIMER_STORE,
                {
                    FOLLOW_UP_TIMER: follow_up_due,
                    REFLECTION_REMINDER_TIMER: reflection_reminder_due,
                    REFLECTION_END_TIMER: reflection_end_due,
                    **dict.fromkeys(PSEA_TIMERS, psea_deadline),
                },
                poll_seconds=settings.timer_poll_seconds,
                monitor=service.monitor,
            ),
        ],
        openapi_tags=[
            {"name": "cases", "description": "Cases, needs, consent, erasure"},
            {
                "name": "casework",
                "description": "Transfers, assessments, case plan, follow-ups, approvals, "
                "reopening and reports",
            },
            {
                "name": "protection",
                "description": "Trafficking identification, the recovery and reflection "
                "period, a child's assent, guardian and best interests; statistics without "
                "identities",
            },
            {
                "name": "safe contact",
                "description": "The person's safety profile, asked before any contact",
            },
            {"name": "feedback", "description": "The person's feedback on their services"},
            {
                "name": "psea",
                "description": "Complaints of sexual exploitation and abuse: restricted to "
                "the PSEA focal point",
            },
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
