"""Builds each service's FastAPI application and runs it: the parts every service shares.

A service's `main.py` (its composition root) builds a `ServiceContext` (settings, engine,
dependency monitor), its adapters, use cases, routers and workers (consumers from its
subscriptions, timers), then calls `create_service_app` and `run_service`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

import uvicorn
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from mpa_common.db import connection_settings, create_engine, create_session_factory, ping
from mpa_common.health import DependencyMonitor
from mpa_common.kafka import client_options, kafka_metadata_ok
from mpa_common.limits import install_body_limits
from mpa_common.logging import configure_logging
from mpa_common.messaging.consumer import ConsumerTuning, EventConsumer
from mpa_common.messaging.relay import OutboxRelay
from mpa_common.messaging.subscriptions import Subscription
from mpa_common.openapi import install_problem_openapi
from mpa_common.problems import PROBLEM_JSON, install_problem_handlers
from mpa_common.settings import ServiceSettings
from mpa_common.telemetry import configure_tracing, instrument_app
from mpa_common.uow import UnitOfWork
from mpa_common.workers import BackgroundWorker as BackgroundWorker
from mpa_common.workers import StartedInBackground

log = logging.getLogger(__name__)
U = TypeVar("U", bound=UnitOfWork)
W = TypeVar("W", bound=UnitOfWork)


@dataclass
class ServiceContext:
    """What the composition root builds first and hands to adapters, routers and workers:
    one per process. Creating it does no I/O (the engine connects on first use)."""

    settings: ServiceSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    monitor: DependencyMonitor = field(default_factory=DependencyMonitor)
    workers: list[BackgroundWorker] = field(default_factory=list)

    @classmethod
    def create(cls, settings: ServiceSettings) -> ServiceContext:
        engine = create_engine(
            settings.database_url.get_secret_value(),
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            application_name=settings.kafka_client_id,
            schema=settings.database_schema,
            command_timeout=settings.database_command_timeout_seconds,
        )
        return cls(settings, engine, create_session_factory(engine))

    async def ping_database(self) -> None:
        await ping(self.engine)

    @overload
    def units_of_work(self, outbox: Table) -> Callable[[], UnitOfWork]: ...

    @overload
    def units_of_work(self, outbox: Table, kind: type[W]) -> Callable[[], W]: ...

    def units_of_work(
        self, outbox: Table, kind: type[UnitOfWork] = UnitOfWork
    ) -> Callable[[], UnitOfWork]:
        """The factory every use case and handler of the service opens its transactions with
        (`kind`: the service's UnitOfWork subclass, which binds its repositories)."""
        settings = self.settings

        def open_unit_of_work() -> UnitOfWork:
            return kind(
                self.sessions,
                outbox,
                source=settings.event_source,
                topic_prefix=settings.kafka_topic_prefix,
            )

        return open_unit_of_work

    def consumer(
        self,
        subscription: Subscription[U],
        *,
        unit_of_work: Callable[[], U],
        processed: Table | None,
    ) -> EventConsumer[U]:
        """The shared consumer for one of the service's subscriptions."""
        settings = self.settings
        return EventConsumer(
            subscription,
            unit_of_work=unit_of_work,
            processed=processed,
            kafka_options=client_options(settings),
            client_id=f"{settings.kafka_client_id}-{subscription.group.rpartition('.')[2]}",
            topic_prefix=settings.kafka_topic_prefix,
            tuning=ConsumerTuning(
                batch_max_records=settings.consumer_batch_max_records,
                retry_max_seconds=settings.consumer_retry_max_seconds,
                unexpected_attempts=settings.consumer_unexpected_attempts,
                fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
            ),
            monitor=self.monitor,
            database_probe=self.ping_database,
        )


def create_service_app(
    context: ServiceContext,
    *,
    title: str,
    description: str,
    version: str = "0.1.0",
    routers: Sequence[APIRouter] = (),
    workers: Sequence[BackgroundWorker] = (),
    openapi_tags: list[dict[str, Any]] | None = None,
) -> FastAPI:
    settings = context.settings
    # The relay first and (stopping in reverse) last: it flushes what consumers wrote.
    # Other workers start in the background, retrying, so a broker that is down at start-up
    # shows in /readyz instead of stopping the process.
    context.workers = [
        outbox_relay(context),
        *(StartedInBackground(w, monitor=context.monitor) for w in workers),
    ]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for worker in context.workers:
            await worker.start()
            log.info("worker started", extra={"worker": worker.name})
        try:
            yield
        finally:
            # Reverse order: consumers stop before the relay that flushes what they wrote.
            for worker in reversed(context.workers):
                await worker.stop()
                log.info("worker stopped", extra={"worker": worker.name})
            await context.engine.dispose()

    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        openapi_tags=openapi_tags,
        # The server spans are the OpenTelemetry instrumentation's (instrument_app below),
        # which FastAPI's own telemetry then stands aside for; off, it no longer checks the
        # providers and walks the middleware stack on every request to find that out.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.context = context
    app.state.production = settings.environment == "production"
    install_problem_handlers(app)
    configure_tracing(settings.service_name)
    instrument_app(app)
    # Outermost of the app's own middleware, so nothing buffers a body before it is counted.
    limits = install_body_limits(
        app, default=settings.max_body_bytes, overrides=settings.route_body_limits
    )
    install_problem_openapi(app, limits)
    app.include_router(health_router(context))
    for router in routers:
        app.include_router(router)
    return app


def outbox_relay(context: ServiceContext) -> OutboxRelay:
    settings = context.settings
    return OutboxRelay(
        dsn=settings.database_url.get_secret_value(),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"{settings.kafka_client_id}-relay",
        # One leader per service *and schema*: deployments sharing a database elect apart.
        lock_name=f"{settings.kafka_client_id}-outbox-relay:{settings.database_schema}",
        server_settings=connection_settings(
            f"{settings.kafka_client_id}-relay", settings.database_schema
        ),
        kafka_options=client_options(settings),
        monitor=context.monitor,
    )


def health_router(context: ServiceContext) -> APIRouter:
    settings = context.settings
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process is up and serving HTTP")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": settings.service_name}

    @router.get(
        "/readyz",
        summary="Readiness: the service's database and Kafka are reachable",
        responses={
            503: {"description": "A dependency is unreachable", "content": {PROBLEM_JSON: {}}}
        },
    )
    async def readyz() -> JSONResponse:
        timeout = settings.readiness_timeout_seconds
        checks = await asyncio.gather(
            _check("database", ping(context.engine), timeout),
            _check(
                "kafka",
                kafka_metadata_ok(client_options(settings), timeout=timeout),
                timeout,
            ),
        )
        failed = {name: reason for name, reason in checks if reason}
        # What the workers saw: a consumer still waiting on a dependency is not ready yet.
        waiting = context.monitor.status()
        for name, reason in waiting.items():
            failed.setdefault(name, reason)
        body: dict[str, Any] = {
            "service": settings.service_name,
            "checks": {name: (reason or "ok") for name, reason in checks},
            "workers": waiting or "ok",
        }
        if failed:
            body.update(
                type="about:blank",
                title="Service not ready",
                status=503,
                detail="; ".join(f"{name}: {reason}" for name, reason in failed.items()),
            )
            return JSONResponse(body, status_code=503, media_type=PROBLEM_JSON)
        body["status"] = "ready"
        return JSONResponse(body)

    return router


async def _check(name: str, probe: Any, timeout: float) -> tuple[str, str | None]:
    """Runs one readiness probe; returns (name, None) when fine or (name, reason)."""
    try:
        await asyncio.wait_for(probe, timeout=timeout + 0.5)
    except TimeoutError:
        return name, f"no answer within {timeout:g} s"
    except Exception as exc:  # the reason is the point of the check
        return name, f"{type(exc).__name__}: {exc}"[:300]
    return name, None


def run_service(app: FastAPI, settings: ServiceSettings) -> None:
    """Runs the app under uvicorn with JSON logs; SIGINT/SIGTERM stop it gracefully."""
    configure_logging(settings.service_name, settings.log_level)
    # What start-up built (modules, the app, its models and tables) lives as long as the
    # process: out of the collector's sight, so no collection walks it again.
    gc.collect()
    gc.freeze()
    _young, *older = gc.get_threshold()
    gc.set_threshold(settings.gc_young_threshold, *older)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
