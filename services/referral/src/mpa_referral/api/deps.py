"""What routes get from the running service: units of work and the use-case objects."""

from __future__ import annotations

from fastapi import Request

from mpa_common.service import ServiceContext
from mpa_common.uow import UnitOfWork
from mpa_referral.adapters.tables import outbox
from mpa_referral.app.directory import Directory
from mpa_referral.app.hsds_exchange import DirectoryExchange
from mpa_referral.app.referrals import Referrals


def unit_of_work(request: Request) -> UnitOfWork:
    context: ServiceContext = request.app.state.context
    return UnitOfWork(
        context.sessions,
        outbox,
        source=context.settings.event_source,
        topic_prefix=context.settings.kafka_topic_prefix,
    )


def referrals(request: Request) -> Referrals:
    use_cases: Referrals = request.app.state.referrals
    return use_cases


def directory(request: Request) -> Directory:
    use_cases: Directory = request.app.state.directory
    return use_cases


def directory_exchange(request: Request) -> DirectoryExchange:
    use_cases: DirectoryExchange = request.app.state.directory_exchange
    return use_cases
