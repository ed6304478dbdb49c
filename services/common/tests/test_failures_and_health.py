"""Failure classes, the dependency monitor's log discipline, the repeated-log filter, the
handler table and the in-memory unit of work: the consumer's rules, without servers."""

from __future__ import annotations

import logging
import uuid

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError, NodeNotReadyError
from sqlalchemy.exc import DBAPIError, OperationalError

from mpa_common.failures import (
    DependencyUnavailable,
    EventRejected,
    Failure,
    classify,
    dependency_of,
)
from mpa_common.health import DependencyMonitor
from mpa_common.logging import RepeatedLogFilter
from mpa_common.messaging.subscriptions import Subscription, handles
from mpa_common.testing import InMemoryUnitOfWork
from mpa_common.uow import Cause
from mpa_contracts import examples
from mpa_contracts.events.case import CaseClosedV1, CaseRegisteredV1


def _wrapped(error: Exception) -> DBAPIError:
    """What SQLAlchemy raises around an asyncpg error."""
    try:
        try:
            raise error
        except Exception as inner:
            raise OperationalError("SELECT 1", {}, inner) from inner
    except DBAPIError as outer:
        return outer


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError(),
        _wrapped(asyncpg.exceptions.CannotConnectNowError("the database system is starting up")),
        _wrapped(asyncpg.exceptions.AdminShutdownError("terminating connection")),
        _wrapped(asyncpg.exceptions.SerializationError("could not serialize access")),
        _wrapped(asyncpg.exceptions.DeadlockDetectedError("deadlock detected")),
        _wrapped(asyncpg.exceptions.LockNotAvailableError("lock timeout")),
        _wrapped(asyncpg.exceptions.TooManyConnectionsError("too many clients")),
        _wrapped(asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")),
        asyncpg.exceptions.InterfaceError("connection is closed"),
        KafkaConnectionError(),
        DependencyUnavailable("referral", "no answer"),
    ],
)
def test_dependency_failures_are_transient(error: Exception) -> None:
    assert classify(error) is Failure.TRANSIENT


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad"),
        KeyError("x"),
        _wrapped(asyncpg.exceptions.UniqueViolationError("duplicate key")),
        _wrapped(asyncpg.exceptions.UndefinedTableError("no such table")),
        FileNotFoundError("missing"),
    ],
)
def test_bugs_and_data_errors_are_unexpected(error: Exception) -> None:
    assert classify(error) is Failure.UNEXPECTED


def test_a_rejection_is_deterministic_unless_a_dependency_is_away_too() -> None:
    rejected = EventRejected("unknown_case", "never registered")
    assert classify(rejected) is Failure.DETERMINISTIC
    during_outage = ConnectionResetError("reset")
    during_outage.__cause__ = rejected
    assert classify(during_outage) is Failure.TRANSIENT


def test_the_dependency_a_failure_points_at() -> None:
    assert dependency_of(NodeNotReadyError()) == "kafka"
    assert dependency_of(DependencyUnavailable("referral", "down")) == "referral"
    assert dependency_of(ConnectionRefusedError()) == "database"


def test_an_outage_logs_one_warning_a_summary_and_one_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    monitor = DependencyMonitor(summary_interval=0.0)
    caplog.set_level(logging.INFO, logger="mpa.health")
    error = ConnectionRefusedError(111, "Connection refused")
    monitor.down("database", worker="consumer:a", error=error)
    monitor.down("database", worker="relay", error=error)
    assert monitor.is_down("database")
    assert "consumer:a, relay" in monitor.status()["database"]
    monitor.up("database", worker="consumer:a")
    assert monitor.is_down("database")  # the relay still waits
    monitor.up_everywhere("relay")
    assert not monitor.is_down("database")
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "dependency unreachable; work waits and retries"
    assert messages[-1] == "dependency back; work resumed"
    assert [r.levelname for r in caplog.records][-1] == "INFO"


def test_repeated_third_party_warnings_are_folded() -> None:
    folding = RepeatedLogFilter(window=60)

    def record(name: str, msg: str, level: int = logging.ERROR) -> logging.LogRecord:
        return logging.LogRecord(name, level, __file__, 1, msg, None, None)

    passed = [folding.filter(record("aiokafka.conn", "Unable connect to %s")) for _ in range(500)]
    assert passed.count(True) == 1
    assert folding.filter(record("aiokafka", "Another message"))
    assert all(folding.filter(record("mpa.consumer", "ours")) for _ in range(3))  # not throttled
    assert folding.filter(record("aiokafka.conn", "Unable connect to %s", logging.INFO))


def test_a_handler_table_names_its_topics_and_refuses_two_handlers_for_a_type() -> None:
    async def handler(uow: object, data: object, delivery: object) -> None:
        return None

    table = Subscription("g", handles(CaseRegisteredV1, handler), handles(CaseClosedV1, handler))
    assert table.topics == ("mpa.case.v1",)
    assert table.event_types == {CaseRegisteredV1.event_type, CaseClosedV1.event_type}
    with pytest.raises(ValueError, match="two handlers"):
        Subscription("g", handles(CaseClosedV1, handler), handles(CaseClosedV1, handler))
    with pytest.raises(ValueError, match="handler table or a batch handler"):
        Subscription("g")


async def test_in_memory_unit_of_work_commits_events_and_runs_callbacks_only_on_commit() -> None:
    woken: list[str] = []
    uow = InMemoryUnitOfWork(source="urn:mpa:service:intake")
    story = uuid.uuid4()
    async with uow:
        uow.emit(examples.example_event(CaseClosedV1.event_type), cause=Cause.story(story))
        uow.after_commit(lambda: woken.append("rolled back"))
    assert uow.committed_events == []
    assert woken == []
    async with uow:
        envelope = uow.emit(
            examples.example_event(CaseClosedV1.event_type), cause=Cause.story(story)
        )
        uow.after_commit(lambda: woken.append("committed"))
        await uow.commit()
    assert woken == ["committed"]
    assert uow.events_of(CaseClosedV1) == [envelope]
    assert envelope.correlation_id == story
    assert envelope.source == "urn:mpa:service:intake"
