"""What kind of failure an exception is: the one classification consumers, the relay, timers
and HTTP handlers share.

* **transient** — a dependency is unreachable or busy (the database restarting or hung, a
  dropped connection, a serialization failure or deadlock, a lock or statement timeout, the
  broker refusing a produce). Nothing is wrong with the work itself: wait, retry the same
  work for as long as it takes, report the dependency as down, answer HTTP with 503.
* **deterministic** — the work can never succeed as it is (an undecodable record, an unknown
  event type, a payload the domain rejects). Dead-letter it at once with its reason; answer
  HTTP with a 4xx.
* **unexpected** — anything else (a bug). Retry a bounded number of times while the database
  answers, then dead-letter with the reason and log an error.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from enum import StrEnum

from aiokafka.errors import KafkaError
from sqlalchemy import exc as sa_exc


class Failure(StrEnum):
    TRANSIENT = "transient"
    DETERMINISTIC = "deterministic"
    UNEXPECTED = "unexpected"


class EventRejected(Exception):
    """Raised by a handler for an event it can never process (dead-lettered at once).

    `reason` is a short snake_case code that lands in the dead letter's headers (e.g.
    `unknown_case`); `detail` explains it and must not carry personal data.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class DependencyUnavailable(Exception):
    """Raised where code knows a dependency is down (e.g. an HTTP peer): transient."""

    def __init__(self, dependency: str, detail: str) -> None:
        super().__init__(f"{dependency}: {detail}")
        self.dependency = dependency


# SQLSTATE codes and classes that say "try again", not "this is wrong".
_TRANSIENT_SQLSTATE_CLASSES = (
    "08",  # connection exception
    "53",  # insufficient resources (too many connections, disk full, out of memory)
    "57",  # operator intervention: shutdown, cannot connect now, query/lock timeout
    "58",  # system error (I/O)
)
_TRANSIENT_SQLSTATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "55P03",  # lock_not_available
        "25006",  # read_only_sql_transaction: a standby during failover
        "XX000",  # internal_error raised while a server is being restarted
    }
)


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error, what it wraps (SQLAlchemy's `.orig`) and what caused it, each once."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for linked in (
            getattr(current, "orig", None),
            current.__cause__,
            current.__context__,
        ):
            if isinstance(linked, BaseException):
                pending.append(linked)


def _sqlstate(error: BaseException) -> str | None:
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    return state if isinstance(state, str) else None


def _is_transient_one(error: BaseException) -> bool:
    if isinstance(error, DependencyUnavailable):
        return True
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(
        error,
        sa_exc.DisconnectionError
        | sa_exc.TimeoutError  # the pool had no connection to give in time
        | ConnectionError
        | TimeoutError
        | asyncio.TimeoutError
        | socket.gaierror
        | KafkaError,
    ):
        return True
    if isinstance(error, OSError) and not isinstance(error, FileNotFoundError | PermissionError):
        return True  # network-level errors surface as plain OSError (EHOSTUNREACH, ...)
    state = _sqlstate(error)
    if state is not None and (
        state in _TRANSIENT_SQLSTATES or state.startswith(_TRANSIENT_SQLSTATE_CLASSES)
    ):
        return True
    # asyncpg's "connection is closed" / "another operation is in progress" after a drop.
    module = type(error).__module__
    name = type(error).__name__
    return module.startswith("asyncpg") and name in {
        "InterfaceError",
        "ConnectionDoesNotExistError",
        "InternalClientError",
    }


def is_transient(error: BaseException) -> bool:
    return any(_is_transient_one(linked) for linked in _chain(error))


def classify(error: BaseException) -> Failure:
    """Transient wins: a rejection raised while the database is away is still an outage."""
    if is_transient(error):
        return Failure.TRANSIENT
    if any(isinstance(linked, EventRejected) for linked in _chain(error)):
        return Failure.DETERMINISTIC
    return Failure.UNEXPECTED


def rejection_of(error: BaseException) -> EventRejected | None:
    return next((e for e in _chain(error) if isinstance(e, EventRejected)), None)


def describe(error: BaseException, limit: int = 500) -> str:
    """`Type: message`, bounded: what a dead letter or a log line says about an error."""
    return f"{type(error).__name__}: {error}"[:limit]


def dependency_of(error: BaseException) -> str:
    """Which dependency a transient failure points at: `kafka`, a named one, or `database`."""
    for linked in _chain(error):
        if isinstance(linked, DependencyUnavailable):
            return linked.dependency
        if isinstance(linked, KafkaError):
            return "kafka"
    return "database"
